// Feeding intake: inotify events as they come, a full scan at start and after an overflow,
// rechecks of unsettled files, and a slow periodic rescan as a safety net. All of it runs on the
// serial intake queue. A full disk pauses intake (files stay in the inbox) and it resumes by itself.
import Foundation

extension Daemon {
    func startIntake() {
        do {
            let w = try InboxWatcher(path: layout.path(.inbox), queue: intakeQueue) { [self] event in
                switch event {
                case .overflow:
                    log.warning("intake: inotify queue overflowed, rescanning the inbox")
                    rescanInbox()
                case .names(let names, let created):
                    // A created entry may be a link (hard or symbolic), a FIFO, or a file still being
                    // written; the last does not parse yet and waits for its close or the settle period.
                    takeFiles(names + created)
                }
            }
            watcher.withLock { $0 = w }
        } catch {
            log.error("intake: cannot watch the inbox: \(error); relying on rescans every \(options.rescanSeconds) s")
        }
    }

    var isIntakeStopped: Bool {
        let now = Timestamp.now()
        return lifecycle.withLock { l in
            l.isStopping || (l.intakePausedUntil.map { now < $0 } ?? false)
        }
    }

    /// Runs intake on `names` (on the intake queue).
    func takeFiles(_ names: [FileName]) {
        guard !names.isEmpty, !isIntakeStopped, hasFreeSpace() else { return }
        var unique: [FileName] = []
        var seen = Set<FileName>()
        for n in names where seen.insert(n).inserted { unique.append(n) }
        intake.process(unique, now: Timestamp.now()) { handle($0) }
    }

    /// Scans the whole inbox (and finishes claims a crash or a full disk left behind).
    func rescanInbox() {
        guard !isIntakeStopped, hasFreeSpace() else { return }
        handle(intake.recoverClaims(now: Timestamp.now()))
        var first = true  // only a scan's first chunk is split into parts: the first jobs start early
        InboxReader.scan(layout.fd(.inbox), suffix: ".json", chunk: 512) { names in
            guard !isIntakeStopped else { return }
            intake.process(names, now: Timestamp.now(), inParts: first) { handle($0) }
            first = false
        }
    }

    private func handle(_ result: IntakeResult) {
        for r in result.accepted { emit(r, "accepted", [("source", .string(r.source))]) }
        for r in result.rejected {
            emit(r, "rejected", [("source", .string(r.source)), ("error", r.error.map { .string($0.code.rawValue) } ?? .null)])
            recordFinished(r)
            // Jobs that waited for it fail.
            send(.dependencyFound(r.id, .rejected))
        }
        if !result.accepted.isEmpty { accept(result.accepted) }
        if let at = result.recheckAt {
            let delay = max(0.05, at.seconds - Timestamp.now().seconds + 0.01)
            intakeQueue.asyncAfter(deadline: .now() + delay) { [self] in rescanInbox() }
        }
        if let full = result.diskFull {
            pauseIntakeForDiskFull(full)
        } else if !result.accepted.isEmpty || !result.rejected.isEmpty {
            let wasFull = lifecycle.withLock { l -> Bool in
                defer { l.diskFullLogged = false }
                return l.diskFullLogged
            }
            if wasFull { log.notice("intake: writing works again; intake resumed") }
        }
    }

    private func pauseIntakeForDiskFull(_ error: SystemError) {
        let retry = 2.0
        let first = lifecycle.withLock { l -> Bool in
            l.intakePausedUntil = Timestamp.now().adding(retry)
            defer { l.diskFullLogged = true }
            return !l.diskFullLogged
        }
        if first {
            log.error("intake: the spool's disk is full (\(error)); intake paused, files stay in the inbox; retrying every \(Int(retry)) s")
        }
        intakeQueue.asyncAfter(deadline: .now() + retry + 0.05) { [self] in rescanInbox() }
    }

    /// Hands jobs whose records are in pending/ to the engine, with what done/ says of their dependencies.
    func accept(_ records: [JobRecord]) {
        var finished: [JobID: JobStatus] = [:]
        var unseen = Set<JobID>()
        var looked = Set<JobID>()
        for r in records {
            for dep in r.spec?.after ?? [] where looked.insert(dep).inserted {
                if let done = (try? store.read(dep, in: .done)) ?? nil {
                    finished[dep] = done.status
                } else if !index.contains(dep) {
                    unseen.insert(dep)
                }
            }
        }
        // Requests that waited for these jobs (dropped before them, or while the daemon was down)
        // apply in the same step as their acceptance: applied after it, a dispatcher could pick
        // a job in between, and a cancelled job ran (ControlTests.controlWhileDown).
        let waiting = controlsWaiting(for: records)
        let now = Timestamp.now()
        let (actions, answers) = core.update { core in
            var actions = core.handle(.accepted(records, finished: finished, unseen: unseen), now: now)
            let answers = waiting.map { name, control, record in
                let (answer, more) = core.engine.controlOnAcceptance(control.request, of: record, file: name, by: control.requester, now: now)
                actions += more
                return answer
            }
            return (emitInOrder(actions), answers)
        }
        perform(actions)
        for ((name, control, _), answer) in zip(waiting, answers) {
            settle(name, control, outcome(answer, of: control.request, file: "control/\(name)", by: control.requester), now: now)
        }
        // A dependency may have ended between the look above and the engine's: look once more.
        for dep in looked where finished[dep] == nil && !core.withLock({ $0.engine.holds(dep) }) {
            if let done = (try? store.read(dep, in: .done)) ?? nil { send(.dependencyFound(dep, done.status)) }
        }
    }

    /// True when nothing is left to do: for --drain.
    func isSpoolIdle() -> Bool {
        guard core.withLock({ $0.engine.isIdle }), writes.withLock({ $0.queued.isEmpty && $0.writing == 0 }), intake.unsettledCount == 0 else {
            return false
        }
        var any = false
        InboxReader.scan(layout.fd(.inbox), suffix: ".json", chunk: 1) { _ in any = true }
        if any { return false }
        InboxReader.scan(layout.fd(.tmp), suffix: ".claim", chunk: 1) { _ in any = true }
        return !any
    }
}
