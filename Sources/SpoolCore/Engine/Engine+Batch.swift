// Running a batch. The batch job itself holds no worker: its operations do. Up to max_parallel
// of them wait in the scheduler's queue at a time (in arrival order with everything else, so the
// --workers bound holds and other jobs are not starved); each finished attempt is appended to
// the batch's journal; when every operation has finished the job ends like any other.
import SpoolBuiltins

extension Engine {
    /// A claimed batch starts (or resumes after a restart, keeping finished operations).
    mutating func beginBatch(_ id: JobID, now: Timestamp) -> [EngineAction] {
        guard let spec = jobs[id]?.record.spec else { impossible("beginBatch", id) }
        update(id) { j in
            j.record.attempts += 1
            if j.record.startedAt == nil { j.record.startedAt = now }
            j.record.finishedAt = nil
            j.record.waitReason = nil
            j.record.runAfter = nil
            let batch = BatchState(spec: spec, operations: j.record.operations)
            j.record.progress = batch.progress()
            j.batch = batch
            j.state = .running(JobState.Run())
            j.isDirty = true
        }
        let count = spec.operations?.count ?? 0
        var actions: [EngineAction] = [
            .openJournal(id),
            .emit(id, .running, "started", [EventField("attempt", .integer(jobs[id]!.record.attempts)), EventField("operations", .integer(count))]),
            .log(.info, "job \(id): batch started: \(count) operations, max_parallel \(spec.effectiveMaxParallel)"),
        ]
        actions += workerFreed(id)  // the batch itself holds no worker; its operations will
        actions += pump(id, now: now)
        return actions
    }

    /// Queues what may start now; ends or requeues the batch when nothing is left to do.
    mutating func pump(_ id: JobID, now: Timestamp) -> [EngineAction] {
        let stopping = isStopping
        struct Step { var ready: [Int]; var complete: Bool; var idle: Bool; var wake: Timestamp? }
        guard jobs[id]?.batch != nil, jobs[id]!.state.isRunning else { return [] }
        let ready = stopping ? [] : jobs[id]!.batch!.takeReady(now: now)
        var wake: Timestamp? = nil
        if let at = jobs[id]!.batch!.nextRetryAt, jobs[id]!.retryWake.map({ $0 > at }) ?? true {
            jobs[id]!.retryWake = at
            wake = at
        }
        let step = Step(ready: ready, complete: jobs[id]!.batch!.isComplete, idle: jobs[id]!.batch!.inFlight.isEmpty, wake: wake)
        let spec = jobs[id]!.record.spec
        for index in step.ready {
            operationSequence += 1
            var op = QueuedJob(item: .operation(id, index), priority: spec?.effectivePriority ?? 0, sequence: operationSequence,
                               runAfter: nil, queue: spec?.effectiveQueue ?? "default")
            op.cpus = spec?.effectiveCPUs ?? 1  // each operation takes the job's resources
            op.gpus = spec?.effectiveGPUs ?? 0
            scheduler.jobQueued(op, now: now)
        }
        if step.complete { return endBatch(id, requeue: false, now: now) }
        if stopping && step.idle { return endBatch(id, requeue: true, now: now) }
        if let at = step.wake { return [.arm(.batchRetry(id), seconds: max(0, at.seconds - now.seconds) + 0.001)] }
        return []
    }

    /// Operation `key` was picked: it starts (the dispatcher holds a worker for it).
    mutating func startOperation(_ key: AttemptKey, now: Timestamp) -> [EngineAction] {
        let id = key.id, index = key.operation!
        guard jobs[id]?.batch != nil, jobs[id]!.state.isRunning, let spec = jobs[id]!.record.spec else {
            scheduler.itemEnded(.operation(id, index))
            return isRemote(id) ? [] : [.freeWorker]
        }
        jobs[id]!.batch!.started(index, now: now)
        jobs[id]!.record.progress = jobs[id]!.batch!.progress(message: jobs[id]!.record.progress.message)
        jobs[id]!.isDirty = true
        let op = jobs[id]!.batch!.spec(index), record = jobs[id]!.batch!.operations[index]
        // `record.index` is the operation's index in the job file: a failed-only retry keeps the
        // original ones, so messages, output names and SPOOL_OPERATION_INDEX use it, not the position.
        let shown = record.index
        let label = "job \(id) operations[\(shown)]\(op.name.map { " (\($0))" } ?? "")"
        var actions: [EngineAction] = []
        if spec.effectiveOnInterrupt == .fail {
            // Durable before it starts, so that after a crash it counts as interrupted, never as not run.
            actions.append(.journal(id, record, sync: true))
        }
        switch op.kind {
        case .builtin(let type, let params):
            actions.append(.runBuiltin(key, type: type, params: params, label: label, queue: spec.effectiveQueue))
        case .process(let action):
            var env = spec.env ?? [:]
            for (k, v) in op.env ?? [:] { env[k] = v }
            let plan = ProcessPlan(id: id, action: action, cwd: op.cwd ?? spec.cwd, env: env, attempt: record.attempts,
                                   stdoutName: JobFiles.operationStdout(id, shown), stderrName: JobFiles.operationStderr(id, shown),
                                   extraEnv: deviceEnvironment(for: .operation(id, index)).merging(["SPOOL_OPERATION_INDEX": String(shown)]) { $1 },
                                   label: label, owner: jobs[id]!.record.owner,
                                   timeoutSeconds: op.timeoutSeconds ?? spec.timeoutSeconds, resources: spec.resources,
                                   queue: spec.effectiveQueue, operation: shown)
            actions.append(.launchOperation(key, plan))
        }
        return actions
    }

    /// An operation attempt ended (its outputs are in done/): checkpointed, then the batch goes on.
    mutating func operationEnded(_ key: AttemptKey, _ outcome: BatchState.Outcome, stdout: String?, stderr: String?,
                                 usage: ResourceUsage?, executor: ExecutorInfo?, now: Timestamp, random: Double) -> [EngineAction] {
        let id = key.id, index = key.operation!
        scheduler.itemEnded(.operation(id, index))
        guard jobs[id]?.batch != nil else { impossible("operationEnded", id) }
        jobs[id]!.handedOver.remove(index)
        jobs[id]!.batch!.finished(index, outcome, now: now, random: random, stdout: stdout, stderr: stderr, usage: usage, executor: executor)
        jobs[id]!.record.progress = jobs[id]!.batch!.progress(message: jobs[id]!.record.progress.message)
        jobs[id]!.isDirty = true
        return [.checkpoint(id, jobs[id]!.batch!.operations[index])]
    }

    /// An operation stopped by a daemon shutdown: it follows the job's on_interrupt.
    mutating func operationInterrupted(_ key: AttemptKey, now: Timestamp) -> [EngineAction] {
        let id = key.id, index = key.operation!
        scheduler.itemEnded(.operation(id, index))
        guard jobs[id]?.batch != nil else { impossible("operationInterrupted", id) }
        jobs[id]!.handedOver.remove(index)
        jobs[id]!.batch!.interrupted(index, policy: jobs[id]!.record.spec?.effectiveOnInterrupt ?? .requeue, now: now)
        jobs[id]!.isDirty = true
        return [.checkpoint(id, jobs[id]!.batch!.operations[index])]
    }

    /// An operation's end is in the batch's journal: the batch goes on. A stopping daemon with
    /// live restore exits once only supervised attempts are left (this end may have been the last
    /// built-in operation it waited for).
    mutating func checkpointed(_ id: JobID, now: Timestamp) -> [EngineAction] {
        let actions = pump(id, now: now)
        if isStopping && liveRestore && !holdsExit {
            return actions + [.log(.info, "spoold: every job is stopped, finished or left to its supervisor; exiting"), .exit]
        }
        return actions
    }

    /// Takes a batch's operations that wait in the scheduler's queue back out of it (a stop, a
    /// pause or a cancel): they have not started, so the batch counts them as not in flight.
    mutating func takeBackQueuedOperations(of id: JobID) {
        let taken = scheduler.queuedOperations(of: id)
        for i in taken { _ = scheduler.removeQueued(.operation(id, i)) }
        jobs[id]?.batch?.unqueue(taken)
    }

    /// A batch with nothing more to run ends: final, or back to pending (the daemon stops).
    private mutating func endBatch(_ id: JobID, requeue: Bool, now: Timestamp) -> [EngineAction] {
        guard let job = jobs[id], let batch = job.batch else { impossible("endBatch", id) }
        var r = Self.render(job)
        r.progress = batch.progress(message: r.progress.message)
        jobs[id]!.batch = nil  // ends once
        let log = EngineAction.log(.info, "job \(id): batch ended after \(job.stateWrites) state-file writes")
        if requeue {
            let left = batch.operations.filter { !$0.status.isFinished }.count
            return [log] + end(id, .requeue(AttemptResult.requeued(r, reason: "requeued after the daemon stopped; \(left) operations left", runAfter: nil)),
                               from: .running, attempt: nil)
        }
        let (status, error) = batch.finalStatus(jobID: id)
        r.error = error
        r.finishedAt = now
        r.durationSeconds = r.startedAt.map { max(0, now.seconds - $0.seconds) }
        return [log] + endFinal(id, r, status: status, from: .running, attempt: nil)
    }
}
