// The dispatcher thread: the only waiter on the worker semaphore. (A loop of built-ins and the end
// of a command job keep their permit and make the same calls for their next step:
// Daemon+Builtins.swift, `endHandingOn` in Daemon+Attempts.swift.) For each free
// slot it asks the engine for the next item, and when several slots are free it takes several at
// once, so that the renames pending/ → running/ of the jobs among them share one fsync of
// running/. Only after that fsync (the claim is durable, so a crash cannot run an `on_interrupt:
// fail` job twice) are they reported claimed, and their attempts launched; except `on_interrupt:
// requeue` command jobs run here, which a power cut runs again anyway
// (`Engine.startsBeforeClaimIsDurable`): they start before the fsync, which then overlaps their start.
import Foundation

extension Daemon {
    /// Starts the dispatcher threads (once pending/ is loaded and waiting control requests applied).
    func startDispatchers() {
        let dispatcher = Thread { [self] in dispatchLoop() }
        dispatcher.name = "spoold.dispatcher"
        dispatcher.start()
        if slurm != nil {
            // Remote queues' jobs hold no worker: their own dispatcher picks them.
            let remote = Thread { [self] in remoteDispatchLoop() }
            remote.name = "spoold.dispatcher.remote"
            remote.start()
        }
    }

    func dispatchLoop() {
        while true {
            slots.wait()
            if payOwedSlot() { continue }
            guard let first = nextStep(blocking: true) else {
                slots.signal()
                return
            }
            var steps = [first]
            while slots.wait(timeout: .now()) == .success {
                if payOwedSlot() { continue }
                guard let more = nextStep(blocking: false) else {
                    slots.signal()
                    break
                }
                steps.append(more)
            }
            carryOut(steps)
        }
    }

    /// The dispatcher of remote queues (Slurm): no worker permit, only the queues' own limits;
    /// takes every job that may start now at once, so their renames share one fsync.
    func remoteDispatchLoop() {
        while true {
            guard let first = nextStep(blocking: true, remote: true) else { return }
            var steps = [first]
            while steps.count < 64, let more = nextStep(blocking: false, remote: true) { steps.append(more) }
            carryOut(steps, submitters: Self.remoteSubmitters)
        }
    }

    /// The next step; nil when stopping (or, if not blocking, when nothing can start now).
    /// The pause files are looked at outside the lock (a stat, and a listing of the spool root
    /// when it changed), before each look at the engine and after each sleep.
    func nextStep(blocking: Bool, remote: Bool = false) -> DispatchStep? {
        guard blocking else {
            let pauses = pauses()
            return core.withLock { Self.startableNow(&$0, pauses: pauses, now: Timestamp.now(), remote: remote) }
        }
        enum Look { case found(DispatchStep?), again }
        while true {
            let (spoolPaused, pausedQueues) = pauses()
            var slept = false
            let look = core.wait { c -> LockedBox<Core>.WaitStep<Look> in
                if c.engine.isStopping { return .done(.found(nil)) }
                if slept { return .done(.again) }  // woken: the pause files may have changed meanwhile
                if spoolPaused {
                    slept = true
                    return .sleep(until: Date().addingTimeInterval(0.25))
                }
                switch c.engine.next(now: Timestamp.now(), pausedQueues: pausedQueues, remote: remote) {
                case .stop: return .done(.found(nil))
                case .wait(let until):
                    // A held queue is released by removing its file, which wakes nobody: look again soon.
                    let recheck = pausedQueues.isEmpty ? Date().addingTimeInterval(3600) : Date().addingTimeInterval(0.25)
                    slept = true
                    // Never sleep past an hour at a time: far-future dates must not reach the clock calls.
                    return .sleep(until: [until?.date, recheck].compactMap { $0 }.min())
                case let step:
                    return .done(.found(step))
                }
            }
            if case .found(let step) = look { return step }
        }
    }

    /// What the pause files say now: the whole spool paused, else the queues held (outside any lock:
    /// a stat, and a listing of the spool root when it changed).
    func pauses() -> (spool: Bool, queues: Set<String>) {
        let policy = settings.withLock { $0.intake.access }
        let spoolPaused = pauseFiles.spoolPaused(layout, access: policy, log: log)
        return (spoolPaused, spoolPaused ? [] : pauseFiles.pausedQueues(layout, access: policy, log: log))
    }

    /// A step that may start now, or nil: `nextStep(blocking: false)`'s look, also for a caller
    /// that holds the lock already (a loop of built-ins, with the end it reports in the same take).
    static func startableNow(_ c: inout Core, pauses: (spool: Bool, queues: Set<String>), now: Timestamp,
                             remote: Bool = false) -> DispatchStep? {
        if c.engine.isStopping || pauses.spool { return nil }
        switch c.engine.next(now: now, pausedQueues: pauses.queues, remote: remote) {
        case .stop, .wait: return nil
        case let step: return step
        }
    }

    /// sbatch calls in flight at once for remote queues: each waits mostly for the controller's
    /// answer, so a few overlap well (bench/slurm.sh).
    static let remoteSubmitters = 4

    /// Claims the picked jobs (rename into running/, one fsync) and starts them; operations start
    /// directly. `submitters` > 1: the starts run that many at a time (remote queues: each start
    /// is an sbatch that waits for the controller).
    func carryOut(_ steps: [DispatchStep], submitters: Int = 1) {
        var ids: [JobID] = []
        for step in steps {
            switch step {
            case .claim(let id): ids.append(id)
            case .start(let actions): perform(actions)
            case .wait, .stop: break
            }
        }
        guard !ids.isEmpty else { return }
        var sync = DirectorySync()
        var claimed: [JobID] = []
        for id in ids {
            do {
                if try store.move(JobFiles.record(id), from: .pending, to: .running, sync: &sync) {
                    claimed.append(id)
                } else {
                    log.warning("job \(id): pending/\(id).json vanished before it could start (taken by another daemon?)")
                    send(.claimFailed(id, retryIn: nil))
                }
            } catch {
                log.error("job \(id): cannot move to running/: \(error); trying again in 5 s")
                send(.claimFailed(id, retryIn: 5))
            }
        }
        // Jobs that a lost rename would only run again, as a power cut makes them do anyway, start
        // now; the fsync of running/ overlaps their start. The others wait for it.
        let early = core.withLock { c in Set(claimed.filter { c.engine.startsBeforeClaimIsDurable($0) }) }
        for id in claimed where early.contains(id) { send(.claimed(id)) }
        store.commit(&sync)
        FaultInjection.hit(.afterStartRename)
        claimed.removeAll { early.contains($0) }
        if submitters > 1 && claimed.count > 1 {
            // Threads of their own: sbatch blocks, and Dispatch's pool is only as wide as the cores.
            let next = LockedBox(0)
            let claimed = claimed
            let work: @Sendable () -> Void = { [self] in
                while true {
                    let i = next.withLock { n -> Int in defer { n += 1 }; return n }
                    guard i < claimed.count else { return }
                    send(.claimed(claimed[i]))
                }
            }
            let group = DispatchGroup()
            for _ in 1..<min(submitters, claimed.count) {
                group.enter()
                Thread.detachNewThread { work(); group.leave() }
            }
            work()
            group.wait()
        } else {
            for id in claimed { send(.claimed(id)) }
        }
    }
}
