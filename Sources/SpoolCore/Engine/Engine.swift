// The engine: every decision about the jobs the daemon holds, as a pure value. It takes events
// (EngineEvent) with `now` and a random number, changes its state, and returns what must be done
// (EngineAction): no I/O, no clock, no lock inside. The runtime (Daemon) owns it behind one lock,
// feeds it events and carries out its actions outside that lock.
//
// What it holds: each job from its acceptance to its durable end (EngineJob: the record and a
// JobState), the scheduler's ready queues and slots (SchedulerState), the jobs waiting for their
// dependencies (DependencyGraph), a running batch's operations (BatchState, in its Run), and,
// beyond a window of queued jobs per queue, pending jobs by their place in line only
// (PendingBacklog: their records are read back from pending/ when their turn nears).
// An impossible transition is a bug and stops the daemon naming the state; bad input never is.

struct Engine: Sendable {
    var scheduler = SchedulerState()
    var dependencies = DependencyGraph()
    var jobs: [JobID: EngineJob] = [:]
    /// Accepted jobs held without their records (Engine+Backlog.swift).
    var backlog: PendingBacklog
    /// The held jobs that are active (JobState.isActive): what the running-state writer, tear-downs
    /// and counts look at, without walking a big backlog. Kept by `update`, `hold` and `release`.
    private(set) var active = Set<JobID>()
    /// Control requests (files in control/) that wait for their job's end.
    var waitingControls: Set<FileName> = []
    /// Jobs whose end's record could not be written (a full disk, most likely): nothing new starts
    /// until they are written. A job's slots are free once its process is gone, so without this
    /// brake every job of the backlog would start and end with a record it cannot write (and be
    /// marked failed for the disk, even one that exited 0).
    var failingWrites: Set<JobID> = []
    /// The arrival order given to batch operations as they are queued (above every job's seen so far).
    var operationSequence: Int64 = 0
    /// SIGTERM/SIGINT/--drain: no new starts; running jobs finish or are stopped.
    var isStopping = false
    /// The grace period is over: every attempt is being stopped.
    var isTearingDown = false
    /// The spool has GPUs configured: every run gets CUDA_VISIBLE_DEVICES (maybe empty).
    let hasGPUs: Bool
    /// Live restore (SPEC §6): command jobs run under supervisors and are left running when the
    /// daemon stops; the next daemon adopts them.
    let liveRestore: Bool

    /// Queued jobs per queue held with their records before new ones are parked: at about 2 KB a
    /// record, 2,048 of them are 4 MB, and as many starts take two seconds or more.
    static let defaultPendingWindow = 2048

    init(queueLimits: [String: Int] = [:], workers: Int = Int.max, gpus: [String] = [], liveRestore: Bool = false,
         remoteQueues: Set<String> = [], pendingWindow: Int = Engine.defaultPendingWindow) {
        backlog = PendingBacklog(window: pendingWindow)
        scheduler.queueLimits = queueLimits
        scheduler.remoteQueues = remoteQueues
        scheduler.capacity = max(1, workers)
        scheduler.setGPUs(gpus)
        hasGPUs = !gpus.isEmpty
        self.liveRestore = liveRestore
    }

    // MARK: - Events

    /// Handles one event. `random` is a number in 0..<1 for retry jitter. Parked jobs are read
    /// back after any event that may have emptied a queue's window.
    mutating func handle(_ event: EngineEvent, now: Timestamp, random: Double = 0.5) -> [EngineAction] {
        let actions = decide(event, now: now, random: random)
        guard !backlog.isEmpty else { return actions }
        return actions + refillFromBacklog()
    }

    private mutating func decide(_ event: EngineEvent, now: Timestamp, random: Double) -> [EngineAction] {
        switch event {
        case .accepted(let records, let finished, let unseen):
            return accept(records, finished: finished, unseen: unseen, now: now)
        case .parkedAtStart(let found, let last):
            return parkedAtStart(found, last: last)
        case .parkedLoaded(let records, let missing):
            return parkedLoaded(records, missing: missing, now: now)
        case .dependencyFound(let id, let status):
            return dependencyEnded(id, status: status, now: now)
        case .recovered(let record):
            return recovered(record, now: now)
        case .adopted(let record):
            return adopted(record)
        case .adoptedBatch(let record, let operations):
            return adoptedBatch(record, operations: operations, now: now, random: random)
        case .claimed(let id):
            return claimed(id, now: now)
        case .claimFailed(let id, let retryIn):
            return claimFailed(id, retryIn: retryIn, now: now)
        case .launched(let key, let info):
            return launched(key, info)
        case .launchFailed(let id, let error, let executor):
            return launchFailed(id, error, executor: executor, now: now, random: random)
        case .attemptEnded(let id, let end, let diskFull):
            return attemptEnded(id, end, diskFull: diskFull, now: now, random: random)
        case .operationEnded(let key, let outcome, let stdout, let stderr, let usage, let executor):
            return operationEnded(key, outcome, stdout: stdout, stderr: stderr, usage: usage, executor: executor, now: now, random: random)
        case .checkpointed(let id):
            return checkpointed(id, now: now)
        case .operationInterrupted(let key):
            return operationInterrupted(key, now: now)
        case .written(let ids):
            return written(ids, now: now)
        case .writeFailed(let id, let diskFull):
            return writeFailed(id, diskFull: diskFull)
        case .progressReported(let id, let reported):
            guard jobs[id]?.state.isRunning == true else { return [] }
            jobs[id]!.record.progress = reported.progress(startedAt: jobs[id]!.record.startedAt, now: now)
            jobs[id]!.isDirty = true
            return []
        case .timer(.batchRetry(let id)):
            guard jobs[id] != nil else { return [] }
            jobs[id]!.retryWake = nil
            return pump(id, now: now)
        case .timer(.shutdownGrace), .tearDown:
            return tearDownAll()
        case .shutdown(let reason, let grace):
            return shutdown(reason: reason, graceSeconds: grace, now: now)
        case .reload(let limits, let workers):
            scheduler.queueLimits = limits
            scheduler.capacity = max(1, workers)
            return []
        }
    }

    // MARK: - Queries

    /// The record of a held job as its state file shows it: the one place a status is set.
    func render(_ id: JobID) -> JobRecord? {
        guard let job = jobs[id] else { return nil }
        return Self.render(job)
    }

    static func render(_ job: EngineJob) -> JobRecord {
        var r = job.record
        r.status = job.state.status
        if let batch = job.batch { r.operations = batch.operations }
        return r
    }

    /// Whether the engine holds `id`, with its record or parked.
    func holds(_ id: JobID) -> Bool { jobs[id] != nil || backlog.holds(id) }
    func state(of id: JobID) -> JobState? { jobs[id]?.state }

    /// Nothing is held: no job pending, waiting, running or being written.
    var isIdle: Bool { jobs.isEmpty && backlog.isEmpty }

    /// Counts for STATUS= and logs: started and running, pending (queued or waiting), paused.
    var counts: (running: Int, pending: Int, paused: Int) {
        let paused = active.filter { if case .running(let run) = jobs[$0]?.state { return run.isPaused } else { return false } }.count
        return (active.count, jobs.count - active.count + backlog.count, paused)
    }

    /// Jobs per status and queue, for metrics.
    func countsPerQueue() -> [JobStatus: [String: Int]] {
        var out: [JobStatus: [String: Int]] = [:]
        for job in jobs.values {
            let queue = job.record.spec?.effectiveQueue ?? "default"
            let status: JobStatus = switch job.state {
            case .queued, .blocked, .ending(_, .pending): .pending
            case .running(let run) where run.isPaused: .paused
            default: .running
            }
            out[status, default: [:]][queue, default: 0] += 1
        }
        for (queue, n) in backlog.perQueue { out[.pending, default: [:]][queue, default: 0] += n }
        return out
    }

    /// "2 running jobs" or "1 running job (a batch with 3 operations running)".
    var runningSummary: String {
        var count = 0, batches = 0, operations = 0
        for id in active {
            guard let job = jobs[id], job.state.isRunning else { continue }
            count += 1
            if let b = job.batch {
                batches += 1
                operations += b.runningCount
            }
        }
        var text = plural(count, "running job")
        if batches > 0 { text += " (\(plural(batches, "batch", "batches")) with \(plural(operations, "operation")) running)" }
        return text
    }

    /// Attempts that run now (for tear-downs and output caps), with the output names they write.
    func runningAttempts() -> [(key: AttemptKey, stdout: String, stderr: String)] {
        var out: [(AttemptKey, String, String)] = []
        for id in active {
            guard let job = jobs[id], case .running(let run) = job.state else { continue }
            if let batch = job.batch {
                for i in batch.inFlight where batch.operations[i].status == .running {
                    let shown = batch.operations[i].index
                    out.append((AttemptKey(id, operation: i), JobFiles.operationStdout(id, shown), JobFiles.operationStderr(id, shown)))
                }
            } else if run.isLaunched {
                out.append((AttemptKey(id), JobFiles.stdout(id), JobFiles.stderr(id)))
            }
        }
        return out
    }

    /// Command jobs that run now (their progress files are read).
    var runningCommandJobs: [JobID] {
        active.filter { id in
            if let job = jobs[id], case .running(let run) = job.state, job.batch == nil, run.isLaunched { return true }
            return false
        }
    }

    // MARK: - Helpers for the transitions

    /// Changes a held job; a job that is not held here is a bug of the caller.
    mutating func update(_ id: JobID, _ body: (inout EngineJob) -> Void) {
        guard jobs[id] != nil else { preconditionFailure("engine: job \(id) is not held") }
        body(&jobs[id]!)
        if jobs[id]!.state.isActive { active.insert(id) } else { active.remove(id) }
    }

    mutating func hold(_ job: EngineJob) {
        jobs[job.record.id] = job
        if job.state.isActive { active.insert(job.record.id) }
        operationSequence = max(operationSequence, job.record.sequence)
    }

    mutating func release(_ id: JobID) {
        jobs[id] = nil
        active.remove(id)
    }

    /// A transition that cannot happen from `state`: a bug, stopped here with the state named.
    func impossible(_ what: String, _ id: JobID) -> Never {
        preconditionFailure("engine: \(what) for job \(id) in state \(String(describing: jobs[id]?.state))")
    }
}
