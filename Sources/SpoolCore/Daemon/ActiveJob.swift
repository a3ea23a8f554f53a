// A job the daemon has started: its running record and, once spawned, its process.

/// The in-memory side of a job in running/.
struct ActiveJob: Sendable {
    var record: JobRecord
    var child: ChildProcess?
    /// True while `record` has news that running/<id>.json does not show yet.
    var isDirty = true
}

/// An attempt that ended, waiting for the finisher to write its record.
struct Completion: Sendable {
    var id: JobID
    var record: JobRecord
    var termination: Termination
    var teardown: TeardownReason?
    var endedAt: Timestamp
}
