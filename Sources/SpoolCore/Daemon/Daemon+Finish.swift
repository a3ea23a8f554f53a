// The finisher: makes the records the engine asks for durable, in batches on one serial queue.
// For each: outputs are moved into done/ before the record that names them appears, the record
// is written (done/ or, for a retry or requeue, pending/), one fsync per folder covers the batch
// (one commit for the outputs, then one for the records),
// and only then is the old state file removed and the engine told (`written`). A crash before
// that leaves the old file, which recovery resolves; a crash after leaves both, and the newer
// folder wins.
import Foundation

extension Daemon {
    /// Hands a record to the finisher.
    func complete(_ write: RecordWrite) {
        let wasEmpty = writes.withLock { w -> Bool in
            w.queued.append(write)
            return w.queued.count == 1
        }
        if wasEmpty { finishQueue.async { [self] in finishBatch() } }
    }

    private func finishBatch() {
        let batch = writes.withLock { w -> [RecordWrite] in
            defer { w.queued.removeAll() }
            w.writing += w.queued.count
            return w.queued
        }
        guard !batch.isEmpty else { return }
        // Two commits: the outputs' folder entries are durable before any record that names them can
        // be. A power cut may keep a folder's newer entries and lose older ones (the crash-state
        // explorer's model), so one commit for both could leave a record naming a missing output.
        var outputs = DirectorySync(writes: batch.count)
        var ready: [RecordWrite] = []
        var failed: [(JobID, Bool)] = []
        for w in batch {
            do {
                ready.append(try placeOutputs(of: w, sync: &outputs))
            } catch {
                failed.append(cannotWrite(w, error))
            }
        }
        store.commit(&outputs)
        var sync = DirectorySync(writes: batch.count)
        var written: [RecordWrite] = []
        for w in ready {
            do {
                switch w.to {
                case .done:
                    if w.from == .running { store.remove(JobFiles.progress(w.record.id), from: .running) }
                    try store.write(w.record, to: .done, sync: &sync)
                case .pending, .running:
                    store.remove(JobFiles.progress(w.record.id), from: .running)
                    try store.write(w.record, to: .pending, sync: &sync)
                    FaultInjection.hit(.afterRequeueRecord)
                }
                written.append(w)
            } catch {
                failed.append(cannotWrite(w, error))
            }
        }
        store.commit(&sync)
        FaultInjection.hit(.afterFinalRecord)
        let closing = journals.withLock { j in written.compactMap { j.removeValue(forKey: $0.record.id) } }
        for journal in closing { journal.close() }
        for w in written {
            store.retire(JobFiles.record(w.record.id), from: w.from == .running ? .running : .pending)
            if w.from == .running {
                store.retire(JobFiles.journal(w.record.id), from: .running)
                if supervised != nil { removeSupervisorFiles(of: w.record) }
                // A Slurm attempt's files are what a restart finds it by: kept until its end is durable.
                if executor(for: w.record.spec?.effectiveQueue ?? "default") != nil { slurm?.cleanUp(w.record.id, operation: nil) }
            }
        }
        if !written.isEmpty { send(.written(written.map(\.record.id))) }
        for (id, diskFull) in failed { send(.writeFailed(id, diskFull: diskFull)) }
        writes.withLock { $0.writing -= batch.count }  // after the engine knows where each job went
        // --drain: the last record may have been this one; not left to the next tick of the drain timer.
        if options.drain { intakeQueue.async { [self] in drainIfIdle() } }
    }

    /// Places what the record will name (the attempt's outputs, a follow-up) and returns the write
    /// with the record that names them.
    private func placeOutputs(of w: RecordWrite, sync: inout DirectorySync) throws -> RecordWrite {
        let id = w.record.id
        var w = w
        if w.outputsCut { cutOutputs(of: id) }
        switch w.to {
        case .done:
            try stageFollowUp(of: w.record, sync: &sync)
            if let attempt = w.attempt {
                try keepAttemptOutputs(&w.record, attempt: attempt, sync: &sync)
                FaultInjection.hit(.afterOutputsMoved)
            } else if w.from == .pending, w.record.spec?.isBatch != true {
                // Outputs of attempts that ran before it was cancelled (a retry waiting for its backoff).
                (w.record.stdout, w.record.stderr) = store.keptOutputs((JobFiles.stdout(id), JobFiles.stderr(id)))
            }
        case .pending, .running:
            // The attempt's output is kept in done/ (appended to earlier ones) for the final record.
            if let attempt = w.attempt { try keepAttemptOutputs(&w.record, attempt: attempt, sync: &sync) }
        }
        return w
    }

    private func cannotWrite(_ w: RecordWrite, _ error: any Error) -> (JobID, Bool) {
        let id = w.record.id
        let diskFull = (error as? SystemError)?.isDiskFull == true && !w.outputsCut
        if diskFull {
            log.error("job \(id): cannot write its record: \(error); its outputs are cut to \(Engine.diskFullOutputCap) bytes; retrying in 1 s")
        } else {
            log.error("job \(id): cannot write its record: \(error); retrying in 1 s")
        }
        return (id, diskFull)
    }

    /// Live restore: the files of the job's supervised attempts (a batch's: of each command
    /// operation that ran) go with its state file.
    private func removeSupervisorFiles(of record: JobRecord) {
        var names = SupervisorFiles.all(record.id)
        let specs = record.spec?.operations ?? []
        for (p, op) in (record.operations ?? []).enumerated() where op.attempts > 0 && p < specs.count {
            if case .process = specs[p].kind { names += SupervisorFiles.all(record.id, operation: op.index) }
        }
        for name in names { store.remove(name, from: .running) }
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

/// The finisher's records: queued for its next batch, and being written by the current one (a job
/// being written back to pending/ is in neither the engine nor the queue: --drain must not stop then).
struct FinisherWrites {
    var queued: [RecordWrite] = []
    var writing = 0
}
