// spoolctl prune: removes finished records older than a given age, with their output files and
// kept originals. Only done/ is touched; pending and running jobs are never removed. The removal
// is the daemon's: one `delete` control request per record, so that the history index (which
// keeps their history as aggregates) never drifts from done/; without a daemon the requests wait.
import Foundation
import SpoolCore
import SpoolJSON

enum Prune: Command {
    static let name = "prune"
    static let summary = "remove old finished records and their files"
    static let usage = """
        Usage: spoolctl prune --older-than DURATION [--status STATUS]... [--dry-run] [--json]

        Removes records in done/ that finished more than DURATION ago (e.g. 90s, 30m, 24h, 7d),
        with their output files. --status (repeatable: any of them) limits it to those statuses.
        The daemon removes them (a delete request each, in control/); with a daemon running, waits
        (up to --timeout, default 30 s) and prints how many were removed; without one, the requests
        wait in control/ until it starts. --dry-run: the ids that would be removed, and how many.
        Their runs stay in `stats` and `estimate` (as aggregates).
        --json: {"removed": N, "requested": N, "dry_run": bool, "daemon_running": bool, "ids": [ID...]}
        """

    /// Seconds in "90", "90s", "30m", "24h", "7d".
    static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let last = text.last, let unit = units[last], let n = Double(text.dropLast()), n >= 0 { return n * unit }
        if let n = Double(text), n >= 0 { return n }
        return nil
    }

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        guard let ageText = try args.value("--older-than") else { throw UsageError(message: "--older-than DURATION is required") }
        guard let age = seconds(ageText) else { throw UsageError(message: "--older-than must be a duration such as 90s, 30m, 24h or 7d, got \"\(ageText)\"") }
        let statuses = try args.values("--status")
        for s in statuses where JobStatus(rawValue: s)?.isTerminal != true {
            throw UsageError(message: "--status must be a finished status (succeeded, failed, partial, cancelled, rejected), got \"\(s)\"")
        }
        let dryRun = try args.flag("--dry-run")
        let timeout = try args.double("--timeout", min: 0) ?? 30
        _ = try args.positionals()
        let client = try openSpool(spool, create: !dryRun)
        let cutoff = Date().timeIntervalSince1970 - age
        var ids: [JobID] = []
        HistoryView.openOrScan(client).held { e in
            guard (e.finishedAt ?? e.submittedAt) < cutoff else { return true }
            if !statuses.isEmpty && !statuses.contains(e.status.rawValue) { return true }
            if let id = JobID(e.id) { ids.append(id) }
            return true
        }
        ids.reverse()  // oldest first
        if dryRun {
            if json {
                printJSON(["removed": 0, "requested": 0, "dry_run": true, "daemon_running": .bool(daemonRunning(client, quiet: true)),
                           "ids": .array(ids.map { .string($0.rawValue) })])
            } else {
                for id in ids { print(id) }
                print("would remove \(plural(ids.count, "finished job")) older than \(ageText)")
            }
            return Exit.ok
        }
        // A record gone already (removed by hand) gets no request: it would wait for a new job of that id.
        ids.removeAll { client.finishedRecord($0) == nil }
        var requests: [(JobID, String)] = []
        for id in ids { requests.append((id, try client.dropControl(ControlRequest(action: .delete, id: id)))) }
        let running = daemonRunning(client, quiet: true)
        var removed = 0
        if running {
            let deadline = Date().addingTimeInterval(timeout)
            var left = requests
            while true {
                left.removeAll { client.finishedRecord($0.0) == nil && access($0.1, F_OK) != 0 }
                if left.isEmpty || Date() >= deadline { break }
                usleep(50_000)
            }
            removed = ids.count - left.count
        }
        if json {
            printJSON(["removed": .integer(removed), "requested": .integer(ids.count), "dry_run": false, "daemon_running": .bool(running),
                       "ids": .array(ids.map { .string($0.rawValue) })])
        } else if running {
            print("removed \(plural(removed, "finished job")) older than \(ageText)")
        } else {
            print("asked to remove \(plural(ids.count, "finished job")) older than \(ageText)")
            if !ids.isEmpty { printNote(noDaemonSentence(client) + "; the delete requests wait in control/ until it starts") }
        }
        if running && removed < ids.count {
            throw CommandFailure(message: "\(ids.count - removed) of \(ids.count) records still there after \(humanSeconds(timeout)); the requests wait in control/")
        }
        return Exit.ok
    }
}
