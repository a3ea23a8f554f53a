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
        program = OwnExecutable.path
    }

    var info: ExecutorInfo { .local }
    private var dir: Int32 { store.layout.fd(.running) }

    func leftovers() -> any Leftovers {
        LocalExecutor.leftovers(spoolRoot: store.layout.root)
    }

    func start(_ plan: ProcessPlan) -> Result<any RunningAttempt, SpoolError> {
        let id = plan.id, operation = plan.operation
        for name in SupervisorFiles.all(id, operation: operation) { unlinkat(dir, name, 0) }  // an earlier attempt's
        do {
            try SupervisorFiles.write(SupervisedPlan(plan, environment: environment, killGraceSeconds: grace(),
                                                         privacy: store.privacy.withLock { $0 }),
                                      name: SupervisorFiles.plan(id, operation: operation), dirFD: dir, durable: false)
        } catch {
            return .failure(SpoolError(.spawnFailed, "\(plan.label): cannot write its supervisor's plan: \(error)"))
        }
        let null = open("/dev/null", O_WRONLY | O_CLOEXEC)
        defer { close(null) }
        // Its errors go where the daemon's go (the journal); nothing of the daemon's is inherited.
        let arguments = ["spoold", "supervise", "--spool", store.layout.root, "--id", id.rawValue] + (operation.map { ["--operation", String($0)] } ?? [])
        let request = SpawnRequest(executable: program, arguments: arguments,
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
            return .success(SupervisedAttempt(id: id, operation: operation, pid: pid, pidfd: pidfd, isChild: true, paused: false, store: store, grace: grace))
        }
    }

    /// What is left of job `id`'s supervised attempt after a restart.
    func find(_ id: JobID, paused: Bool) -> FoundAttempt {
        find(id, operation: nil, paused: paused)
    }

    /// What is left of the supervised attempt of job `id` (of its operation `operation`, by its
    /// index in the job file, for a batch) after a restart.
    func find(_ id: JobID, operation: Int?, paused: Bool) -> FoundAttempt {
        guard let plan = SupervisorFiles.read(SupervisedPlan.self, name: SupervisorFiles.plan(id, operation: operation), dirFD: dir),
              plan.operation == operation else { return .none }
        var info = SupervisorFiles.read(SupervisorInfo.self, name: SupervisorFiles.supervisor(id, operation: operation), dirFD: dir)
        if info == nil, let starting = Self.supervisorProcess(of: id, operation: operation, spool: store.layout.root) {
            // The daemon died while its supervisor was starting the job: it says where it runs in a moment.
            for _ in 0..<300 where info == nil {
                usleep(10_000)
                info = SupervisorFiles.read(SupervisorInfo.self, name: SupervisorFiles.supervisor(id, operation: operation), dirFD: dir)
            }
            if info == nil {
                // Stuck: it and what it started are stopped, so that nothing runs beside the next attempt.
                kill(starting, SIGKILL)
                _ = LocalExecutor.leftovers(spoolRoot: store.layout.root).stop(id) { $0 == operation }
                return .none
            }
        }
        let origin = AttemptOrigin(attempt: plan.attempt, startedAt: info?.startedAt, pid: info?.pid)
        if let result = SupervisorFiles.read(SupervisorResult.self, name: SupervisorFiles.result(id, operation: operation), dirFD: dir) {
            return .ended(result.end, origin)
        }
        guard let info else { return .none }  // its supervisor never got the job going
        // A pidfd first, then the check that it is our supervisor of this job: a reused pid fails the check.
        let pidfd = cshim_pidfd_open(info.pid)
        if pidfd >= 0 {
            if Self.isSupervisor(pid: info.pid, of: id, operation: operation, spool: store.layout.root) {
                return .running(SupervisedAttempt(id: id, operation: operation, pid: info.pid, pidfd: pidfd, isChild: false, paused: paused,
                                                  store: store, grace: grace), origin)
            }
            close(pidfd)
        }
        // It died without a result (killed): what it ran is stopped, and the attempt counts as interrupted.
        _ = LocalExecutor.leftovers(spoolRoot: store.layout.root).stop(id) { $0 == operation }
        if let result = SupervisorFiles.read(SupervisorResult.self, name: SupervisorFiles.result(id, operation: operation), dirFD: dir) {
            return .ended(result.end, origin)  // it wrote its result just before it went
        }
        return .ended(AttemptEnd(termination: .signaled(SIGKILL), teardown: .shutdown, usage: nil), origin)
    }

    /// The process that is `spoold supervise` of job `id` (and operation `operation`) on this spool,
    /// found by its command line (only when its own file does not name it yet).
    static func supervisorProcess(of id: JobID, operation: Int?, spool: String) -> Int32? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.lazy.compactMap { Int32($0) }.first { isSupervisor(pid: $0, of: id, operation: operation, spool: spool) }
    }

    /// Whether process `pid` is `spoold supervise` of job `id` (and operation `operation`) on this spool.
    static func isSupervisor(pid: Int32, of id: JobID, operation: Int? = nil, spool: String) -> Bool {
        guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
        let args = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
        guard let at = args.firstIndex(of: "supervise") else { return false }
        let rest = Array(args[at...])
        func value(_ flag: String) -> String? { rest.firstIndex(of: flag).flatMap { $0 + 1 < rest.count ? rest[$0 + 1] : nil } }
        return value("--id") == id.rawValue && value("--spool") == spool && value("--operation") == operation.map(String.init)
    }
}

/// A supervised attempt, seen from the daemon.
final class SupervisedAttempt: RunningAttempt {
    private let id: JobID
    /// A batch operation's index in the job file; nil for a command job.
    private let operation: Int?
    private let pid: Int32
    private let pidfd: Int32
    /// Started by this daemon: it reaps the supervisor (an adopted one is reaped by init).
    private let isChild: Bool
    private let store: StateStore
    private let grace: @Sendable () -> Double
    private let wish: LockedBox<SupervisorControl>

    init(id: JobID, operation: Int?, pid: Int32, pidfd: Int32, isChild: Bool, paused: Bool, store: StateStore,
         grace: @escaping @Sendable () -> Double) {
        self.id = id
        self.operation = operation
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
            try? SupervisorFiles.write(w, name: SupervisorFiles.control(id, operation: operation), dirFD: store.layout.fd(.running), durable: false)
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
        let (id, operation, pid, pidfd, isChild, dir) = (self.id, self.operation, self.pid, self.pidfd, self.isChild, store.layout.fd(.running))
        let root = store.layout.root
        Thread.detachNewThread {
            var fds = pollfd(fd: pidfd, events: Int16(POLLIN), revents: 0)
            while poll(&fds, 1, -1) < 0 && errno == EINTR {}
            if isChild {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
            }
            if let result = SupervisorFiles.read(SupervisorResult.self, name: SupervisorFiles.result(id, operation: operation), dirFD: dir) {
                ended(result.end)
                return
            }
            // The supervisor died without a result: what it ran is stopped; the attempt was interrupted.
            _ = LocalExecutor.leftovers(spoolRoot: root).stop(id) { $0 == operation }
            ended(AttemptEnd(termination: .signaled(SIGKILL), teardown: .shutdown, usage: nil))
        }
    }
}
