// Control requests (SPEC §5) on held jobs: cancel, pause, resume, delete. The runtime reads and
// parses the request file and handles what needs the disk (a finished job's record, `retry`);
// the engine decides for every job it holds, and keeps a request whose effect lasts until its
// job's end (a cancel or delete) with the job, so that the file goes only once the end is durable.

/// What applying a request did.
enum ControlAnswer: Sendable, Equatable {
    /// Done: the request file is removed.
    case applied
    /// Its job is not held: finished, unknown, or not accepted yet.
    case notHeld
    /// Under way until job `id` ends: the file stays until then (a `removeControl` action).
    case untilEnd(JobID)
}

extension Engine {
    mutating func control(_ request: ControlRequest, file: FileName, now: Timestamp) -> (ControlAnswer, [EngineAction]) {
        guard jobs[request.id] != nil else { return (.notHeld, []) }
        let id = request.id
        let shown = "control/\(file)"
        switch request.action {
        case .cancel:
            return cancel(id, file: file, shown: shown, now: now)
        case .delete:
            update(id) { $0.deleteWhenEnded = true }
            return cancel(id, file: file, shown: shown, now: now)
        case .pause, .resume:
            return (.applied, pauseOrResume(id, pause: request.action == .pause, shown: shown, now: now))
        case .retry:
            return (.applied, [.log(.notice, "control: \(shown): retry \(id): the job has not ended yet; only finished jobs can be retried")])
        }
    }

    private mutating func cancel(_ id: JobID, file: FileName, shown: String, now: Timestamp) -> (ControlAnswer, [EngineAction]) {
        var actions: [EngineAction] = []
        update(id) { job in
            job.cancelRequested = true
            if !job.controls.contains(file) { job.controls.append(file) }
        }
        waitingControls.insert(file)
        switch jobs[id]!.state {
        case .queued, .blocked:
            actions = endPending(id, status: .cancelled, error: SpoolError(.cancelled, "job \(id): cancelled before it started (\(shown))"), now: now)
        case .starting, .ending:
            break  // ends at its start (claimed), or after its record is written (written)
        case .running(let run):
            actions.append(.log(.info, "job \(id): cancel requested (\(shown)); stopping its process group"))
            if jobs[id]!.batch != nil {
                takeBackQueuedOperations(of: id)
                jobs[id]!.batch!.cancel()
                for (key, _, _) in runningAttempts() where key.id == id { actions.append(.tearDown(key, .cancel)) }
                actions += pump(id, now: now)
            } else if run.isLaunched {
                actions.append(.tearDown(AttemptKey(id), .cancel))
            }
        }
        return (.untilEnd(id), actions)
    }

    private mutating func pauseOrResume(_ id: JobID, pause: Bool, shown: String, now: Timestamp) -> [EngineAction] {
        let verb = pause ? "pause" : "resume"
        guard case .running(var run) = jobs[id]!.state else {
            return [.log(.notice, "control: \(shown): \(verb) job \(id): it is \(jobs[id]!.state.status.rawValue), not running; nothing to do")]
        }
        run.isPaused = pause
        update(id) { job in
            job.state = .running(run)
            job.batch?.isPaused = pause
            job.isDirty = true
        }
        var actions: [EngineAction] = []
        if pause && jobs[id]!.batch != nil { takeBackQueuedOperations(of: id) }
        for (key, _, _) in runningAttempts() where key.id == id { actions.append(pause ? .pause(key) : .resume(key)) }
        actions.append(.emit(id, jobs[id]!.state.status, pause ? "paused" : "resumed", []))
        actions.append(.log(.info, "job \(id): \(pause ? "paused (SIGSTOP to its process group)" : "resumed (SIGCONT)")"))
        if !pause { actions += pump(id, now: now) }
        // The state file shows `paused` at once, not at the next coalesced write.
        jobs[id]!.isDirty = false
        actions.append(.rewriteRunning(render(id)!))
        return actions
    }
}
