// The page of `spoolctl report` (SPEC §7): one self-contained HTML file, charts drawn as inline
// SVG, nothing fetched: jobs finished per hour (or day) by status, run time per name (quartiles
// and p95), failure rate per name, jobs waiting over time per queue, and the slowest and most
// failing names. A pure function of the index lines of the period and the summary.
import Foundation

public enum ReportPage {
    public struct Input: Sendable {
        /// Finished lines of the period, any order (removed records included: they are history).
        public var entries: [HistoryEntry]
        public var summary: HistorySummary
        public var since: Double
        public var now: Double
        public var pending: Int
        public var running: Int
        public var spool: String

        public init(entries: [HistoryEntry], summary: HistorySummary, since: Double, now: Double, pending: Int, running: Int, spool: String) {
            self.entries = entries
            self.summary = summary
            self.since = since
            self.now = now
            self.pending = pending
            self.running = running
            self.spool = spool
        }
    }

    public static let colors: [(JobStatus, String)] = [
        (.succeeded, "#2e9e44"), (.failed, "#d62728"), (.partial, "#ff7f0e"), (.cancelled, "#7f7f7f"), (.rejected, "#9467bd"),
    ]
    static let queueColors = ["#1f77b4", "#e377c2", "#17becf", "#bcbd22", "#8c564b"]

    static func esc(_ s: String) -> String {
        var o = ""
        for c in s {
            switch c {
            case "&": o += "&amp;"
            case "<": o += "&lt;"
            case ">": o += "&gt;"
            case "\"": o += "&quot;"
            case "'": o += "&#39;"
            default: o.append(c)
            }
        }
        return o
    }

    static func f(_ d: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", d) }

    static func secs(_ s: Double?) -> String {
        guard let s else { return "-" }
        if s < 1 { return "\(Int((s * 1000).rounded())) ms" }
        if s < 120 { return f(s, s < 10 ? 2 : 1) + " s" }
        if s < 7200 { return f(s / 60) + " min" }
        return f(s / 3600) + " h"
    }

    /// Per-name figures of the period.
    struct NameFigures {
        var name: String
        var runs = 0
        var failures = 0
        var durations: [Double] = []
        var ended: Int { runs }
        var failureRate: Double { runs > 0 ? Double(failures) / Double(runs) : 0 }
        func q(_ p: Double) -> Double? {
            guard !durations.isEmpty else { return nil }
            return durations[min(durations.count - 1, max(0, Int((p * Double(durations.count)).rounded(.up)) - 1))]
        }
    }

    public static func html(_ input: Input) -> String {
        let entries = input.entries.filter { ($0.finishedAt ?? $0.indexedAt) >= input.since }
        let span = max(1, input.now - input.since)
        let bucket = span > 14 * 86400 ? 86400.0 : 3600.0
        let buckets = Int((span / bucket).rounded(.up))
        var perBucket = [[JobStatus: Int]](repeating: [:], count: max(1, buckets))
        var byName: [String: NameFigures] = [:]
        var byStatus: [JobStatus: Int] = [:]
        for e in entries {
            let t = e.finishedAt ?? e.indexedAt
            let b = min(perBucket.count - 1, max(0, Int((t - input.since) / bucket)))
            perBucket[b][e.status, default: 0] += 1
            byStatus[e.status, default: 0] += 1
            guard e.status != .rejected else { continue }
            var n = byName[e.name] ?? NameFigures(name: e.name)
            n.runs += 1
            if e.status == .failed || e.status == .partial { n.failures += 1 }
            if let d = e.activeSeconds { n.durations.append(d) }
            byName[e.name] = n
        }
        for k in byName.keys { byName[k]!.durations.sort() }
        let names = byName.values.sorted { $0.runs != $1.runs ? $0.runs > $1.runs : $0.name < $1.name }

        var body = ""
        let unit = bucket == 3600 ? "hour" : "day"
        body += "<h1>spool history</h1>\n"
        body += "<p class=\"meta\">\(esc(input.spool)) · from \(Timestamp(seconds: input.since).rfc3339.prefix(16))Z to \(Timestamp(seconds: input.now).rfc3339.prefix(16))Z · "
        body += "<span id=\"total-finished\" data-value=\"\(entries.count)\">\(entries.count) finished</span> · "
        body += (colors.compactMap { s, _ in byStatus[s].map { "<span class=\"count-\(s.rawValue)\" data-value=\"\($0)\">\($0) \(s.rawValue)</span>" } }).joined(separator: " · ")
        body += " · now \(input.running) running, \(input.pending) pending</p>\n"

        // 1. Finished per hour (day) by status: stacked bars.
        body += "<section id=\"finished-per-\(unit)\"><h2>Jobs finished per \(unit), by status</h2>\n"
        let maxBar = max(1, perBucket.map { $0.values.reduce(0, +) }.max() ?? 1)
        let w = 900.0, h = 220.0, left = 40.0, bottom = 20.0
        let bw = (w - left) / Double(perBucket.count)
        var svg = "<svg width=\"\(Int(w))\" height=\"\(Int(h + bottom))\" viewBox=\"0 0 \(Int(w)) \(Int(h + bottom))\" role=\"img\"><title>jobs finished per \(unit)</title>"
        svg += "<line x1=\"\(left)\" y1=\"\(h)\" x2=\"\(w)\" y2=\"\(h)\" stroke=\"#999\"/><text x=\"2\" y=\"12\" class=\"axis\">\(maxBar)</text><text x=\"2\" y=\"\(h)\" class=\"axis\">0</text>"
        for (i, counts) in perBucket.enumerated() {
            var y = h
            for (status, color) in colors {
                guard let n = counts[status], n > 0 else { continue }
                let bh = Double(n) / Double(maxBar) * (h - 10)
                y -= bh
                svg += "<rect class=\"bar bar-\(status.rawValue)\" x=\"\(f(left + Double(i) * bw + 0.5))\" y=\"\(f(y))\" width=\"\(f(max(1, bw - 1)))\" height=\"\(f(bh))\" fill=\"\(color)\"><title>\(n) \(status.rawValue)</title></rect>"
            }
        }
        svg += "<text x=\"\(left)\" y=\"\(h + 15)\" class=\"axis\">\(Timestamp(seconds: input.since).rfc3339.prefix(16))Z</text>"
        svg += "<text x=\"\(w - 130)\" y=\"\(h + 15)\" class=\"axis\">\(Timestamp(seconds: input.now).rfc3339.prefix(16))Z</text></svg>"
        body += svg + "\n" + legend() + "</section>\n"

        // 2. Run time per name: box from p25 to p75, a line at p50, whisker to p95.
        let top = Array(names.prefix(15))
        body += "<section id=\"duration-per-name\"><h2>Run time per name (p25–p75 box, median line, whisker to p95)</h2>\n"
        let maxD = max(0.001, top.compactMap { $0.q(0.95) }.max() ?? 1)
        let rowH = 22.0, nameW = 180.0, plotW = 520.0
        svg = "<svg width=\"900\" height=\"\(Int(Double(max(1, top.count)) * rowH + 20))\" role=\"img\"><title>run time per name</title>"
        for (i, n) in top.enumerated() {
            let y = Double(i) * rowH + 4
            svg += "<text x=\"0\" y=\"\(f(y + 13))\" class=\"label\">\(esc(String(n.name.prefix(28))))</text>"
            guard let p25 = n.q(0.25), let p50 = n.q(0.5), let p75 = n.q(0.75), let p95 = n.q(0.95) else { continue }
            func x(_ v: Double) -> Double { nameW + v / maxD * plotW }
            svg += "<line x1=\"\(f(x(p75)))\" y1=\"\(f(y + 9))\" x2=\"\(f(x(p95)))\" y2=\"\(f(y + 9))\" stroke=\"#555\"/>"
            svg += "<rect class=\"box\" x=\"\(f(x(p25)))\" y=\"\(f(y + 2))\" width=\"\(f(max(2, x(p75) - x(p25))))\" height=\"14\" fill=\"#1f77b4\"><title>\(esc(n.name)): p25 \(secs(p25)), p50 \(secs(p50)), p75 \(secs(p75)), p95 \(secs(p95))</title></rect>"
            svg += "<line x1=\"\(f(x(p50)))\" y1=\"\(f(y + 1))\" x2=\"\(f(x(p50)))\" y2=\"\(f(y + 17))\" stroke=\"#000\" stroke-width=\"2\"/>"
            svg += "<text x=\"\(f(nameW + plotW + 8))\" y=\"\(f(y + 13))\" class=\"label\">p50 \(secs(p50)) · p95 \(secs(p95))</text>"
        }
        body += svg + "</svg></section>\n"

        // 3. Failure rate per name.
        body += "<section id=\"failure-rate-per-name\"><h2>Failure rate per name</h2>\n"
        let byFailure = names.sorted { $0.failureRate != $1.failureRate ? $0.failureRate > $1.failureRate : $0.runs > $1.runs }.prefix(15)
        svg = "<svg width=\"900\" height=\"\(Int(Double(max(1, byFailure.count)) * rowH + 20))\" role=\"img\"><title>failure rate per name</title>"
        for (i, n) in byFailure.enumerated() {
            let y = Double(i) * rowH + 4
            svg += "<text x=\"0\" y=\"\(f(y + 13))\" class=\"label\">\(esc(String(n.name.prefix(28))))</text>"
            svg += "<rect x=\"\(nameW)\" y=\"\(f(y + 2))\" width=\"\(plotW)\" height=\"14\" fill=\"#eee\"/>"
            if n.failures > 0 {
                svg += "<rect class=\"failure\" data-name=\"\(esc(n.name))\" x=\"\(nameW)\" y=\"\(f(y + 2))\" width=\"\(f(max(2, n.failureRate * plotW)))\" height=\"14\" fill=\"#d62728\"/>"
            }
            svg += "<text x=\"\(f(nameW + plotW + 8))\" y=\"\(f(y + 13))\" class=\"label\">\(f(n.failureRate * 100))% of \(n.runs)</text>"
        }
        body += svg + "</svg></section>\n"

        // 4. Jobs waiting over time, per queue (submitted, not yet started), from the lines.
        body += "<section id=\"queue-depth\"><h2>Jobs waiting over time, per queue</h2>\n"
        let samples = 120
        var queues: [String: [Int]] = [:]
        var perQueueCount: [String: Int] = [:]
        for e in entries { perQueueCount[e.queue, default: 0] += 1 }
        let shownQueues = perQueueCount.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }.prefix(queueColors.count).map(\.key)
        for q in shownQueues { queues[q] = [Int](repeating: 0, count: samples) }
        let step = span / Double(samples - 1)
        for e in entries where queues[e.queue] != nil {
            let from = e.submittedAt, to = e.startedAt ?? e.finishedAt ?? e.indexedAt
            guard to > from else { continue }
            let a = max(0, Int(((from - input.since) / step).rounded(.up))), b = min(samples - 1, Int(((to - input.since) / step).rounded(.down)))
            if a <= b { for i in a...b { queues[e.queue]![i] += 1 } }
        }
        let maxQ = max(1, queues.values.flatMap { $0 }.max() ?? 1)
        svg = "<svg width=\"900\" height=\"200\" role=\"img\"><title>jobs waiting per queue</title><line x1=\"40\" y1=\"180\" x2=\"900\" y2=\"180\" stroke=\"#999\"/>"
        svg += "<text x=\"2\" y=\"12\" class=\"axis\">\(maxQ)</text><text x=\"2\" y=\"180\" class=\"axis\">0</text>"
        for (qi, q) in shownQueues.enumerated() {
            let pts = queues[q]!.enumerated().map { i, v in "\(f(40 + Double(i) / Double(samples - 1) * 860)),\(f(180 - Double(v) / Double(maxQ) * 170))" }
            svg += "<polyline class=\"depth\" data-queue=\"\(esc(q))\" fill=\"none\" stroke=\"\(queueColors[qi])\" stroke-width=\"2\" points=\"\(pts.joined(separator: " "))\"/>"
        }
        body += svg + "</svg><p class=\"legend\">" + shownQueues.enumerated().map { "<span style=\"color:\(queueColors[$0.offset])\">■</span> \(esc($0.element))" }.joined(separator: " ") + "</p></section>\n"

        // 5. Tables: slowest and failing names.
        body += "<section id=\"slowest\"><h2>Slowest names (p95 run time)</h2><table><tr><th>name</th><th>runs</th><th>p50</th><th>p95</th><th>max</th></tr>"
        for n in names.filter({ !$0.durations.isEmpty }).sorted(by: { ($0.q(0.95) ?? 0) > ($1.q(0.95) ?? 0) }).prefix(10) {
            body += "<tr><td>\(esc(n.name))</td><td>\(n.runs)</td><td>\(secs(n.q(0.5)))</td><td>\(secs(n.q(0.95)))</td><td>\(secs(n.durations.last))</td></tr>"
        }
        body += "</table></section>\n"
        body += "<section id=\"failing\"><h2>Failing names</h2><table><tr><th>name</th><th>failed</th><th>runs</th><th>rate</th></tr>"
        for n in names.filter({ $0.failures > 0 }).sorted(by: { $0.failures != $1.failures ? $0.failures > $1.failures : $0.name < $1.name }).prefix(10) {
            body += "<tr class=\"failing-name\"><td>\(esc(n.name))</td><td>\(n.failures)</td><td>\(n.runs)</td><td>\(f(n.failureRate * 100))%</td></tr>"
        }
        body += "</table></section>\n"
        let all = input.summary.all
        body += "<p class=\"meta\">All time (pruned records included): \(all.runs) runs, success rate \(all.successRate.map { f($0 * 100) + "%" } ?? "-"), p50 \(secs(all.durations.quantile(0.5))), p95 \(secs(all.durations.quantile(0.95))).</p>\n"

        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8"><title>spool history</title>
            <style>
            body { font: 13px/1.4 sans-serif; margin: 16px; color: #222; background: #fff; }
            h1 { font-size: 20px; margin: 0 0 4px; } h2 { font-size: 15px; margin: 18px 0 6px; }
            .meta { color: #555; } .axis, .label { font: 11px sans-serif; fill: #333; }
            table { border-collapse: collapse; } td, th { border-bottom: 1px solid #ddd; padding: 2px 10px 2px 0; text-align: left; }
            .legend span { margin-right: 4px; }
            </style></head><body>
            \(body)</body></html>

            """
    }

    static func legend() -> String {
        "<p class=\"legend\">" + colors.map { "<span style=\"color:\($0.1)\">■</span> \($0.0.rawValue)" }.joined(separator: " ") + "</p>"
    }
}
