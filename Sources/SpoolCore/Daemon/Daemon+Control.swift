// Control requests (SPEC §5): JSON files in control/, taken like inbox files (after a rename,
// or once a plain write has settled), applied, then removed. A request for an id the spool does
// not hold yet is kept for a minute, since its job may still be on its way through the inbox;
// then it is dropped with a log line. Nothing here can crash the daemon.
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

    /// Applies control files (on the intake queue).
    func takeControl(_ names: [FileName]) {
        let now = Timestamp.now()
        for name in names where !name.isHidden && name.hasSuffix(".json") {
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
                    if apply(request, file: file) {
                        removeControl(name)
                        deferredControls.withLock { _ = $0.remove(name) }
                    } else if now.seconds > content.modified + Self.controlPatience {
                        log.warning("control: \(file): \(request.action.rawValue) job \(request.id): no such job appeared within \(Int(Self.controlPatience)) s; request dropped")
                        removeControl(name)
                        deferredControls.withLock { _ = $0.remove(name) }
                    } else {
                        let first = deferredControls.withLock { $0.insert(name).inserted }
                        if first {
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

    private func removeControl(_ name: FileName) {
        _ = name.withCString { unlinkat(layout.fd(.control), $0, 0) }
    }

    /// Applies one request; false when its job is unknown so far (the request is kept a while).
    func apply(_ r: ControlRequest, file: String) -> Bool {
        let id = r.id
        switch r.action {
        case .cancel: return cancel(id, file: file)
        case .pause, .resume: return pauseOrResume(id, pause: r.action == .pause, file: file)
        case .retry: return retry(r, file: file)
        case .delete:  // spoolctl writes these; applying them is being built on main
            log.error("control: \(file): delete job \(id): this daemon cannot delete jobs yet; request removed")
            return true
        }
    }

    private func unknownOrFinished(_ id: JobID, _ what: String, file: String) -> Bool {
        if let done = try? store.read(id, in: .done) {
            log.notice("control: \(file): \(what) job \(id): it has already ended (\(done.status.rawValue)); nothing to do")
            return true
        }
        return false  // unknown so far, or in flight between folders: look again
    }

    private func cancel(_ id: JobID, file: String) -> Bool {
        // Pending means: queued, waiting for dependencies, or just accepted and not queued yet.
        let removed = scheduler.update { $0.removeQueued(id) } || dependencies.withLock { $0.remove(id) }
            || (store.exists(JobFiles.record(id), in: .pending) && !scheduler.withLock { $0.holds(id) }
                && jobs.withLock { $0[id] == nil } && !store.exists(JobFiles.record(id), in: .running)
                && !store.exists(JobFiles.record(id), in: .done))
        if removed {
            guard let record = (try? store.read(id, in: .pending)) ?? nil else {
                log.error("control: cancel \(id): its pending record is gone")
                return true
            }
            do {
                try endPendingJob(record, status: .cancelled, error: SpoolError(.cancelled, "job \(id): cancelled before it started (\(file))"))
                log.info("job \(id): cancelled before it started")
            } catch {
                log.error("control: cancel \(id): \(error); the job stays pending")
                enqueue([record], now: Timestamp.now())
            }
            return true
        }
        let found: (children: [ChildProcess], isBatch: Bool)? = jobs.withLock { j in
            guard let job = j[id] else { return nil }
            return (job.children, job.batch != nil)
        }
        guard let found else { return unknownOrFinished(id, "cancel", file: file) }
        log.info("job \(id): cancel requested (\(file)); stopping its process group")
        if found.isBatch {
            let taken = scheduler.update { s -> [Int] in
                let ops = s.queuedOperations(of: id)
                for i in ops { _ = s.removeQueued(.operation(id, i)) }
                return ops
            }
            jobs.withLock { j in
                j[id]?.batch?.unqueue(taken)
                j[id]?.batch?.cancel()
            }
        }
        for c in found.children { c.teardown(.cancel, grace: options.killGraceSeconds, timers: timerQueue) }
        if found.isBatch { pumpBatch(id) }
        return true
    }

    private func pauseOrResume(_ id: JobID, pause: Bool, file: String) -> Bool {
        let verb = pause ? "pause" : "resume"
        let found: ([ChildProcess], Bool)? = jobs.withLock { j in
            guard var job = j[id] else { return nil }
            job.batch?.isPaused = pause
            job.record.status = pause ? .paused : .running
            job.isDirty = true
            j[id] = job
            return (job.children, job.batch != nil)
        }
        guard let (children, isBatch) = found else {
            if scheduler.withLock({ $0.holds(id) }) {
                log.notice("control: \(file): \(verb) job \(id): it is pending, not running; nothing to do")
                return true
            }
            return unknownOrFinished(id, verb, file: file)
        }
        if isBatch && pause {
            let taken = scheduler.update { s -> [Int] in
                let ops = s.queuedOperations(of: id)
                for i in ops { _ = s.removeQueued(.operation(id, i)) }
                return ops
            }
            jobs.withLock { $0[id]?.batch?.unqueue(taken) }
        }
        for c in children { _ = pause ? c.pause() : c.resume() }
        log.info("job \(id): \(pause ? "paused (SIGSTOP to its process group)" : "resumed (SIGCONT)")")
        if isBatch && !pause { pumpBatch(id) }
        // The state file shows `paused` at once, not at the next coalesced write.
        finishQueue.async { [self] in writeRunningStates(force: id) }
        return true
    }
}
