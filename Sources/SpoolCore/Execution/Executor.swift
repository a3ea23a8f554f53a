// The executor seam: where an attempt runs. The daemon hands an executor a plan and gets back a
// handle to pause, resume and tear down the attempt; the executor reports the attempt's end once,
// with how it ended and what it used. Nothing outside an executor knows how it runs work (pids,
// process groups, a cluster's job ids): the local posix_spawn pool (LocalExecutor) is the first
// implementation; remote engines (Slurm) and supervised attempts (live restore) come behind it.
import Foundation

/// What to run for one attempt, and where its output goes.
struct ProcessPlan: Sendable {
    var id: JobID
    var action: JobAction
    var cwd: String?
    var env: [String: String]
    var attempt: Int
    var stdoutName: String
    var stderrName: String
    /// Extra variables (SPOOL_OPERATION_INDEX for operations).
    var extraEnv: [String: String] = [:]
    /// "job X" or "job X operations[3]", for messages.
    var label: String
    /// Run as this user and group (spoold as root); nil: as the daemon.
    var owner: JobOwner? = nil
    /// Stop it after this many seconds of running (paused time does not count).
    var timeoutSeconds: Double? = nil
    /// What one run needs (SPEC §3 `resources`): a remote executor passes them on.
    var resources: Resources? = nil
    /// The job's queue: which executor runs it, and a remote queue's settings.
    var queue: String = "default"
    /// A batch operation's index in the job file (as in its output names); nil for a command job.
    var operation: Int? = nil
}

/// How an attempt ended, as its executor reports it.
struct AttemptEnd: Sendable {
    var termination: Termination
    /// Why the daemon stopped it, if it did (timeout, cancel, shutdown).
    var teardown: TeardownReason?
    var usage: ResourceUsage?
    /// When it ended, if that was before the daemon heard of it (an attempt that ended while no daemon ran).
    var endedAt: Timestamp? = nil
    /// With `teardown` .shutdown: what interrupted it when that was not the daemon (a Slurm node's
    /// failure, a preemption), for the record's error or wait reason.
    var interruption: String? = nil
    /// Where it ran, when that is learnt only at its end (the Slurm node), for the record.
    var executor: ExecutorInfo? = nil
}

/// A started attempt.
protocol RunningAttempt: Sendable {
    /// Stops it where it is (SIGSTOP locally); false if it is not running or already paused.
    func pause() -> Bool
    /// Lets a paused attempt go on; false if it was not paused.
    func resume() -> Bool
    /// Stops it for `reason` (the first reason wins), with the executor's grace period.
    func tearDown(_ reason: TeardownReason)
    /// What the executor says about the attempt, for its record (`executor`, a local pid).
    var info: AttemptInfo { get }
    /// Starts waiting for the attempt's end: `ended` is called exactly once, on a thread of the
    /// executor's. Called once, after the daemon has registered the attempt.
    func awaitEnd(_ ended: @escaping @Sendable (AttemptEnd) -> Void)
}

/// Where attempts run.
protocol Executor: Sendable {
    /// How records name this executor (`{"type": "local"}`).
    var info: ExecutorInfo { get }
    /// Starts `plan`, or says why it could not start.
    func start(_ plan: ProcessPlan) -> Result<any RunningAttempt, SpoolError>
    /// What earlier daemons left running on this spool (at start, before jobs in running/ are resolved).
    func leftovers() -> any Leftovers
    /// Job `id`'s attempt as an earlier daemon left it, to adopt after a restart (live restore):
    /// still running, ended meanwhile, or nothing this executor can take over.
    func find(_ id: JobID, paused: Bool) -> FoundAttempt
}

/// An attempt found at start (`Executor.find`).
enum FoundAttempt {
    /// It still runs: the daemon goes on with this handle.
    case running(any RunningAttempt, AttemptOrigin)
    /// It ended while no daemon ran (or was interrupted: then `teardown` is `.shutdown`).
    case ended(AttemptEnd, AttemptOrigin)
    /// Nothing to adopt: the job is recovered as interrupted.
    case none
}

/// Which attempt a found one is, as its executor recorded it when it started.
struct AttemptOrigin: Sendable {
    var attempt: Int
    var startedAt: Timestamp?
    var pid: Int32?
    /// Where it ran, for the record (a remote executor's job id), when the executor knows.
    var executor: ExecutorInfo? = nil
}

/// Attempts an earlier daemon left running, found at start.
protocol Leftovers {
    /// Stops what is left of job `id`'s attempt; a description of what was stopped, or nil if nothing was.
    func stop(_ id: JobID) -> String?
    /// Stops what is left of those of job `id`'s attempts whose operation index (nil: a command
    /// job's attempt) `matches` (live restore stops a batch's operations but the adopted ones).
    func stop(_ id: JobID, where matches: (Int?) -> Bool) -> String?
}

extension Leftovers {
    /// An executor that cannot tell a job's operations apart stops none of them one by one.
    func stop(_ id: JobID, where matches: (Int?) -> Bool) -> String? { nil }
}
