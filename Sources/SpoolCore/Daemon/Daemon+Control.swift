// Control requests (SPEC §5): JSON files in control/, taken like inbox files (after a rename,
// or once a plain write has settled), applied, then removed. A request for an id the spool does
// not hold is answered in the log and removed at once, unless job files wait in the inbox (its
// job may be one of them): then it is kept for up to a minute, and applied when that job is
// accepted or dropped with a log line. A cancel or delete of a running job stays in control/
// until its job has ended, so that a daemon that dies meanwhile applies it again at its next
// start (the job is then back in pending/). Nothing here can crash the daemon.
import Foundation

extension Daemon {
    static let controlPatience = 60.0

    func startControl() {
        do {
            let w = try InboxWatcher(path: layout.path(.control), queue: intakeQueue) { [self] event in
                switch event {
                case .overflow: rescanControl()
                case .names(let names, _): takeControl(names)
                }
            }
            controlWatcher.withLock { $0 = w }
        } catch {
            log.error("control: cannot watch control/: \(error); relying on rescans")
        }
    }

    func rescanControl() {
        InboxReader.scan(layout.fd(.control), suffix: ".json", chunk: 256) { names in takeControl(names) }
    }

    /// What applying a request did.
    enum Applied {
        /// Done: the request file is removed.
        case applied
        /// Its job is not known (yet).
        case unknown
        /// Under way until job `id` ends (a running job being stopped): the file stays until then.
        case untilEnd(JobID)
        /// Could not be done now (e.g. a write failed): the file stays and is tried again.
        case later
    }

    /// Applies control files (on the intake queue).
    func takeControl(_ names: [FileName]) {
        let now = Timestamp.now()
        for name in names where !name.isHidden && name.hasSuffix(".json") {
            // Applied already and waiting for its job's end.
            if openControls.withLock({ $0.names.contains(name) }) { continue }
            let file = "control/\(name)"
            switch InboxReader.read(name, in: layout.fd(.control), folder: "control", limit: 64 * 1024) {
            case .gone:
                deferredControls.withLock { _ = $0.remove(name) }
                continue
            case .changing:
                intakeQueue.asyncAfter(deadline: .now() + options.intake.settleSeconds) { [self] in takeControl([name]) }
                continue
            case .unreadable(let e):
                log.warning("control: cannot read \(file): \(e)")
                continue
            case .notRegular(let kind, _):
                log.error("control: \(file) is \(kind), not a request; removed")
                removeControl(name)
            case .file(let content):
                if content.tooLarge {
                    log.error("control: \(file) is larger than 64 KiB, not a request; removed")
                    removeControl(name)
                    continue
                }
                switch ControlRequest.parse(content.bytes, file: file) {
                case .failure(let e):
                    if e.code == .invalidJSON, now.seconds < content.modified + options.intake.settleSeconds {
                        intakeQueue.asyncAfter(deadline: .now() + options.intake.settleSeconds) { [self] in takeControl([name]) }
                        continue
                    }
                    log.error("control: \(e.message); request removed")
                    removeControl(name)
                case .success(let request):
                    // A cancel or delete may wait for its job's end: registered before it is applied,
                    // so that an end which comes first still finds the request (and removes it).
                    let mayWait = request.action == .cancel || request.action == .delete
                    if mayWait { openControls.withLock { $0.add(name, for: request.id) } }
                    let applied = apply(request, file: file)
                    if case .untilEnd = applied {
                        deferredControls.withLock { _ = $0.remove(name) }
                        continue  // removed by closeControls when the job has ended
                    }
                    if mayWait { openControls.withLock { $0.remove(name) } }
                    if case .applied = applied {
                        removeControl(name)
                        deferredControls.withLock { _ = $0.remove(name) }
                    } else if case .unknown = applied, !store.holds(request.id), !inboxHasJobFiles() {
                        // Not in any folder (a job between two of them is seen in one), none waiting in the inbox.
                        log.warning("control: \(file): \(request.action.rawValue) job \(request.id): no such job in this spool (none in inbox/, pending/, running/ or done/); request removed")
                        removeControl(name)
                        deferredControls.withLock { _ = $0.remove(name) }
                    } else if now.seconds > content.modified + Self.controlPatience {
                        let why = if case .later = applied { "it could not be applied" } else { "no such job appeared" }
                        log.warning("control: \(file): \(request.action.rawValue) job \(request.id): \(why) within \(Int(Self.controlPatience)) s; request removed")
                        removeControl(name)
                        deferredControls.withLock { _ = $0.remove(name) }
                    } else {
                        let first = deferredControls.withLock { $0.insert(name).inserted }
                        if first, case .later = applied {
                            log.notice("control: \(file): \(request.action.rawValue) job \(request.id): not applied yet; trying again every second for up to \(Int(Self.controlPatience)) s")
                            scheduleControlRecheck(name)
                        } else if first {
                            log.notice("control: \(file): \(request.action.rawValue) job \(request.id): no such job yet; keeping the request for up to \(Int(Self.controlPatience)) s")
                            // One look per second until it applies or expires (one chain per request).
                            scheduleControlRecheck(name)
                        }
                    }
                }
            }
        }
    }

    private func scheduleControlRecheck(_ name: FileName) {
        intakeQueue.asyncAfter(deadline: .now() + 1) { [self] in
            guard deferredControls.withLock({ $0.contains(name) }) else { return }
            takeControl([name])
            if deferredControls.withLock({ $0.contains(name) }) { scheduleControlRecheck(name) }
        }
    }

    /// True while job files wait in the inbox (a request's job may be among them).
    private func inboxHasJobFiles() -> Bool {
        InboxReader.containsAny(layout.fd(.inbox), suffix: ".json")
    }

    /// Removes the requests that waited for job `id` to end.
    func closeControls(of id: JobID) {
        for name in openControls.withLock({ $0.take(id) }) { removeControl(name) }
    }

    private func removeControl(_ name: FileName) {
        _ = name.withCString { unlinkat(layout.fd(.control), $0, 0) }
    }

    /// Applies one request.
    func apply(_ r: ControlRequest, file: String) -> Applied {
        let id = r.id
        switch r.action {
        case .cancel: return cancel(id, file: file)
        case .pause, .resume: return pauseOrResume(id, pause: r.action == .pause, file: file)
        case .retry: return retry(r, file: file)
        case .delete: return delete(id, file: file)
        }
    }

    private func unknownOrFinished(_ id: JobID, _ what: String, file: String) -> Applied {
        if let done = try? store.read(id, in: .done) {
            log.notice("control: \(file): \(what) job \(id): it has already ended (\(done.status.rawValue)); nothing to do")
            return .applied
        }
        return .unknown  // unknown so far, or in flight between folders: look again
    }

    /// `delete` (SPEC §5): a finished job's record and outputs are removed and its id is free
    /// again; a job that has not finished is cancelled first and removed when it has ended.
    private func delete(_ id: JobID, file: String) -> Applied {
        if let done = (try? store.read(id, in: .done)) ?? nil {
            removeFinished(done, why: "deleted (\(file))")
            return .applied
        }
        deletions.withLock { _ = $0.insert(id) }
        let cancelled = cancel(id, file: file)
        if case .unknown = cancelled {
            deletions.withLock { _ = $0.remove(id) }
            return .unknown
        }
        // Cancelled before it started: it has ended and jobFinished removed it. Running: it ends
        // when its processes are gone, and jobFinished removes it then. Ended meanwhile: now.
        if store.exists(JobFiles.record(id), in: .done) {
            finishDeletion(id)
            return .applied
        }
        return cancelled
    }

    /// Removes a finished job's record and the outputs it names; its id is free again.
    func removeFinished(_ record: JobRecord, why: String) {
        JobFiles.removeFinished(record, layout: layout)
        index.remove(record.id)
        history?.recordRemoved(record)
        emit(record, "deleted", [("reason", .string(why))])
        log.info("job \(record.id): \(why): its record and outputs were removed")
    }

    /// Called when a job has ended: a delete that waited for it removes it now.
    func finishDeletion(_ id: JobID) {
        guard deletions.withLock({ $0.remove(id) != nil }) else { return }
        guard let done = (try? store.read(id, in: .done)) ?? nil else { return }
        removeFinished(done, why: "deleted after it was cancelled")
    }

    private func cancel(_ id: JobID, file: String) -> Applied {
        // Pending means: queued, waiting for dependencies, or just accepted and not queued yet.
        let removed = scheduler.update { $0.removeQueued(id) } || dependencies.withLock { $0.remove(id) }
            || (store.exists(JobFiles.record(id), in: .pending) && !scheduler.withLock { $0.holds(id) }
                && jobs.withLock { $0[id] == nil } && !store.exists(JobFiles.record(id), in: .running)
                && !store.exists(JobFiles.record(id), in: .done))
        if removed {
            guard let record = (try? store.read(id, in: .pending)) ?? nil else {
                log.error("control: cancel \(id): its pending record is gone")
                return .applied
            }
            do {
                try endPendingJob(record, status: .cancelled, error: SpoolError(.cancelled, "job \(id): cancelled before it started (\(file))"))
                log.info("job \(id): cancelled before it started")
            } catch {
                log.error("control: cancel \(id): \(error); the job stays pending and the request is tried again")
                enqueue([record], now: Timestamp.now())
                return .later
            }
            return .applied
        }
        let found: (attempts: [any RunningAttempt], isBatch: Bool)? = jobs.withLock { j in
            guard let job = j[id] else { return nil }
            return (job.attempts, job.batch != nil)
        }
        guard let found else { return unknownOrFinished(id, "cancel", file: file) }
        log.info("job \(id): cancel requested (\(file)); stopping its process group")
        if found.isBatch { takeBackQueuedOperations(of: id) { $0.cancel() } }
        for a in found.attempts { a.tearDown(.cancel) }
        if found.isBatch { pumpBatch(id) }
        return .untilEnd(id)
    }

    private func pauseOrResume(_ id: JobID, pause: Bool, file: String) -> Applied {
        let verb = pause ? "pause" : "resume"
        let found: ([any RunningAttempt], Bool)? = jobs.withLock { j in
            guard var job = j[id] else { return nil }
            job.batch?.isPaused = pause
            job.record.status = pause ? .paused : .running
            job.isDirty = true
            j[id] = job
            return (job.attempts, job.batch != nil)
        }
        guard let (attempts, isBatch) = found else {
            if scheduler.withLock({ $0.holds(id) }) {
                log.notice("control: \(file): \(verb) job \(id): it is pending, not running; nothing to do")
                return .applied
            }
            return unknownOrFinished(id, verb, file: file)
        }
        if isBatch && pause { takeBackQueuedOperations(of: id) }
        for a in attempts { _ = pause ? a.pause() : a.resume() }
        if let r = jobs.withLock({ $0[id]?.record }) { emit(r, pause ? "paused" : "resumed") }
        log.info("job \(id): \(pause ? "paused (SIGSTOP to its process group)" : "resumed (SIGCONT)")")
        if isBatch && !pause { pumpBatch(id) }
        // The state file shows `paused` at once, not at the next coalesced write.
        finishQueue.async { [self] in writeRunningStates(force: id) }
        return .applied
    }
}
