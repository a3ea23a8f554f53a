// Every scheduling decision, as a pure value: which pending job starts next (higher priority
// first, FIFO by arrival within a priority, nothing before its `run_after`), what is running,
// and whether the daemon is stopping. No I/O and no clock: callers pass `now`. Jobs removed
// while queued (cancel) leave stale heap entries that are skipped when popped.

/// What the dispatcher starts: a job, or one operation of a running batch. A batch's operations
/// wait in the same order as jobs (its priority, then arrival), so a big batch never starves
/// the rest of the spool: each operation re-enters the queue behind work that arrived earlier.
public enum WorkItem: Hashable, Sendable, Comparable {
    case job(JobID)
    case operation(JobID, Int)

    public var jobID: JobID {
        switch self {
        case .job(let id), .operation(let id, _): return id
        }
    }

    public static func < (a: WorkItem, b: WorkItem) -> Bool {
        switch (a, b) {
        case (.job(let x), .job(let y)): return x < y
        case (.job, .operation): return true
        case (.operation, .job): return false
        case (.operation(let x, let i), .operation(let y, let j)): return x != y ? x < y : i < j
        }
    }
}

/// A pending job (or batch operation) as the scheduler sees it.
public struct QueuedJob: Sendable, Equatable {
    public var item: WorkItem
    public var id: JobID { item.jobID }
    public var priority: Int
    public var sequence: Int64
    public var runAfter: Timestamp?
    public var queue: String
    /// A batch job holds no worker itself (its operations do), so it does not count against queue limits.
    public var isBatch = false
    /// Worker slots and GPUs one run takes (`resources`; a batch's operations each take them).
    public var cpus = 1
    public var gpus = 0
    public var isOperation: Bool {
        if case .operation = item { return true }
        return false
    }

    public init(id: JobID, priority: Int, sequence: Int64, runAfter: Timestamp?, queue: String = "default") {
        self.init(item: .job(id), priority: priority, sequence: sequence, runAfter: runAfter, queue: queue)
    }

    public init(item: WorkItem, priority: Int, sequence: Int64, runAfter: Timestamp?, queue: String = "default") {
        self.item = item
        self.priority = priority
        self.sequence = sequence
        self.runAfter = runAfter
        self.queue = queue
    }

    public init(_ record: JobRecord) {
        self.init(id: record.id, priority: record.spec?.effectivePriority ?? 0, sequence: record.sequence,
                  runAfter: record.runAfter, queue: record.spec?.effectiveQueue ?? "default")
        isBatch = record.spec?.isBatch ?? false
        if !isBatch {
            cpus = record.spec?.effectiveCPUs ?? 1
            gpus = record.spec?.effectiveGPUs ?? 0
        }
    }
}

public struct SchedulerState: Sendable {
    /// A place in line: higher priority first, then lower sequence (earlier arrival). The one order
    /// of pending work, for the ready queues and the parked backlog (PendingBacklog) alike.
    struct Place: Comparable, Sendable {
        var priority: Int
        var sequence: Int64
        static func < (a: Place, b: Place) -> Bool {
            a.priority != b.priority ? a.priority > b.priority : a.sequence < b.sequence
        }
    }

    /// Ready order: by place, then by item (a tie-break only).
    struct ReadyKey: Comparable, Sendable {
        var priority: Int
        var sequence: Int64
        var item: WorkItem
        var place: Place { Place(priority: priority, sequence: sequence) }
        static func < (a: ReadyKey, b: ReadyKey) -> Bool {
            a.place != b.place ? a.place < b.place : a.item < b.item
        }
    }

    struct WakeKey: Comparable, Sendable {
        var at: Timestamp
        var item: WorkItem
        static func < (a: WakeKey, b: WakeKey) -> Bool { a.at != b.at ? a.at < b.at : a.item < b.item }
    }

    /// Ready items per queue, so that a saturated queue never blocks another queue's jobs.
    private var ready: [String: Heap<ReadyKey>] = [:]
    private var delayed = Heap<WakeKey>()
    /// Pending jobs by id (ready or delayed); the heaps may hold stale keys for removed ones.
    private(set) var queued: [WorkItem: QueuedJob] = [:]
    /// Pending jobs (not operations) per queue: how full a queue's window is (PendingBacklog).
    private var queuedJobsPerQueue: [String: Int] = [:]
    /// Jobs (and batch operations) being started or running; a batch counts from its start to its end.
    public private(set) var running: Set<WorkItem> = []
    public private(set) var isStopping = false
    /// Concurrency limits of named queues (the global --workers bound is the semaphore's).
    public var queueLimits: [String: Int] = [:]
    /// Queues whose jobs run on a remote engine (Slurm): they take no worker slot or GPU of this
    /// host, only their own `max_running`, and a dispatcher of their own picks them (`pick(remote:)`).
    public var remoteQueues: Set<String> = []
    /// Queues held by `spoolctl pause --queue`.
    public var pausedQueues: Set<String> = []
    /// Per queue, the place of the best job waiting outside the scheduler (parked, or being read
    /// back: PendingBacklog): nothing of that queue ranking below it starts until it is queued.
    var floors: [String: Place] = [:]
    /// Items counted against their queue's limit, and the counts.
    private var countedQueue: [WorkItem: String] = [:]
    public private(set) var runningPerQueue: [String: Int] = [:]
    /// Worker slots (`--workers`): the sum of what running items take stays within it.
    public var capacity = Int.max
    public private(set) var slotsInUse = 0
    /// The configured GPUs not given to a running item, and what each running item holds.
    public private(set) var freeGPUs: [String] = []
    private var totalGPUs = 0
    private var held: [WorkItem: (slots: Int, gpus: [String])] = [:]

    public init() {}

    /// Pending jobs (not batch operations) per queue, for metrics.
    public func pendingPerQueue() -> [String: Int] {
        var out: [String: Int] = [:]
        for j in queued.values where !j.isOperation { out[j.queue, default: 0] += 1 }
        return out
    }

    /// The GPUs jobs may be given (at start; a restart changes them).
    public mutating func setGPUs(_ devices: [String]) {
        freeGPUs = devices
        totalGPUs = devices.count
    }

    /// The GPUs a running item was given.
    public func gpus(of item: WorkItem) -> [String] { held[item]?.gpus ?? [] }

    /// How many operations of batch `id` (each taking `cpus` slots) could run at once, apart from
    /// its max_parallel: the slots not held by other work, within its queue's limit less what other
    /// jobs of the queue run (SPEC §4 `eta_seconds`). At least 1.
    public func room(for id: JobID, queue: String, cpus: Int) -> Int {
        if remoteQueues.contains(queue) {
            // The cluster's room is not known here: only the queue's own limit bounds it.
            var ownItems = 0
            for item in running where item.jobID == id && countedQueue[item] != nil { ownItems += 1 }
            return max(1, queueLimits[queue].map { $0 - (runningPerQueue[queue, default: 0] - ownItems) } ?? Int.max)
        }
        var ownSlots = 0, ownItems = 0
        for item in running where item.jobID == id {
            if countedQueue[item] != nil { ownItems += 1 }  // the batch item itself is not counted in its queue
            ownSlots += held[item]?.slots ?? 0
        }
        var operations = (capacity - (slotsInUse - ownSlots)) / max(1, min(cpus, capacity))
        if let limit = queueLimits[queue] {
            operations = min(operations, limit - (runningPerQueue[queue, default: 0] - ownItems))
        }
        return max(1, operations)
    }

    /// Whether `job` fits in what is free now. A job that could never fit (a shrink of the workers
    /// after it was accepted) takes the whole capacity when nothing else runs, rather than wait forever.
    private func fits(_ job: QueuedJob) -> Bool {
        if remoteQueues.contains(job.queue) { return true }
        let slots = job.isBatch ? 0 : min(job.cpus, capacity)
        let gpus = min(job.gpus, totalGPUs)
        return (slotsInUse + slots <= capacity || slotsInUse == 0) && gpus <= freeGPUs.count
    }

    public var pendingCount: Int { queued.count }
    /// Pending jobs (not operations) of `queue`.
    public func queuedJobs(in queue: String) -> Int { queuedJobsPerQueue[queue, default: 0] }

    /// The place (priority, sequence) of the best item of `queue` that is due, stale heap entries
    /// above it dropped; nil if none is (all wait for a later time, or none is queued).
    mutating func bestReady(in queue: String) -> (priority: Int, sequence: Int64, id: JobID)? {
        while let top = ready[queue]?.min {
            if let job = queued[top.item], job.sequence == top.sequence, job.priority == top.priority {
                return (top.priority, top.sequence, top.item.jobID)
            }
            _ = ready[queue]!.pop()
            if ready[queue]!.isEmpty { ready[queue] = nil }
        }
        return nil
    }
    public var runningCount: Int { running.count }
    public var isIdle: Bool { queued.isEmpty && running.isEmpty }

    /// A job entered pending/ (accepted, requeued, or loaded at start).
    public mutating func jobQueued(_ job: QueuedJob, now: Timestamp) {
        guard queued[job.item] == nil, !running.contains(job.item) else { return }
        queued[job.item] = job
        if !job.isOperation { queuedJobsPerQueue[job.queue, default: 0] += 1 }
        if let at = job.runAfter, at > now {
            delayed.push(WakeKey(at: at, item: job.item))
        } else {
            ready[job.queue, default: Heap()].push(ReadyKey(priority: job.priority, sequence: job.sequence, item: job.item))
        }
    }

    private func isOpen(_ queue: String) -> Bool {
        if pausedQueues.contains(queue) { return false }
        guard let limit = queueLimits[queue] else { return true }
        return runningPerQueue[queue, default: 0] < limit
    }

    /// The best ready item among open queues (remote ones, or local ones), with stale heap entries dropped on the way.
    private mutating func popReady(now: Timestamp, remote: Bool) -> QueuedJob? {
        var best: (queue: String, key: ReadyKey)? = nil
        for name in ready.keys where remoteQueues.contains(name) == remote {
            guard var heap = ready[name] else { continue }
            while let top = heap.min {
                if let job = queued[top.item], job.sequence == top.sequence, job.priority == top.priority,
                   job.runAfter.map({ $0 <= now }) ?? true {
                    break
                }
                _ = heap.pop()
            }
            ready[name] = heap.isEmpty ? nil : heap
            guard let top = heap.min, isOpen(name) || queued[top.item]?.isBatch == true else { continue }
            if let floor = floors[name], floor < top.place {
                continue  // a better job of this queue is parked or on its way back
            }
            if best == nil || top < best!.key { best = (name, top) }
        }
        guard let best else { return nil }
        _ = ready[best.queue]?.pop()
        if ready[best.queue]?.isEmpty == true { ready[best.queue] = nil }
        return queued[best.key.item]
    }

    /// What the dispatcher should do now.
    public enum Pick: Equatable, Sendable {
        case start(WorkItem)
        /// Nothing can start; look again at this time (nil: only when something changes).
        case wait(until: Timestamp?)
        case stop
    }

    /// Takes the next job to start, if any; it counts as running from here on. `remote`: only from
    /// remote queues (their dispatcher holds no worker slot), else only from local ones.
    public mutating func pick(now: Timestamp, remote: Bool = false) -> Pick {
        if isStopping { return .stop }
        while let top = delayed.min, top.at <= now {
            _ = delayed.pop()
            if let job = queued[top.item], job.runAfter == top.at {
                ready[job.queue, default: Heap()].push(ReadyKey(priority: job.priority, sequence: job.sequence, item: job.item))
            }
        }
        if let job = popReady(now: now, remote: remote) {
            guard fits(job) else {
                // The first in line waits for room (as tsp -N): nothing overtakes it, so it cannot starve.
                ready[job.queue, default: Heap()].push(ReadyKey(priority: job.priority, sequence: job.sequence, item: job.item))
                return .wait(until: delayed.min?.at)
            }
            take(job)
            return .start(job.item)
        }
        // Skip stale wake-ups so the dispatcher does not wake for nothing.
        while let top = delayed.min, queued[top.item]?.runAfter != top.at { _ = delayed.pop() }
        return .wait(until: delayed.min?.at)
    }

    /// A job found running at start (adopted, live restore): it counts as running, with its slots.
    public mutating func adopt(_ job: QueuedJob) {
        guard !running.contains(job.item) else { return }
        take(job)
    }

    /// Marks `job` running and holds what it takes: its slots and GPUs (a batch holds none itself,
    /// its operations do; a remote queue's job none), and its place in its queue's limit.
    private mutating func take(_ job: QueuedJob) {
        unqueue(job.item)
        running.insert(job.item)
        let isRemote = remoteQueues.contains(job.queue)
        let slots = job.isBatch || isRemote ? 0 : min(job.cpus, capacity)
        let gpus = isRemote ? [] : Array(freeGPUs.prefix(min(job.gpus, totalGPUs)))
        freeGPUs.removeFirst(gpus.count)
        slotsInUse += slots
        if slots > 0 || !gpus.isEmpty { held[job.item] = (slots, gpus) }
        if !job.isBatch {
            countedQueue[job.item] = job.queue
            runningPerQueue[job.queue, default: 0] += 1
        }
    }

    /// A started job is finished (its final or requeued record is durable) or could not start.
    public mutating func jobEnded(_ id: JobID) {
        itemEnded(.job(id))
    }

    /// A started item ended (for operations: their batch goes on).
    public mutating func itemEnded(_ item: WorkItem) {
        running.remove(item)
        release(item)
    }

    /// A job's attempt ended (its process is gone, or never started): the slots, GPUs and place in
    /// its queue's limit it held are free for the next start at once, while the record of its end is
    /// still being written (the job stays started, `holds` it, until `jobEnded`). Nothing runs in
    /// them any more, so no limit is passed. (A record that cannot be written holds every start:
    /// `Engine.failingWrites`.) Idempotent (`itemEnded` releases too).
    public mutating func release(_ item: WorkItem) {
        if let h = held.removeValue(forKey: item) {
            slotsInUse -= h.slots
            freeGPUs += h.gpus
        }
        if let q = countedQueue.removeValue(forKey: item) {
            runningPerQueue[q, default: 1] -= 1
            if runningPerQueue[q] == 0 { runningPerQueue[q] = nil }
        }
    }

    /// Removes a pending item (cancelled, or a batch stopping); false if it is not pending.
    public mutating func removeQueued(_ id: JobID) -> Bool {
        unqueue(.job(id))
    }

    public mutating func removeQueued(_ item: WorkItem) -> Bool {
        unqueue(item)
    }

    @discardableResult
    private mutating func unqueue(_ item: WorkItem) -> Bool {
        guard let job = queued.removeValue(forKey: item) else { return false }
        if !job.isOperation {
            queuedJobsPerQueue[job.queue, default: 1] -= 1
            if queuedJobsPerQueue[job.queue] == 0 { queuedJobsPerQueue[job.queue] = nil }
        }
        return true
    }

    /// Pending operations of one batch (to take back when it stops).
    public func queuedOperations(of id: JobID) -> [Int] {
        queued.keys.compactMap { if case .operation(id, let i) = $0 { return i } else { return nil } }
    }

    /// Whether `queue` runs on a remote executor (Slurm).
    public func isRemote(_ queue: String) -> Bool { remoteQueues.contains(queue) }

    /// Whether a job is pending or running.
    public func holds(_ id: JobID) -> Bool {
        queued[.job(id)] != nil || running.contains(.job(id))
    }

    public mutating func stopRequested() {
        isStopping = true
    }
}
