// Built-in operations. A pure one (arithmetic) runs on the built-in queue, and the worker permit
// it holds is not given back to the dispatcher when it ends: the thread asks the engine for the
// next step itself, runs it in place when it is a pure built-in too, and otherwise carries it out
// as the dispatcher would. So a batch of built-ins runs as a loop on each permit's thread, with no
// hop through the dispatcher and libdispatch per operation: those hops, not the arithmetic, were
// most of an operation's cost (bench `batch`). The engine still picks every step, so priorities,
// pauses, owed permits and the --workers bound hold as for any start. A loop gives its libdispatch
// worker up every few milliseconds (`builtinSlice`), so that it never holds back other work.
// One that blocks (http) runs on a thread of its own, not a libdispatch worker: it waits on the
// network, and on Linux the pool grows past the cores only about once a second, so a blocked
// worker would hold back the daemon's other work. It gives its permit back to the dispatcher.
import Foundation
import SpoolBuiltins
import SpoolJSON

/// A built-in operation to run, as the engine's `runBuiltin` action names it.
struct BuiltinRun: Sendable {
    var key: AttemptKey
    var type: String
    var params: JSONValue
    var label: String
    var queue: String
    /// The operation `type` names; nil for an unknown type.
    let builtin: (any BuiltinOperation)?

    init(key: AttemptKey, type: String, params: JSONValue, label: String, queue: String) {
        self.key = key
        self.type = type
        self.params = params
        self.label = label
        self.queue = queue
        builtin = BuiltinRegistry.operation(named: type)
    }

    /// Runs here: pure arithmetic, or an unknown type (it fails at once, without blocking).
    var runsInPlace: Bool {
        guard let builtin else { return true }
        return !Swift.type(of: builtin).blocks
    }

    /// Runs the operation on the calling thread; its end as the batch counts it.
    func run() -> EngineEvent {
        let outcome: BatchState.Outcome
        if let builtin {
            do {
                outcome = .succeeded(exitCode: nil, result: JSONValueBox(try builtin.run(params: params)))
            } catch {
                outcome = .failed(SpoolError(.operationFailed, "\(label): \(error)"), exitCode: nil, signal: nil,
                                  result: error.result.map(JSONValueBox.init))
            }
        } else {
            outcome = .failed(SpoolError(.operationFailed, "\(label): unknown type \"\(type)\""), exitCode: nil, signal: nil)
        }
        return .operationEnded(key, outcome, stdout: nil, stderr: nil, usage: nil, executor: nil)
    }
}

extension Daemon {
    func runBuiltin(_ first: BuiltinRun) {
        guard first.runsInPlace else {
            Thread.detachNewThread { [self] in sendEnd(first.run(), queue: first.queue) }
            return
        }
        builtinQueue.async { [self] in runInPlace(first) }
    }

    /// How long a loop keeps its libdispatch worker before it queues its rest behind whatever
    /// waits for one. The built-in queue shares the pool of the cores' worth of workers with the
    /// intake, finish and timer queues: a loop that kept its worker for a whole batch would hold
    /// back their work meanwhile.
    static let builtinSlice = DispatchTimeInterval.milliseconds(2)

    private func runInPlace(_ first: BuiltinRun) {
        let yieldAt = DispatchTime.now() + Self.builtinSlice
        var next: BuiltinRun? = first
        while let run = next {
            next = endKeepingPermit(run.run(), queue: run.queue)
            if let rest = next, DispatchTime.now() >= yieldAt {
                builtinQueue.async { [self] in runInPlace(rest) }
                return
            }
        }
    }

    /// A pure built-in's end, after which its permit goes to the next step the engine picks:
    /// returned when it is a pure built-in, to run on this thread; carried out here when it is
    /// anything else. The permit goes back to the dispatcher only when nothing may start now.
    /// A remote queue's operation holds no permit: its end is an ordinary `sendEnd`.
    ///
    /// Two takes of the engine's lock: the end, then (after its journal line is written) the
    /// answer to its checkpoint with the pick of the next step. The line is written before the
    /// batch may queue the operation after it, whichever thread would start that one. The loops
    /// of a batch's `max_parallel` took the lock three times per operation (the end, `checkpointed`,
    /// the next step) and put each other to sleep on it: futex waits and wake-ups were a quarter of
    /// a loop's time (bench `batch`, perf).
    private func endKeepingPermit(_ end: EngineEvent, queue: String) -> BuiltinRun? {
        guard options.remoteQueues[queue] == nil else {
            sendEnd(end, queue: queue)
            return nil
        }
        var checkpointed: [JobID] = []
        for action in decide(end) {
            if case .checkpoint(let id, let op) = action {
                writeCheckpoint(id, op)
                checkpointed.append(id)
            } else {
                perform([action])
            }
        }
        let owed = payOwedSlot()  // a reload shrank the workers: this permit is dropped
        let pauses = owed ? (spool: true, queues: Set<String>()) : pauses()
        let now = Timestamp.now()
        let (answered, step) = core.update { c -> ([EngineAction], DispatchStep?) in
            var actions: [EngineAction] = []
            for id in checkpointed { actions += c.handle(.checkpointed(id), now: now) }
            return (emitInOrder(actions), owed ? nil : Self.startableNow(&c, pauses: pauses, now: now))
        }
        perform(answered)
        if owed { return nil }
        guard let step else {
            slots.signal()
            return nil
        }
        if case .start(let actions) = step,
           let i = actions.firstIndex(where: { if case .runBuiltin = $0 { return true } else { return false } }),
           case .runBuiltin(let key, let type, let params, let label, let queue) = actions[i] {
            let run = BuiltinRun(key: key, type: type, params: params, label: label, queue: queue)
            if run.runsInPlace {
                var others = actions
                others.remove(at: i)
                perform(others)  // a durable journal line first, for an `on_interrupt: fail` batch
                return run
            }
        }
        // Anything else (a claim, a command's launch) is carried out here, on this libdispatch worker,
        // as the dispatcher would: its fsync of running/ is not shared with other claims then, but
        // the step is one the engine picked for this permit, and the loop ends with it.
        carryOut([step])
        return nil
    }
}
