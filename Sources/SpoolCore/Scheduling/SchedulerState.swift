// Every scheduling decision, as a pure value: which pending job starts next (higher priority
// first, FIFO by arrival within a priority, nothing before its `run_after`), what is running,
// and whether the daemon is stopping. No I/O and no clock: callers pass `now`. Jobs removed
// while queued (cancel) leave stale heap entries that are skipped when popped.

/// A pending job as the scheduler sees it.
public struct QueuedJob: Sendable, Equatable {
    public var id: JobID
    public var priority: Int
    public var sequence: Int64
    public var runAfter: Timestamp?
    public var queue: String

    public init(id: JobID, priority: Int, sequence: Int64, runAfter: Timestamp?, queue: String = "default") {
        self.id = id
        self.priority = priority
        self.sequence = sequence
        self.runAfter = runAfter
        self.queue = queue
    }

    public init(_ record: JobRecord) {
        self.init(id: record.id, priority: record.spec?.effectivePriority ?? 0, sequence: record.sequence,
                  runAfter: record.runAfter, queue: record.spec?.effectiveQueue ?? "default")
    }
}

public struct SchedulerState: Sendable {
    /// Ready order: higher priority first, then lower sequence (earlier arrival).
    struct ReadyKey: Comparable, Sendable {
        var priority: Int
        var sequence: Int64
        var id: JobID
        static func < (a: ReadyKey, b: ReadyKey) -> Bool {
            if a.priority != b.priority { return a.priority > b.priority }
            if a.sequence != b.sequence { return a.sequence < b.sequence }
            return a.id < b.id
        }
    }

    struct WakeKey: Comparable, Sendable {
        var at: Timestamp
        var id: JobID
        static func < (a: WakeKey, b: WakeKey) -> Bool { a.at != b.at ? a.at < b.at : a.id < b.id }
    }

    private var ready = Heap<ReadyKey>()
    private var delayed = Heap<WakeKey>()
    /// Pending jobs by id (ready or delayed); the heaps may hold stale keys for removed ones.
    private(set) var queued: [JobID: QueuedJob] = [:]
    /// Jobs being started or running.
    public private(set) var running: Set<JobID> = []
    public private(set) var isStopping = false

    public init() {}

    public var pendingCount: Int { queued.count }
    public var runningCount: Int { running.count }
    public var isIdle: Bool { queued.isEmpty && running.isEmpty }

    /// A job entered pending/ (accepted, requeued, or loaded at start).
    public mutating func jobQueued(_ job: QueuedJob, now: Timestamp) {
        guard queued[job.id] == nil, !running.contains(job.id) else { return }
        queued[job.id] = job
        if let at = job.runAfter, at > now {
            delayed.push(WakeKey(at: at, id: job.id))
        } else {
            ready.push(ReadyKey(priority: job.priority, sequence: job.sequence, id: job.id))
        }
    }

    /// What the dispatcher should do now.
    public enum Pick: Equatable, Sendable {
        case start(JobID)
        /// Nothing can start; look again at this time (nil: only when something changes).
        case wait(until: Timestamp?)
        case stop
    }

    /// Takes the next job to start, if any; it counts as running from here on.
    public mutating func pick(now: Timestamp) -> Pick {
        if isStopping { return .stop }
        while let top = delayed.min, top.at <= now {
            _ = delayed.pop()
            if let job = queued[top.id], job.runAfter == top.at {
                ready.push(ReadyKey(priority: job.priority, sequence: job.sequence, id: job.id))
            }
        }
        while let top = ready.pop() {
            guard let job = queued[top.id], job.sequence == top.sequence, job.priority == top.priority else { continue }
            if let at = job.runAfter, at > now { continue }  // re-delayed meanwhile
            queued[top.id] = nil
            running.insert(job.id)
            return .start(job.id)
        }
        // Skip stale wake-ups so the dispatcher does not wake for nothing.
        while let top = delayed.min, queued[top.id]?.runAfter != top.at { _ = delayed.pop() }
        return .wait(until: delayed.min?.at)
    }

    /// A started job is finished (its final or requeued record is durable) or could not start.
    public mutating func jobEnded(_ id: JobID) {
        running.remove(id)
    }

    /// Removes a pending job (cancelled); false if it is not pending.
    public mutating func removeQueued(_ id: JobID) -> Bool {
        queued.removeValue(forKey: id) != nil
    }

    public mutating func stopRequested() {
        isStopping = true
    }
}
