// Control requests (SPEC §5) on held jobs: cancel, pause, resume, delete. The runtime reads and
// parses the request file and handles what needs the disk (a finished job's record, `retry`);
// the engine decides for every job it holds, and keeps a request whose effect lasts until its
// job's end (a cancel or delete) with the job, so that the file goes only once the end is durable.
//
// Who may: the engine decides for held jobs, with the requester the runtime read from the request
// file (its owner by fstat, and whether that user is an administrator), against the owner recorded
// at intake. The runtime asks the same question (`Requester.refusal`) for finished jobs, whose
// records are in done/. A record without an owner (the daemon does not run as root) may be
// controlled by anyone who can write control/, as before.

/// What applying a request did.
enum ControlAnswer: Sendable, Equatable {
    /// Done: the request file is removed.
    case applied
    /// Its job is not held: finished, unknown, or not accepted yet.
    case notHeld
    /// Its job is parked (held without its record): read it back (`parkedLoaded`) and ask again.
    case parked
    /// Under way until job `id` ends: the file stays until then (a `removeControl` action).
    case untilEnd(JobID)
    /// Not allowed: the requester neither owns the job (`owner`) nor is an administrator. Nothing
    /// changed; the runtime says why (`Requester.refusal`, with names), logs it, answers the
    /// requester and removes the file.
    case refused(owner: JobOwner)
    /// Cannot be done to this job (the sentence says why): answered and removed, nothing changed.
    case impossible(String)
}

/// Who asked: the owner of the request file (uid from fstat of the open file, never the path),
/// and whether the runtime found that user to be an administrator (root, the daemon's own user,
/// or a member of the configured `admin_group`).
struct Requester: Sendable, Equatable {
    var uid: UInt32
    var isAdmin: Bool
    /// How the requester is named in messages ("bob (uid 1001)").
    var shown: String

    init(uid: UInt32, isAdmin: Bool, shown: String? = nil) {
        self.uid = uid
        self.isAdmin = isAdmin
        self.shown = shown ?? "uid \(uid)"
    }

    /// nil if this requester may apply `action` to a job owned by `owner`; else the refusal.
    /// Allowed: no recorded owner (the daemon did not run as root), the owner, an administrator.
    func refusal(_ action: ControlRequest.Action, job id: JobID, owner: JobOwner?, ownerShown: String? = nil) -> String? {
        guard let owner, !isAdmin, owner.uid != uid else { return nil }
        let whose = ownerShown ?? "uid \(owner.uid)"
        return "\(action.rawValue) job \(id) refused: it belongs to \(whose), and \(shown) is neither its owner nor an administrator (root or a member of admin_group)"
    }
}

extension Engine {
    mutating func control(_ request: ControlRequest, file: FileName, by requester: Requester, now: Timestamp) -> (ControlAnswer, [EngineAction]) {
        guard let job = jobs[request.id] else {
            guard backlog.holds(request.id) else { return (.notHeld, []) }
            switch request.action {
            case .cancel, .delete:
                return (.parked, [])  // read it back (its owner is in its record), then decide
            case .pause, .resume, .retry:
                // Nothing to do to a job waiting for its turn: it stays in line, unread.
                let what = request.action == .retry ? "the job has not ended yet; only finished jobs can be retried" : "it is pending, not running; nothing to do"
                return (.applied, [.log(.notice, "control: control/\(file): \(request.action.rawValue) job \(request.id): \(what)")])
            }
        }
        let id = request.id
        let shown = "control/\(file)"
        if let owner = job.record.owner, requester.refusal(request.action, job: id, owner: owner) != nil {
            return (.refused(owner: owner), [])
        }
        switch request.action {
        case .cancel:
            return cancel(id, file: file, shown: shown, now: now)
        case .delete:
            update(id) { $0.deleteWhenEnded = true }
            return cancel(id, file: file, shown: shown, now: now)
        case .pause, .resume:
            if request.action == .pause, isRemote(id), case .running = job.state {
                let queue = job.record.spec?.effectiveQueue ?? "default"
                return (.impossible("pause job \(id) refused: it runs on Slurm (queue \(queue)), where spoold cannot pause a job; cancel it instead"), [])
            }
            return (.applied, pauseOrResume(id, pause: request.action == .pause, shown: shown, now: now))
        case .retry:
            return (.applied, [.log(.notice, "control: \(shown): retry \(id): the job has not ended yet; only finished jobs can be retried")])
        }
    }

    /// A request that waited for job `record.id` until its acceptance, applied in the step that
    /// accepted it (the same take of the lock), so that no dispatcher can pick the job first. A job
    /// the acceptance parked (a long backlog) has no record here: it is held from `record` first,
    /// as reading it back would come after a pick.
    mutating func controlOnAcceptance(_ request: ControlRequest, of record: JobRecord, file: FileName, by requester: Requester,
                                      now: Timestamp) -> (ControlAnswer, [EngineAction]) {
        let held = jobs[record.id] == nil && backlog.holds(record.id) ? parkedLoaded([record], missing: [], now: now) : []
        let (answer, actions) = control(request, file: file, by: requester, now: now)
        return (answer, held + actions)
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
