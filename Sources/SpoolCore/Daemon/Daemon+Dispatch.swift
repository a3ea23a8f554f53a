// The dispatcher thread: the only waiter on the worker semaphore. For each free slot it takes
// the next job from the scheduler, and when several slots are free it takes several jobs at once,
// so that their renames pending/ → running/ share one fsync of running/. Only after that fsync
// (the claim is durable, so a crash cannot run an `on_interrupt: fail` job twice) does it spawn.
import Foundation

extension Daemon {
    func dispatchLoop() {
        while true {
            slots.wait()
            if payOwedSlot() { continue }
            guard let first = nextJob(blocking: true) else {
                slots.signal()
                return
            }
            var batch = [first]
            while slots.wait(timeout: .now()) == .success {
                if payOwedSlot() { continue }
                guard let more = nextJob(blocking: false) else {
                    slots.signal()
                    break
                }
                batch.append(more)
            }
            startBatch(batch)
        }
    }

    /// The next job to start; nil when stopping (or, if not blocking, when none can start now).
    /// The pause files are looked at outside the scheduler's lock (a stat, and a listing of the
    /// spool root when it changed), before each look at the scheduler and after each sleep.
    private func nextJob(blocking: Bool) -> WorkItem? {
        enum Look { case found(WorkItem?), again }
        while true {
            let spoolPaused = access(layout.pausedPath, F_OK) == 0
            let pausedQueues = spoolPaused ? [] : PausedQueues.current(root: layout.root)
            var slept = false
            let look = scheduler.wait { s -> LockedBox<SchedulerState>.WaitStep<Look> in
                if s.isStopping { return .done(.found(nil)) }
                if slept { return .done(.again) }  // woken: the pause files may have changed meanwhile
                if spoolPaused {
                    guard blocking else { return .done(.found(nil)) }
                    slept = true
                    return .sleep(until: Date().addingTimeInterval(0.25))
                }
                s.pausedQueues = pausedQueues
                switch s.pick(now: Timestamp.now()) {
                case .stop: return .done(.found(nil))
                case .start(let id): return .done(.found(id))
                case .wait(let until):
                    if !blocking { return .done(.found(nil)) }
                    // A held queue is released by removing its file, which wakes nobody: look again soon.
                    let recheck = pausedQueues.isEmpty ? Date().addingTimeInterval(3600) : Date().addingTimeInterval(0.25)
                    slept = true
                    // Never sleep past an hour at a time: far-future dates must not reach the clock calls.
                    return .sleep(until: [until?.date, recheck].compactMap { $0 }.min())
                }
            }
            if case .found(let item) = look { return item }
        }
    }

    /// Claims the jobs (rename into running/, one fsync) and starts each; batch operations start directly.
    private func startBatch(_ items: [WorkItem]) {
        var ids: [JobID] = []
        for item in items {
            switch item {
            case .job(let id): ids.append(id)
            case .operation(let id, let index): startOperation(of: id, index: index)
            }
        }
        guard !ids.isEmpty else { return }
        var sync = DirectorySync()
        var claimed: [JobID] = []
        for id in ids {
            do {
                if try store.move(JobFiles.record(id), from: .pending, to: .running, sync: &sync) {
                    claimed.append(id)
                } else {
                    log.warning("job \(id): pending/\(id).json vanished before it could start (taken by another daemon?)")
                    abandonStart(id)
                }
            } catch {
                log.error("job \(id): cannot move to running/: \(error); trying again in 5 s")
                abandonStart(id, retryIn: 5)
            }
        }
        do {
            try store.commit(&sync)
        } catch {
            log.error("dispatcher: \(error); starting anyway")
        }
        FaultInjection.hit(.afterStartRename)
        for id in claimed { startAttempt(id) }
    }

    /// A picked job did not start: give its slot back (and queue it again after `retryIn`).
    private func abandonStart(_ id: JobID, retryIn: Double? = nil) {
        let now = Timestamp.now()
        let again = retryIn.flatMap { delay in
            (try? store.read(id, in: .pending)).flatMap { $0 }.map { r -> QueuedJob in
                var q = QueuedJob(r)
                q.runAfter = now.adding(delay)
                return q
            }
        }
        scheduler.update { s in
            s.jobEnded(id)
            if let again { s.jobQueued(again, now: now) }
        }
        slots.signal()
    }

    /// Starts one attempt of a job whose state file is in running/.
    private func startAttempt(_ id: JobID) {
        let now = Timestamp.now()
        var record: JobRecord
        do {
            guard let r = try store.read(id, in: .running) else {
                log.warning("job \(id): running/\(id).json vanished before its start")
                abandonStart(id)
                return
            }
            record = r
        } catch {
            log.error("job \(id): cannot read running/\(id).json: \(error)")
            abandonStart(id)
            return
        }
        if record.spec?.isBatch == true {
            beginBatch(record, now: now)
            return
        }
        record.status = .running
        record.attempts += 1
        record.startedAt = now
        record.finishedAt = nil
        record.waitReason = nil
        record.runAfter = nil
        record.exitCode = nil
        record.signal = nil
        record.stdout = "running/\(JobFiles.stdout(id))"
        record.stderr = "running/\(JobFiles.stderr(id))"
        record.usage = nil
        record.progress = Progress(total: 1, running: 1)

        guard let plan = plan(for: record) else {
            log.error("job \(id): running/\(id).json has no spec to run")
            abandonStart(id)
            return
        }
        switch executor.start(plan) {
        case .failure(let error):
            record.stdout = nil
            record.stderr = nil
            record.executor = executor.info
            jobs.withLock { $0[id] = ActiveJob(record: record, attempt: nil) }
            slots.signal()
            complete(Completion(id: id, record: record, termination: .notStarted(error), teardown: nil, endedAt: Timestamp.now()))
        case .success(let running):
            running.describe(into: &record)
            jobs.withLock { $0[id] = ActiveJob(record: record, attempt: running) }
            emit(record, "started", [("attempt", .integer(record.attempts))])
            // Started while the daemon stops its jobs: stopped at once, like the others.
            if lifecycle.withLock({ $0.isTearingDown }) { running.tearDown(.shutdown) }
            log.debug("job \(id): started attempt \(record.attempts)")
            running.awaitEnd { [self] end in
                slots.signal()  // the worker is free before the bookkeeping of the end
                guard var record = jobs.withLock({ $0[id]?.record }) else { return }
                record.usage = end.usage
                complete(Completion(id: id, record: record, termination: end.termination, teardown: end.teardown,
                                    endedAt: Timestamp.now()))
            }
        }
    }
}
