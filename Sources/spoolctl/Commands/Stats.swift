// spoolctl stats: counts by status and queue, success rate, mean and p95 duration, and recent
// throughput, computed from the records in the spool.
import Foundation
import SpoolCore
import SpoolJSON

enum Stats: Command {
    static let name = "stats"
    static let summary = "counts, success rate, durations, throughput"
    static let usage = """
        Usage: spoolctl stats [--json]

        Counts by status and by queue, success rate, mean and p95 duration of finished jobs, and
        throughput (jobs finished per minute) over the last 1, 5 and 15 minutes.
        --json: {"by_status": {...}, "by_queue": {...}, "success_rate", "mean_duration_seconds",
                 "p95_duration_seconds", "finished_per_minute": {"1m", "5m", "15m"}} (null when unknown)
        """

    struct Report: Encodable {
        var byStatus: [String: Int]
        var byQueue: [String: [String: Int]]
        var successRate: Double?
        var meanDurationSeconds: Double?
        var p95DurationSeconds: Double?
        var finishedPerMinute: [String: Double]

        enum CodingKeys: String, CodingKey {
            case byStatus = "by_status", byQueue = "by_queue", successRate = "success_rate"
            case meanDurationSeconds = "mean_duration_seconds", p95DurationSeconds = "p95_duration_seconds"
            case finishedPerMinute = "finished_per_minute"
        }
    }

    static func report(_ records: [LocatedRecord], now: Double) -> Report {
        var byStatus: [String: Int] = [:]
        var byQueue: [String: [String: Int]] = [:]
        var durations: [Double] = []
        var succeeded = 0, ended = 0
        var finishedAt: [Double] = []
        for l in records {
            let status = l.effectiveStatus.rawValue
            byStatus[status, default: 0] += 1
            byQueue[l.record.spec?.effectiveQueue ?? "default", default: [:]][status, default: 0] += 1
            guard l.effectiveStatus.isTerminal, l.effectiveStatus != .rejected else { continue }
            ended += 1
            if l.effectiveStatus == .succeeded { succeeded += 1 }
            if let d = l.record.durationSeconds { durations.append(d) }
            if let f = l.record.finishedAt { finishedAt.append(f.seconds) }
        }
        durations.sort()
        let p95 = durations.isEmpty ? nil : durations[min(durations.count - 1, Int((Double(durations.count) * 0.95).rounded(.up)) - 1)]
        var perMinute: [String: Double] = [:]
        for minutes in [1, 5, 15] {
            let n = finishedAt.filter { now - $0 <= Double(minutes) * 60 }.count
            perMinute["\(minutes)m"] = Double(n) / Double(minutes)
        }
        return Report(byStatus: byStatus, byQueue: byQueue, successRate: ended == 0 ? nil : Double(succeeded) / Double(ended),
                      meanDurationSeconds: durations.isEmpty ? nil : durations.reduce(0, +) / Double(durations.count),
                      p95DurationSeconds: p95, finishedPerMinute: perMinute)
    }

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        _ = try args.positionals()
        let client = try openSpool(spool)
        let r = report(client.records(), now: Date().timeIntervalSince1970)
        if json {
            func counts(_ d: [String: Int]) -> JSONValue {
                .object(JSONObject(d.sorted { $0.key < $1.key }.map { (key: $0.key, value: .integer($0.value)) }))
            }
            printJSON(["by_status": counts(r.byStatus),
                       "by_queue": .object(JSONObject(r.byQueue.sorted { $0.key < $1.key }.map { (key: $0.key, value: counts($0.value)) })),
                       "success_rate": .num(r.successRate), "mean_duration_seconds": .num(r.meanDurationSeconds),
                       "p95_duration_seconds": .num(r.p95DurationSeconds),
                       "finished_per_minute": .object(JSONObject(["1m", "5m", "15m"].map { (key: $0, value: .num(r.finishedPerMinute[$0] ?? 0)) }))])
            return Exit.ok
        }
        print("jobs by status:")
        for (k, v) in r.byStatus.sorted(by: { $0.key < $1.key }) { print("  \(k.padding(toLength: 10, withPad: " ", startingAt: 0)) \(v)") }
        print("jobs by queue:")
        for (q, counts) in r.byQueue.sorted(by: { $0.key < $1.key }) {
            print("  \(q): " + counts.sorted(by: { $0.key < $1.key }).map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        print("success rate:  \(r.successRate.map { String(format: "%.1f%%", $0 * 100) } ?? "-")")
        print("duration:      mean \(humanDuration(r.meanDurationSeconds)), p95 \(humanDuration(r.p95DurationSeconds))")
        print("finished/min:  " + ["1m", "5m", "15m"].map { "\($0) \(String(format: "%.1f", r.finishedPerMinute[$0] ?? 0))" }.joined(separator: ", "))
        return Exit.ok
    }
}
