// The finisher: makes the records the engine asks for durable, in batches on one serial queue.
// For each: outputs are moved into done/ before the record that names them appears, the record
// is written (done/ or, for a retry or requeue, pending/), one fsync per folder covers the batch,
// and only then is the old state file removed and the engine told (`written`). A crash before
// that leaves the old file, which recovery resolves; a crash after leaves both, and the newer
// folder wins.
import Foundation

extension Daemon {
    /// Hands a record to the finisher.
    func complete(_ write: RecordWrite) {
        let wasEmpty = writes.withLock { list -> Bool in
            list.append(write)
            return list.count == 1
        }
        if wasEmpty { finishQueue.async { [self] in finishBatch() } }
    }

    private func finishBatch() {
        let batch = writes.withLock { list -> [RecordWrite] in
            defer { list.removeAll() }
            return list
        }
        guard !batch.isEmpty else { return }
        var sync = DirectorySync(writes: batch.count)
        var written: [RecordWrite] = []
        var failed: [(JobID, Bool)] = []
        for w in batch {
            let id = w.record.id
            var record = w.record
            do {
                if w.outputsCut { cutOutputs(of: id) }
                switch w.to {
                case .done:
                    try stageFollowUp(of: record, sync: &sync)
                    if let attempt = w.attempt {
                        try keepAttemptOutputs(&record, attempt: attempt, sync: &sync)
                        FaultInjection.hit(.afterOutputsMoved)
                    } else if w.from == .pending, record.spec?.isBatch != true {
                        // Outputs of attempts that ran before it was cancelled (a retry waiting for its backoff).
                        (record.stdout, record.stderr) = store.keptOutputs((JobFiles.stdout(id), JobFiles.stderr(id)))
                    }
                    if w.from == .running { store.remove(JobFiles.progress(id), from: .running) }
                    try store.write(record, to: .done, sync: &sync)
                case .pending, .running:
                    // The attempt's output is kept in done/ (appended to earlier ones) for the final record.
                    if let attempt = w.attempt { try keepAttemptOutputs(&record, attempt: attempt, sync: &sync) }
                    store.remove(JobFiles.progress(id), from: .running)
                    try store.write(record, to: .pending, sync: &sync)
                    FaultInjection.hit(.afterRequeueRecord)
                }
                written.append(w)
            } catch {
                let diskFull = (error as? SystemError)?.isDiskFull == true && !w.outputsCut
                if diskFull {
                    log.error("job \(id): cannot write its record: \(error); its outputs are cut to \(Engine.diskFullOutputCap) bytes; retrying in 1 s")
                } else {
                    log.error("job \(id): cannot write its record: \(error); retrying in 1 s")
                }
                failed.append((id, diskFull))
            }
        }
        do {
            try store.commit(&sync)
        } catch {
            log.error("finisher: \(error)")
        }
        FaultInjection.hit(.afterFinalRecord)
        let journals = core.withLock { c in written.compactMap { c.journals.removeValue(forKey: $0.record.id) } }
        for journal in journals { journal.close() }
        for w in written {
            store.retire(JobFiles.record(w.record.id), from: w.from == .running ? .running : .pending)
            if w.from == .running {
                store.retire(JobFiles.journal(w.record.id), from: .running)
                if supervised != nil { for name in SupervisorFiles.all(w.record.id) { store.remove(name, from: .running) } }
                // A Slurm attempt's files are what a restart finds it by: kept until its end is durable.
                slurm?.cleanUp(w.record.id, operation: nil)
            }
        }
        if !written.isEmpty { send(.written(written.map(\.record.id))) }
        for (id, diskFull) in failed { send(.writeFailed(id, diskFull: diskFull)) }
    }

    /// A job's own output may be what filled the disk: cut it so that its record fits.
    private func cutOutputs(of id: JobID) {
        for folder in [SpoolLayout.Folder.running, .done] {
            for name in [JobFiles.stdout(id), JobFiles.stderr(id)] {
                OutputCap.apply(dirFD: layout.fd(folder), name: name, limit: Engine.diskFullOutputCap)
            }
        }
    }

    /// Places a command job's attempt outputs in done/ and names them in `record`.
    func keepAttemptOutputs(_ record: inout JobRecord, attempt: Int, sync: inout DirectorySync) throws {
        let id = record.id
        guard record.spec?.isBatch != true else { return }
        record.stdout = try store.placeAttemptOutput(JobFiles.stdout(id), attempt: attempt, startedAt: record.startedAt, capBytes: options.maxOutputBytes, owner: record.owner, sync: &sync)
        record.stderr = try store.placeAttemptOutput(JobFiles.stderr(id), attempt: attempt, startedAt: record.startedAt, capBytes: options.maxOutputBytes, owner: record.owner, sync: &sync)
    }

    /// True when the spool's filesystem has no space left (or intake has just seen ENOSPC).
    func isDiskFull() -> Bool {
        if lifecycle.withLock({ $0.diskFullLogged }) { return true }
        var vfs = statvfs()
        guard statvfs(layout.root, &vfs) == 0 else { return false }
        return Int(vfs.f_bavail) * Int(vfs.f_frsize) < 64 * 1024
    }
}
