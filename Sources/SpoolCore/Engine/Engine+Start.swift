// Starting work: the dispatcher asks for the next item (`next`), claims a picked job by moving
// its record to running/ (`claimed`), and the engine hands its attempt to the executor; a batch
// starts its operations instead (Engine+Batch.swift).

/// What the dispatcher does next.
enum DispatchStep: Sendable {
    /// Move job `id`'s record from pending/ to running/, then report `claimed` or `claimFailed`.
    case claim(JobID)
    /// Carry out these actions (a batch operation starts).
    case start([EngineAction])
    /// Nothing can start; look again at this time (nil: when something changes).
    case wait(until: Timestamp?)
    /// The daemon stops: no more starts.
    case stop
}

extension Engine {
    /// The next item to start, if one may start now. `pausedQueues`: queues held by pause files.
    /// `remote`: from the queues that run on a remote engine (their dispatcher holds no worker).
    mutating func next(now: Timestamp, pausedQueues: Set<String>, remote: Bool = false) -> DispatchStep {
        scheduler.pausedQueues = pausedQueues
        if !failingWrites.isEmpty && !scheduler.isStopping { return .wait(until: nil) }  // woken by their `written`
        scheduler.floors = backlog.isEmpty ? [:] : backlog.floors()
        switch scheduler.pick(now: now, remote: remote) {
        case .stop: return .stop
        case .wait(let until): return .wait(until: until)
        case .start(.job(let id)):
            guard jobs[id]?.state == .queued else { impossible("a pick", id) }
            update(id) { $0.state = .starting }
            return .claim(id)
        case .start(.operation(let id, let index)):
            return .start(startOperation(AttemptKey(id, operation: index), now: now))
        }
    }

    /// The job's record is in running/: its attempt starts (or a batch's operations do).
    mutating func claimed(_ id: JobID, now: Timestamp) -> [EngineAction] {
        guard let job = jobs[id], job.state == .starting else { impossible("claimed", id) }
        if job.cancelRequested {
            // Cancelled while it was being claimed: it ends without running.
            update(id) { j in
                j.record.finishedAt = now
                j.record.waitReason = nil
                j.record.runAfter = nil
                j.record.error = SpoolError(.cancelled, "job \(id): cancelled before it started")
                j.state = .ending(.final(.cancelled), from: .running)
            }
            return workerFreed(id) + [.write(RecordWrite(record: render(id)!, to: .done, from: .running, attempt: nil)),
                    .log(.info, "job \(id): cancelled before it started")]
        }
        if job.record.spec?.isBatch == true { return beginBatch(id, now: now) }
        update(id) { j in
            var r = j.record
            r.attempts += 1
            r.startedAt = now
            r.finishedAt = nil
            r.waitReason = nil
            r.runAfter = nil
            r.exitCode = nil
            r.signal = nil
            r.stdout = "running/\(JobFiles.stdout(id))"
            r.stderr = "running/\(JobFiles.stderr(id))"
            r.usage = nil
            r.progress = Progress(total: 1, running: 1)
            j.record = r
            j.state = .running(JobState.Run())
            j.isDirty = true
        }
        guard let plan = plan(for: jobs[id]!.record) else { impossible("a start without a command", id) }
        return [.launch(AttemptKey(id), plan)]
    }

    /// A picked job did not start: its slot is given back, and it is queued again after `retryIn`
    /// (nil: its file is gone, taken by another daemon sharing the spool, and the job is let go).
    mutating func claimFailed(_ id: JobID, retryIn: Double?, now: Timestamp) -> [EngineAction] {
        guard jobs[id]?.state == .starting else { impossible("claimFailed", id) }
        scheduler.jobEnded(id)
        let freed = workerFreed(id)
        guard let retryIn else {
            release(id)
            return freed
        }
        update(id) { $0.record.runAfter = now.adding(retryIn) }
        queue(id, now: now)
        return freed
    }

    /// Whether job `id`'s attempt may start before its claim (the rename into running/) is durable.
    func startsBeforeClaimIsDurable(_ id: JobID) -> Bool {
        jobs[id]?.record.spec.map(mayStartBeforeDurable) ?? false
    }

    /// Whether a job may start before the renames that put it in place are durable: its record's
    /// into pending/ (intake hands it on before that fsync; its claim in tmp/ is durable) and its
    /// claim to run into running/. A power cut that loses either leaves the job to be made or run
    /// again from its claim or pending/: what an `on_interrupt: requeue` command job does after
    /// the cut anyway (its attempt dies with the power). Not so for a `fail` job (it must never run
    /// twice), a batch (its operations may be `fail`), or an attempt that outlives the daemon (live
    /// restore, a remote queue): that one would go on running while its copy starts again.
    func mayStartBeforeDurable(_ spec: JobSpec) -> Bool {
        guard !spec.isBatch, spec.effectiveOnInterrupt == .requeue else { return false }
        return !liveRestore && !scheduler.isRemote(spec.effectiveQueue)
    }

    /// Whether job `id` runs on a remote engine (its queue's executor is not local).
    func isRemote(_ id: JobID) -> Bool {
        jobs[id].map { scheduler.isRemote($0.record.spec?.effectiveQueue ?? "default") } ?? false
    }

    /// The worker permit the dispatcher took for job `id`'s start, given back; none for a remote
    /// queue's job, whose dispatcher takes none.
    func workerFreed(_ id: JobID) -> [EngineAction] {
        isRemote(id) ? [] : [.freeWorker]
    }

    /// Whether an attempt outlives a stopping daemon: a command job's or a local batch's command
    /// operation's under live restore (its supervisor keeps it), a command job's on a remote
    /// engine (the cluster keeps it); the next daemon adopts it. A remote batch's operations do not:
    /// recovery cancels them and the batch runs them again (docs/scale-out.md).
    func outlivesDaemon(_ key: AttemptKey) -> Bool {
        key.operation == nil ? (liveRestore || isRemote(key.id)) : (liveRestore && !isRemote(key.id))
    }

    /// Some attempts may be left running when the daemon stops (see `outlivesDaemon`).
    var mayLeaveRunning: Bool { liveRestore || !scheduler.remoteQueues.isEmpty }

    /// The executor started an attempt.
    mutating func launched(_ key: AttemptKey, _ info: AttemptInfo) -> [EngineAction] {
        guard let job = jobs[key.id], case .running(var run) = job.state else { impossible("launched", key.id) }
        var actions: [EngineAction] = []
        if key.operation != nil, outlivesDaemon(key) {
            update(key.id) { $0.handedOver.insert(key.operation!) }
        }
        if key.operation == nil {
            run.isLaunched = true
            update(key.id) { j in
                j.state = .running(run)
                j.record.pid = info.pid
                j.record.executor = info.executor
                j.isDirty = true
            }
            actions.append(.emit(key.id, .running, "started", [EventField("attempt", .integer(job.record.attempts))]))
            actions.append(.log(.debug, "job \(key.id): started attempt \(job.record.attempts)"))
        }
        // Started while the job is being stopped or paused: it follows at once.
        if isTearingDown && !outlivesDaemon(key) {
            actions.append(.tearDown(key, .shutdown))
        } else if job.cancelRequested {
            actions.append(.tearDown(key, .cancel))
        } else if run.isPaused {
            actions.append(.pause(key))
        }
        if isStopping && mayLeaveRunning && !holdsExit {
            // The last start a stopping daemon waited for: its supervisor (or the cluster) keeps it.
            actions += [.log(.info, "spoold: every job is stopped, finished or left to its supervisor or cluster; exiting"), .exit]
        }
        return actions
    }

    /// The plan of a single command or shell job's attempt.
    func plan(for record: JobRecord) -> ProcessPlan? {
        guard let spec = record.spec, !spec.isBatch else { return nil }
        return ProcessPlan(id: record.id, action: spec.action, cwd: spec.cwd, env: spec.env ?? [:], attempt: record.attempts,
                           stdoutName: JobFiles.stdout(record.id), stderrName: JobFiles.stderr(record.id),
                           extraEnv: deviceEnvironment(for: .job(record.id)), label: "job \(record.id)",
                           owner: record.owner, timeoutSeconds: spec.timeoutSeconds, resources: spec.resources,
                           queue: spec.effectiveQueue)
    }

    /// CUDA_VISIBLE_DEVICES when the spool has GPUs: the ones the scheduler gave this run, or
    /// none (an empty list) for a run that asked for none, so that it cannot use another's.
    func deviceEnvironment(for item: WorkItem) -> [String: String] {
        guard hasGPUs, !isRemote(item.jobID) else { return [:] }  // Slurm sets its own for --gres
        return ["CUDA_VISIBLE_DEVICES": scheduler.gpus(of: item).joined(separator: ",")]
    }
}
