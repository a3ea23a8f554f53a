// spoolctl estimate FILE: how long the job will take, from the mean of the most recent finished
// jobs with the same name, and when it would finish given what is running and pending ahead of
// it (jobs of the same or higher priority), spread over the workers.
import Foundation
import SpoolCore
import SpoolJSON

enum Estimate: Command {
    static let name = "estimate"
    static let summary = "expected duration and finish time of a job file"
    static let usage = """
        Usage: spoolctl estimate FILE [--workers N] [--history N] [--json]

        Predicts the job's duration from the last N (default 10) succeeded jobs with the same name,
        and its finish time given the running and pending work ahead of it on N workers (default:
        the number of CPUs, as spoold's default). Exit 1 (human output) when there is no history.
        --json (exit 0 whenever FILE is valid; the same keys with or without history, null when unknown):
          {"name", "samples", "history", "workers", "expected_duration_seconds", "ahead_seconds",
           "expected_start_at", "expected_finish_at"}
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let workers = try args.int("--workers", min: 1) ?? ProcessInfo.processInfo.activeProcessorCount
        let history = try args.int("--history", min: 1) ?? 10
        let files = try args.positionals()
        guard files.count == 1 else { throw UsageError(message: "give one job FILE") }
        guard let data = FileManager.default.contents(atPath: files[0]) else { throw CommandFailure(message: "cannot read \(files[0])") }
        let spec: JobSpec
        switch JobSpec.parse([UInt8](data), file: files[0]) {
        case .success(let s): spec = s
        case .failure(let p): throw CommandFailure(message: p.problems.map(\.message).joined(separator: "; "))
        }
        let name = spec.name ?? URL(fileURLWithPath: files[0]).deletingPathExtension().lastPathComponent
        let client = try openSpool(spool)
        let all = client.records()
        let model = DurationModel(records: all, history: history)
        let now = Date().timeIntervalSince1970
        // Work ahead: what is left of running jobs, plus pending jobs of the same or higher priority.
        var ahead = 0.0
        for l in all where l.folder != .done {
            let mean = model.mean(for: l.record.name) ?? model.overall ?? 0
            if l.folder == .running {
                let elapsed = l.record.startedAt.map { now - $0.seconds } ?? 0
                ahead += max(0, mean - elapsed)
            } else if (l.record.spec?.effectivePriority ?? 0) >= spec.effectivePriority {
                ahead += mean
            }
        }
        let expected = model.mean(for: name)
        let start = now + ahead / Double(workers)
        let samples = model.samples(for: name)
        let startAt = Timestamp(seconds: start).rfc3339
        let finishAt = expected.map { Timestamp(seconds: start + $0).rfc3339 }
        if json {
            printJSON(["name": .string(name), "samples": .integer(samples), "history": .integer(history), "workers": .integer(workers),
                       "expected_duration_seconds": .num(expected), "ahead_seconds": .num(ahead),
                       "expected_start_at": .string(startAt), "expected_finish_at": .str(finishAt)])
            return Exit.ok
        }
        guard let expected else {
            print("no finished job named \"\(name)\" yet: no estimate (work ahead: \(humanDuration(ahead)) on \(plural(workers, "worker")))")
            return Exit.failure
        }
        print("name:      \(name) (\(plural(samples, "recent run")))")
        print("duration:  \(humanDuration(expected))")
        print("starts:    \(startAt) (work ahead: \(humanDuration(ahead)) on \(plural(workers, "worker")))")
        print("finishes:  \(finishAt ?? "-")")
        return Exit.ok
    }
}

/// Mean durations of the most recent succeeded jobs, per name.
struct DurationModel {
    private var byName: [String: [Double]] = [:]
    let overall: Double?

    init(records: [LocatedRecord], history: Int) {
        var runs: [String: [(Double, Double)]] = [:]
        var all: [Double] = []
        for l in records where l.folder == .done && l.record.status == .succeeded {
            guard let d = l.record.durationSeconds, let f = l.record.finishedAt else { continue }
            runs[l.record.name, default: []].append((f.seconds, d))
            all.append(d)
        }
        for (name, list) in runs {
            byName[name] = list.sorted { $0.0 > $1.0 }.prefix(history).map(\.1)
        }
        overall = all.isEmpty ? nil : all.reduce(0, +) / Double(all.count)
    }

    func mean(for name: String) -> Double? {
        guard let d = byName[name], !d.isEmpty else { return nil }
        return d.reduce(0, +) / Double(d.count)
    }

    func samples(for name: String) -> Int { byName[name]?.count ?? 0 }
}
