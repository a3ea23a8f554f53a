// One attempt running as a Slurm job, seen from the daemon. Pause is refused (Slurm's suspend
// is an administrator's operation, and a suspended job would still hold its allocation); cancel,
// and the tear-down of a batch operation at shutdown, go through scancel. Its end comes from
// the poller: the wrapper's result file, or Slurm's state when the job ended without one.
import Foundation

final class SlurmAttempt: RunningAttempt {
    let id: JobID
    let submission: SlurmSubmission
    private let executor: SlurmExecutor
    /// Why the daemon asked Slurm to stop it, if it did (the first reason wins).
    private let teardown = LockedBox<TeardownReason?>(nil)
    /// The batch operation it runs (its files are its own), nil for a command job.
    let operation: Int?

    init(id: JobID, submission: SlurmSubmission, executor: SlurmExecutor, operation: Int? = nil) {
        self.id = id
        self.submission = submission
        self.executor = executor
        self.operation = operation
    }

    var info: AttemptInfo { AttemptInfo(executor: executor(host: nil)) }

    /// How the record names where it ran; the node is known once the wrapper has said it.
    func executor(host: String?) -> ExecutorInfo { ExecutorInfo(type: "slurm", jobID: submission.jobID, host: host) }

    func pause() -> Bool { false }
    func resume() -> Bool { false }

    func tearDown(_ reason: TeardownReason) {
        let first = teardown.withLock { t -> Bool in
            guard t == nil else { return false }
            t = reason
            return true
        }
        if first { executor.cancel(jobID: submission.jobID, token: submission.token) }
    }

    var requestedTeardown: TeardownReason? { teardown.withLock { $0 } }

    /// The last lines of the Slurm job's own output (the wrapper's errors), for a message.
    func wrapperOutput() -> String? { executor.wrapperOutput(stem: submission.stem) }

    func awaitEnd(_ ended: @escaping @Sendable (AttemptEnd) -> Void) {
        executor.poller.watch(self) { [executor, id, operation] end in
            if operation != nil { executor.cleanUp(id, operation: operation) }
            ended(end)
        }
    }
}
