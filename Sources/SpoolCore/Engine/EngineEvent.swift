// What happens to the daemon, as the engine hears it. The runtime (Daemon) turns inotify events,
// control files, executor reports, timers and signals into these, having done the I/O they need
// (reading a file, looking at done/), and passes `now` with each: the engine has no clock.
import SpoolJSON

enum EngineEvent: Sendable {
    /// Jobs whose records are in pending/ (accepted by intake, made by a retry, or found at start).
    /// `finished`: the statuses of their dependencies that have a record in done/;
    /// `unseen`: the dependencies the spool has never held.
    case accepted([JobRecord], finished: [JobID: JobStatus], unseen: Set<JobID>)
    /// Jobs found in pending/ at start that may be parked (the others come as `accepted`), in
    /// chunks: all are parked, and after the `last` chunk the best of each queue read back.
    case parkedAtStart([PendingBacklog.Parked], last: Bool)
    /// Parked jobs' records, read back from pending/ (`loadParked`, or for a control request);
    /// `missing`: those that could not be read.
    case parkedLoaded([JobRecord], missing: [JobID])
    /// A dependency's record was found in done/ (looked at again after jobs began waiting for it).
    case dependencyFound(JobID, JobStatus)
    /// A job found in running/ at start (a batch with its journal folded in): its attempt was
    /// interrupted, and it follows `on_interrupt`.
    case recovered(JobRecord)
    /// A job found in running/ at start whose attempt still runs under its supervisor (live
    /// restore): it is held as running, neither started again nor stopped. Its end comes later as
    /// `attemptEnded`, like any other.
    case adopted(JobRecord)
    /// A batch found in running/ at start (its journal folded in) some of whose operations' attempts
    /// still run under their supervisors, or ended while no daemon ran (live restore): it goes on
    /// running; those still running end later as `operationEnded`, the others are settled here.
    case adoptedBatch(JobRecord, [AdoptedOperation])
    /// The dispatcher claimed a job: its record is in running/ now (false: it could not be moved;
    /// `retryIn` seconds later it is tried again, nil when its file is gone).
    case claimed(JobID)
    case claimFailed(JobID, retryIn: Double?)
    /// The executor started an attempt (what it says about it goes into the record).
    case launched(AttemptKey, AttemptInfo)
    /// A command job's attempt could not start (a batch operation's ends through `operationEnded`).
    case launchFailed(JobID, SpoolError, ExecutorInfo)
    /// An attempt ended, or could not start (`Termination.notStarted`). `diskFull`: the spool's
    /// disk had no space left when it ended.
    case attemptEnded(JobID, AttemptEnd, diskFull: Bool)
    /// A batch operation's attempt ended, its outputs already placed in done/.
    case operationEnded(AttemptKey, BatchState.Outcome, stdout: String?, stderr: String?, usage: ResourceUsage?, executor: ExecutorInfo?)
    /// An operation's end is in its batch's journal (`checkpoint`): the batch goes on.
    case checkpointed(JobID)
    /// A batch operation was stopped by the daemon's shutdown.
    case operationInterrupted(AttemptKey)
    /// These jobs' records are durable where `write` actions put them.
    case written([JobID])
    /// A record could not be written; `diskFull`: for lack of space.
    case writeFailed(JobID, diskFull: Bool)
    /// A command job reported progress through its SPOOL_PROGRESS file.
    case progressReported(JobID, ReportedProgress)
    /// A timer the engine armed went off.
    case timer(EngineTimer)
    /// SIGTERM or SIGINT (or --drain): stop intake and starts, let running jobs finish.
    case shutdown(reason: String, graceSeconds: Double)
    /// The grace period is over (or a second signal): running attempts are stopped.
    case tearDown
    /// SIGHUP changed the live settings.
    case reload(queueLimits: [String: Int], workers: Int)
}

/// What an executor says about a started attempt, for its record.
public struct AttemptInfo: Sendable, Equatable {
    public var executor: ExecutorInfo
    /// A local attempt's process (and process group) id.
    public var pid: Int32?

    public init(executor: ExecutorInfo, pid: Int32? = nil) {
        self.executor = executor
        self.pid = pid
    }
}

/// Timers the engine arms through `EngineAction.arm`.
enum EngineTimer: Sendable, Equatable, Hashable {
    /// A batch's operation may retry now.
    case batchRetry(JobID)
    /// The shutdown grace period is over.
    case shutdownGrace
}
