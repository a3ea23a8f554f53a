// spoolctl list: jobs newest first, as a table or JSON, with filters. A filter given several
// times matches any of its values; different filters must all match.
import Foundation
import SpoolCore
import SpoolJSON

enum List: Command {
    static let name = "list"
    static let summary = "list jobs newest first, filtered; or count them"
    static let usage = """
        Usage: spoolctl list [--state pending|running|done]... [--status STATUS]... [--queue Q]... [--name NAME]...
                             [--label K=V]... [--since TIME|DURATION] [--limit N] [--offset N] [--count] [--json]

        Lists jobs newest first (by submission time). A filter given several times matches any of
        its values (--status failed --status partial); different filters must all match; --label
        matches jobs with every label given. --count prints only how many jobs match.
        When no daemon holds the spool, a line on stderr says so.
        --json: {"daemon_running": bool, "total": N, "offset": N, "limit": N|null, "jobs": [RECORD...]}
                (total counts every match, before --offset and --limit)
        --count --json: {"count": N, "daemon_running": bool}
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let count = try args.flag("--count")
        let states = try args.values("--state")
        let statuses = try args.values("--status")
        let queues = Set(try args.values("--queue"))
        let names = Set(try args.values("--name"))
        let labels = try args.values("--label")
        let since = try args.value("--since")
        let limit = try args.int("--limit", min: 0)
        let offset = try args.int("--offset", min: 0) ?? 0
        _ = try args.positionals()
        var folders: [SpoolFolder] = []
        for state in states {
            guard let f = SpoolFolder(rawValue: state) else { throw UsageError(message: "--state must be pending, running or done, got \"\(state)\"") }
            if !folders.contains(f) { folders.append(f) }
        }
        if folders.isEmpty { folders = SpoolFolder.allCases }
        var statusFilter: Set<JobStatus> = []
        for s in statuses {
            guard let status = JobStatus(rawValue: s) else {
                throw UsageError(message: "--status must be one of \(JobStatus.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(s)\"")
            }
            statusFilter.insert(status)
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
        let running = daemonRunning(client, quiet: json)
        func matches(status: JobStatus, submitted: Double, queue: String, name: String, labels: [String: String]?) -> Bool {
            if !statusFilter.isEmpty, !statusFilter.contains(status) { return false }
            if let sinceTime, submitted < sinceTime { return false }
            if !queues.isEmpty, !queues.contains(queue) { return false }
            if !names.isEmpty, !names.contains(name) { return false }
            for (k, v) in labelFilter where labels?[k] != v { return false }
            return true
        }
        // Pending and running jobs from their folders (the live work); finished ones from the
        // history index, newest first, read only as far as the page needs.
        let active = client.records(in: folders.filter { $0 != .done }).filter { r in
            matches(status: r.effectiveStatus, submitted: r.record.submittedAt.seconds, queue: r.record.spec?.effectiveQueue ?? "default",
                    name: r.record.name, labels: r.record.spec?.labels)
        }
        let view = folders.contains(.done) ? HistoryView.openOrScan(client) : nil
        let page = HistoryPage.collect(view, active: active, offset: offset, limit: count ? 0 : limit, client: client,
                                    exactTotal: json || count, cheapTotal: labelFilter.isEmpty && sinceTime == nil && names.isEmpty
                                        ? view?.summary.held(statuses: statusFilter, queues: queues) : nil) { e in
            matches(status: e.status, submitted: e.submittedAt, queue: e.queue, name: e.name, labels: e.labels)
        }
        if count {
            if json { printJSON(["count": .integer(page.total), "daemon_running": .bool(running)]) } else { print(page.total) }
            return Exit.ok
        }
        let found = page
        if json {
            let jobs = page.jobs.map { l -> JSONValue in
                var r = l.record
                r.status = l.effectiveStatus
                return jsonValue(r)
            }
            printJSON(["daemon_running": .bool(running), "total": .integer(found.total), "offset": .integer(offset),
                       "limit": limit.map { .integer($0) } ?? .null, "jobs": .array(jobs)])
            return Exit.ok
        }
        let rows = page.jobs.map { l -> [String] in
            let r = l.record
            return [r.id.rawValue, l.effectiveStatus.rawValue, r.name, String(r.attempts), r.submittedAt.rfc3339,
                    humanDuration(r.durationSeconds), r.error?.code.rawValue ?? ""]
        }
        print(table(["ID", "STATUS", "NAME", "ATTEMPTS", "SUBMITTED", "DURATION", "ERROR"], rows))
        return Exit.ok
    }
}
