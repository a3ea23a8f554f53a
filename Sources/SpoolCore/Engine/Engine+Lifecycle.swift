// The daemon's own life as the engine sees it: recovery at start (jobs found in running/ go
// through the same end as an interrupted attempt), shutdown (no new starts, batches take their
// queued operations back), the tear-down after the grace period, and the running-state writer.
import Foundation
import SpoolJSON

extension Engine {
    /// A job found in running/ at start: its attempt was interrupted (the daemon stopped or died),
    /// and it follows `on_interrupt`, through the same write as any end.
    mutating func recovered(_ found: JobRecord, now: Timestamp) -> [EngineAction] {
        let id = found.id
        guard jobs[id] == nil else { impossible("recovered", id) }
        var r = found
        if r.spec?.isBatch == true {
            hold(EngineJob(record: r, state: .running(JobState.Run())))
            return recoveredBatch(id, now: now)
        }
        if r.status == .pending {
            // Claimed by a rename but never rewritten: the attempt counted from here may have started.
            r.attempts += 1
        }
        hold(EngineJob(record: r, state: .running(JobState.Run())))
        var next = AttemptResult.resolve(Self.render(jobs[id]!), termination: .signaled(SIGKILL), teardown: .shutdown, now: now, random: 0)
        switch next {
        case .done(var final):
            final.error = SpoolError(.interrupted, "job \(id): the daemon stopped or died during attempt \(r.attempts) and on_interrupt is \"fail\"")
            next = .done(final)
        case .requeue(var again):
            again.waitReason = "requeued after the daemon stopped or died during attempt \(r.attempts)"
            next = .requeue(again)
        }
        return end(id, next, from: .running, attempt: r.attempts)
    }

    /// A job whose attempt still runs under its supervisor (live restore) or on a remote engine:
    /// held as running, with its slots (none for a remote one).
    mutating func adopted(_ found: JobRecord) -> [EngineAction] {
        let id = found.id
        guard jobs[id] == nil, found.spec?.isBatch != true else { impossible("adopted", id) }
        hold(EngineJob(record: found, state: .running(JobState.Run(isPaused: found.status == .paused, isLaunched: true))))
        scheduler.adopt(QueuedJob(found))
        return [.emit(id, found.status == .paused ? .paused : .running, "adopted", [EventField("attempt", .integer(found.attempts))]),
                .log(.notice, "job \(id): adopted: attempt \(found.attempts) kept running \(isRemote(id) ? "on its cluster" : "under its supervisor") while no daemon watched it")]
    }

    /// A batch found in running/ (its journal folded in): interrupted operations follow
    /// on_interrupt, and the job goes back to pending to run what is left.
    private mutating func recoveredBatch(_ id: JobID, now: Timestamp) -> [EngineAction] {
        let r = jobs[id]!.record
        guard let spec = r.spec else { impossible("recoveredBatch", id) }
        var ops = BatchState(spec: spec, operations: r.operations).operations
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
        var record = r
        record.operations = ops
        let done = ops.filter { $0.status.isFinished }.count
        let again = AttemptResult.requeued(record, reason: "requeued after the daemon stopped or died; \(done) of \(ops.count) operations had finished, \(interrupted) were interrupted", runAfter: nil)
        return end(id, .requeue(again), from: .running, attempt: nil)
    }

    /// SIGTERM, SIGINT or --drain: no new starts; running jobs get the grace period.
    mutating func shutdown(reason: String, graceSeconds: Double, now: Timestamp) -> [EngineAction] {
        isStopping = true
        scheduler.stopRequested()
        var actions: [EngineAction] = []
        for id in active.sorted() where jobs[id]?.batch != nil {
            takeBackQueuedOperations(of: id)
            actions += pump(id, now: now)
        }
        if mayLeaveRunning && hasWorkInFlight && !holdsExit {
            let left = runningSummary
            let how = liveRestore ? "live restore: \(left) left running, each under its supervisor or cluster" : "\(left) left running on the cluster"
            return actions + [.log(.info, "spoold: \(reason): \(how); exiting"), .exit]
        }
        guard hasWorkInFlight else {
            return actions + [.log(.info, "spoold: \(reason): no job running; exiting"), .exit]
        }
        return actions + [.log(.info, "spoold: \(reason): stopping; \(AttemptResult.format(graceSeconds)) s of grace for \(runningSummary) to finish"),
                          .arm(.shutdownGrace, seconds: graceSeconds)]
    }

    /// Every running attempt is stopped; they end as interrupted. With live restore, supervised
    /// attempts (command jobs' and batches' command operations) are left running.
    mutating func tearDownAll() -> [EngineAction] {
        isTearingDown = true
        let attempts = runningAttempts().filter { a in
            guard let op = a.key.operation else { return !outlivesDaemon(a.key) }
            return jobs[a.key.id]?.handedOver.contains(op) != true
        }
        guard !attempts.isEmpty else { return [] }
        return [.log(.notice, "spoold: stopping \(runningSummary) (\(plural(attempts.count, "attempt")))")]
            + attempts.map { .tearDown($0.key, .shutdown) }
    }

    /// What keeps a stopping daemon from exiting: every active job, except (with live restore)
    /// launched command jobs, and running batches whose operations in flight all run under their
    /// supervisors (built-in operations run in the daemon: it waits for them).
    var holdsExit: Bool {
        guard mayLeaveRunning else { return hasWorkInFlight }
        return active.contains { id in
            guard let job = jobs[id] else { return false }
            if case .running(let run) = job.state, run.isLaunched, job.batch == nil, outlivesDaemon(AttemptKey(id)) { return false }
            if job.state.isRunning, let batch = job.batch, !batch.inFlight.isEmpty, batch.inFlight.isSubset(of: job.handedOver) { return false }
            return true
        }
    }

    /// The running records with news, for running/<id>.json: of jobs that have run 0.25 s at least
    /// (short jobs never pay for it) or `force`. `progressed`: those whose progress moved since the
    /// last progress event.
    mutating func runningStates(now: Timestamp, force: JobID? = nil) -> (due: [JobRecord], progressed: [(JobID, Progress)]) {
        var due: [JobRecord] = [], progressed: [(JobID, Progress)] = []
        for id in active.sorted() {
            guard let job = jobs[id], job.isDirty, case .running(let run) = job.state, run.isLaunched || job.batch != nil,
                  let started = job.record.startedAt, now.seconds - started.seconds >= 0.25 || id == force
            else { continue }
            if job.batch != nil, let spec = job.record.spec {
                // The room the batch really has, for its eta: worked out here, not at every operation's start and end.
                jobs[id]!.batch!.capacity = scheduler.room(for: id, queue: spec.effectiveQueue, cpus: spec.effectiveCPUs)
                jobs[id]!.record.progress = jobs[id]!.batch!.progress(message: job.record.progress.message)
            }
            if jobs[id]!.progressEmitted != jobs[id]!.record.progress {
                jobs[id]!.progressEmitted = jobs[id]!.record.progress
                progressed.append((id, jobs[id]!.record.progress))
            }
            let interval = Self.stateWriteInterval(operations: job.record.spec?.operations?.count ?? 0)
            if id != force, let last = job.lastStateWrite, now.seconds - last.seconds < interval { continue }
            jobs[id]!.isDirty = false
            jobs[id]!.stateWrites += 1
            jobs[id]!.lastStateWrite = now
            due.append(render(id)!)
        }
        return (due, progressed)
    }

    /// Seconds between rewrites of a running job's state file. A batch's record holds every
    /// operation's spec and result, so writing it costs in proportion to its size (about 50 ms per
    /// 1,000 operations of 100 numbers, bench `batch`): rewritten at the writer's pace (0.5 s), a
    /// 10,000-operation batch spent half the daemon's CPU rewriting its own record. A record of
    /// N ≥ 1,000 operations is rewritten at most every N/1,000 s; progress events still go out every 0.5 s,
    /// and the journal keeps each finished operation for recovery either way.
    static func stateWriteInterval(operations: Int) -> Double {
        operations < 1000 ? 0 : Double(operations) / 1000
    }
}
