// The local executor: attempts run as process groups of this host, started with posix_spawn
// (program lookup in PATH, working directory, environment with the SPOOL_* variables, output
// files in running/; each check runs before posix_spawn so that a failure names what is wrong),
// seen to exit through a pidfd and reaped (ChildProcess), stopped by signals to the group, timed out by the
// time they really ran (paused time does not count).
import Foundation
import CSpoolShim

final class LocalExecutor: Executor {
    private let store: StateStore
    /// The daemon's environment, without what jobs must not see (NOTIFY_SOCKET...).
    private let environment: [String: String]
    /// The grace between SIGTERM and SIGKILL (a reload may change it).
    private let grace: @Sendable () -> Double
    private let timers: DispatchQueue

    init(store: StateStore, environment: [String: String], timers: DispatchQueue, grace: @escaping @Sendable () -> Double) {
        self.store = store
        self.environment = environment
        self.timers = timers
        self.grace = grace
    }

    var info: ExecutorInfo { .local }

    func leftovers() -> any Leftovers {
        Self.leftovers(spoolRoot: store.layout.root)
    }

    /// A local attempt never outlives its daemon (the daemon is its parent): nothing to adopt.
    func find(_ id: JobID, paused: Bool) -> FoundAttempt { .none }

    /// Process groups of this spool's jobs that are still alive, found by their environment.
    static func leftovers(spoolRoot: String) -> any Leftovers {
        LocalLeftovers(orphans: OrphanProcesses.list(spoolRoot: spoolRoot))
    }

    func start(_ plan: ProcessPlan) -> Result<any RunningAttempt, SpoolError> {
        switch spawn(plan) {
        case .failure(let e): return .failure(e)
        case .success(let pid):
            let attempt = LocalAttempt(child: ChildProcess(pid: pid), executor: self)
            FaultInjection.hit(.afterSpawn)
            if let timeout = plan.timeoutSeconds { armTimeout(attempt.child, timeout: timeout) }
            return .success(attempt)
        }
    }

    fileprivate func tearDown(_ child: ChildProcess, _ reason: TeardownReason) {
        child.teardown(reason, grace: grace(), timers: timers)
    }

    /// Tears the attempt down once it has run `timeout` seconds, paused time not counted. One timer
    /// source per running attempt, cancelled when its leader is reaped: a job that ends long before
    /// its timeout leaves nothing queued behind (an `asyncAfter` block would keep its process
    /// object until the deadline, a day later for a one-day timeout).
    private func armTimeout(_ child: ChildProcess, timeout: Double) {
        let source = DispatchSource.makeTimerSource(queue: timers)
        // Boxed: the handlers below are @Sendable; emptied at cancel, which breaks the cycle
        // source → handler → box → source.
        let box = LockedBox<(any DispatchSourceTimer)?>(source)
        source.schedule(deadline: .now() + max(0.001, timeout))
        source.setEventHandler { [weak self, weak child] in
            guard let self, let child else { return }
            let active = child.activeSeconds
            if child.isPaused {
                box.withLock { $0?.schedule(deadline: .now() + max(0.1, timeout - active)) }
            } else if active + 0.0005 < timeout {
                box.withLock { $0?.schedule(deadline: .now() + (timeout - active)) }
            } else {
                box.withLock { $0?.cancel(); $0 = nil }
                tearDown(child, .timeout(seconds: timeout))
            }
        }
        child.whenReaped { box.withLock { $0?.cancel(); $0 = nil } }
        source.resume()
    }

    private func spawn(_ plan: ProcessPlan) -> Result<pid_t, SpoolError> {
        let id = plan.id
        var env = environment
        for (k, v) in plan.env { env[k] = v }
        env["SPOOL_JOB_ID"] = id.rawValue
        env["SPOOL_ATTEMPT"] = String(plan.attempt)
        env["SPOOL_ROOT"] = store.layout.root
        env["SPOOL_PROGRESS"] = "\(store.layout.path(.running))/\(JobFiles.progress(id))"
        for (k, v) in plan.extraEnv { env[k] = v }

        let cwd: String
        if let c = plan.cwd { cwd = c.hasPrefix("/") ? c : "\(store.layout.root)/\(c)" } else { cwd = store.layout.root }
        var st = stat()
        guard stat(cwd, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            return .failure(SpoolError(.spawnFailed, "\(plan.label): working directory \"\(cwd)\" (cwd) does not exist or is not a directory"))
        }

        var executable: String
        var argv: [String]
        switch plan.action {
        case .command(let command):
            switch ExecutableLookup.resolve(command[0], searchPath: env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", cwd: cwd) {
            case .success(let path): executable = path
            case .failure(let e): return .failure(SpoolError(e.code, "\(plan.label): \(e.message)"))
            }
            argv = command
        case .shell(let line):
            executable = "/bin/sh"
            argv = ["sh", "-c", line]
        }

        if let owner = plan.owner, owner.uid != AccessPolicy.daemonUID || owner.gid != getegid() {
            // posix_spawn cannot change users: setpriv (util-linux) drops to the owner, then execs the job.
            guard ExecutableLookup.isExecutableFile("/usr/bin/setpriv") else {
                return .failure(SpoolError(.spawnFailed, "\(plan.label): cannot run as uid \(owner.uid): /usr/bin/setpriv (util-linux) is missing"))
            }
            let user = AccessPolicy.user(owner.uid)
            argv = ["setpriv", "--reuid=\(owner.uid)", "--regid=\(owner.gid)", user == nil ? "--clear-groups" : "--init-groups",
                    "--", executable] + argv.dropFirst()
            executable = "/usr/bin/setpriv"
            if let user {
                env["USER"] = user.name
                env["LOGNAME"] = user.name
            }
            // The owner's own home (not the daemon's), unless the job sets HOME itself.
            if plan.env["HOME"] == nil { env["HOME"] = user?.home ?? "/" }
        }
        let out: Int32, err: Int32
        do {
            out = try store.createFile(plan.stdoutName, in: .running, owner: plan.owner)
        } catch {
            return .failure(SpoolError(.spawnFailed, "\(plan.label): cannot create its output file: \(error)"))
        }
        defer { close(out) }
        do {
            err = try store.createFile(plan.stderrName, in: .running, owner: plan.owner)
        } catch {
            return .failure(SpoolError(.spawnFailed, "\(plan.label): cannot create its output file: \(error)"))
        }
        defer { close(err) }
        if let owner = plan.owner, owner.uid != AccessPolicy.daemonUID {
            // The job, running as its owner, cannot create files in running/ (the daemon's folder):
            // its SPOOL_PROGRESS file is made here, writable by the owner, readable by the daemon's group.
            progressFile(JobFiles.progress(id), owner: owner)
        }
        let request = SpawnRequest(executable: executable, arguments: argv, environment: env.map { "\($0.key)=\($0.value)" },
                                   workingDirectory: cwd, stdoutFD: out, stderrFD: err)
        return Spawn.start(request).mapError { SpoolError($0.code, "\(plan.label): \($0.message)") }
    }
}

extension LocalExecutor {
    /// An empty running/<name> owned by `owner` and the daemon's group, mode 0640 (kept if a previous
    /// attempt made it). Without it a job of another user than the daemon could not report progress.
    fileprivate func progressFile(_ name: String, owner: JobOwner) {
        let fd = openat(store.layout.fd(.running), name, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o640)
        guard fd >= 0 else { return }
        fchown(fd, owner.uid, getegid())
        fchmod(fd, 0o640)
        close(fd)
    }
}

/// A process group of this host.
private final class LocalAttempt: RunningAttempt {
    let child: ChildProcess
    private let executor: LocalExecutor

    init(child: ChildProcess, executor: LocalExecutor) {
        self.child = child
        self.executor = executor
    }

    func pause() -> Bool { child.pause() }
    func resume() -> Bool { child.resume() }
    func tearDown(_ reason: TeardownReason) { executor.tearDown(child, reason) }

    var info: AttemptInfo { AttemptInfo(executor: executor.info, pid: child.pid) }

    /// The leader's exit is seen through a pidfd, which becomes readable when it exits: no thread
    /// waits per child (a thread start per job showed in the profile of a drain), and the end is
    /// handled on the exit watcher's thread that woke (ExitWatcher). Where the kernel has no
    /// pidfd_open (before 5.3), a thread waits in waitid as before.
    func awaitEnd(_ ended: @escaping @Sendable (AttemptEnd) -> Void) {
        let child = self.child
        let finish: @Sendable () -> Void = {
            let termination = child.waitForExit()  // at once when the pidfd said it exited
            FaultInjection.hit(.afterReap)
            ended(AttemptEnd(termination: termination, teardown: child.teardownReason, usage: child.usage))
        }
        let fd = cshim_pidfd_open(child.pid)
        guard fd >= 0 else { return Thread.detachNewThread(finish) }
        guard ExitWatcher.shared.watch(fd, finish) else {
            close(fd)
            return Thread.detachNewThread(finish)
        }
    }
}

/// Process groups of jobs of this spool that outlived their daemon (found by their environment).
private struct LocalLeftovers: Leftovers {
    let orphans: [OrphanProcesses.Orphan]

    func stop(_ id: JobID) -> String? {
        stop(id) { _ in true }
    }

    func stop(_ id: JobID, where matches: (Int?) -> Bool) -> String? {
        let pids = orphans.filter { $0.id == id.rawValue && matches($0.operation) }.map(\.pid)
        guard !pids.isEmpty else { return nil }
        for pid in pids { OrphanProcesses.kill(group: pid) }
        return "process group\(pids.count == 1 ? "" : "s") \(pids.map(String.init).joined(separator: ", "))"
    }
}
