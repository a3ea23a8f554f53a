// spoolctl stats: what the spool holds by status and queue, and the history of finished jobs
// (success rate, duration percentiles, operations of batches, CPU time and peak memory, per
// name), from the history index:
// the summary the daemon keeps, not the records, so it costs the same at ten records or a
// million. --since, --name and --queue narrow the history; pruned records still count in it.
import Foundation
import SpoolCore
import SpoolJSON

enum Stats: Command {
    static let name = "stats"
    static let summary = "counts, success rate, duration percentiles, per name; --name, --queue, --since"
    static let usage = """
        Usage: spoolctl stats [--name NAME]... [--queue Q]... [--since TIME|DURATION] [--json]

        What the spool holds by status and by queue; then the history of finished jobs (removed
        records included): runs, success rate, mean and p50/p90/p95/p99 duration (paused time
        excluded), operations of batches, CPU time and peak memory (mean and max over the runs that
        measured them; a batch's command operations count together), per name; and throughput (jobs
        finished per minute) over the last 1, 5 and 15 minutes. --name, --queue (repeatable: any of them) and --since narrow
        the history (--queue and --since read the index lines of what they select).
        --json: {"by_status": {...}, "by_queue": {...}, "runs", "success_rate", "mean_duration_seconds",
                 "p50_duration_seconds", "p90_duration_seconds", "p95_duration_seconds", "p99_duration_seconds",
                 "operations": {"batches", "total", "succeeded", "failed", "skipped", "mean_seconds"},
                 "usage": {"runs", "cpu_user_seconds": {"mean", "max"}, "cpu_system_seconds": {"mean", "max"},
                           "max_rss_bytes": {"mean", "max", "runs"}},
                 "by_name": {NAME: {"runs", "by_status", "success_rate", "mean_duration_seconds", "p50_duration_seconds",
                                    "p95_duration_seconds", "p99_duration_seconds", "operations", "usage"}},
                 "finished_per_minute": {"1m", "5m", "15m"}, "indexed": bool} (null when unknown)
        """

    /// The history part of the report for an aggregate.
    static func figures(_ a: HistorySummary.Aggregate) -> [(key: String, value: JSONValue)] {
        let d = a.durations
        var ops: JSONValue = .null
        if a.operationBatches > 0 {
            ops = ["batches": .integer(a.operationBatches), "total": .integer(a.operations.total),
                   "succeeded": .integer(a.operations.succeeded), "failed": .integer(a.operations.failed),
                   "skipped": .integer(a.operations.skipped), "mean_seconds": .num(a.operations.meanSeconds)]
        }
        return [("runs", .integer(a.runs)), ("success_rate", .num(a.successRate)), ("mean_duration_seconds", .num(d.mean)),
                ("p50_duration_seconds", .num(d.quantile(0.5))), ("p90_duration_seconds", .num(d.quantile(0.9))),
                ("p95_duration_seconds", .num(d.quantile(0.95))), ("p99_duration_seconds", .num(d.quantile(0.99))),
                ("operations", ops), ("usage", usage(a.usage))]
    }

    /// What the runs used (SPEC §4 `usage`): means and maxima; null when none measured it.
    static func usage(_ u: HistorySummary.Usage) -> JSONValue {
        guard u.runs > 0 else { return .null }
        return ["runs": .integer(u.runs),
                "cpu_user_seconds": ["mean": .num(u.meanCPUUser), "max": .number(u.cpuUserMax)],
                "cpu_system_seconds": ["mean": .num(u.meanCPUSystem), "max": .number(u.cpuSystemMax)],
                "max_rss_bytes": ["mean": .num(u.meanRSS.map { $0.rounded() }), "max": u.rssRuns > 0 ? .integer(Int(u.rssMax)) : .null,
                                  "runs": .integer(u.rssRuns)]]
    }

    /// Mean CPU (user + system) per run, for the per-name table.
    static func meanCPU(_ u: HistorySummary.Usage) -> String {
        u.runs > 0 ? String(format: "%.2fs", (u.cpuUserSum + u.cpuSystemSum) / Double(u.runs)) : "-"
    }

    static func mebibytes(_ bytes: Double) -> String { String(format: "%.1f MiB", bytes / 1_048_576) }

    static func counts(_ d: [String: Int]) -> JSONValue {
        .object(JSONObject(d.sorted { $0.key < $1.key }.map { (key: $0.key, value: .integer($0.value)) }))
    }

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let names = Set(try args.values("--name"))
        let queues = Set(try args.values("--queue"))
        let sinceText = try args.value("--since")
        _ = try args.positionals()
        var since: Double? = nil
        if let sinceText {
            if let t = Timestamp(rfc3339: sinceText) { since = t.seconds }
            else if let age = Prune.seconds(sinceText) { since = Date().timeIntervalSince1970 - age }
            else { throw UsageError(message: "--since must be an RFC 3339 time or a duration such as 30m, 24h; got \"\(sinceText)\"") }
        }
        let client = try openSpool(spool)
        let now = Date().timeIntervalSince1970
        let view = HistoryView.openOrScan(client)
        // Held now: finished ones from the index, the live work from its folders.
        var byStatus: [String: Int] = [:]
        var byQueue: [String: [String: Int]] = [:]
        for (h, n) in view.summary.holdings where queues.isEmpty || queues.contains(h.queue) {
            byStatus[h.status.rawValue, default: 0] += n
            byQueue[h.queue, default: [:]][h.status.rawValue, default: 0] += n
        }
        for l in client.records(in: [.pending, .running]) {
            let q = l.record.spec?.effectiveQueue ?? "default"
            guard queues.isEmpty || queues.contains(q) else { continue }
            byStatus[l.effectiveStatus.rawValue, default: 0] += 1
            byQueue[q, default: [:]][l.effectiveStatus.rawValue, default: 0] += 1
        }
        // History of the selection.
        var selection: HistorySummary.Aggregate
        var perName: [String: HistorySummary.Aggregate]
        if since != nil || !queues.isEmpty {
            let s = view.fold(since: since, names: names, queues: queues)
            selection = s.all
            perName = s.names
        } else if !names.isEmpty {
            perName = view.summary.names.filter { names.contains($0.key) }
            if perName.count < names.count {
                // A name whose aggregate was trimmed (too many names): from its lines.
                perName = view.fold(since: nil, names: names, queues: []).names
            }
            selection = HistorySummary.Aggregate()
            for a in perName.values { selection.merge(a) }
        } else {
            selection = view.summary.all
            perName = view.summary.names
        }
        // Throughput: the lines of the last 15 minutes.
        var finished: [Double] = []
        view.finished(since: now - 15 * 60) { e in
            guard e.status != .rejected, let f = e.finishedAt else { return }
            if !names.isEmpty, !names.contains(e.name) { return }
            if !queues.isEmpty, !queues.contains(e.queue) { return }
            finished.append(f)
        }
        var perMinute: [(String, Double)] = []
        for minutes in [1, 5, 15] {
            perMinute.append(("\(minutes)m", Double(finished.filter { now - $0 <= Double(minutes) * 60 }.count) / Double(minutes)))
        }
        if json {
            var o: [(key: String, value: JSONValue)] = [
                ("by_status", counts(byStatus)),
                ("by_queue", .object(JSONObject(byQueue.sorted { $0.key < $1.key }.map { (key: $0.key, value: counts($0.value)) }))),
            ]
            o += figures(selection)
            o.append(("by_name", .object(JSONObject(perName.sorted { $0.key < $1.key }.map { n in
                (key: n.key, value: .object(JSONObject([("by_status", counts(Dictionary(uniqueKeysWithValues: n.value.byStatus.map { ($0.key.rawValue, $0.value) })))]
                                                       + figures(n.value).filter { $0.key != "p90_duration_seconds" })))
            }))))
            o.append(("finished_per_minute", .object(JSONObject(perMinute.map { (key: $0.0, value: .number($0.1)) }))))
            o.append(("indexed", .bool(view.indexed)))
            printJSON(.object(JSONObject(o)))
            return Exit.ok
        }
        print("jobs by status:")
        for (k, v) in byStatus.sorted(by: { $0.key < $1.key }) { print("  \(k.padding(toLength: 10, withPad: " ", startingAt: 0)) \(v)") }
        print("jobs by queue:")
        for (q, c) in byQueue.sorted(by: { $0.key < $1.key }) {
            print("  \(q): " + c.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        let d = selection.durations
        var scope: [String] = []
        if !names.isEmpty { scope.append("name " + names.sorted().joined(separator: ", ")) }
        if !queues.isEmpty { scope.append("queue " + queues.sorted().joined(separator: ", ")) }
        if let sinceText { scope.append("since \(sinceText)") }
        print("history\(scope.isEmpty ? "" : " (" + scope.joined(separator: "; ") + ")"): \(plural(selection.runs, "run"))")
        print("success rate:  \(selection.successRate.map { String(format: "%.1f%%", $0 * 100) } ?? "-")")
        print("duration:      mean \(humanDuration(d.mean)), p50 \(humanDuration(d.quantile(0.5))), p90 \(humanDuration(d.quantile(0.9))), p95 \(humanDuration(d.quantile(0.95))), p99 \(humanDuration(d.quantile(0.99)))")
        if selection.operationBatches > 0 {
            let o = selection.operations
            print("operations:    \(o.total) in \(plural(selection.operationBatches, "batch", "batches")): \(o.succeeded) succeeded, \(o.failed) failed, \(o.skipped) skipped; mean \(humanDuration(o.meanSeconds))")
        }
        if selection.usage.runs > 0 {
            let u = selection.usage
            print("usage:         cpu mean \(String(format: "%.2fs user + %.2fs system", u.meanCPUUser ?? 0, u.meanCPUSystem ?? 0)) "
                  + "(max \(String(format: "%.2fs + %.2fs", u.cpuUserMax, u.cpuSystemMax))), "
                  + (u.rssRuns > 0 ? "peak memory mean \(mebibytes(u.meanRSS ?? 0)) (max \(mebibytes(Double(u.rssMax))); \(u.rssRuns) of the runs), "
                                   : "peak memory not measurable in any run, ")
                  + "\(plural(u.runs, "run")) measured")
        }
        print("finished/min:  " + perMinute.map { "\($0.0) \(String(format: "%.1f", $0.1))" }.joined(separator: ", "))
        if !perName.isEmpty {
            print("")
            let rows = perName.sorted { $0.value.runs > $1.value.runs }.prefix(20).map { n, a -> [String] in
                [n, String(a.runs), a.successRate.map { String(format: "%.1f%%", $0 * 100) } ?? "-", humanDuration(a.durations.mean),
                 humanDuration(a.durations.quantile(0.5)), humanDuration(a.durations.quantile(0.95)), humanDuration(a.durations.quantile(0.99)),
                 a.operationBatches > 0 ? String(a.operations.total) : "-", meanCPU(a.usage),
                 a.usage.rssRuns > 0 ? mebibytes(Double(a.usage.rssMax)) : "-"]
            }
            print(table(["NAME", "RUNS", "SUCCESS", "MEAN", "P50", "P95", "P99", "OPS", "CPU", "MAX RSS"], rows))
            if perName.count > 20 { print("(\(perName.count - 20) more names; --json lists them all)") }
        }
        return Exit.ok
    }
}
