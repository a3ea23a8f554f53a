// A job as the engine holds it: its record (the state file's content) and where it is in its
// life. The folder its file is in and the status its record shows follow from the state alone
// (`folder`, `status`); `Engine.render` is the one place a record's status is set.

/// Where a held job is in its life, with what that state needs.
enum JobState: Sendable, Equatable {
    /// In pending/, in the scheduler's queue (not before `record.runAfter`).
    case queued
    /// In pending/, waiting for its `after` dependencies (in the dependency graph).
    case blocked
    /// Picked by the dispatcher: the rename pending/ → running/ is under way.
    case starting
    /// In running/: its attempt, or a batch's operations, run (or are paused).
    case running(Run)
    /// Its record is being written: final to done/, or back to pending/. `from` is the folder
    /// its state file is in until then.
    case ending(Ending, from: SpoolFolder)

    /// A running job.
    struct Run: Sendable, Equatable {
        /// Paused by `pause`: its processes are stopped, nothing new starts.
        var isPaused = false
        /// For a command job: its attempt has been launched (the executor has a handle).
        var isLaunched = false
    }

    enum Ending: Sendable, Equatable {
        case final(JobStatus)
        case requeue
    }

    /// The status a record in this state shows.
    var status: JobStatus {
        switch self {
        case .queued, .blocked, .starting: return .pending
        case .running(let run): return run.isPaused ? .paused : .running
        case .ending(.final(let status), _): return status
        case .ending(.requeue, _): return .pending
        }
    }

    /// The folder its state file is in.
    var folder: SpoolFolder {
        switch self {
        case .queued, .blocked, .starting: return .pending
        case .running: return .running
        case .ending(_, let from): return from
        }
    }

    /// Started and not yet let go: holds a slot, or has a record on its way out of running/.
    var isActive: Bool {
        switch self {
        case .starting, .running, .ending(_, .running): return true
        default: return false
        }
    }

    var isRunning: Bool {
        if case .running = self { return true }
        return false
    }
}

/// Everything the engine knows of one held job.
struct EngineJob: Sendable {
    var record: JobRecord
    var state: JobState
    /// Control requests (file names in control/) that stay until this job has ended.
    var controls: [FileName] = []
    /// `cancel` was asked: a job being claimed ends at its start, one requeued meanwhile ends pending.
    var cancelRequested = false
    /// `delete` was asked: once its final record is durable, the record and outputs are removed.
    var deleteWhenEnded = false
    /// The record has news that running/<id>.json does not show yet.
    var isDirty = false
    /// A wake-up for a batch operation's retry is armed for this time.
    var retryWake: Timestamp?
    /// The progress last told to the event log.
    var progressEmitted: Progress?
    /// Rewrites of running/<id>.json (reported for batches).
    var stateWrites = 0
    /// When running/<id>.json was last rewritten (a big batch's is rewritten less often).
    var lastStateWrite: Timestamp?

    /// A running batch's operations (kept beside the state, not in it, so that a big batch's
    /// operations change in place: `jobs[id]!.batch!.started(...)`).
    var batch: BatchState?
    /// Live restore: the batch's operations (positions) whose attempts run under supervisors of
    /// their own; a stopping daemon leaves them running, and the next one adopts them.
    var handedOver: Set<Int> = []
}

/// One attempt the executor runs for the engine: a command job's, or operation `operation` (its
/// position in the batch) of a batch.
public struct AttemptKey: Hashable, Sendable, CustomStringConvertible {
    public var id: JobID
    public var operation: Int?

    public init(_ id: JobID, operation: Int? = nil) {
        self.id = id
        self.operation = operation
    }

    public var description: String { operation.map { "\(id)#\($0)" } ?? id.rawValue }
}
