// spoolctl list: jobs newest first, as a table or JSON, with filters.
import Foundation
import SpoolCore

enum List: Command {
    static let name = "list"
    static let usage = """
        Usage: spoolctl list [--state pending|running|done] [--status STATUS] [--queue Q] [--name NAME]
                             [--label K=V] [--since TIME|DURATION] [--limit N] [--offset N] [--json]

        Lists jobs newest first (by submission time).
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = args.flag("--json")
        let state = try args.value("--state")
        let status = try args.value("--status")
        let queue = try args.value("--queue")
        let name = try args.value("--name")
        let labels = try args.values("--label")
        let since = try args.value("--since")
        let limit = try args.int("--limit", min: 0)
        let offset = try args.int("--offset", min: 0) ?? 0
        _ = try args.positionals()
        var folders = SpoolFolder.allCases
        if let state {
            guard let f = SpoolFolder(rawValue: state) else { throw UsageError(message: "--state must be pending, running or done") }
            folders = [f]
        }
        if let status, JobStatus(rawValue: status) == nil {
            throw UsageError(message: "--status must be one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        var labelFilter: [(String, String)] = []
        for l in labels {
            guard let eq = l.firstIndex(of: "=") else { throw UsageError(message: "--label must be K=V, got \"\(l)\"") }
            labelFilter.append((String(l[..<eq]), String(l[l.index(after: eq)...])))
        }
        var sinceTime: Double? = nil
        if let since {
            if let t = Timestamp(rfc3339: since) { sinceTime = t.seconds }
            else if let age = Prune.seconds(since) { sinceTime = Date().timeIntervalSince1970 - age }
            else { throw UsageError(message: "--since must be an RFC 3339 time or a duration such as 30m, 24h; got \"\(since)\"") }
        }
        let client = try openSpool(spool)
        var found = client.records(in: folders).filter { r in
            if let status, r.effectiveStatus.rawValue != status { return false }
            if let sinceTime, r.record.submittedAt.seconds < sinceTime { return false }
            if let queue, (r.record.spec?.effectiveQueue ?? "default") != queue { return false }
            if let name, r.record.name != name { return false }
            for (k, v) in labelFilter where r.record.spec?.labels?[k] != v { return false }
            return true
        }
        found.sort { a, b in
            a.record.submittedAt != b.record.submittedAt ? a.record.submittedAt > b.record.submittedAt : a.record.sequence > b.record.sequence
        }
        let page = Array(found.dropFirst(offset).prefix(limit ?? Int.max))
        if json {
            print(jsonText(page.map { l -> JobRecord in
                var r = l.record
                r.status = l.effectiveStatus
                return r
            }))
            return Exit.ok
        }
        let rows = page.map { l -> [String] in
            let r = l.record
            return [r.id.rawValue, l.effectiveStatus.rawValue, r.name, String(r.attempts), r.submittedAt.rfc3339,
                    humanDuration(r.durationSeconds), r.error?.code.rawValue ?? ""]
        }
        print(table(["ID", "STATUS", "NAME", "ATTEMPTS", "SUBMITTED", "DURATION", "ERROR"], rows))
        return Exit.ok
    }
}
