// spoolctl estimate FILE: how long the job will take and when it would end, from the history
// index (the recent runs of jobs with the same name, paused time excluded; for a batch, the
// time per wave of operations, so the cost of starting each one counts), the number of its
// operations, the width it really gets (max_parallel, the daemon's workers and its queue's
// limit, as the daemon wrote them into the index), and the work ahead of it (running jobs'
// remaining time, pending jobs of the same or higher priority), played forward by Estimator.
import Foundation
import SpoolCore
import SpoolJSON

enum Estimate: Command {
    static let name = "estimate"
    static let summary = "expected duration and finish time of a job file"
    static let usage = """
        Usage: spoolctl estimate FILE [--workers N] [--history N] [--json]

        Predicts the job's duration from the last N (default 10) succeeded jobs with the same name
        (paused time left out; a batch from its time per wave of operations) on the width it gets:
        the smallest of max_parallel, the daemon's workers (in the job's cpus), its queue's limit
        and its operations. The workers and queue limits are those the daemon runs with (from the
        spool's history index); --workers overrides them. Its finish time plays the running and
        pending work ahead of it (same or higher priority) forward on those workers. Exit 1 (human
        output) when there is no history.
        --json (exit 0 whenever FILE is valid; the same keys with or without history, null when unknown):
          {"name", "samples", "history", "workers", "width", "operations", "queue_limit", "unit_seconds",
           "expected_duration_seconds", "ahead_seconds", "expected_start_at", "expected_finish_at", "spool_paused"}
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let workersFlag = try args.int("--workers", min: 1)
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
        let view = HistoryView.openOrScan(client)
        let width = view.summary.width
        let workers = workersFlag ?? width?.workers ?? ProcessInfo.processInfo.activeProcessorCount
        let limits = width?.queueLimits ?? [:]
        let now = Date().timeIntervalSince1970
        let model = UnitModel(view: view, history: history)

        // Work ahead: running jobs first (what is left of them), then pending jobs of the same or
        // higher priority, in the order the scheduler takes them.
        let active = client.records(in: [.pending, .running])
        var ahead: [Estimator.Job] = []
        for l in active where l.folder == .running { ahead.append(model.job(l.record, workers: workers, limits: limits, now: now, running: true)) }
        let pending = active.filter { $0.folder == .pending && ($0.record.spec?.effectivePriority ?? 0) >= spec.effectivePriority }
            .sorted { a, b in
                let pa = a.record.spec?.effectivePriority ?? 0, pb = b.record.spec?.effectivePriority ?? 0
                return pa != pb ? pa > pb : a.record.sequence < b.record.sequence
            }
        for l in pending { ahead.append(model.job(l.record, workers: workers, limits: limits, now: now, running: false)) }

        let operations = spec.operations?.count ?? 1
        let cpus = spec.effectiveCPUs
        let jobWidth = spec.isBatch
            ? Estimator.width(maxParallel: spec.effectiveMaxParallel, operations: operations, cpus: cpus, workers: workers, queueLimit: limits[spec.effectiveQueue])
            : 1
        let unit = model.unit(name, batch: spec.isBatch)
        let me = Estimator.Job(queue: spec.effectiveQueue, cpus: cpus, width: jobWidth, units: Array(repeating: unit ?? 0, count: operations))
        let result = Estimator.simulate(workers: workers, queueLimits: limits, ahead: ahead, job: me)
        let expected = unit == nil ? nil : result?.duration
        let samples = model.samples(name, batch: spec.isBatch)
        let startAt = result.map { Timestamp(seconds: now + $0.start).rfc3339 }
        let finishAt = expected == nil ? nil : result.map { Timestamp(seconds: now + $0.finish).rfc3339 }
        let paused = access(client.layout.pausedPath, F_OK) == 0
        if json {
            printJSON(["name": .string(name), "samples": .integer(samples), "history": .integer(history), "workers": .integer(workers),
                       "width": .integer(jobWidth), "operations": .integer(operations), "queue_limit": limits[spec.effectiveQueue].map { .integer($0) } ?? .null,
                       "unit_seconds": .num(unit), "expected_duration_seconds": .num(expected), "ahead_seconds": .num(result?.start),
                       "expected_start_at": .str(startAt), "expected_finish_at": .str(finishAt), "spool_paused": .bool(paused)])
            return Exit.ok
        }
        guard let result else { throw CommandFailure(message: "the job needs \(cpus) cpus and the daemon has \(plural(workers, "worker")): it can never start") }
        let aheadText = "work ahead: \(humanDuration(result.start)) on \(plural(workers, "worker"))"
        guard let expected else {
            print("no finished job named \"\(name)\" yet: no estimate (\(aheadText))")
            return Exit.failure
        }
        print("name:      \(name) (\(plural(samples, "recent run")))")
        if spec.isBatch {
            print("duration:  \(humanDuration(expected)) (\(plural(operations, "operation")), \(jobWidth) at a time, \(humanDuration(unit)) per wave)")
        } else {
            print("duration:  \(humanDuration(expected))")
        }
        print("starts:    \(startAt ?? "-") (\(aheadText))\(paused ? "; the spool is paused now" : "")")
        print("finishes:  \(finishAt ?? "-")")
        return Exit.ok
    }
}

/// Unit lengths by name, from the index: the per-name recent runs, else every run's mean.
struct UnitModel {
    let view: HistoryView
    let history: Int

    func runs(_ name: String) -> [HistorySummary.Run] {
        if let a = view.summary.names[name] { return a.recent }
        return []
    }

    func unit(_ name: String, batch: Bool) -> Double? {
        Estimator.unitSeconds(runs(name), batch: batch, last: history)
    }

    func samples(_ name: String, batch: Bool) -> Int {
        runs(name).suffix(history).filter { batch ? $0.operations != nil : $0.operations == nil }.count
    }

    /// A job ahead as the estimator sees it.
    func job(_ r: JobRecord, workers: Int, limits: [String: Int], now: Double, running: Bool) -> Estimator.Job {
        let spec = r.spec
        let queue = spec?.effectiveQueue ?? "default"
        let cpus = spec?.effectiveCPUs ?? 1
        let batch = spec?.isBatch == true
        let unit = self.unit(r.name, batch: batch)
            ?? (batch ? view.summary.all.operations.meanSeconds : view.summary.all.durations.mean) ?? 0
        guard batch else {
            if running {
                let elapsed = r.startedAt.map { now - $0.seconds } ?? 0
                return Estimator.Job(queue: queue, cpus: cpus, units: [], running: [max(0, unit - elapsed)])
            }
            return Estimator.Job(queue: queue, cpus: cpus, units: [unit])
        }
        let total = r.progress.total
        let width = Estimator.width(maxParallel: spec?.effectiveMaxParallel ?? 1, operations: total, cpus: cpus, workers: workers,
                                    queueLimit: limits[queue])
        guard running else { return Estimator.Job(queue: queue, cpus: cpus, width: width, units: Array(repeating: unit, count: total)) }
        var runningOps: [Double] = []
        if let ops = r.operations {
            for op in ops where op.status == .running {
                runningOps.append(max(0, unit - (op.startedAt.map { now - $0.seconds } ?? 0)))
            }
        } else {
            runningOps = Array(repeating: unit / 2, count: r.progress.running)
        }
        let done = r.progress.succeeded + r.progress.failed + r.progress.skipped
        let left = max(0, total - done - runningOps.count)
        return Estimator.Job(queue: queue, cpus: cpus, width: width, units: Array(repeating: unit, count: left), running: runningOps)
    }
}
