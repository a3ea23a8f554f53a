// spoolctl report: the spool's history as one self-contained HTML page (ReportPage), from the
// history index: the lines of the period (default the last 7 days) and the summary.
import Foundation
import SpoolCore
import SpoolJSON

enum Report: Command {
    static let name = "report"
    static let summary = "write an HTML page of the spool's history with charts"
    static let usage = """
        Usage: spoolctl report [--out FILE] [--since TIME|DURATION] [--json]

        Writes one self-contained HTML file (inline SVG, nothing fetched): jobs finished per hour
        (per day beyond two weeks) by status, run time per name, failure rate per name, jobs
        waiting over time per queue, the slowest and the failing names. To stdout without --out.
        --since: the period (default 7d).
        --json (with --out): {"out": FILE, "finished": N, "since": TIME, "bytes": N}
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let out = try args.value("--out")
        let sinceText = try args.value("--since") ?? "7d"
        _ = try args.positionals()
        if json && out == nil { throw UsageError(message: "--json needs --out FILE (the page itself goes to stdout otherwise)") }
        let now = Date().timeIntervalSince1970
        let since: Double
        if let t = Timestamp(rfc3339: sinceText) { since = t.seconds }
        else if let age = Prune.seconds(sinceText) { since = now - age }
        else { throw UsageError(message: "--since must be an RFC 3339 time or a duration such as 30m, 24h, 7d; got \"\(sinceText)\"") }
        let client = try openSpool(spool)
        let view = HistoryView.openOrScan(client)
        var entries: [HistoryEntry] = []
        view.finished(since: since) { entries.append($0) }
        let active = client.records(in: [.pending, .running])
        let page = ReportPage.html(.init(entries: entries, summary: view.summary, since: since, now: now,
                                         pending: active.filter { $0.folder == .pending }.count,
                                         running: active.filter { $0.folder == .running }.count, spool: client.layout.root))
        guard let out else {
            FileHandle.standardOutput.write(Data(page.utf8))
            return Exit.ok
        }
        do {
            try Data(page.utf8).write(to: URL(fileURLWithPath: out), options: .atomic)
        } catch {
            throw CommandFailure(message: "cannot write \(out): \(error)")
        }
        if json {
            printJSON(["out": .string(out), "finished": .integer(entries.count), "since": .string(Timestamp(seconds: since).rfc3339),
                       "bytes": .integer(page.utf8.count)])
        } else {
            print("wrote \(out): \(plural(entries.count, "finished job")) since \(Timestamp(seconds: since).rfc3339)")
        }
        return Exit.ok
    }
}
