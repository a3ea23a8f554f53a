// spoolctl status ID: one job's state, readable or as its JSON state file. When no daemon holds
// the spool it says so (SPEC §7): a job left in running/ is shown as waiting for recovery, with
// no ETA, and --json carries `daemon_running`.
import Foundation
import SpoolCore
import SpoolJSON

enum Status: Command {
    static let name = "status"
    static let summary = "show one job: status, times, attempts, error, progress, operations"
    static let usage = """
        Usage: spoolctl status ID [--json]

        Shows a job's status, times, attempts, error, output files and, for a batch, each operation
        (built-in operations' results summarised, one line each). Exit 1 if there is no such job.
        --json: the job's state file, plus "daemon_running": bool (and "status": "running" for a
        job whose daemon has not rewritten it yet). A job still in inbox/ has no state file yet.
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let ids = try args.positionals()
        guard ids.count == 1 else { throw UsageError(message: "give one job ID") }
        let id = try jobID(ids[0])
        let client = try openSpool(spool)
        guard let held = client.held(id) else { throw ControlIDs.unknown(id, client) }
        if let why = held.notYours(id, "see its status") { throw CommandFailure(message: why) }
        let running = daemonRunning(client, quiet: json)
        guard case .record(let found) = held else {
            throw CommandFailure(message: "job \(id) is waiting in inbox/ and has no state file yet: "
                                 + (running ? "the daemon has not taken it yet" : "no daemon is running to take it"))
        }
        var r = found.record
        r.status = found.effectiveStatus
        if json {
            printJSON(jsonValue(r).adding("daemon_running", .bool(running)))
            return Exit.ok
        }
        var status = r.status.rawValue
        if !running && !r.status.isTerminal {
            status += found.folder == .running ? " (no daemon: will be recovered at the next start)" : " (no daemon: waits for spoold to start)"
        }
        var lines: [(String, String)] = [
            ("id", r.id.rawValue), ("name", r.name), ("status", status),
            ("submitted", r.submittedAt.rfc3339),
            ("started", r.startedAt?.rfc3339 ?? "-"), ("finished", r.finishedAt?.rfc3339 ?? "-"),
            ("duration", humanDuration(r.durationSeconds)), ("attempts", String(r.attempts)),
        ]
        if let c = r.exitCode { lines.append(("exit code", String(c))) }
        if let s = r.signal { lines.append(("signal", "\(s) (\(AttemptResult.signalName(s)))")) }
        if let w = r.waitReason { lines.append(("waiting", w)) }
        if let e = r.error { lines.append(("error", "\(e.code.rawValue): \(e.message)")) }
        lines.append(("progress", progressLine(r)))
        if let o = r.stdout { lines.append(("stdout", o)) }
        if let o = r.stderr { lines.append(("stderr", o)) }
        if let o = r.original { lines.append(("original", o)) }
        if running, let e = r.progress.etaSeconds, !r.status.isTerminal { lines.append(("eta", humanDuration(e))) }
        if let retryOf = r.retryOf { lines.append(("retry of", retryOf.rawValue)) }
        // A batch: what its command operations used together (CPU summed, the largest peak), and where they ran.
        let ops = r.operations ?? []
        if let u = r.usage ?? HistoryEntry.combined(ops.compactMap(\.usage)) {
            let peak = u.maxRSSBytes.map { String(format: "peak memory %.1f MiB", Double($0) / 1_048_576) }
                ?? "peak memory not measurable (under that of the process that started it)"
            lines.append(("used", String(format: "cpu %.2fs user + %.2fs system, ", u.cpuUserSeconds, u.cpuSystemSeconds) + peak
                          + (r.usage == nil ? " (its command operations together)" : "")))
        }
        var executors = r.executor.map { [$0] } ?? []
        for x in ops.compactMap(\.executor) where !executors.contains(x) { executors.append(x) }
        if !executors.isEmpty {
            lines.append(("ran on", executors.map { x in [x.type, x.host, x.jobID.map { "job \($0)" }].compactMap { $0 }.joined(separator: ", ") }
                .joined(separator: "; ")))
        }
        for (k, v) in lines { print("\(k.padding(toLength: 10, withPad: " ", startingAt: 0)) \(v)") }
        if let ops = r.operations {
            print("operations:")
            let rows = ops.prefix(50).map { op -> [String] in
                [String(op.index), op.name ?? "-", op.status.rawValue, String(op.attempts), humanDuration(op.durationSeconds),
                 outcome(op)]
            }
            print(table(["#", "NAME", "STATUS", "ATTEMPTS", "DURATION", "RESULT / ERROR"], rows).split(separator: "\n").map { "  \($0)" }.joined(separator: "\n"))
            if ops.count > 50 { print("  ... \(plural(ops.count - 50, "more operation")) (spoolctl status \(r.id) --json)") }
            if ops.contains(where: { $0.stdout != nil || $0.stderr != nil }) {
                print("  output of one operation: spoolctl logs \(r.id) --op N [--stderr]")
            }
        }
        return Exit.ok
    }

    /// The progress line: a percentage only while it means something. A cancelled or rejected job
    /// shows what had finished when it ended, never a full bar.
    static func progressLine(_ r: JobRecord) -> String {
        let p = r.progress
        let finished = p.succeeded + p.failed + p.skipped
        let message = p.message.map { " \($0)" } ?? ""
        switch r.status {
        case .rejected: return "rejected before it ran"
        case .cancelled:
            return r.operations == nil ? "cancelled" + (r.startedAt == nil ? " before it started" : " while running")
                : "cancelled with \(finished)/\(p.total) operations finished\(message)"
        default:
            return String(format: "%.0f%% (%d/%d)", p.percent, finished, p.total) + message
        }
    }

    /// A result as `key=value` pairs (keys sorted, numbers to 6 significant digits), or compact JSON.
    static func summary(_ value: JSONValue) -> String {
        func short(_ v: JSONValue) -> String {
            switch v {
            case .number(let n): return n.integer.map(String.init) ?? String(format: "%.6g", n.double)
            case .string(let s): return s.count > 40 ? String(s.prefix(39)) + "…" : s
            default: return v.serialized()
            }
        }
        guard case .object(let o) = value else { return short(value) }
        return o.members.sorted { $0.key < $1.key }.map { "\($0.key)=\(short($0.value))" }.joined(separator: " ")
    }

    /// An operation's result (built-in types) and error, on one line of at most 100 characters.
    static func outcome(_ op: OperationRecord) -> String {
        var parts: [String] = []
        if let e = op.error { parts.append("\(e.code.rawValue): \(e.message)") }
        if let result = op.result { parts.append(summary(result)) }
        let text = parts.joined(separator: "  ").replacingOccurrences(of: "\n", with: " ")
        return text.count > 100 ? String(text.prefix(99)) + "…" : text
    }
}
