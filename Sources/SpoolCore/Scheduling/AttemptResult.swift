// What an attempt's end means for its job, as a pure function of the running record and how
// the process ended: the final record for done/, or a requeued record for pending/ (a retry
// with backoff, or an interrupted job under `on_interrupt: requeue`).

/// How an attempt's process ended.
public enum Termination: Sendable, Equatable {
    case exited(Int32)
    case signaled(Int32)
    /// The process could not be started.
    case notStarted(SpoolError)
}

/// Why the daemon stopped an attempt, if it did.
public enum TeardownReason: Sendable, Equatable {
    case timeout(seconds: Double)
    case shutdown
    case cancel
}

public enum AttemptResult {
    /// Where the record goes and what it says.
    public enum Next: Equatable, Sendable {
        case done(JobRecord)
        case requeue(JobRecord)
    }

    /// Resolves the end of an attempt. `running` is the record with `started_at` and `attempts` of this attempt.
    public static func resolve(_ running: JobRecord, termination: Termination, teardown: TeardownReason?,
                               now: Timestamp, random unit: Double) -> Next {
        var r = running
        r.finishedAt = now
        r.pid = nil
        r.durationSeconds = r.startedAt.map { max(0, now.seconds - $0.seconds) }
        switch termination {
        case .exited(let code): r.exitCode = code; r.signal = nil
        case .signaled(let sig): r.exitCode = nil; r.signal = sig
        case .notStarted: r.exitCode = nil; r.signal = nil
        }
        let policy = r.spec?.effectiveOnInterrupt ?? .requeue

        // Interrupted by a daemon stop: the job's own rule decides.
        if teardown == .shutdown {
            if policy == .requeue {
                return .requeue(requeued(r, reason: "requeued after the daemon stopped during attempt \(r.attempts)", runAfter: nil))
            }
            r.status = .failed
            r.error = SpoolError(.interrupted, "job \(r.id): the daemon stopped during attempt \(r.attempts) and on_interrupt is \"fail\"")
            return .done(finalized(r, succeeded: false))
        }
        if teardown == .cancel {
            r.status = .cancelled
            r.error = SpoolError(.cancelled, "job \(r.id): cancelled while running")
            // Cut short: its percent stays what it reported itself (0 if it never did), nothing finished.
            var f = finalized(r, succeeded: false)
            f.progress = Progress(total: 1, percent: r.progress.percent, etaSeconds: nil, message: r.progress.message)
            return .done(f)
        }

        guard let error = failure(of: termination, teardown: teardown, label: "job \(r.id)") else {
            r.status = .succeeded
            r.error = nil
            return .done(finalized(r, succeeded: true))
        }
        r.error = error
        r.failedAttempts += 1
        let retries = r.spec?.effectiveRetries ?? 0
        if r.failedAttempts <= retries {
            let delay = Backoff.delay(base: r.spec?.effectiveRetryDelay ?? 1, failedAttempts: r.failedAttempts, unit: unit)
            let at = now.adding(delay)
            return .requeue(requeued(r, reason: "retry \(r.failedAttempts) of \(retries) after \(error.code.rawValue), not before \(at.rfc3339)", runAfter: at))
        }
        r.status = .failed
        return .done(finalized(r, succeeded: false))
    }

    /// What went wrong in an attempt, nil if nothing did: one mapping for jobs and batch
    /// operations. `label` names the attempt ("job X", "job X operations[3] (name)").
    public static func failure(of termination: Termination, teardown: TeardownReason?, label: String) -> SpoolError? {
        switch teardown {
        case .timeout(let seconds):
            return SpoolError(.timeout, "\(label): timed out after \(format(seconds)) s (timeout_seconds); its process group was stopped")
        case .cancel:
            return SpoolError(.cancelled, "\(label): cancelled while running")
        case .shutdown, nil:
            switch termination {
            case .exited(0): return nil
            case .exited(let code): return SpoolError(.exitNonzero, "\(label): command exited with status \(code)")
            case .signaled(let sig): return SpoolError(.killedBySignal, "\(label): command was killed by signal \(sig) (\(signalName(sig)))")
            case .notStarted(let e): return e
            }
        }
    }

    static func requeued(_ r: JobRecord, reason: String, runAfter: Timestamp?) -> JobRecord {
        var q = r
        q.status = .pending
        q.finishedAt = nil
        q.waitReason = reason
        q.runAfter = runAfter
        q.stdout = nil
        q.stderr = nil
        if r.operations == nil { q.progress = Progress(total: 1) }
        return q
    }

    static func finalized(_ r: JobRecord, succeeded: Bool) -> JobRecord {
        var f = r
        f.waitReason = nil
        f.runAfter = nil
        f.progress = Progress(total: 1, succeeded: succeeded ? 1 : 0, failed: succeeded ? 0 : 1, percent: 100, etaSeconds: 0,
                              message: r.progress.message)
        return f
    }

    static func format(_ s: Double) -> String {
        s == s.rounded() ? String(Int(s)) : String(s)
    }

    public static func signalName(_ sig: Int32) -> String {
        let names: [Int32: String] = [1: "SIGHUP", 2: "SIGINT", 3: "SIGQUIT", 4: "SIGILL", 6: "SIGABRT", 8: "SIGFPE", 9: "SIGKILL",
                                      11: "SIGSEGV", 13: "SIGPIPE", 14: "SIGALRM", 15: "SIGTERM", 24: "SIGXCPU", 25: "SIGXFSZ"]
        return names[sig] ?? "signal \(sig)"
    }
}
