// Launching what the engine starts: a command job's attempt and a batch operation's through the
// executor (which alone knows pids and process groups), a built-in operation on a thread of its
// own. Each registers its handle before it is reported launched, and reports its end once; the
// worker slot is given back as soon as the process is gone, before the bookkeeping of its end.
import Foundation
import SpoolBuiltins
import SpoolJSON

extension Daemon {
    /// A command job's attempt: under its supervisor with live restore, else directly.
    func launch(_ key: AttemptKey, _ plan: ProcessPlan) {
        let executor: any Executor = executor(for: plan.queue) ?? supervised ?? self.executor
        switch executor.start(plan) {
        case .failure(let error):
            freeSlot(of: plan.queue)
            send(.launchFailed(key.id, error, executor.info))
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
            freeSlot(of: queue)
            core.withLock { $0.attempts[key] = nil }
            let failed = AttemptResult.failure(of: end.termination, teardown: end.teardown, label: "") != nil
            send(.attemptEnded(key.id, end, diskFull: failed && isDiskFull()))
        }
    }

    func launchOperation(_ key: AttemptKey, _ plan: ProcessPlan) {
        let startedAt = Timestamp.now()
        let executor: any Executor = executor(for: plan.queue) ?? self.executor
        switch executor.start(plan) {
        case .failure(let error):
            freeSlot(of: plan.queue)
            // Earlier attempts' outputs stay named (and an output file created before the failure is dropped).
            let (stdout, stderr) = placeOperationOutputs(plan, startedAt: startedAt)
            send(.operationEnded(key, .failed(error, exitCode: nil, signal: nil), stdout: stdout, stderr: stderr, usage: nil,
                                 executor: executor.info))
        case .success(let running):
            core.withLock { $0.attempts[key] = running }
            send(.launched(key, running.info))
            let info = running.info.executor
            running.awaitEnd { [self] end in
                freeSlot(of: plan.queue)
                core.withLock { $0.attempts[key] = nil }
                let (stdout, stderr) = placeOperationOutputs(plan, startedAt: startedAt)
                if end.teardown == .shutdown {
                    send(.operationInterrupted(key))
                    return
                }
                send(.operationEnded(key, Self.outcome(of: end.termination, teardown: end.teardown, label: plan.label),
                                     stdout: stdout, stderr: stderr, usage: end.usage, executor: info))
            }
        }
    }

    /// A built-in runs on its own thread, not a libdispatch worker: `run` may block (http), and
    /// FoundationNetworking needs libdispatch workers to progress; on Linux the pool grows past
    /// the cores about once a second.
    func runBuiltin(_ key: AttemptKey, type: String, params: JSONValue, label: String) {
        Thread.detachNewThread { [self] in
            let outcome: BatchState.Outcome
            if let builtin = BuiltinRegistry.operation(named: type) {
                do {
                    outcome = .succeeded(exitCode: nil, result: JSONValueBox(try builtin.run(params: params)))
                } catch {
                    outcome = .failed(SpoolError(.operationFailed, "\(label): \(error)"), exitCode: nil, signal: nil,
                                      result: (error as? BuiltinError)?.result.map(JSONValueBox.init))
                }
            } else {
                outcome = .failed(SpoolError(.operationFailed, "\(label): unknown type \"\(type)\""), exitCode: nil, signal: nil)
            }
            let queue = core.withLock { $0.engine.jobs[key.id]?.record.spec?.effectiveQueue } ?? "default"
            freeSlot(of: queue)
            send(.operationEnded(key, outcome, stdout: nil, stderr: nil, usage: nil, executor: nil))
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
    private func placeOperationOutputs(_ plan: ProcessPlan, startedAt: Timestamp) -> (String?, String?) {
        var sync = DirectorySync()
        func place(_ name: String) -> String? {
            do {
                return try store.placeAttemptOutput(name, attempt: plan.attempt, startedAt: startedAt, capBytes: options.maxOutputBytes, owner: plan.owner, sync: &sync)
            } catch {
                log.error("\(plan.label): cannot keep its output \(name): \(error)")
                return store.exists(name, in: .done) ? "done/\(name)" : nil
            }
        }
        return (place(plan.stdoutName), place(plan.stderrName))
    }
}
