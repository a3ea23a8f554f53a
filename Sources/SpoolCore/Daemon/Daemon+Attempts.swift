// Launching what the engine starts: a command job's attempt and a batch's command operation's
// through its queue's executor (which alone knows pids and process groups; Slurm for a remote
// queue; with live restore, under a supervisor each); built-in operations are Daemon+Builtins'.
// Each registers its handle before it is reported launched, and reports its end once; the worker
// permit goes on as soon as the engine has taken the end (and freed the slots), before the end's
// record is written (a batch operation's after its checkpoint, which queues the next operation):
// a local command job's straight to the next start, on the exit watcher's thread (`endHandingOn`),
// the others back to the dispatcher.
import Foundation
import SpoolBuiltins
import SpoolJSON

extension Daemon {
    /// A command job's attempt: under its supervisor with live restore, else directly.
    func launch(_ key: AttemptKey, _ plan: ProcessPlan) {
        let executor: any Executor = executor(for: plan.queue) ?? supervised ?? self.executor
        switch executor.start(plan) {
        case .failure(let error):
            sendEnd(.launchFailed(key.id, error, executor.info), queue: plan.queue)
        case .success(let running):
            core.withLock { $0.attempts[key] = running }
            send(.launched(key, running.info))
            watch(key, running, queue: plan.queue)
        }
    }

    /// The remote executor of `queue`'s jobs (Slurm), nil for a local queue.
    func executor(for queue: String) -> (any Executor)? {
        guard let slurm, options.remoteQueues[queue]?.executor == .slurm else { return nil }
        return slurm
    }

    /// Gives back the worker permit an attempt of `queue` took; a remote queue's took none.
    func freeSlot(of queue: String) {
        if options.remoteQueues[queue] == nil { slots.signal() }
    }

    /// Waits for a command attempt's end (one launched here, or adopted after a restart).
    func watch(_ key: AttemptKey, _ running: any RunningAttempt, queue: String) {
        running.awaitEnd { [self] end in
            core.withLock { $0.attempts[key] = nil }
            let failed = AttemptResult.failure(of: end.termination, teardown: end.teardown, label: "") != nil
            endHandingOn(.attemptEnded(key.id, end, diskFull: failed && isDiskFull()), queue: queue)
        }
    }

    /// A command job's end, seen on an exit watcher thread (or a supervisor's watcher). The engine
    /// takes it (and frees the slots it held), and the worker permit goes straight to the next
    /// step the engine picks, carried out on this thread (the claim's rename, the spawn, the
    /// claim's fsync), and then the end's record goes to the finisher. So one job's exit and the
    /// next one's start are one thread's work, with no wake-up of the dispatcher between them:
    /// each wake-up of a thread on an idle core cost about 0.1-0.3 ms here, and a job of 10 ms
    /// paid three (bench `sleep`). The permit goes back to the
    /// dispatcher only when nothing may start now. A remote queue's job holds no permit: an
    /// ordinary `sendEnd`. Handing the record on before the claim's fsync (0.2-0.4 ms sooner)
    /// measured lower: steady 464 against 502 jobs/s and 550 against 662 (bench `steady`, 5 rounds
    /// each), the finisher's syncs then running beside the claim's instead of after it.
    func endHandingOn(_ event: EngineEvent, queue: String) {
        guard options.remoteQueues[queue] == nil else { return sendEnd(event, queue: queue) }
        let actions = decide(event)
        if payOwedSlot() { return perform(actions) }  // a reload shrank the workers: this permit is dropped
        guard let step = nextStep(blocking: false) else {
            slots.signal()
            return perform(actions)
        }
        carryOut([step])
        perform(actions)
    }

    /// A batch's command operation: on its queue's remote executor, under its own supervisor with
    /// live restore, else directly.
    func launchOperation(_ key: AttemptKey, _ plan: ProcessPlan) {
        let outputs = OperationOutputs(plan, startedAt: Timestamp.now())
        let executor: any Executor = executor(for: plan.queue) ?? supervised ?? self.executor
        switch executor.start(plan) {
        case .failure(let error):
            // Earlier attempts' outputs stay named (and an output file created before the failure is dropped).
            let (stdout, stderr) = placeOperationOutputs(outputs)
            sendEnd(.operationEnded(key, .failed(error, exitCode: nil, signal: nil), stdout: stdout, stderr: stderr, usage: nil,
                                    executor: executor.info), queue: plan.queue)
        case .success(let running):
            core.withLock { $0.attempts[key] = running }
            send(.launched(key, running.info))
            watchOperation(key, running, outputs, queue: plan.queue)
        }
    }

    /// Waits for an operation attempt's end (one launched here, or adopted after a restart).
    func watchOperation(_ key: AttemptKey, _ running: any RunningAttempt, _ outputs: OperationOutputs, queue: String) {
        let info = running.info.executor
        running.awaitEnd { [self] end in
            core.withLock { $0.attempts[key] = nil }
            let (stdout, stderr) = placeOperationOutputs(outputs)
            if end.teardown == .shutdown {
                sendEnd(.operationInterrupted(key), queue: queue)
                return
            }
            sendEnd(.operationEnded(key, Self.outcome(of: end.termination, teardown: end.teardown, label: outputs.label),
                                    stdout: stdout, stderr: stderr, usage: end.usage, executor: info), queue: queue)
        }
    }

    /// An operation attempt's end as the batch counts it (the mapping is AttemptResult's, as for jobs).
    static func outcome(of termination: Termination, teardown: TeardownReason?, label: String) -> BatchState.Outcome {
        guard let error = AttemptResult.failure(of: termination, teardown: teardown, label: label) else {
            return .succeeded(exitCode: 0, result: nil)
        }
        switch termination {
        case .exited(let code) where error.code == .exitNonzero: return .failed(error, exitCode: code, signal: nil)
        case .signaled(let sig) where error.code == .killedBySignal: return .failed(error, exitCode: nil, signal: sig)
        default: return .failed(error, exitCode: nil, signal: nil)
        }
    }

    /// Moves an operation attempt's outputs to done/ at once, after those of its earlier attempts
    /// (empty ones are dropped); returns their paths, null where no attempt wrote anything.
    func placeOperationOutputs(_ o: OperationOutputs) -> (String?, String?) {
        var sync = DirectorySync()
        func place(_ name: String) -> String? {
            do {
                return try store.placeAttemptOutput(name, attempt: o.attempt, startedAt: o.startedAt, capBytes: options.maxOutputBytes, owner: o.owner, sync: &sync)
            } catch {
                log.error("\(o.label): cannot keep its output \(name): \(error)")
                return store.exists(name, in: .done) ? "done/\(name)" : nil
            }
        }
        return (place(o.stdoutName), place(o.stderrName))
    }
}

/// An operation attempt's outputs in running/, and what placing them in done/ needs.
struct OperationOutputs: Sendable {
    var stdoutName: String
    var stderrName: String
    var attempt: Int
    var startedAt: Timestamp
    var owner: JobOwner?
    /// "job X operations[3]", for messages.
    var label: String

    init(stdoutName: String, stderrName: String, attempt: Int, startedAt: Timestamp, owner: JobOwner?, label: String) {
        self.stdoutName = stdoutName
        self.stderrName = stderrName
        self.attempt = attempt
        self.startedAt = startedAt
        self.owner = owner
        self.label = label
    }

    init(_ plan: ProcessPlan, startedAt: Timestamp) {
        self.init(stdoutName: plan.stdoutName, stderrName: plan.stderrName, attempt: plan.attempt, startedAt: startedAt,
                  owner: plan.owner, label: plan.label)
    }
}
