// spoolctl status ID: one job's state, readable or as its JSON state file.
import Foundation
import SpoolCore

enum Status: Command {
    static let name = "status"
    static let usage = """
        Usage: spoolctl status ID [--json]

        Shows a job's status, times, attempts, error and output files. Exit 1 if there is no such job.
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = args.flag("--json")
        let ids = try args.positionals()
        guard ids.count == 1 else { throw UsageError(message: "give one job ID") }
        let id = try jobID(ids[0])
        let client = try openSpool(spool)
        guard let found = client.find(id) else {
            throw CommandFailure(message: "no job \"\(id)\" in pending/, running/ or done/ of \(client.layout.root)")
        }
        var r = found.record
        r.status = found.effectiveStatus
        if json {
            print(jsonText(r))
            return Exit.ok
        }
        var lines: [(String, String)] = [
            ("id", r.id.rawValue), ("name", r.name), ("status", r.status.rawValue),
            ("submitted", r.submittedAt.rfc3339),
            ("started", r.startedAt?.rfc3339 ?? "-"), ("finished", r.finishedAt?.rfc3339 ?? "-"),
            ("duration", humanDuration(r.durationSeconds)), ("attempts", String(r.attempts)),
        ]
        if let c = r.exitCode { lines.append(("exit code", String(c))) }
        if let s = r.signal { lines.append(("signal", "\(s) (\(AttemptResult.signalName(s)))")) }
        if let w = r.waitReason { lines.append(("waiting", w)) }
        if let e = r.error { lines.append(("error", "\(e.code.rawValue): \(e.message)")) }
        let p = r.progress
        lines.append(("progress", String(format: "%.0f%% (%d/%d)%@", p.percent, p.succeeded + p.failed + p.skipped, p.total,
                                          p.message.map { " \($0)" } ?? "")))
        if let o = r.stdout { lines.append(("stdout", o)) }
        if let o = r.stderr { lines.append(("stderr", o)) }
        if let o = r.original { lines.append(("original", o)) }
        if let e = p.etaSeconds, !r.status.isTerminal { lines.append(("eta", humanDuration(e))) }
        if let retryOf = r.retryOf { lines.append(("retry of", retryOf.rawValue)) }
        for (k, v) in lines { print("\(k.padding(toLength: 10, withPad: " ", startingAt: 0)) \(v)") }
        if let ops = r.operations {
            print("operations:")
            let rows = ops.prefix(50).map { op -> [String] in
                [String(op.index), op.name ?? "-", op.status.rawValue, String(op.attempts), humanDuration(op.durationSeconds),
                 op.error.map { "\($0.code.rawValue): \($0.message)" } ?? ""]
            }
            print(table(["#", "NAME", "STATUS", "ATTEMPTS", "DURATION", "ERROR"], rows).split(separator: "\n").map { "  \($0)" }.joined(separator: "\n"))
            if ops.count > 50 { print("  ... \(ops.count - 50) more (spoolctl status \(r.id) --json)") }
        }
        return Exit.ok
    }
}
