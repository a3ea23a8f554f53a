// Jobs waiting for their `after` dependencies (SPEC §3), as a pure value. A waiting job is not in
// the scheduler's queue at all; it enters it when its last dependency succeeds, and ends failed
// when one of them ends otherwise. A job whose arrival would close a cycle is refused.

public struct DependencyGraph: Sendable {
    struct Waiting: Sendable {
        var job: QueuedJob
        var remaining: Set<JobID>
    }

    private var waiting: [JobID: Waiting] = [:]
    private var waiters: [JobID: Set<JobID>] = [:]

    public init() {}

    public var count: Int { waiting.count }
    public var isEmpty: Bool { waiting.isEmpty }
    public func isWaiting(_ id: JobID) -> Bool { waiting[id] != nil }

    /// Waiting jobs per queue (they are pending too), for metrics.
    public func countsPerQueue() -> [String: Int] {
        var out: [String: Int] = [:]
        for w in waiting.values { out[w.job.queue, default: 0] += 1 }
        return out
    }

    /// Adds a job that waits for `dependencies` (none of them finished yet). Returns the cycle
    /// (job, ..., job) instead, without adding, if the job would wait for itself through others.
    public mutating func add(_ job: QueuedJob, waitingFor dependencies: Set<JobID>) -> [JobID]? {
        if let cycle = path(from: dependencies, to: job.id) { return [job.id] + cycle }
        waiting[job.id] = Waiting(job: job, remaining: dependencies)
        for d in dependencies { waiters[d, default: []].insert(job.id) }
        return nil
    }

    /// A path of waiting jobs from one of `starts` to `target`, if there is one.
    private func path(from starts: Set<JobID>, to target: JobID) -> [JobID]? {
        var parent: [JobID: JobID?] = [:]
        var stack: [JobID] = []
        for s in starts.sorted() where parent[s] == nil {
            parent[s] = .some(nil)
            stack.append(s)
        }
        while let node = stack.popLast() {
            if node == target {
                var p: [JobID] = []
                var cur: JobID? = node
                while let c = cur {
                    p.append(c)
                    cur = parent[c] ?? nil
                }
                return p.reversed()
            }
            for next in (waiting[node]?.remaining ?? []).sorted() where parent[next] == nil {
                parent[next] = .some(node)
                stack.append(next)
            }
        }
        return nil
    }

    /// A job ended. Returns the jobs now free to run and those that must fail because of it.
    public mutating func ended(_ id: JobID, succeeded: Bool) -> (ready: [QueuedJob], failed: [JobID]) {
        guard let ws = waiters.removeValue(forKey: id) else { return ([], []) }
        var ready: [QueuedJob] = []
        var failed: [JobID] = []
        for w in ws.sorted() {
            guard var entry = waiting[w] else { continue }
            if !succeeded {
                _ = remove(w)
                failed.append(w)
                continue
            }
            entry.remaining.remove(id)
            if entry.remaining.isEmpty {
                waiting[w] = nil
                ready.append(entry.job)
            } else {
                waiting[w] = entry
            }
        }
        return (ready, failed)
    }

    /// Removes a waiting job (cancelled); false if it was not waiting.
    public mutating func remove(_ id: JobID) -> Bool {
        guard let entry = waiting.removeValue(forKey: id) else { return false }
        for d in entry.remaining {
            waiters[d]?.remove(id)
            if waiters[d]?.isEmpty == true { waiters[d] = nil }
        }
        return true
    }
}
