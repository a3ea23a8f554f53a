// Learns when Slurm attempts end, for all of them at once: a look for result files in running/
// every quarter second (a stat each, no Slurm call), and one squeue for all watched names every
// few seconds, for jobs that ended without a result (node failure, preemption, cancelled before
// they started, killed at Slurm's own time limit) or whose wrapper could not run at all.
import Foundation

final class SlurmPoller: Sendable {
    private let commands: SlurmCommands
    private let runningFD: Int32
    private let log: Log
    private let watched = LockedBox([String: Watch]())  // by token
    private let thread = LockedBox(false)
    /// Seconds between squeue calls.
    static let squeueInterval = 3.0

    struct Watch: Sendable {
        var attempt: SlurmAttempt
        var ended: @Sendable (AttemptEnd) -> Void
        /// When squeue first showed it finished without a result (the wrapper's last write may be in flight).
        var finishedSeen: Double?
    }

    init(commands: SlurmCommands, runningFD: Int32, log: Log) {
        self.commands = commands
        self.runningFD = runningFD
        self.log = log
    }

    func watch(_ attempt: SlurmAttempt, _ ended: @escaping @Sendable (AttemptEnd) -> Void) {
        watched.withLock { $0[attempt.submission.token] = Watch(attempt: attempt, ended: ended) }
        let start = thread.withLock { running -> Bool in
            defer { running = true }
            return !running
        }
        if start {
            let t = Thread { [self] in loop() }
            t.name = "spoold.slurm.poller"
            t.start()
        }
    }

    private func loop() {
        var lastSqueue = 0.0
        while true {
            usleep(250_000)
            let now = ChildProcess.monotonic()
            let all = watched.withLock { $0 }
            if all.isEmpty { continue }
            var ends: [(String, AttemptEnd)] = []
            for (token, w) in all {
                let stem = w.attempt.submission.stem
                if let result = SupervisorFiles.read(SupervisorResult.self, name: SupervisorFiles.result(stem: stem), dirFD: runningFD) {
                    ends.append((token, end(of: w.attempt, result.end)))
                }
            }
            finish(ends)
            guard now - lastSqueue >= Self.squeueInterval else { continue }
            lastSqueue = now
            let left = watched.withLock { $0 }
            guard !left.isEmpty, let listed = commands.list(Array(left.keys)) else { continue }
            ends = []
            for (token, w) in left {
                // Finished (or unknown: Slurm forgot it after MinJobAge, or its controller lost its
                // state) without a result: looked at once more a squeue later, since the wrapper's
                // last write may be on its way.
                let state = listed[token].map(\.state)
                guard state.map({ SlurmCommands.finished.contains($0) }) ?? true else { continue }
                if let seen = w.finishedSeen, now - seen >= Self.squeueInterval {
                    ends.append((token, noResult(w.attempt, state: state ?? "unknown to Slurm")))
                } else if w.finishedSeen == nil {
                    watched.withLock { $0[token]?.finishedSeen = now }
                }
            }
            finish(ends)
        }
    }

    private func finish(_ ends: [(String, AttemptEnd)]) {
        for (token, end) in ends {
            guard let w = watched.withLock({ $0.removeValue(forKey: token) }) else { continue }
            w.ended(end)
        }
    }

    /// The wrapper's result, with the reason the daemon asked for the stop (scancel reaches the
    /// wrapper as SIGTERM, which it reports as a shutdown).
    private func end(of attempt: SlurmAttempt, _ reported: AttemptEnd) -> AttemptEnd {
        var end = reported
        end.executor = attempt.executor(host: SupervisorFiles.read(SupervisorInfo.self, name: SupervisorFiles.supervisor(stem: attempt.submission.stem), dirFD: runningFD)?.host)
        if let asked = attempt.requestedTeardown, end.teardown == nil || end.teardown == .shutdown { end.teardown = asked }
        return end
    }

    /// An attempt whose Slurm job ended without a result from its wrapper.
    private func noResult(_ attempt: SlurmAttempt, state: String) -> AttemptEnd {
        // The result may have landed between the two looks.
        if let result = SupervisorFiles.read(SupervisorResult.self, name: SupervisorFiles.result(stem: attempt.submission.stem), dirFD: runningFD) {
            return end(of: attempt, result.end)
        }
        let slurmID = attempt.submission.jobID ?? "?"
        if let asked = attempt.requestedTeardown {
            return AttemptEnd(termination: .signaled(SIGTERM), teardown: asked, usage: nil)
        }
        switch state {
        case "NODE_FAIL", "PREEMPTED", "BOOT_FAIL", "unknown to Slurm":
            log.warning("job \(attempt.id): Slurm job \(slurmID) ended \(state) without a result; it counts as interrupted (on_interrupt)")
            return AttemptEnd(termination: .signaled(SIGKILL), teardown: .shutdown, usage: nil,
                              interruption: "its Slurm job \(slurmID) ended \(state)")
        case "CANCELLED":
            log.warning("job \(attempt.id): Slurm job \(slurmID) was cancelled outside spoold; it counts as interrupted (on_interrupt)")
            return AttemptEnd(termination: .signaled(SIGTERM), teardown: .shutdown, usage: nil,
                              interruption: "its Slurm job \(slurmID) was cancelled outside spoold")
        case "TIMEOUT", "DEADLINE":
            return AttemptEnd(termination: .notStarted(SpoolError(.timeout, "job \(attempt.id): Slurm job \(slurmID) reached Slurm's own time limit (\(state)) before its wrapper reported")), teardown: nil, usage: nil)
        default:
            let said = attempt.wrapperOutput() ?? "no output"
            return AttemptEnd(termination: .notStarted(SpoolError(.spawnFailed, "job \(attempt.id): Slurm job \(slurmID) ended \(state) without a result from its wrapper (spoold supervise): \(said)")), teardown: nil, usage: nil)
        }
    }
}
