// spoolctl watch: a live view of the spool, redrawn every second on a terminal: running jobs
// with progress bars and ETA, pending counts per queue, recent failures. Plain frames when
// stdout is not a terminal; --once draws one frame and exits (for scripts and tests).
import Foundation
import SpoolCore

enum Watch: Command {
    static let name = "watch"
    static let usage = """
        Usage: spoolctl watch [--once] [--interval SECONDS]

        A live view: running jobs with progress bars and ETA, pending jobs per queue, recent failures.
        Redraws every second (--interval) until interrupted; --once prints one frame.
        """

    static func bar(_ percent: Double, width: Int = 20) -> String {
        let filled = max(0, min(width, Int((percent / 100 * Double(width)).rounded())))
        return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
    }

    static func frame(_ records: [LocatedRecord], now: Double) -> String {
        var lines: [String] = []
        let running = records.filter { $0.folder == .running }.sorted { ($0.record.startedAt?.seconds ?? 0) < ($1.record.startedAt?.seconds ?? 0) }
        let pending = records.filter { $0.folder == .pending }
        lines.append("spoold  \(Timestamp(seconds: now).rfc3339.prefix(19))Z  running \(running.count)  pending \(pending.count)")
        lines.append("")
        lines.append("RUNNING")
        if running.isEmpty { lines.append("  (none)") }
        for l in running.prefix(20) {
            let r = l.record
            let p = r.progress
            let elapsed = r.startedAt.map { now - $0.seconds }
            let eta = p.etaSeconds.map { "eta \(humanDuration($0))" } ?? "eta -"
            let counts = p.total > 1 ? " \(p.succeeded + p.failed + p.skipped)/\(p.total)" : ""
            let status = l.effectiveStatus == .paused ? " (paused)" : ""
            lines.append("  \(r.id.rawValue.prefix(36).padding(toLength: 36, withPad: " ", startingAt: 0)) \(bar(p.percent)) \(String(format: "%5.1f%%", p.percent))\(counts)  \(humanDuration(elapsed))  \(eta)\(status)\(p.message.map { "  \($0)" } ?? "")")
        }
        lines.append("")
        lines.append("PENDING BY QUEUE")
        var byQueue: [String: Int] = [:]
        for l in pending { byQueue[l.record.spec?.effectiveQueue ?? "default", default: 0] += 1 }
        if byQueue.isEmpty { lines.append("  (none)") }
        for (q, n) in byQueue.sorted(by: { $0.key < $1.key }) { lines.append("  \(q.padding(toLength: 20, withPad: " ", startingAt: 0)) \(n)") }
        lines.append("")
        lines.append("RECENT FAILURES")
        let failures = records.filter { $0.folder == .done && [.failed, .partial, .rejected].contains($0.record.status) }
            .sorted { ($0.record.finishedAt?.seconds ?? 0) > ($1.record.finishedAt?.seconds ?? 0) }.prefix(5)
        if failures.isEmpty { lines.append("  (none)") }
        for l in failures {
            let r = l.record
            lines.append("  \(r.id.rawValue.prefix(36).padding(toLength: 36, withPad: " ", startingAt: 0)) \(r.status.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)) \(r.error?.message.prefix(80) ?? "")")
        }
        return lines.joined(separator: "\n")
    }

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let once = args.flag("--once")
        let interval = try args.double("--interval", min: 0.1) ?? 1
        _ = try args.positionals()
        let client = try openSpool(spool)
        let tty = isTerminal
        while true {
            let text = frame(client.records(), now: Date().timeIntervalSince1970)
            // On a terminal: home the cursor and clear, then draw; otherwise frames follow each other.
            print(tty ? "\u{1B}[H\u{1B}[2J" + text : text + (once ? "" : "\n"))
            fflush(nil)
            if once { return Exit.ok }
            usleep(useconds_t(interval * 1_000_000))
        }
    }
}
