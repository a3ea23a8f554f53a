// spoolctl prune: removes finished records older than a given age, with their output files and
// kept originals. Only done/ is touched; pending and running jobs are never removed.
import Foundation
import SpoolCore

enum Prune: Command {
    static let name = "prune"
    static let usage = """
        Usage: spoolctl prune --older-than DURATION [--status STATUS]... [--dry-run]

        Removes records in done/ that finished more than DURATION ago (e.g. 90s, 30m, 24h, 7d),
        with their output files. --status limits it to those statuses. Prints how many were removed.
        """

    /// Seconds in "90", "90s", "30m", "24h", "7d".
    static func seconds(_ text: String) -> Double? {
        let units: [Character: Double] = ["s": 1, "m": 60, "h": 3600, "d": 86400]
        if let last = text.last, let unit = units[last], let n = Double(text.dropLast()), n >= 0 { return n * unit }
        if let n = Double(text), n >= 0 { return n }
        return nil
    }

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        guard let ageText = try args.value("--older-than") else { throw UsageError(message: "--older-than DURATION is required") }
        guard let age = seconds(ageText) else { throw UsageError(message: "--older-than must be a duration such as 90s, 30m, 24h or 7d, got \"\(ageText)\"") }
        let statuses = try args.values("--status")
        for s in statuses where JobStatus(rawValue: s)?.isTerminal != true {
            throw UsageError(message: "--status must be a finished status (succeeded, failed, partial, cancelled, rejected), got \"\(s)\"")
        }
        let dryRun = args.flag("--dry-run")
        _ = try args.positionals()
        let client = try openSpool(spool)
        let cutoff = Date().timeIntervalSince1970 - age
        var removed = 0
        for l in client.records(in: [.done]) {
            let r = l.record
            guard let finished = r.finishedAt?.seconds ?? Optional(r.submittedAt.seconds), finished < cutoff else { continue }
            if !statuses.isEmpty && !statuses.contains(r.status.rawValue) { continue }
            removed += 1
            if dryRun { print(r.id); continue }
            client.removeFinished(r)
        }
        print("\(dryRun ? "would remove" : "removed") \(removed) finished jobs older than \(ageText)")
        return Exit.ok
    }
}
