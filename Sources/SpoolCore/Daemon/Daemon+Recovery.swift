// Start-up recovery, through the normal paths (Postfix's qmgr moves active back to incoming):
// finish intake claims a crash left in tmp/, remove our own half-written tmp files, resolve every
// job left in running/ by its `on_interrupt` (after killing what is left of its process group),
// and load pending/ into the scheduler. A state file found in two folders is resolved in favour
// of the later one (done over running over pending).
import Foundation

extension Daemon {
    func recover() {
        let now = Timestamp.now()
        index.load(from: layout)
        history?.open(workers: max(1, options.workers), queueLimits: options.queueLimits)
        // With --lock-file other daemons may share the spool: their temporaries, claims and running
        // jobs are alive, so only what is certainly ours is touched.
        let shared = options.lockFile != nil
        if !shared { removeStaleTemporaries() }
        _ = intake.recoverClaims(now: now, all: !shared)  // their records are in pending/ or done/ now, loaded below
        if shared {
            log.notice("spoold: --lock-file: running/ is left alone (it may hold other daemons' live jobs)")
        } else {
            recoverRunning(now: now)
        }
        releaseStagedFollowUps()
        loadPending(now: now)
    }

    /// Our half-written tmp files and the spares of an earlier run are removed (a spare left in
    /// tmp/ cannot be trusted: anyone who may write tmp/ could have put it there).
    private func removeStaleTemporaries() {
        InboxReader.scan(layout.fd(.tmp), suffix: "") { names in
            for n in names {
                guard let s = n.string, s.hasPrefix("spoold.") else { continue }
                if s.hasPrefix(SparePool.prefix) || s.hasSuffix(".tmp") { store.remove(s, from: .tmp) }
            }
        }
    }

    private func recoverRunning(now: Timestamp) {
        var names: [String] = []
        InboxReader.scan(layout.fd(.running), suffix: ".json") { batch in names += batch.compactMap(\.string) }
        guard !names.isEmpty else { return }
        let leftovers = executor.leftovers()
        var sync = DirectorySync()
        var resolved: [JobID] = []
        for name in names {
            guard let id = JobID(String(name.dropLast(5))) else { continue }
            FaultInjection.hit(.duringRecovery)
            if let what = leftovers.stop(id) {
                log.warning("job \(id): stopped \(what) left running by the previous daemon")
            }
            if store.exists(JobFiles.record(id), in: .done) {
                // Finished already; only the cleanup was lost.
                for out in [JobFiles.stdout(id), JobFiles.stderr(id)] where !store.exists(out, in: .done) {
                    _ = try? store.move(out, from: .running, to: .done, sync: &sync)
                }
                resolved.append(id)
                continue
            }
            let record: JobRecord
            do {
                guard let r = try store.read(id, in: .running) else { continue }
                record = r
            } catch {
                log.error("job \(id): running/\(name) is unreadable (\(error)); leaving it for an operator")
                continue
            }
            // A retry's pending record written before the crash is newer than the running file it replaces.
            if let pending = (try? store.read(id, in: .pending)) ?? nil,
               pending.attempts >= record.attempts + (record.status == .pending ? 1 : 0) {
                log.notice("job \(id): found in pending/ and running/; the pending record is the newer one")
                resolved.append(id)
                continue
            }
            if record.spec?.isBatch == true {
                do {
                    try requeueInterruptedBatch(record, now: now, sync: &sync)
                    resolved.append(id)
                } catch {
                    log.error("job \(id): cannot recover the batch: \(error)")
                }
                continue
            }
            var r = record
            if r.status == .pending {
                // Claimed by a rename but never rewritten: the attempt counted from here may have started.
                r.attempts += 1
            }
            r.status = .running
            let next = AttemptResult.resolve(r, termination: .signaled(SIGKILL), teardown: .shutdown, now: now, random: 0)
            do {
                switch next {
                case .done(var final):
                    final.error = SpoolError(.interrupted, "job \(id): the daemon stopped or died during attempt \(r.attempts) and on_interrupt is \"fail\"")
                    try keepAttemptOutputs(&final, attempt: r.attempts, sync: &sync)
                    try store.write(final, to: .done, sync: &sync)
                    log.warning("job \(id): failed: interrupted (on_interrupt: fail)")
                    emitFinished(final)
                    history?.recordFinished(final)
                case .requeue(var again):
                    again.waitReason = "requeued after the daemon stopped or died during attempt \(r.attempts)"
                    try keepAttemptOutputs(&again, attempt: r.attempts, sync: &sync)
                    try store.write(again, to: .pending, sync: &sync)
                    log.notice("job \(id): requeued after an interrupted attempt \(r.attempts)")
                    emitRequeued(again)
                }
                resolved.append(id)
            } catch {
                log.error("job \(id): cannot recover: \(error)")
            }
        }
        do { try store.commit(&sync) } catch { log.error("recovery: \(error)") }
        for id in resolved { store.retire(JobFiles.record(id), from: .running) }
        // Outputs and progress files may still be open in a process that outlived its job: never recycled.
        // Whatever else is left in running/ (outputs, journals, progress files of resolved jobs) is garbage now.
        let unresolved = Set(names).subtracting(resolved.map { JobFiles.record($0) }).map { String($0.dropLast(5)) + "." }
        InboxReader.scan(layout.fd(.running), suffix: "") { batch in
            for n in batch {
                guard let s = n.string, !unresolved.contains(where: { s.hasPrefix($0) }) else { continue }
                store.remove(s, from: .running)
            }
        }
    }

    /// A batch found in running/: its journal is folded in, interrupted operations follow
    /// on_interrupt, and the job goes back to pending to run what is left.
    private func requeueInterruptedBatch(_ record: JobRecord, now: Timestamp, sync: inout DirectorySync) throws {
        let id = record.id
        guard let spec = record.spec else { return }
        var ops = BatchState(spec: spec, operations: record.operations).operations
        if let journal = try store.readSmallFile(JobFiles.journal(id), in: .running) {
            // Entries carry the operation's index in the job file (a failed-only retry keeps the original ones).
            let position = Dictionary(ops.enumerated().map { ($0.element.index, $0.offset) }, uniquingKeysWith: { a, _ in a })
            for op in BatchJournal.read(journal) { if let p = position[op.index] { ops[p] = op } }
        }
        var interrupted = 0
        for i in ops.indices where ops[i].status == .running {
            interrupted += 1
            if spec.effectiveOnInterrupt == .fail {
                ops[i].status = .failed
                ops[i].finishedAt = now
                ops[i].error = SpoolError(.interrupted, "operations[\(ops[i].index)]: the daemon stopped or died during attempt \(ops[i].attempts) and on_interrupt is \"fail\"")
            } else {
                ops[i].status = .pending
                ops[i].startedAt = nil
            }
        }
        var r = record
        r.operations = ops
        let done = ops.filter { $0.status.isFinished }.count
        let again = AttemptResult.requeued(r, reason: "requeued after the daemon stopped or died; \(done) of \(ops.count) operations had finished, \(interrupted) were interrupted", runAfter: nil)
        try store.write(again, to: .pending, sync: &sync)
        log.notice("job \(id): batch requeued with \(done) of \(ops.count) operations finished")
    }

    private func loadPending(now: Timestamp) {
        var jobs: [JobRecord] = []
        InboxReader.scan(layout.fd(.pending), suffix: ".json", chunk: 4096) { names in
            for name in names {
                guard let s = name.string, let id = JobID(String(s.dropLast(5))) else { continue }
                if store.exists(JobFiles.record(id), in: .done) {
                    log.warning("job \(id): found in pending/ and done/; keeping the finished record")
                    store.remove(s, from: .pending)
                    continue
                }
                do {
                    guard let r = try store.read(id, in: .pending) else { continue }
                    sequence.observe(r.sequence)
                    jobs.append(r)
                } catch {
                    log.error("job \(id): pending/\(s) is unreadable (\(error)); leaving it for an operator")
                }
            }
        }
        enqueue(jobs, now: now)
    }
}
