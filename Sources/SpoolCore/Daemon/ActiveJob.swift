// A job the daemon has started: its running record and, once spawned, its process.

/// The in-memory side of a job in running/.
struct ActiveJob: Sendable {
    var record: JobRecord
    /// A command job's running attempt (nil for a batch, and before its start).
    var attempt: (any RunningAttempt)?
    /// True while `record` has news that running/<id>.json does not show yet.
    var isDirty = true
    /// For batches: the operations' state, their processes and the checkpoint journal.
    var batch: BatchState?
    var operationAttempts: [Int: any RunningAttempt] = [:]
    var journal: BatchJournal?
    /// A wake-up for an operation's retry is armed for this time.
    var retryWake: Timestamp?
    /// Rewrites of running/<id>.json (reported for batches).
    var stateWrites = 0
    /// Modification time of the SPOOL_PROGRESS file when last read.
    var progressSeen: Double = 0
    /// The progress last told to the event log.
    var progressEmitted: Progress?

    init(record: JobRecord, attempt: (any RunningAttempt)?) {
        self.record = record
        self.attempt = attempt
    }

    var attempts: [any RunningAttempt] { (attempt.map { [$0] } ?? []) + Array(operationAttempts.values) }
}

/// An attempt that ended, waiting for the finisher to write its record.
struct Completion: Sendable {
    var id: JobID
    var record: JobRecord
    var termination: Termination
    var teardown: TeardownReason?
    var endedAt: Timestamp
    /// Set when the outcome is already decided (a batch's end); otherwise resolved from `termination`.
    var resolved: AttemptResult.Next? = nil
    /// Its record could not be written for lack of space and its outputs were cut to make room.
    var outputsCut = false
}
