// The finisher: turns ended attempts into durable records, in batches on one serial queue.
// For each job: outputs are moved into done/ before the record that names them appears, the
// record is written (done/ or, for a retry or requeue, pending/), one fsync per folder covers
// the batch, and only then is running/<id>.json removed and the scheduler told. A crash before
// that leaves running/<id>.json, which recovery resolves; a crash after leaves both, and the
// newer folder wins.
import Foundation

extension Daemon {
    /// What a job's outputs are cut to when its record cannot be written for lack of space.
    static let diskFullOutputCap = 64 * 1024

    /// Hands an ended attempt to the finisher.
    func complete(_ completion: Completion) {
        let wasEmpty = completions.withLock { list -> Bool in
            list.append(completion)
            return list.count == 1
        }
        if wasEmpty { finishQueue.async { [self] in finishBatch() } }
    }

    private func finishBatch() {
        let batch = completions.withLock { list -> [Completion] in
            defer { list.removeAll() }
            return list
        }
        guard !batch.isEmpty else { return }
        var sync = DirectorySync(writes: batch.count)
        var written: [(id: JobID, next: AttemptResult.Next)] = []
        var failed: [Completion] = []
        for c in batch {
            let now = Timestamp.now()
            var next = c.resolved ?? AttemptResult.resolve(c.record, termination: c.termination, teardown: c.teardown,
                                                           now: c.endedAt < now ? c.endedAt : now, random: Double.random(in: 0..<1))
            if c.outputsCut, case .done(var r) = next {
                r.status = .failed
                r.error = SpoolError(.outputFailed, "job \(c.id): its output filled the spool's disk; it was cut to \(Self.diskFullOutputCap) bytes to make room for the record")
                next = .done(r)
            } else if case .done(var r) = next, let e = r.error, e.code == .exitNonzero || e.code == .killedBySignal, isDiskFull() {
                // A job that failed while the spool's disk was full most likely failed because of it: say so.
                r.error = SpoolError(e.code, e.message + " (the spool's disk is full: No space left on device)")
                next = .done(r)
            }
            do {
                switch next {
                case .done(var record):
                    try stageFollowUp(of: record, sync: &sync)
                    try moveOutputs(&record, sync: &sync)
                    store.remove(JobFiles.progress(c.id), from: .running)
                    try store.write(record, to: .done, sync: &sync)
                    written.append((c.id, .done(record)))
                case .requeue(var record):
                    // The attempt's output is kept in done/ (appended to earlier ones) for the final record.
                    try keepAttemptOutputs(&record, attempt: c.record.attempts, sync: &sync)
                    store.remove(JobFiles.progress(c.id), from: .running)
                    try store.write(record, to: .pending, sync: &sync)
                    FaultInjection.hit(.afterRequeueRecord)
                    written.append((c.id, next))
                }
            } catch {
                var again = c
                if let e = error as? SystemError, e.isDiskFull, !c.outputsCut {
                    // A job's own output may be what filled the disk: cut it so that its record fits.
                    for folder in [SpoolLayout.Folder.running, .done] {
                        for name in [JobFiles.stdout(c.id), JobFiles.stderr(c.id)] {
                            OutputCap.apply(dirFD: layout.fd(folder), name: name, limit: Self.diskFullOutputCap)
                        }
                    }
                    again.outputsCut = true
                    log.error("job \(c.id): cannot write its record: \(error); its outputs were cut to \(Self.diskFullOutputCap) bytes; retrying in 1 s")
                } else {
                    log.error("job \(c.id): cannot write its record: \(error); retrying in 1 s")
                }
                failed.append(again)
            }
        }
        do {
            try store.commit(&sync)
        } catch {
            log.error("finisher: \(error)")
        }
        FaultInjection.hit(.afterFinalRecord)
        for w in written { if case .done(let r) = w.next { releaseFollowUp(of: r) } }
        let now = Timestamp.now()
        let journals = jobs.withLock { j -> [BatchJournal] in
            defer { for w in written { j[w.id] = nil } }
            return written.compactMap { j[$0.id]?.journal }
        }
        for journal in journals { journal.close() }
        for w in written {
            store.retire(JobFiles.record(w.id), from: .running)
            store.retire(JobFiles.journal(w.id), from: .running)
        }
        scheduler.update { s in
            for w in written {
                s.jobEnded(w.id)
                if case .requeue(let r) = w.next { s.jobQueued(QueuedJob(r), now: now) }
            }
        }
        for w in written {
            logEnd(w.next)
            switch w.next {
            case .done(let r):
                emitFinished(r)
                recordFinished(r)
                jobFinished(r.id, status: r.status)
            case .requeue(let r):
                emitRequeued(r)
            }
        }
        if !failed.isEmpty {
            let retry = failed
            finishQueue.asyncAfter(deadline: .now() + 1) { [self] in
                for c in retry { complete(c) }
            }
        }
        if lifecycle.withLock({ $0.isStopping }) && scheduler.withLock({ $0.runningCount == 0 }) {
            log.info("spoold: every job is stopped or finished; exiting")
            exit(0)
        }
    }

    /// Moves the attempt's output files to done/ (after those of earlier attempts) and points the
    /// record at them. An output the job left empty is not kept; a path is null when no attempt wrote any.
    private func moveOutputs(_ record: inout JobRecord, sync: inout DirectorySync) throws {
        try keepAttemptOutputs(&record, attempt: record.attempts, sync: &sync)
        FaultInjection.hit(.afterOutputsMoved)
    }

    /// Places a command job's attempt outputs in done/ and names them in `record`.
    func keepAttemptOutputs(_ record: inout JobRecord, attempt: Int, sync: inout DirectorySync) throws {
        let id = record.id
        guard record.spec?.isBatch != true else { return }
        record.stdout = try store.placeAttemptOutput(JobFiles.stdout(id), attempt: attempt, startedAt: record.startedAt, capBytes: options.maxOutputBytes, sync: &sync)
        record.stderr = try store.placeAttemptOutput(JobFiles.stderr(id), attempt: attempt, startedAt: record.startedAt, capBytes: options.maxOutputBytes, sync: &sync)
    }

    /// True when the spool's filesystem has no space left (or intake has just seen ENOSPC).
    func isDiskFull() -> Bool {
        if lifecycle.withLock({ $0.diskFullLogged }) { return true }
        var vfs = statvfs()
        guard statvfs(layout.root, &vfs) == 0 else { return false }
        return Int(vfs.f_bavail) * Int(vfs.f_frsize) < 64 * 1024
    }

    private func logEnd(_ next: AttemptResult.Next) {
        switch next {
        case .done(let r):
            let took = r.durationSeconds.map { String(format: " in %.3f s", $0) } ?? ""
            if r.status == .succeeded {
                log.info("job \(r.id): succeeded\(took) (attempt \(r.attempts))")
            } else {
                log.warning("job \(r.id): \(r.status.rawValue)\(took): \(r.error?.description ?? "")")
            }
        case .requeue(let r):
            log.notice("job \(r.id): back to pending: \(r.waitReason ?? "")")
        }
    }
}
