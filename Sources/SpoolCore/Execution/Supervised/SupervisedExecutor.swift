// The executor of live restore: each command attempt runs under its own supervisor process
// (`spoold supervise`, Supervisor.swift), which outlives the daemon. The daemon talks to it through
// files in running/ and signals sent through a pidfd (never a bare pid, which may be reused),
// learns its end by polling that pidfd, and reads the result it left. After a restart it finds
// the supervisors still running (`adopt`), or the results of attempts that ended meanwhile.
import Foundation
import CSpoolShim

final class SupervisedExecutor: Executor {
    private let store: StateStore
    private let environment: [String: String]
    private let grace: @Sendable () -> Double
    /// This daemon's own binary: supervisors are started from it (an upgrade's new path included).
    private let program: String

    init(store: StateStore, environment: [String: String], grace: @escaping @Sendable () -> Double) {
        self.store = store
        self.environment = environment
        self.grace = grace
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        program = n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }

    var info: ExecutorInfo { .local }
    private var dir: Int32 { store.layout.fd(.running) }

    func leftovers() -> any Leftovers {
        LocalExecutor.leftovers(spoolRoot: store.layout.root)
    }

    func start(_ plan: ProcessPlan) -> Result<any RunningAttempt, SpoolError> {
        let id = plan.id
        for name in SupervisorFiles.all(id) { unlinkat(dir, name, 0) }  // an earlier attempt's
        do {
            try SupervisorFiles.write(SupervisedPlan(plan, environment: environment, killGraceSeconds: grace()),
                                      name: SupervisorFiles.plan(id), dirFD: dir, durable: false)
        } catch {
            return .failure(SpoolError(.spawnFailed, "\(plan.label): cannot write its supervisor's plan: \(error)"))
        }
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(null) }
        // Its errors go where the daemon's go (the journal); nothing of the daemon's is inherited.
        let request = SpawnRequest(executable: program, arguments: ["spoold", "supervise", "--spool", store.layout.root, "--id", id.rawValue],
                                   environment: environment.map { "\($0.key)=\($0.value)" }, workingDirectory: "/",
                                   stdoutFD: null, stderrFD: 2)
        switch Spawn.start(request) {
        case .failure(let e):
            return .failure(SpoolError(.spawnFailed, "\(plan.label): cannot start its supervisor: \(e.message)"))
        case .success(let pid):
            let pidfd = cshim_pidfd_open(pid)
            guard pidfd >= 0 else {
                kill(pid, SIGKILL)
                var status: Int32 = 0
                waitpid(pid, &status, 0)
                return .failure(SpoolError(.spawnFailed, "\(plan.label): cannot watch its supervisor: \(SystemError("pidfd_open", String(pid)))"))
            }
            return .success(SupervisedAttempt(id: id, pid: pid, pidfd: pidfd, isChild: true, paused: false, store: store, grace: grace))
        }
    }

    /// What is left of job `id`'s supervised attempt after a restart.
    enum Found {
        /// Its supervisor still runs: the attempt goes on under this handle.
        case running(any RunningAttempt, SupervisorInfo)
        /// It ended while no daemon ran (or its supervisor died: then the end is an interruption).
        case ended(AttemptEnd, SupervisorInfo?)
        /// No supervisor was ever started for it.
        case none

        var info: SupervisorInfo? {
            switch self {
            case .running(_, let i): return i
            case .ended(_, let i): return i
            case .none: return nil
            }
        }
    }

    func find(_ id: JobID, paused: Bool) -> Found {
        let info = SupervisorFiles.read(SupervisorInfo.self, name: SupervisorFiles.supervisor(id), dirFD: dir)
        if let result = SupervisorFiles.read(SupervisorResult.self, name: SupervisorFiles.result(id), dirFD: dir) {
            return .ended(result.end, info)
        }
        guard let info else { return .none }
        // A pidfd first, then the check that it is our supervisor of this job: a reused pid fails the check.
        let pidfd = cshim_pidfd_open(info.pid)
        if pidfd >= 0 {
            if Self.isSupervisor(pid: info.pid, of: id, spool: store.layout.root) {
                return .running(SupervisedAttempt(id: id, pid: info.pid, pidfd: pidfd, isChild: false, paused: paused, store: store, grace: grace), info)
            }
            close(pidfd)
        }
        // It died without a result (killed): what it ran is stopped, and the attempt counts as interrupted.
        _ = LocalExecutor.leftovers(spoolRoot: store.layout.root).stop(id)
        if let result = SupervisorFiles.read(SupervisorResult.self, name: SupervisorFiles.result(id), dirFD: dir) {
            return .ended(result.end, info)  // it wrote its result just before it went
        }
        return .ended(AttemptEnd(termination: .signaled(SIGKILL), teardown: .shutdown, usage: nil), info)
    }

    /// Whether process `pid` is `spoold supervise` of job `id` on this spool.
    static func isSupervisor(pid: Int32, of id: JobID, spool: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard let at = args.firstIndex(of: "supervise") else { return false }
        let rest = Array(args[at...])
        func value(_ flag: String) -> String? { rest.firstIndex(of: flag).flatMap { $0 + 1 < rest.count ? rest[$0 + 1] : nil } }
        return value("--id") == id.rawValue && value("--spool") == spool
    }
}

/// A supervised attempt, seen from the daemon.
final class SupervisedAttempt: RunningAttempt {
    private let id: JobID
    private let pid: Int32
    private let pidfd: Int32
    /// Started by this daemon: it reaps the supervisor (an adopted one is reaped by init).
    private let isChild: Bool
    private let store: StateStore
    private let grace: @Sendable () -> Double
    private let wish: LockedBox<SupervisorControl>

    init(id: JobID, pid: Int32, pidfd: Int32, isChild: Bool, paused: Bool, store: StateStore, grace: @escaping @Sendable () -> Double) {
        self.id = id
        self.pid = pid
        self.pidfd = pidfd
        self.isChild = isChild
        self.store = store
        self.grace = grace
        wish = LockedBox(SupervisorControl(paused: paused, killGraceSeconds: grace()))
    }

    deinit { close(pidfd) }

    var info: AttemptInfo { AttemptInfo(executor: .local, pid: pid) }

    /// Writes the whole wish and tells the supervisor to look.
    private func ask(_ change: (inout SupervisorControl) -> Bool) -> Bool {
        wish.withLock { w in
            guard change(&w) else { return false }
            w.killGraceSeconds = grace()
            try? SupervisorFiles.write(w, name: SupervisorFiles.control(id), dirFD: store.layout.fd(.running), durable: false)
            cshim_pidfd_send_signal(pidfd, SIGUSR1)
            return true
        }
    }

    func pause() -> Bool { ask { w in defer { w.paused = true }; return !w.paused && w.teardown == nil } }
    func resume() -> Bool { ask { w in defer { w.paused = false }; return w.paused } }
    func tearDown(_ reason: TeardownReason) {
        _ = ask { w in
            guard w.teardown == nil else { return false }
            w.teardown = SupervisorResult.name(reason)
            return true
        }
    }

    func awaitEnd(_ ended: @escaping @Sendable (AttemptEnd) -> Void) {
        let (id, pid, pidfd, isChild, dir) = (self.id, self.pid, self.pidfd, self.isChild, store.layout.fd(.running))
        let root = store.layout.root
        Thread.detachNewThread {
            var fds = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            while poll(&fds, 1, -1) < 0 && errno == EINTR {}
            if isChild {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            }
            if let result = SupervisorFiles.read(SupervisorResult.self, name: SupervisorFiles.result(id), dirFD: dir) {
                ended(result.end)
                return
            }
            // The supervisor died without a result: what it ran is stopped; the attempt was interrupted.
            _ = LocalExecutor.leftovers(spoolRoot: root).stop(id)
            ended(AttemptEnd(termination: .signaled(SIGKILL), teardown: .shutdown, usage: nil))
        }
    }
}
