// spoolctl cancel / pause / resume / retry: control requests written as files into control/, so
// they work while the daemon is down (it applies them when it starts). pause and resume without
// an id hold and release the whole spool through its `paused` file.
import Foundation
import SpoolCore

enum Cancel: Command {
    static let name = "cancel"
    static let usage = """
        Usage: spoolctl cancel ID...

        Cancels jobs: a pending job ends cancelled without running; a running one gets SIGTERM on its
        process group, SIGKILL after the grace period, and ends cancelled.
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let ids = try args.positionals()
        guard !ids.isEmpty else { throw UsageError(message: "give at least one job ID") }
        let client = try openSpool(spool, create: true)
        for text in ids {
            let id = try jobID(text)
            _ = try client.dropControl(ControlRequest(action: .cancel, id: id))
            print("cancel requested for \(id)")
        }
        return Exit.ok
    }
}

enum Pause: Command {
    static let name = "pause"
    static let usage = """
        Usage: spoolctl pause [ID... | --queue Q]

        With ids: stops running jobs (SIGSTOP to their process groups); their timeouts do not count
        paused time. Without: holds the whole spool (no new job starts) by creating its `paused` file.
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        try PauseResume.run(&args, spool: spool, pause: true)
    }
}

enum Resume: Command {
    static let name = "resume"
    static let usage = """
        Usage: spoolctl resume [ID... | --queue Q]

        With ids: continues paused jobs (SIGCONT). Without: releases the spool (removes `paused`).
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        try PauseResume.run(&args, spool: spool, pause: false)
    }
}

enum PauseResume {
    static func run(_ args: inout Arguments, spool: String, pause: Bool) throws -> Int32 {
        let queue = try args.value("--queue")
        let ids = try args.positionals()
        let client = try openSpool(spool, create: true)
        if let queue {
            guard ids.isEmpty else { throw UsageError(message: "give either job ids or --queue, not both") }
            guard JobID.isValid(queue) else { throw UsageError(message: "\"\(queue)\" is not a valid queue name") }
            let path = PausedQueues.path(root: client.layout.root, queue: queue)
            if pause {
                guard FileManager.default.createFile(atPath: path, contents: Data()) else { throw CommandFailure(message: "cannot create \(path)") }
                print("queue \(queue) paused: none of its jobs starts until `spoolctl resume --queue \(queue)`")
            } else {
                if unlink(path) != 0 && errno != ENOENT { throw CommandFailure(message: "cannot remove \(path): \(String(cString: strerror(errno)))") }
                print("queue \(queue) resumed")
            }
            return Exit.ok
        }
        if ids.isEmpty {
            let path = client.layout.pausedPath
            if pause {
                guard FileManager.default.createFile(atPath: path, contents: Data()) else {
                    throw CommandFailure(message: "cannot create \(path)")
                }
                print("spool paused: no new job starts until `spoolctl resume`")
            } else {
                if unlink(path) != 0 && errno != ENOENT { throw CommandFailure(message: "cannot remove \(path): \(String(cString: strerror(errno)))") }
                print("spool resumed")
            }
            return Exit.ok
        }
        for text in ids {
            let id = try jobID(text)
            _ = try client.dropControl(ControlRequest(action: pause ? .pause : .resume, id: id))
            print("\(pause ? "pause" : "resume") requested for \(id)")
        }
        return Exit.ok
    }
}

enum Retry: Command {
    static let name = "retry"
    static let usage = """
        Usage: spoolctl retry ID [--failed-only]

        Submits a finished job again under a new id (printed as the last word). With --failed-only,
        only the failed and skipped operations of a batch run again. The new record's retry_of names ID.
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let failedOnly = args.flag("--failed-only")
        let ids = try args.positionals()
        guard ids.count == 1 else { throw UsageError(message: "give one job ID") }
        let id = try jobID(ids[0])
        let client = try openSpool(spool, create: true)
        guard let found = client.find(id) else {
            throw CommandFailure(message: "no job \"\(id)\" in pending/, running/ or done/ of \(client.layout.root)")
        }
        guard found.folder == .done else { throw CommandFailure(message: "job \(id) has not ended yet; only finished jobs can be retried") }
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
        let requested = client.requestedRetryIDs()
        let newID = JobID.retry(of: id) { requested.contains($0) || client.holds($0) }
        _ = try client.dropControl(ControlRequest(action: .retry, id: id, failedOnly: failedOnly, newID: newID))
        print("retry of \(id) submitted as \(newID)")
        return Exit.ok
    }
}
