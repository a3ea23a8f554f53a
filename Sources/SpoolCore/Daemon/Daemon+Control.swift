// Control requests (SPEC §5): JSON files in control/, taken like inbox files (after a rename,
// or once a plain write has settled), applied, then removed. A request for an id the spool does
// not hold is answered in the log and removed at once, unless job files wait in the inbox (its
// job may be one of them): then it is kept for up to a minute from when this daemon first read
// it, and applied in the same step that accepts that job (`controlsWaiting`), or dropped with a
// log line. A cancel or delete of a running job stays in control/ until its job has ended, so
// that a daemon that dies meanwhile applies it again at its next start (the job is then back in
// pending/). Nothing here can crash the daemon.
//
// Who asked is the request file's owner (fstat of the open file). A request from someone who
// neither owns the job (the uid recorded at intake) nor is an administrator is refused: nothing
// changes, the refusal is logged, and an answer file `control/.<request>.refused` (JSON, owned by
// the requester, mode 0600) tells spoolctl, which waits for it (ControlAnswerFile).
import Foundation

/// A request kept for a job not known yet, as last read from its file.
struct DeferredControl: Sendable {
    var request: ControlRequest
    var requester: Requester
    /// When this daemon first read it: it is dropped a minute after (`controlPatience`). Not the
    /// file's age: a request that waited while the daemon was down waits for its job as long.
    var since: Double
}

extension Daemon {
    static let controlPatience = 60.0
    /// Nothing bigger is a request.
    static let controlLimit = 64 * 1024

    /// Control file `name` as it reads now.
    private func readControl(_ name: FileName) -> InboxEntry {
        InboxReader.read(name, in: layout.fd(.control), folder: "control", limit: Self.controlLimit)
    }

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
        /// Not allowed (the sentence says why): answered, logged and removed, nothing changed.
        case refused(String)
    }

    /// Applies control files (on the intake queue).
    func takeControl(_ names: [FileName]) {
        guard !lifecycle.withLock({ $0.isExiting }) else { return }
        let now = Timestamp.now()
        for name in names where !name.isHidden && name.hasSuffix(".json") {
            // Applied already and waiting for its job's end.
            if core.withLock({ $0.engine.waitingControls.contains(name) }) { continue }
            let file = "control/\(name)"
            switch readControl(name) {
            case .gone:
                deferredControls.withLock { _ = $0.removeValue(forKey: name) }
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
                    log.error("control: \(file) is larger than \(Self.controlLimit / 1024) KiB, not a request; removed")
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
                    let since = deferredControls.withLock { $0[name]?.since } ?? now.seconds
                    let waiting = DeferredControl(request: request, requester: options.intake.access.requester(uid: content.uid),
                                                  since: since)
                    settle(name, waiting, apply(request, name: name, file: file, by: waiting.requester), now: now)
                }
            }
        }
    }

    /// What follows from applying request `name`: its file removed, kept until its job's end, or
    /// kept (deferred) and looked at again every second until it applies or a minute has passed.
    func settle(_ name: FileName, _ control: DeferredControl, _ applied: Applied, now: Timestamp) {
        let request = control.request
        let file = "control/\(name)"
        switch applied {
        case .refused(let why):
            answerRefusal(name, request: request, requester: control.requester.uid, why: why)
            removeControl(name)
        case .untilEnd:
            break  // removed when the job has ended (the engine's removeControl)
        case .applied:
            removeControl(name)
        case .unknown where !store.holds(request.id) && !inboxHasJobFiles():
            // Not in any folder (a job between two of them is seen in one), none waiting in the inbox.
            log.warning("control: \(file): \(request.action.rawValue) job \(request.id): no such job in this spool (none in inbox/, pending/, running/ or done/); request removed")
            removeControl(name)
        case .unknown, .later:
            if now.seconds <= control.since + Self.controlPatience {
                return keep(name, control, applied)
            }
            let why = if case .later = applied { "it could not be applied" } else { "no such job appeared" }
            log.warning("control: \(file): \(request.action.rawValue) job \(request.id): \(why) within \(Int(Self.controlPatience)) s; request removed")
            removeControl(name)
        }
        deferredControls.withLock { _ = $0.removeValue(forKey: name) }
    }

    /// Keeps request `name` for its next look: one a second (one chain per request), said once.
    private func keep(_ name: FileName, _ control: DeferredControl, _ applied: Applied) {
        guard deferredControls.withLock({ $0.updateValue(control, forKey: name) == nil }) else { return }
        let request = control.request
        if case .later = applied {
            log.notice("control: control/\(name): \(request.action.rawValue) job \(request.id): not applied yet; trying again every second for up to \(Int(Self.controlPatience)) s")
        } else {
            log.notice("control: control/\(name): \(request.action.rawValue) job \(request.id): no such job yet; keeping the request for up to \(Int(Self.controlPatience)) s")
        }
        scheduleControlRecheck(name)
    }

    /// The requests kept for jobs among `records`, with each one's record, read again from their
    /// files (a request removed or changed by hand since is not applied from memory; its next
    /// look, `takeControl`, sees why). Every acceptance asks: nothing more than a look under a lock
    /// while none waits.
    func controlsWaiting(for records: [JobRecord]) -> [(FileName, DeferredControl, JobRecord)] {
        let kept = deferredControls.withLock { $0 }
        guard !kept.isEmpty else { return [] }
        let byID = Dictionary(records.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        return kept.filter { byID[$1.request.id] != nil }.sorted { $0.key.bytes.lexicographicallyPrecedes($1.key.bytes) }
            .compactMap { name, control in
                guard case .file(let content) = readControl(name), !content.tooLarge,
                      case .success(let request) = ControlRequest.parse(content.bytes, file: "control/\(name)"),
                      let record = byID[request.id]
                else { return nil }
                return (name, DeferredControl(request: request, requester: options.intake.access.requester(uid: content.uid),
                                              since: control.since), record)
            }
    }

    private func scheduleControlRecheck(_ name: FileName) {
        intakeQueue.asyncAfter(deadline: .now() + 1) { [self] in
            guard deferredControls.withLock({ $0[name] != nil }) else { return }
            takeControl([name])
            if deferredControls.withLock({ $0[name] != nil }) { scheduleControlRecheck(name) }
        }
    }

    /// True while job files wait in the inbox (a request's job may be among them).
    private func inboxHasJobFiles() -> Bool {
        InboxReader.containsAny(layout.fd(.inbox), suffix: ".json")
    }

    func removeControl(_ name: FileName) {
        _ = name.withCString { unlinkat(layout.fd(.control), $0, 0) }
    }

    /// Writes `control/.<stem>.refused`: what was refused and why, for the requester's spoolctl
    /// (owned by the requester, 0600). Written before the request is removed, so a client that
    /// sees its request gone finds the answer if there is one. Not fsynced: the log has it too.
    func answerRefusal(_ name: FileName, request: ControlRequest, requester uid: UInt32, why: String) {
        guard let answerName = ControlAnswerFile.name(for: name) else { return }
        let bytes = ControlAnswerFile.encode(action: request.action, id: request.id, requester: uid, message: why,
                                             time: Timestamp.now())
        let dir = layout.fd(.control)
        let tmp = ".\(answerName).\(getpid()).tmp"
        let fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else {
            log.warning("control: cannot write the answer control/\(answerName): \(String(cString: strerror(errno)))")
            return
        }
        if geteuid() == 0 { fchown(fd, uid, UInt32.max) }  // gid unchanged
        fchmod(fd, 0o600)
        let failed = bytes.withUnsafeBytes { writeAll(fd, $0) }
        close(fd)
        if failed != nil || renameat(dir, tmp, dir, answerName) != 0 {
            unlinkat(dir, tmp, 0)
            log.warning("control: cannot write the answer control/\(answerName)")
        }
    }

    /// Removes refusal answers nobody collected (a request dropped by hand) after an hour.
    func sweepControlAnswers(now: Timestamp) {
        let dir = layout.fd(.control)
        for name in ControlAnswerFile.list(dir) {
            var st = stat()
            guard fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            if now.seconds - InboxReader.modified(st) > ControlAnswerFile.keepSeconds { unlinkat(dir, name, 0) }
        }
    }

    /// Applies one request: the engine decides for the jobs it holds; a finished job's record is
    /// in done/ (retry, delete, or a request too late), and the runtime asks the same question
    /// of its owner.
    func apply(_ r: ControlRequest, name: FileName, file: String, by requester: Requester) -> Applied {
        if r.action == .retry, !core.withLock({ $0.engine.holds(r.id) }) {
            if let done = (try? store.read(r.id, in: .done)) ?? nil,
               let why = requester.refusal(r.action, job: r.id, owner: done.owner, ownerShown: Self.shownOwner(done.owner)) {
                log.warning("control: \(file): \(why); nothing changed, request removed")
                return .refused(why)
            }
            return retry(r, file: file)
        }
        func ask() -> (ControlAnswer, [EngineAction]) {
            core.update { c in
                let (answer, actions) = c.engine.control(r, file: name, by: requester, now: Timestamp.now())
                return (answer, emitInOrder(actions))
            }
        }
        var (answer, actions) = ask()
        if case .parked = answer {
            // Held without its record: read it back, then ask again.
            loadParked([r.id])
            (answer, actions) = ask()
        }
        perform(actions)
        return outcome(answer, of: r, file: file, by: requester)
    }

    /// What an engine's answer to request `r` means for its file; a refusal is logged here.
    func outcome(_ answer: ControlAnswer, of r: ControlRequest, file: String, by requester: Requester) -> Applied {
        switch answer {
        case .applied: return .applied
        case .untilEnd(let id): return .untilEnd(id)
        case .refused(let owner):
            let why = requester.refusal(r.action, job: r.id, owner: owner, ownerShown: Self.shownOwner(owner)) ?? "refused"
            log.warning("control: \(file): \(why); nothing changed, request removed")
            return .refused(why)
        case .impossible(let why):
            log.warning("control: \(file): \(why); nothing changed, request removed")
            return .refused(why)
        case .parked:
            return .later  // its record could not be handed over just now: tried again in a second
        case .notHeld:
            guard let done = (try? store.read(r.id, in: .done)) ?? nil else {
                return .unknown  // unknown so far, or in flight between folders: look again
            }
            if let why = requester.refusal(r.action, job: r.id, owner: done.owner, ownerShown: Self.shownOwner(done.owner)) {
                log.warning("control: \(file): \(why); nothing changed, request removed")
                return .refused(why)
            }
            if r.action == .delete {
                removeFinished(done, why: "deleted (\(file))")
            } else {
                log.notice("control: \(file): \(r.action.rawValue) job \(r.id): it has already ended (\(done.status.rawValue)); nothing to do")
            }
            return .applied
        }
    }

    /// "alice (uid 1001)" for a recorded owner.
    static func shownOwner(_ owner: JobOwner?) -> String? {
        owner.map { o in AccessPolicy.userName(o.uid).map { "\($0) (uid \(o.uid))" } ?? "uid \(o.uid)" }
    }

    /// Removes a finished job's record and the outputs it names; its id is free again.
    func removeFinished(_ record: JobRecord, why: String) {
        JobFiles.removeFinished(record, layout: layout)
        index.remove(record.id)
        history?.recordRemoved(record)
        emit(record, "deleted", [("reason", .string(why))])
        log.info("job \(record.id): \(why): its record and outputs were removed")
    }
}
