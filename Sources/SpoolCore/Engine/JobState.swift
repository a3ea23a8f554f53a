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

/// Everything the engine knows of one held job. Its fields live in one heap box, shared until
/// written (copy on write): the engine's `jobs` dictionary keeps a pointer per bucket instead of the
/// whole 1 KB value, which with a dictionary's spare buckets was about 2 KB per held job (a backlog
/// of 100,000 pending jobs, bench `backlog`). Writes go through `_modify`, in place when the box is
/// not shared, so that a big batch's operations still change in place: `jobs[id]!.batch!.started(...)`.
struct EngineJob: Sendable {
    struct Fields: Sendable {
        var record: JobRecord
        var state: JobState
        var controls: [FileName] = []
        var cancelRequested = false
        var deleteWhenEnded = false
        var isDirty = false
        var retryWake: Timestamp?
        var progressEmitted: Progress?
        var stateWrites = 0
        var lastStateWrite: Timestamp?
        var batch: BatchState?
        var handedOver: Set<Int> = []
    }

    /// Written only through `fields`'s `_modify` after a uniqueness check, hence unchecked.
    private final class Box: @unchecked Sendable {
        var fields: Fields
        init(_ fields: Fields) { self.fields = fields }
    }

    private var box: Box

    init(record: JobRecord, state: JobState) {
        box = Box(Fields(record: record, state: state))
    }

    /// All fields, read from the box, written in place (after a copy if the box is shared).
    private var fields: Fields {
        get { box.fields }
        _modify {
            if !isKnownUniquelyReferenced(&box) { box = Box(box.fields) }
            yield &box.fields
        }
    }

    var record: JobRecord {
        get { box.fields.record }
        _modify { yield &fields.record }
    }
    var state: JobState {
        get { box.fields.state }
        _modify { yield &fields.state }
    }
    /// Control requests (file names in control/) that stay until this job has ended.
    var controls: [FileName] {
        get { box.fields.controls }
        _modify { yield &fields.controls }
    }
    /// `cancel` was asked: a job being claimed ends at its start, one requeued meanwhile ends pending.
    var cancelRequested: Bool {
        get { box.fields.cancelRequested }
        _modify { yield &fields.cancelRequested }
    }
    /// `delete` was asked: once its final record is durable, the record and outputs are removed.
    var deleteWhenEnded: Bool {
        get { box.fields.deleteWhenEnded }
        _modify { yield &fields.deleteWhenEnded }
    }
    /// The record has news that running/<id>.json does not show yet.
    var isDirty: Bool {
        get { box.fields.isDirty }
        _modify { yield &fields.isDirty }
    }
    /// A wake-up for a batch operation's retry is armed for this time.
    var retryWake: Timestamp? {
        get { box.fields.retryWake }
        _modify { yield &fields.retryWake }
    }
    /// The progress last told to the event log.
    var progressEmitted: Progress? {
        get { box.fields.progressEmitted }
        _modify { yield &fields.progressEmitted }
    }
    /// Rewrites of running/<id>.json (reported for batches).
    var stateWrites: Int {
        get { box.fields.stateWrites }
        _modify { yield &fields.stateWrites }
    }
    /// When running/<id>.json was last rewritten (a big batch's is rewritten less often).
    var lastStateWrite: Timestamp? {
        get { box.fields.lastStateWrite }
        _modify { yield &fields.lastStateWrite }
    }
    /// A running batch's operations (kept beside the state, not in it, so that a big batch's
    /// operations change in place: `jobs[id]!.batch!.started(...)`).
    var batch: BatchState? {
        get { box.fields.batch }
        _modify { yield &fields.batch }
    }
    /// Live restore: the batch's operations (positions) whose attempts run under supervisors of
    /// their own; a stopping daemon leaves them running, and the next one adopts them.
    var handedOver: Set<Int> {
        get { box.fields.handedOver }
        _modify { yield &fields.handedOver }
    }
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
