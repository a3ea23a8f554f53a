// `spoold supervise --spool DIR --id ID [--operation N | --stem NAME]`: the small per-job process of live
// restore (SPEC §6), one per command attempt (a batch's command operation N has its own, with
// files named <id>.opN.*). It is the job's parent: it starts the attempt the daemon planned in
// running/<id>.attempt (with
// the local executor, so the job runs exactly as it would without it: process group, outputs,
// user, timeout counted from its own start without paused time), applies what the daemon asks
// through running/<id>.control (pause, resume, tear down; SIGUSR1 says "look"), reaps the job,
// and writes how it ended to running/<id>.result, durably, before it exits. It needs no daemon
// to do any of that: a daemon that stops or dies leaves it running, and the next one adopts it.
// On Slurm it is the on-node wrapper (`--stem`, Slurm/SlurmExecutor.swift): the same timeout and
// grace in the job's own process group, and the result written into the shared spool.
import Foundation

public enum Supervisor {
    /// Runs the supervisor; returns its exit code (0 once the result is written).
    public static func main(arguments: [String]) -> Int32 {
        var spool: String?, idText: String?, operationIndex: Int?, stemArg: String?
        var i = 0
        while i < arguments.count {
            switch arguments[i] {
            case "--spool" where i + 1 < arguments.count: spool = arguments[i + 1]; i += 1
            case "--id" where i + 1 < arguments.count: idText = arguments[i + 1]; i += 1
            case "--operation" where i + 1 < arguments.count:
                guard let n = Int(arguments[i + 1]), n >= 0 else { return fail("--operation must be an operation's index", code: 64) }
                operationIndex = n
                i += 1
            case "--stem" where i + 1 < arguments.count: stemArg = arguments[i + 1]; i += 1
            default: return fail("unknown argument \"\(arguments[i])\"; \(usage)", code: 64)
            }
            i += 1
        }
        let operation = operationIndex
        guard let spool, let idText, let id = JobID(idText) else {
            return fail(usage, code: 64)
        }
        // Live restore names an attempt's files after the job (and operation); Slurm after a stem of
        // its own per submission.
        let stem = stemArg ?? SupervisorFiles.stem(id, operation)
        guard stem.hasPrefix(id.rawValue + ".") || stem == id.rawValue, !stem.contains("/") else {
            return fail("--stem \(stem) must be the job id or start with it and a dot", code: 64)
        }
        let layout: SpoolLayout
        do { layout = try SpoolLayout(path: spool) } catch { return fail("cannot open spool \(spool): \(error)", code: 1) }
        let dir = layout.fd(.running)
        guard var planned = SupervisorFiles.read(SupervisedPlan.self, name: SupervisorFiles.plan(stem: stem), dirFD: dir),
              let plan = planned.processPlan, stemArg != nil || plan.operation == operation else {
            return fail("job \(id): running/\(SupervisorFiles.plan(stem: stem)) is missing or unreadable", code: 1)
        }
        if stemArg != nil {
            // On a Slurm node: the job sees its allocation (SLURM_JOB_ID, the GPUs --gres gave it).
            for (k, v) in ProcessInfo.processInfo.environment where k.hasPrefix("SLURM_") || k == "CUDA_VISIBLE_DEVICES" {
                planned.environment[k] = v
            }
        }
        // The daemon's stop signals are not ours: a SIGTERM here (an operator's) stops the job as a shutdown would.
        for sig in [SIGHUP, SIGINT, SIGPIPE, SIGUSR1, SIGTERM] { signal(sig, SIG_IGN) }
        let queue = DispatchQueue(label: "spoold.supervisor")
        let wish = LockedBox(SupervisorControl(killGraceSeconds: planned.killGraceSeconds))
        let store = StateStore(layout: layout, durable: true)
        if let privacy = planned.privacy { store.privacy.withLock { $0 = privacy } }
        let executor = LocalExecutor(store: store, environment: planned.environment, timers: queue,
                                     grace: { wish.withLock { $0.killGraceSeconds } })
        let started = Timestamp.now()
        let attempt: any RunningAttempt
        switch executor.start(plan) {
        case .failure(let error):
            return finish(AttemptEnd(termination: .notStarted(error), teardown: nil, usage: nil), id: id, stem: stem, dir: dir)
        case .success(let a): attempt = a
        }
        let info = SupervisorInfo(pid: getpid(), jobPID: attempt.info.pid ?? 0, attempt: plan.attempt, startedAt: started,
                                  host: stemArg == nil ? nil : ProcessInfo.processInfo.environment["SLURMD_NODENAME"])
        // Locally not fsynced: it only serves to find this process alive, and a power loss that
        // could lose it kills the process too (the next daemon then finds the attempt interrupted).
        // On a Slurm node it is: the node and the daemon's host do not lose power together.
        do {
            try SupervisorFiles.write(info, name: SupervisorFiles.supervisor(stem: stem), dirFD: dir, durable: stemArg != nil,
                                      syncFailed: { syncFailed($0, id: id) })
        } catch {
            // Without it no daemon can find this attempt again: stop it, the result says it was interrupted.
            attempt.tearDown(.shutdown)
        }
        // What the daemon wants, applied as it changes.
        let applied = LockedBox(SupervisorControl(killGraceSeconds: planned.killGraceSeconds))
        let apply: @Sendable () -> Void = {
            guard let want = SupervisorFiles.read(SupervisorControl.self, name: SupervisorFiles.control(stem: stem), dirFD: dir) else { return }
            wish.withLock { $0 = want }
            let had = applied.withLock { a -> SupervisorControl in
                defer { a.paused = want.paused; if a.teardown == nil { a.teardown = want.teardown } }
                return a
            }
            if let t = want.teardown, had.teardown == nil, let reason = SupervisorResult.reason(t) {
                attempt.tearDown(reason)
            } else if want.paused != had.paused {
                _ = want.paused ? attempt.pause() : attempt.resume()
            }
        }
        let look = DispatchSource.makeSignalSource(signal: SIGUSR1, queue: queue)
        look.setEventHandler(handler: apply)
        look.resume()
        let term = DispatchSource.makeSignalSource(signal: SIGTERM, queue: queue)
        term.setEventHandler { attempt.tearDown(.shutdown) }
        term.resume()
        queue.async(execute: apply)  // a wish written before the handler was in place
        let ended = DispatchSemaphore(value: 0)
        let end = LockedBox<AttemptEnd?>(nil)
        attempt.awaitEnd { e in
            end.withLock { $0 = e }
            ended.signal()
        }
        ended.wait()
        return finish(end.withLock { $0! }, id: id, stem: stem, dir: dir)
    }

    private static let usage = "usage: spoold supervise --spool DIR --id ID [--operation N | --stem NAME]"

    private static func finish(_ end: AttemptEnd, id: JobID, stem: String, dir: Int32) -> Int32 {
        do {
            try SupervisorFiles.write(SupervisorResult(end, endedAt: Timestamp.now()), name: SupervisorFiles.result(stem: stem), dirFD: dir, durable: true,
                                      syncFailed: { syncFailed($0, id: id) })
            return 0
        } catch {
            return fail("job \(id): cannot write its result: \(error)", code: 1)
        }
    }

    /// A failed fsync of the result is never retried (Durability): without a durable record of how
    /// the attempt ended the supervisor cannot vouch for it. It exits 74 without a result; the
    /// daemon (or the next one) finds it gone without one, and the job follows its on_interrupt.
    private static func syncFailed(_ error: SystemError, id: JobID) -> Never {
        Durability.failed(error, who: "spoold supervise: job \(id)", then: "without a result: the job follows on_interrupt")
    }

    private static func fail(_ message: String, code: Int32) -> Int32 {
        FileHandle.standardError.write(Data("spoold supervise: error: \(message)\n".utf8))
        return code
    }
}
