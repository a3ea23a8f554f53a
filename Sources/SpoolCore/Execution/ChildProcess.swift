// One running attempt's process and its teardown. Once the leader has exited (its pidfd said so,
// LocalExecutor), waitid(WNOWAIT) sees it without reaping it, so its pid (= the group id) cannot be reused while
// the daemon may still signal the group. Teardown is data: SIGTERM to the group, then SIGKILL
// when the grace period ends; once the leader has exited during a teardown, whatever is left in
// its group is killed at once. The leader is reaped by its pid only (never waitpid(-1)).
import Foundation

/// A spawned job process.
public final class ChildProcess: Sendable {
    public let pid: pid_t
    private let state = LockedBox(State())

    struct State {
        var teardown: TeardownReason?
        var isReaped = false
        var startedAt = ChildProcess.monotonic()
        /// Set while the group is stopped (SIGSTOP); stopped time does not count against the timeout.
        var pausedAt: Double?
        var pausedTotal = 0.0
        /// What the leader (and the children it waited for) used, once reaped.
        var usage: ResourceUsage?
    }

    /// Run once the leader is reaped (its timeout timer's cancel).
    private let reapedHandlers = LockedBox<[@Sendable () -> Void]>([])

    public init(pid: pid_t) {
        self.pid = pid
    }

    static func monotonic() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Seconds the process has run, not counting time it was paused.
    public var activeSeconds: Double {
        state.withLock { s in
            let now = ChildProcess.monotonic()
            return now - s.startedAt - s.pausedTotal - (s.pausedAt.map { now - $0 } ?? 0)
        }
    }

    public var isPaused: Bool { state.withLock { $0.pausedAt != nil } }

    /// SIGSTOP to the group; false if it is already paused, ended, or being stopped.
    public func pause() -> Bool {
        state.withLock { s in
            guard !s.isReaped, s.teardown == nil, s.pausedAt == nil else { return false }
            kill(-pid, SIGSTOP)
            s.pausedAt = ChildProcess.monotonic()
            return true
        }
    }

    /// SIGCONT to the group; false if it was not paused.
    public func resume() -> Bool {
        state.withLock { s in
            guard !s.isReaped, let at = s.pausedAt else { return false }
            kill(-pid, SIGCONT)
            s.pausedTotal += ChildProcess.monotonic() - at
            s.pausedAt = nil
            return true
        }
    }

    public var teardownReason: TeardownReason? { state.withLock { $0.teardown } }

    /// What the attempt used (set when the leader is reaped).
    public var usage: ResourceUsage? { state.withLock { $0.usage } }

    /// Starts a teardown (the first reason wins): SIGTERM now, SIGKILL after `grace` seconds.
    public func teardown(_ reason: TeardownReason, grace: Double, timers: DispatchQueue) {
        let first = state.withLock { s -> Bool in
            guard s.teardown == nil, !s.isReaped else { return false }
            s.teardown = reason
            return true
        }
        guard first else { return }
        signalGroup(SIGTERM)
        signalGroup(SIGCONT)  // a paused job must be able to act on SIGTERM
        timers.asyncAfter(deadline: .now() + grace) { [self] in
            signalGroup(SIGKILL)
        }
    }

    /// Sends `sig` to the process group unless the leader has been reaped.
    public func signalGroup(_ sig: Int32) {
        state.withLock { s in
            if !s.isReaped { kill(-pid, sig) }
        }
    }

    /// Runs `handler` once the leader is reaped (now, if it is already).
    public func whenReaped(_ handler: @escaping @Sendable () -> Void) {
        let now = state.withLock { s -> Bool in
            if s.isReaped { return true }
            reapedHandlers.withLock { $0.append(handler) }
            return false
        }
        if now { handler() }
    }

    /// Waits until the leader exits (at once when its pidfd said it has), finishes any teardown,
    /// reaps it. Call once.
    public func waitForExit() -> Termination {
        var info = siginfo_t()
        while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
            if errno != EINTR { break }
        }
        if teardownReason != nil { signalGroup(SIGKILL) }  // leftovers of a stopped job
        var status: Int32 = 0
        var rc: pid_t = 0
        var used = rusage()
        state.withLock { s in
            // The leader is a zombie by now: this reap does not block. wait4 also says what it used.
            repeat { rc = wait4(pid, &status, 0, &used) } while rc < 0 && errno == EINTR
            s.isReaped = true
        }
        if rc == pid {
            // Outside the lock: the peak may need a read of /proc (InheritedPeak).
            let usage = ResourceUsage(cpuUserSeconds: Double(used.ru_utime.tv_sec) + Double(used.ru_utime.tv_usec) / 1e6,
                                      cpuSystemSeconds: Double(used.ru_stime.tv_sec) + Double(used.ru_stime.tv_usec) / 1e6,
                                      maxRSSBytes: InheritedPeak.jobPeakBytes(maxRSSKiB: Int64(used.ru_maxrss)))
            state.withLock { $0.usage = usage }
        }
        for handler in reapedHandlers.withLock({ h in defer { h.removeAll() }; return h }) { handler() }
        if rc < 0 { return .signaled(SIGKILL) }
        if (status & 0x7f) == 0 { return .exited((status >> 8) & 0xff) }
        return .signaled(status & 0x7f)
    }
}
