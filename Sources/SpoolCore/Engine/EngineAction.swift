// What the engine asks the runtime to do. The runtime carries them out in order, outside the
// engine's lock, and reports back with events (`written`, `launched`, `attemptEnded`...).
import SpoolJSON

enum EngineAction: Sendable {
    /// Start a command job's attempt.
    case launch(AttemptKey, ProcessPlan)
    /// Start a batch operation's command attempt.
    case launchOperation(AttemptKey, ProcessPlan)
    /// Run a built-in operation (on a thread of its own).
    case runBuiltin(AttemptKey, type: String, params: JSONValue, label: String, queue: String)
    /// Stop, pause or resume an attempt (nothing if the executor has no such attempt).
    case tearDown(AttemptKey, TeardownReason)
    case pause(AttemptKey)
    case resume(AttemptKey)
    /// A worker the dispatcher took is free again without a process having ended.
    case freeWorker
    /// Write a job's record: final to done/ or back to pending/ (see `RecordWrite`).
    case write(RecordWrite)
    /// The same, `seconds` later (a write that failed is tried again).
    case writeLater(RecordWrite, seconds: Double)
    /// Read parked jobs' records back from pending/ and report them (`parkedLoaded`).
    case loadParked([JobID])
    /// Rewrite a pending job's record in pending/ (why it waits).
    case rewritePending(JobRecord)
    /// Rewrite running/<id>.json with the record's news.
    case rewriteRunning(JobRecord)
    /// Open, append to, or close a batch's checkpoint journal in running/. `sync`: durable before going on.
    case openJournal(JobID)
    case journal(JobID, OperationRecord, sync: Bool)
    /// Append an operation attempt's end to the batch's journal, then report `checkpointed`: the
    /// batch queues more only after that, so a crash never loses a finished operation that a
    /// later one could overtake.
    case checkpoint(JobID, OperationRecord)
    /// Move a finished job's staged follow-up (on_complete) into the inbox.
    case releaseFollowUp(JobRecord)
    /// Remove a control request that waited for its job's end.
    case removeControl(FileName)
    /// Remove a finished job's record and outputs (`delete` of a job that had not ended).
    case removeFinished(JobRecord, why: String)
    /// A job ended: count it (metrics, ttl).
    case countFinished(JobRecord)
    /// Tell the event log.
    case emit(JobID, JobStatus, String, [EventField])
    case log(Log.Level, String)
    /// Send `timer` back after `seconds`.
    case arm(EngineTimer, seconds: Double)
    /// Every job is stopped or has its record: exit once the writes queued before are done.
    case exit
}

/// One extra field of an event.
struct EventField: Sendable {
    var key: String
    var value: JSONValue
    init(_ key: String, _ value: JSONValue) {
        self.key = key
        self.value = value
    }
}

/// A record to make durable, and what goes with it.
struct RecordWrite: Sendable {
    var record: JobRecord
    /// done/ (final) or pending/ (requeued).
    var to: SpoolFolder
    /// Where its state file is now (removed once the new one is durable).
    var from: SpoolFolder
    /// For a command job that ran: the attempt whose outputs are moved next to the record.
    var attempt: Int?
    /// Its outputs were cut to make room on a full disk: do not cut them again.
    var outputsCut = false
}
