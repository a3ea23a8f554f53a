// spoolctl watch: a live view of the spool, redrawn every second on a terminal: running jobs
// with progress bars and ETA, pending counts per queue, recent failures. Plain frames when
// stdout is not a terminal; --once draws one frame and exits (for scripts and tests).
import Foundation
import SpoolCore
import SpoolJSON

enum Watch: Command {
    static let name = "watch"
    static let summary = "live view: progress bars, pending per queue, recent failures"
    static let usage = """
        Usage: spoolctl watch [--once] [--interval SECONDS] [--json]

        A live view: running jobs with progress bars and ETA, pending jobs per queue, recent failures.
        Redraws every second (--interval) until interrupted; --once prints one frame. When no daemon
        holds the spool, the frame says so (and a line on stderr).
        --json: NDJSON, one object per frame per line:
          {"time", "daemon_running": bool, "running_count", "pending_count",
           "running": [{"id", "name", "status", "percent", "finished", "total", "elapsed_seconds",
                        "eta_seconds", "message"}],
           "pending_by_queue": {Q: N}, "recent_failures": [{"id", "status", "finished_at", "error"}]}
        """

    static func bar(_ percent: Double, width: Int = 20) -> String {
        let filled = max(0, min(width, Int((percent / 100 * Double(width)).rounded())))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    static func runningJobs(_ records: [LocatedRecord]) -> [LocatedRecord] {
        records.filter { $0.folder == .running }.sorted { ($0.record.startedAt?.seconds ?? 0) < ($1.record.startedAt?.seconds ?? 0) }
    }

    static func pendingByQueue(_ records: [LocatedRecord]) -> [(String, Int)] {
        var byQueue: [String: Int] = [:]
        for l in records where l.folder == .pending { byQueue[l.record.spec?.effectiveQueue ?? "default", default: 0] += 1 }
        return byQueue.sorted { $0.key < $1.key }
    }

    static func recentFailures(_ records: [LocatedRecord]) -> [LocatedRecord] {
        Array(records.filter { $0.folder == .done && [.failed, .partial, .rejected].contains($0.record.status) }
            .sorted { ($0.record.finishedAt?.seconds ?? 0) > ($1.record.finishedAt?.seconds ?? 0) }.prefix(5))
    }

    /// What a frame shows: the live work from pending/ and running/, and the last failures named
    /// by the history index (their records read, at most five): no frame reads all of done/.
    static func frameRecords(_ client: SpoolClient) -> [LocatedRecord] {
        var out = client.records(in: [.pending, .running])
        guard let view = HistoryView.open(client.layout) else { return client.records() }
        var failures = 0
        for f in view.summary.recentFailures.reversed() where failures < 5 {
            guard let id = JobID(f.id), let l = client.finishedRecord(id) else { continue }
            out.append(l)
            failures += 1
        }
        return out
    }

    /// One frame as one line of JSON.
    static func jsonFrame(_ records: [LocatedRecord], now: Double, daemon: Bool) -> JSONValue {
        let running = runningJobs(records)
        let pending = pendingByQueue(records)
        return ["time": .string(Timestamp(seconds: now).rfc3339), "daemon_running": .bool(daemon),
                "running_count": .integer(running.count), "pending_count": .integer(pending.reduce(0) { $0 + $1.1 }),
                "running": .array(running.map { l in
                    let r = l.record, p = r.progress
                    return ["id": .string(r.id.rawValue), "name": .string(r.name), "status": .string(l.effectiveStatus.rawValue),
                            "percent": .number(p.percent), "finished": .integer(p.succeeded + p.failed + p.skipped), "total": .integer(p.total),
                            "elapsed_seconds": .num(r.startedAt.map { now - $0.seconds }), "eta_seconds": daemon ? .num(p.etaSeconds) : .null,
                            "message": .str(p.message)]
                }),
                "pending_by_queue": .object(JSONObject(pending.map { (key: $0.0, value: .integer($0.1)) })),
                "recent_failures": .array(recentFailures(records).map { l in
                    ["id": .string(l.record.id.rawValue), "status": .string(l.record.status.rawValue),
                     "finished_at": .str(l.record.finishedAt?.rfc3339), "error": .str(l.record.error?.message)]
                })]
    }

    static func frame(_ records: [LocatedRecord], now: Double, daemon: String? = nil) -> String {
        var lines: [String] = []
        let running = runningJobs(records)
        let pending = records.filter { $0.folder == .pending }
        lines.append("spoold  \(Timestamp(seconds: now).rfc3339.prefix(19))Z  running \(running.count)  pending \(pending.count)")
        if let daemon { lines.append(daemon) }
        lines.append("")
        lines.append("RUNNING")
        if running.isEmpty { lines.append("  (none)") }
        for l in running.prefix(20) {
            let r = l.record
            let p = r.progress
            let elapsed = r.startedAt.map { now - $0.seconds }
            let eta = daemon == nil ? p.etaSeconds.map { "eta \(humanDuration($0))" } ?? "eta -" : "waits for recovery"
            let counts = p.total > 1 ? " \(p.succeeded + p.failed + p.skipped)/\(p.total)" : ""
            let status = l.effectiveStatus == .paused ? " (paused)" : ""
            lines.append("  \(r.id.rawValue.prefix(36).padding(toLength: 36, withPad: " ", startingAt: 0)) \(bar(p.percent)) \(String(format: "%5.1f%%", p.percent))\(counts)  \(humanDuration(elapsed))  \(eta)\(status)\(p.message.map { "  \($0)" } ?? "")")
        }
        lines.append("")
        lines.append("PENDING BY QUEUE")
        let byQueue = pendingByQueue(records)
        if byQueue.isEmpty { lines.append("  (none)") }
        for (q, n) in byQueue { lines.append("  \(q.padding(toLength: 20, withPad: " ", startingAt: 0)) \(n)") }
        lines.append("")
        lines.append("RECENT FAILURES")
        let failures = recentFailures(records)
        if failures.isEmpty { lines.append("  (none)") }
        for l in failures {
            let r = l.record
            lines.append("  \(r.id.rawValue.prefix(36).padding(toLength: 36, withPad: " ", startingAt: 0)) \(r.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(r.error?.message.prefix(80) ?? "")")
        }
        return lines.joined(separator: "\n")
    }

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let once = try args.flag("--once")
        let json = try args.flag("--json")
        let interval = try args.double("--interval", min: 0.1) ?? 1
        _ = try args.positionals()
        let client = try openSpool(spool)
        let tty = isTerminal && !json
        var noted = false
        while true {
            let running = daemonRunning(client, quiet: json || noted)
            noted = noted || !running
            if json {
                printJSON(jsonFrame(frameRecords(client), now: Date().timeIntervalSince1970, daemon: running), pretty: false)
                if once { return Exit.ok }
                usleep(useconds_t(interval * 1_000_000))
                continue
            }
            let text = frame(frameRecords(client), now: Date().timeIntervalSince1970,
                             daemon: running ? nil : "no daemon is running on this spool (start it with: spoold --spool \(client.layout.root))")
            // On a terminal: home the cursor and clear, then draw; otherwise frames follow each other.
            print(tty ? "\u{1B}[H\u{1B}[2J" + text : text + (once ? "" : "\n"))
            fflush(nil)
            if once { return Exit.ok }
            usleep(useconds_t(interval * 1_000_000))
        }
    }
}
