// spoolctl prune: removes finished records older than a given age, with their output files and
// kept originals. Only done/ is touched; pending and running jobs are never removed.
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
        Prints how many were removed (--dry-run: the ids that would be, and how many).
        --json: {"removed": N, "dry_run": bool, "ids": [ID...]}
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
        _ = try args.positionals()
        let client = try openSpool(spool)
        let cutoff = Date().timeIntervalSince1970 - age
        var ids: [String] = []
        for l in client.records(in: [.done]) {
            let r = l.record
            guard let finished = r.finishedAt?.seconds ?? Optional(r.submittedAt.seconds), finished < cutoff else { continue }
            if !statuses.isEmpty && !statuses.contains(r.status.rawValue) { continue }
            ids.append(r.id.rawValue)
            if dryRun {
                if !json { print(r.id) }
                continue
            }
            client.removeFinished(r)
        }
        if json {
            printJSON(["removed": .integer(dryRun ? 0 : ids.count), "dry_run": .bool(dryRun), "ids": .array(ids.map { .string($0) })])
        } else {
            print("\(dryRun ? "would remove" : "removed") \(plural(ids.count, "finished job")) older than \(ageText)")
        }
        return Exit.ok
    }
}
