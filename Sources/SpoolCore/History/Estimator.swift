// The cost preview of `spoolctl estimate` (a pure function, tested as a table): when a job would
// start and end, by playing the scheduler forward on the daemon's real width. Each job is a
// number of units (one for a command job, its operations for a batch) of a known length, run at
// most `width` at a time, each unit taking `cpus` worker slots and counting against its queue's
// limit; jobs ahead (running, then pending in priority and arrival order) take slots first, and a
// later job may use a slot an earlier one cannot (as the scheduler does).
import Foundation

public enum Estimator {
    public struct Job: Sendable, Equatable {
        public var queue: String
        public var cpus: Int
        /// Most units at once (a batch's max_parallel; 1 for a command job).
        public var width: Int
        /// Length of each unit still to start, in order.
        public var units: [Double]
        /// Remaining time of units running now.
        public var running: [Double]

        public init(queue: String = "default", cpus: Int = 1, width: Int = 1, units: [Double], running: [Double] = []) {
            self.queue = queue
            self.cpus = max(1, cpus)
            self.width = max(1, width)
            self.units = units
            self.running = running
        }
    }

    public struct Result: Sendable, Equatable {
        /// Seconds from now until its first unit starts, and until its last ends.
        public var start: Double
        public var finish: Double
        public var duration: Double { finish - start }
    }

    /// The width a batch really gets: the smallest of max_parallel, the workers (in its cpus),
    /// its queue's limit and its operations.
    public static func width(maxParallel: Int, operations: Int, cpus: Int, workers: Int, queueLimit: Int?) -> Int {
        max(1, min(maxParallel, max(1, workers / max(1, cpus)), queueLimit ?? Int.max, max(1, operations)))
    }

    /// Plays `ahead` then `job` on `workers` slots; nil if the job can never start (it needs more
    /// slots than there are).
    public static func simulate(workers: Int, queueLimits: [String: Int], ahead: [Job], job: Job) -> Result? {
        let jobs = ahead + [job]
        let me = jobs.count - 1
        guard job.cpus <= workers else { return nil }
        var next = [Int](repeating: 0, count: jobs.count)      // next unit to start, per job
        var active = [Int](repeating: 0, count: jobs.count)    // units running, per job
        var inQueue: [String: Int] = [:]
        var free = workers
        // Running units: (end time, job).
        var running: [(end: Double, job: Int)] = []
        for (j, a) in jobs.enumerated() {
            for r in a.running {
                running.append((max(0, r), j))
                active[j] += 1
                inQueue[a.queue, default: 0] += 1
                free -= a.cpus
            }
        }
        var now = 0.0
        var start: Double? = nil
        var last = 0.0
        while true {
            // Start what fits, in order.
            for (j, a) in jobs.enumerated() {
                while next[j] < a.units.count, active[j] < a.width, free >= a.cpus,
                      inQueue[a.queue, default: 0] < (queueLimits[a.queue] ?? Int.max) {
                    running.append((now + max(0, a.units[next[j]]), j))
                    next[j] += 1
                    active[j] += 1
                    inQueue[a.queue, default: 0] += 1
                    free -= a.cpus
                    if j == me {
                        if start == nil { start = now }
                        last = max(last, running.last!.end)
                    }
                }
            }
            if next[me] == jobs[me].units.count && active[me] == 0 {
                return Result(start: start ?? now, finish: max(last, now))
            }
            guard let soonest = running.min(by: { $0.end < $1.end }) else { return nil }
            now = soonest.end
            // Everything ending now frees its slots.
            running.removeAll { r in
                guard r.end <= now else { return false }
                active[r.job] -= 1
                inQueue[jobs[r.job].queue, default: 1] -= 1
                free += jobs[r.job].cpus
                return true
            }
        }
    }

    /// The length of one unit of a job named like this, from its recent succeeded runs: for a
    /// batch, each run's wall time over the waves it took (`ceil(operations / width)`), which
    /// counts what it costs to start an operation too; else each run's time. Nil without history.
    public static func unitSeconds(_ runs: [HistorySummary.Run], batch: Bool, last n: Int = 10) -> Double? {
        let recent = runs.suffix(n)
        var values: [Double] = []
        for r in recent {
            if batch {
                if let ops = r.operations, ops > 0, let w = r.width, w > 0 {
                    values.append(r.seconds / Double((ops + w - 1) / w))
                } else if let per = r.operationSeconds {
                    values.append(per)
                }
            } else if r.operations == nil {
                values.append(r.seconds)
            }
        }
        guard !values.isEmpty else { return nil }
        return values.reduce(0, +) / Double(values.count)
    }
}
