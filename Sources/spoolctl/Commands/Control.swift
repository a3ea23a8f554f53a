// spoolctl cancel / pause / resume / retry / delete: control requests written as files into
// control/, so they work while the daemon is down (it applies them when it starts). pause and
// resume without an id hold and release the whole spool through its `paused` file.
//
// Every id is checked before anything is dropped (SPEC §5): an id the spool does not hold (in
// none of inbox/, pending/, running/, done/), or a job the request cannot apply to (a finished
// job for cancel, pause, resume), is answered with exit 1 and no request at all is dropped.
//
// Who may (issue 18): when the daemon runs as root, only a job's owner or an administrator may
// control it. Another user's job, whose record this user cannot read, is refused here before
// anything is dropped; the daemon decides in the end, and answers a refusal with the file
// `control/.<request>.refused`. When a daemon holds the spool, spoolctl waits (up to --timeout)
// until each request is taken: gone without an answer is done (or, for a cancel or delete of a
// running job, under way: such a request stays until its job has ended), an answer is a refusal,
// printed as the error, exit 1.
import Foundation
import SpoolCore
import SpoolJSON

enum Cancel: Command {
    static let name = "cancel"
    static let summary = "cancel pending or running jobs"
    static let usage = """
        Usage: spoolctl cancel ID... [--timeout SECONDS] [--json]

        Cancels jobs: a pending job ends cancelled without running; a running one gets SIGTERM on its
        process group, SIGKILL after the grace period, and ends cancelled. A job still in inbox/ is
        cancelled as soon as the daemon takes it.
        Exit 1, dropping no request, if an id is unknown or its job has already ended.
        Only a job's owner or an administrator may cancel it (when the daemon runs as root); when a
        daemon runs, waits up to --timeout (default 10 s) for its answer, and a refusal is an error (exit 1).
        --json: {"action": "cancel", "ids": [...], "requests": [...], "daemon_running": bool, "refused": [{"id", "message"}]}
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let timeout = try args.double("--timeout", min: 0) ?? 10
        let ids = try ControlIDs.parse(try args.positionals())
        let client = try openSpool(spool, create: true)
        try ControlIDs.check(ids, client: client, action: "cancel") { id, held in
            held.isFinished ? "job \(id) has already ended (\(held.place)); nothing to cancel" : nil
        }
        return try ControlIDs.drop(.cancel, ids, client: client, json: json, timeout: timeout)
    }
}

enum Pause: Command {
    static let name = "pause"
    static let summary = "stop running jobs (SIGSTOP), or hold the whole spool or one queue"
    static let usage = """
        Usage: spoolctl pause ID... [--timeout SECONDS] [--json]
               spoolctl pause [--queue Q] [--json]

        With ids: stops running jobs (SIGSTOP to their process groups); their timeouts do not count
        paused time. Exit 1, dropping no request, if an id is unknown or its job is not running
        (pending jobs are held with `spoolctl pause` or `spoolctl pause --queue Q` instead).
        Without: holds the whole spool (no new job starts) by creating its `paused` file; with
        --queue, holds one queue (`paused.queue.Q`).
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        try PauseResume.run(&args, spool: spool, pause: true)
    }
}

enum Resume: Command {
    static let name = "resume"
    static let summary = "continue paused jobs (SIGCONT), or release the spool or one queue"
    static let usage = """
        Usage: spoolctl resume ID... [--timeout SECONDS] [--json]
               spoolctl resume [--queue Q] [--json]

        With ids: continues paused jobs (SIGCONT). Exit 1, dropping no request, if an id is unknown
        or its job is not running. Without: releases the spool (removes `paused`); with --queue,
        releases one queue.
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        try PauseResume.run(&args, spool: spool, pause: false)
    }
}

enum PauseResume {
    static func run(_ args: inout Arguments, spool: String, pause: Bool) throws -> Int32 {
        let json = try args.flag("--json")
        let queue = try args.value("--queue")
        let timeout = try args.double("--timeout", min: 0) ?? 10
        let texts = try args.positionals()
        let action = pause ? "pause" : "resume"
        if let queue {
            guard texts.isEmpty else { throw UsageError(message: "give either job ids or --queue, not both") }
            guard JobID.isValid(queue) else { throw UsageError(message: "\"\(queue)\" is not a valid queue name") }
        }
        let ids = texts.isEmpty ? [] : try ControlIDs.parse(texts)
        let client = try openSpool(spool, create: true)
        if !ids.isEmpty {
            try ControlIDs.check(ids, client: client, action: action) { id, held in
                switch held {
                case .record(let l) where l.folder == .running: return nil
                case .record(let l) where l.folder == .done:
                    return "job \(id) has already ended (\(held.place)); nothing to \(action)"
                default:
                    return pause
                        ? "job \(id) is not running (\(held.place)); only a running job can be paused (hold pending jobs with `spoolctl pause` or `spoolctl pause --queue Q`)"
                        : "job \(id) is not running (\(held.place)); nothing to resume"
                }
            }
            return try ControlIDs.drop(pause ? .pause : .resume, ids, client: client, json: json, timeout: timeout)
        }
        let path = queue.map { PausedQueues.path(root: client.layout.root, queue: $0) } ?? client.layout.pausedPath
        if pause, let why = PauseResume.notAdmin(client, what: queue.map { "queue \($0)" } ?? "the whole spool") {
            throw CommandFailure(message: why)
        }
        if pause {
            guard FileManager.default.createFile(atPath: path, contents: Data()) else { throw CommandFailure(message: "cannot create \(path)") }
        } else if unlink(path) != 0 && errno != ENOENT {
            throw CommandFailure(message: "cannot remove \(path): \(String(cString: strerror(errno)))")
        }
        if json {
            printJSON(["action": .string(action), "target": queue == nil ? "spool" : "queue", "queue": .str(queue), "path": .string(path)])
        } else if let queue {
            print(pause ? "queue \(queue) paused: none of its jobs starts until `spoolctl resume --queue \(queue)`" : "queue \(queue) resumed")
        } else {
            print(pause ? "spool paused: no new job starts until `spoolctl resume`" : "spool resumed")
        }
        return Exit.ok
    }
}

extension PauseResume {
    /// Why this user may not pause the spool or a queue: a daemon running as root (it owns
    /// spoold.lock) counts only pause files of administrators (root, its own user, a member of
    /// admin_group in the spool's config.json), so a file of ours would be ignored. nil: may.
    static func notAdmin(_ client: SpoolClient, what: String) -> String? {
        let me = geteuid()
        var st = stat()
        guard me != 0, stat("\(client.layout.root)/spoold.lock", &st) == 0, st.st_uid == 0 else { return nil }
        let config = try? DaemonConfig.loadIfPresent(path: "\(client.layout.root)/\(DaemonConfig.defaultFileName)")
        var policy = AccessPolicy()
        policy.adminGroup = config?.adminGroup
        if let gid = policy.adminGID {
            var groups = [gid_t](repeating: 0, count: Int(getgroups(0, nil)) + 1)
            let n = getgroups(Int32(groups.count), &groups)
            if getegid() == gid || (n > 0 && groups[0..<Int(n)].contains(gid)) { return nil }
        }
        let admins = policy.adminGroup.map { "root or a member of group \($0)" } ?? "root (the spool's config.json sets no admin_group)"
        return "only an administrator (\(admins)) may pause \(what): spoold runs as root here and ignores a pause file of yours; nothing was created"
    }
}

enum Retry: Command {
    static let name = "retry"
    static let summary = "run a finished job again under a new id"
    static let usage = """
        Usage: spoolctl retry ID [--failed-only] [--timeout SECONDS] [--json]

        Submits a finished job again under a new id (printed as the last word). With --failed-only,
        only the failed and skipped operations of a batch run again. The new record's retry_of names ID.
        --json: {"id": NEW, "retry_of": ID, "failed_only": bool, "request": PATH, "daemon_running": bool}
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let failedOnly = try args.flag("--failed-only")
        let json = try args.flag("--json")
        let timeout = try args.double("--timeout", min: 0) ?? 10
        let ids = try args.positionals()
        guard ids.count == 1 else { throw UsageError(message: "give one job ID") }
        let id = try jobID(ids[0])
        let client = try openSpool(spool, create: true)
        guard let held = client.held(id) else { throw ControlIDs.unknown(id, client) }
        if let why = held.notYours(id, "retry") { throw CommandFailure(message: why) }
        guard case .record(let found) = held, found.folder == .done else {
            throw CommandFailure(message: "job \(id) has not ended yet (\(held.place)); only finished jobs can be retried")
        }
        if found.record.status == .rejected {
            throw CommandFailure(message: "job \(id) was rejected; fix its file and submit it again")
        }
        if failedOnly {
            guard let ops = found.record.operations else {
                throw CommandFailure(message: "job \(id) is not a batch; use retry without --failed-only")
            }
            guard ops.contains(where: { $0.status != .succeeded }) else {
                throw CommandFailure(message: "every operation of job \(id) succeeded; nothing to retry")
            }
        }
        // The new id is the first free <root>.rN; another client picking the same one at the same
        // moment loses the no-replace rename of retry-as-<id>.json and takes the next.
        var requested = client.requestedRetryIDs()
        var newID: JobID
        var path = ""
        while true {
            newID = JobID.retry(of: id) { requested.contains($0) || client.holds($0) }
            do {
                path = try client.dropRetry(ControlRequest(action: .retry, id: id, failedOnly: failedOnly, newID: newID))
                break
            } catch let e as SystemError where e.errno == EEXIST {
                requested.insert(newID)
            }
        }
        let running = daemonRunning(client, quiet: true)
        if running, let refused = ControlIDs.refusals([(id, path)], timeout: timeout).first {
            throw CommandFailure(message: refused.message)
        }
        if json {
            printJSON(["id": .string(newID.rawValue), "retry_of": .string(id.rawValue), "failed_only": .bool(failedOnly),
                       "request": .string(path), "daemon_running": .bool(running)])
        } else {
            if !running { printNote(noDaemonSentence(client) + "; the request waits in control/ until it starts") }
            print("retry of \(id) submitted as \(newID)")
        }
        return Exit.ok
    }
}

enum Delete: Command {
    static let name = "delete"
    static let summary = "remove jobs' records and outputs (cancelling unfinished ones first); frees their ids"
    static let usage = """
        Usage: spoolctl delete ID... [--timeout SECONDS] [--json]

        Asks the daemon to remove each job's record and output files; its id is then free again. A job
        that has not finished is cancelled first, then removed. When a daemon holds the spool, waits
        (up to --timeout, default 10 s) until the records are gone and prints `deleted ID` for each;
        without a daemon, the requests wait in control/ until one starts.
        Exit 1, dropping no request, if an id is unknown; exit 1 if the wait times out.
        --json: {"action": "delete", "ids": [...], "requests": [...], "daemon_running": bool,
                 "deleted": [...], "still_held": [...]}
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let timeout = try args.double("--timeout", min: 0) ?? 10
        let ids = try ControlIDs.parse(try args.positionals())
        let client = try openSpool(spool, create: true)
        try ControlIDs.check(ids, client: client, action: "delete") { _, _ in nil }
        var requests: [String] = []
        for id in ids { requests.append(try client.dropControl(ControlRequest(action: .delete, id: id))) }
        let running = daemonRunning(client, quiet: true)
        guard running else {
            if json {
                printJSON(["action": "delete", "ids": .array(ids.map { .string($0.rawValue) }), "requests": .array(requests.map { .string($0) }),
                           "daemon_running": false, "deleted": [], "still_held": .array(ids.map { .string($0.rawValue) })])
            } else {
                for id in ids { print("delete requested for \(id)") }
                printNote(noDaemonSentence(client) + "; the delete " + (ids.count == 1 ? "request waits" : "requests wait")
                          + " in control/ until it starts")
            }
            return Exit.ok
        }
        let deadline = Date().addingTimeInterval(timeout)
        var left = ids
        var deleted: [JobID] = []
        var refused: [(id: JobID, message: String)] = []
        while true {
            for (id, request) in zip(ids, requests) where left.contains(id) {
                if let message = ControlIDs.answer(request) {
                    refused.append((id, message))
                    left.removeAll { $0 == id }
                }
            }
            let gone = left.filter { client.held($0, attempts: 1) == nil && client.held($0) == nil }
            for id in gone {
                deleted.append(id)
                if !json { print("deleted \(id)") }
            }
            left.removeAll { gone.contains($0) }
            if left.isEmpty || Date() >= deadline { break }
            usleep(50_000)
        }
        if json {
            printJSON(["action": "delete", "ids": .array(ids.map { .string($0.rawValue) }), "requests": .array(requests.map { .string($0) }),
                       "daemon_running": true, "deleted": .array(deleted.map { .string($0.rawValue) }),
                       "still_held": .array(left.map { .string($0.rawValue) }), "refused": ControlIDs.json(refused)])
        }
        if !refused.isEmpty {
            let stillHeld = left.isEmpty ? "" : "; still held after \(humanSeconds(timeout)): \(left.map(\.rawValue).joined(separator: ", "))"
            throw CommandFailure(message: refused.map(\.message).joined(separator: "; ") + stillHeld)
        }
        guard left.isEmpty else {
            let pending = zip(ids, requests).filter { left.contains($0.0) && FileManager.default.fileExists(atPath: $0.1) }.map(\.0)
            let why = pending.isEmpty
                ? "the daemon took the request but the job is still there; see the daemon's log (a daemon older than `delete` removes such requests unapplied)"
                : "the request still waits in control/ (is the daemon busy or stopping?)"
            throw CommandFailure(message: "still held after \(humanSeconds(timeout)): \(left.map(\.rawValue).joined(separator: ", ")); \(why)")
        }
        return Exit.ok
    }
}

/// What cancel, pause, resume and delete share: reading the ids, checking them all before
/// dropping anything, and dropping one request per id.
enum ControlIDs {
    static func parse(_ texts: [String]) throws(UsageError) -> [JobID] {
        guard !texts.isEmpty else { throw UsageError(message: "give at least one job ID") }
        var ids: [JobID] = []
        for t in texts {
            let id = try jobID(t)
            if !ids.contains(id) { ids.append(id) }
        }
        return ids
    }

    static func unknown(_ id: JobID, _ client: SpoolClient) -> CommandFailure {
        CommandFailure(message: "no job \"\(id)\" in inbox/, pending/, running/ or done/ of \(client.layout.root)")
    }

    /// Fails (one line naming every problem, nothing dropped) if an id is unknown, another user's
    /// job (`action` names what is refused), or `refuse` has a reason.
    static func check(_ ids: [JobID], client: SpoolClient, action: String, refuse: (JobID, HeldJob) -> String?) throws {
        var problems: [String] = []
        for id in ids {
            guard let held = client.held(id) else {
                problems.append(unknown(id, client).message)
                continue
            }
            if let why = held.notYours(id, action) {
                problems.append(why)
                continue
            }
            if let reason = refuse(id, held) { problems.append(reason) }
        }
        guard problems.isEmpty else {
            throw CommandFailure(message: problems.joined(separator: "; ") + (ids.count > 1 ? "; no request was dropped" : ""))
        }
    }

    static func drop(_ action: ControlRequest.Action, _ ids: [JobID], client: SpoolClient, json: Bool, timeout: Double) throws -> Int32 {
        var requests: [String] = []
        for id in ids { requests.append(try client.dropControl(ControlRequest(action: action, id: id))) }
        let running = daemonRunning(client, quiet: true)
        let refused = running ? refusals(Array(zip(ids, requests)), timeout: timeout) : []
        if json {
            printJSON(["action": .string(action.rawValue), "ids": .array(ids.map { .string($0.rawValue) }),
                       "requests": .array(requests.map { .string($0) }), "daemon_running": .bool(running),
                       "refused": Self.json(refused)])
        } else {
            for id in ids where !refused.contains(where: { $0.id == id }) { print("\(action.rawValue) requested for \(id)") }
            if !running {
                printNote(noDaemonSentence(client) + "; the " + (ids.count == 1 ? "request waits" : "requests wait") + " in control/ until it starts")
            }
        }
        guard refused.isEmpty else { throw CommandFailure(message: refused.map(\.message).joined(separator: "; ")) }
        return Exit.ok
    }

    /// The daemon's refusal of the request at `path`, if it answered one (the answer is removed
    /// once read). Only a regular file owned by this user (the daemon, as root, gives the answer to
    /// the requester) or by root counts, so another member cannot plant an answer (or a FIFO) that
    /// would fool or hang spoolctl.
    static func answer(_ path: String) -> String? {
        guard let answerPath = ControlAnswerFile.path(forRequest: path) else { return nil }
        let fd = open(answerPath, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFREG, st.st_uid == 0 || st.st_uid == geteuid(), st.st_size <= 64 * 1024 else { return nil }
        let data = FileHandle(fileDescriptor: fd, closeOnDealloc: false).readDataToEndOfFile()
        unlink(answerPath)
        return ControlAnswerFile.message(Array(data)) ?? "the daemon refused the request (\(answerPath))"
    }

    /// Waits until the daemon has taken each request (its file gone: the answer, if any, is written
    /// first) or answered it, or `timeout` passes; returns the refusals. A request that stays
    /// (a cancel or delete under way until its job ends) is waited for until the deadline.
    static func refusals(_ requests: [(JobID, String)], timeout: Double) -> [(id: JobID, message: String)] {
        let deadline = Date().addingTimeInterval(timeout)
        var left = requests
        var refused: [(id: JobID, message: String)] = []
        while !left.isEmpty {
            left.removeAll { id, path in
                if let message = answer(path) {
                    refused.append((id, message))
                    return true
                }
                guard access(path, F_OK) != 0 else { return false }
                // Gone: the daemon writes an answer before it removes a request, so look once more.
                if let message = answer(path) { refused.append((id, message)) }
                return true
            }
            if left.isEmpty || Date() >= deadline { break }
            usleep(20_000)
        }
        return refused
    }

    static func json(_ refused: [(id: JobID, message: String)]) -> JSONValue {
        .array(refused.map { .object(JSONObject([("id", .string($0.id.rawValue)), ("message", .string($0.message))])) })
    }
}

/// Seconds as people write them: "10 s", "0.5 s".
func humanSeconds(_ s: Double) -> String {
    s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
}
