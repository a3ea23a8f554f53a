// spoolctl wait ID...: blocks until every job has its record in done/; exit 0 only if all succeeded.
import Foundation
import SpoolCore
import SpoolJSON

enum Wait: Command {
    static let name = "wait"
    static let summary = "block until jobs end; exit 0 only if all succeeded"
    static let usage = """
        Usage: spoolctl wait ID... [--timeout SECONDS] [--json]

        Waits until each job has ended and prints its final status. Exit 0 only if all succeeded;
        1 if one did not, or the timeout passed. An id the spool has not seen yet is waited for.
        --json (printed once all ended or the timeout passed):
          {"all_succeeded": bool, "jobs": [{"id", "status", "error"}], "timed_out": [ID...]}
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let timeout = try args.double("--timeout", min: 0)
        let ids = try args.positionals().map { (t: String) throws(UsageError) -> JobID in try jobID(t) }
        guard !ids.isEmpty else { throw UsageError(message: "give at least one job ID") }
        let client = try openSpool(spool)
        // Another user's job, private to its owner and the administrators, would never be seen to end.
        for id in ids { if let why = client.held(id, attempts: 1)?.notYours(id, "wait for") { throw CommandFailure(message: why) } }
        let deadline = timeout.map { Date().addingTimeInterval($0) }
        var remaining = ids
        var allSucceeded = true
        var ended: [JSONValue] = []
        while !remaining.isEmpty {
            remaining = remaining.filter { id in
                guard let found = client.find(id), found.folder == .done else { return true }
                let r = found.record
                if json {
                    ended.append(["id": .string(id.rawValue), "status": .string(r.status.rawValue),
                                  "error": r.error.map { ["code": .string($0.code.rawValue), "message": .string($0.message)] } ?? .null])
                } else {
                    print("\(id) \(r.status.rawValue)\(r.error.map { ": \($0.message)" } ?? "")")
                }
                if r.status != .succeeded { allSucceeded = false }
                return false
            }
            if remaining.isEmpty { break }
            if let deadline, Date() >= deadline {
                if json {
                    printJSON(["all_succeeded": false, "jobs": .array(ended), "timed_out": .array(remaining.map { .string($0.rawValue) })])
                }
                throw CommandFailure(message: "timed out waiting for \(remaining.map(\.rawValue).joined(separator: ", "))")
            }
            usleep(50_000)
        }
        if json { printJSON(["all_succeeded": .bool(allSucceeded), "jobs": .array(ended), "timed_out": []]) }
        return allSucceeded ? Exit.ok : Exit.failure
    }
}
