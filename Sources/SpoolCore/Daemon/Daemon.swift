// The runtime: owns the engine (Engine/, every decision) behind one lock, turns what happens
// into its events and carries out its actions (Daemon+Runtime.swift). All file I/O happens here,
// outside that lock.
//
// Threads and queues:
// - intake queue (serial): loading pending/ at start, inotify events, scans, intake batches,
//   control requests, drain checks;
// - backlog queue (serial): parked jobs' records read back from pending/ (Daemon+Backlog.swift);
// - dispatcher thread: the only waiter on the worker semaphore; claims picked jobs and starts them;
// - inotify threads (InboxWatcher): inbox/ and control/ events, handled on the intake queue;
// - exit watcher threads (the local executor's ExitWatcher): a running attempt's exit, seen
//   through its pidfd; a local command job's end starts the next step there with its permit
//   (`endHandingOn`);
// - built-in queue (concurrent): loops of built-in operations, each on the worker permit of its
//   first, which also carry out the next step when it is something else (Daemon+Builtins.swift);
//   a thread of its own per http operation;
// - finish queue (serial): writes final and requeued records in batches, and running-state updates;
// - timer queue (serial): signals, timers the engine arms, periodic work.
import Foundation

public final class Daemon: Sendable {
    /// The settings; SIGHUP may change the live ones (see Daemon+Service.swift).
    let settings: LockedBox<DaemonOptions>
    var options: DaemonOptions { settings.withLock { $0 } }
    let log: Log
    let notify: SystemdNotify
    let metrics: LockedBox<SpoolMetrics>
    let layout: SpoolLayout
    /// What the spool is on: a network or FUSE filesystem changes what holds (SpoolFilesystem.swift).
    let filesystem: SpoolFilesystem
    let lock: SpoolLock
    let store: StateStore
    let index = JobIndex()
    let sequence = SequenceClock()
    let idGenerator = JobIDGenerator()
    let intake: Intake
    /// Where attempts run (the executor seam, Execution/Executor.swift).
    let executor: any Executor
    /// With live restore: where command attempts run instead, each under its own supervisor.
    let supervised: SupervisedExecutor?
    /// Where the jobs of `"executor": "slurm"` queues run (SPEC §9); nil without such a queue.
    let slurm: SlurmExecutor?
    /// The event log of SPEC §8 (nil if events/ cannot be opened: the daemon runs on, and says so).
    let events: EventLog?
    /// The history index beside done/ (History/); off with --lock-file (several daemons share the spool).
    let history: History?

    /// The engine and what the runtime keeps beside it (attempt handles, the jitter): the one lock.
    let core: LockedBox<Core>
    /// Records waiting for the finisher (its queue's own list), and how many it is writing now.
    let writes = LockedBox(FinisherWrites())
    /// Open checkpoint journals of running batches: each operation's end looks its batch's up, on
    /// the thread of a loop of built-ins, so not under the engine's lock, which the loops share.
    let journals = LockedBox<[JobID: BatchJournal]>([:])
    let lifecycle = LockedBox(Lifecycle())
    /// Held while READY=1, a reload's RELOADING=1 and READY=1, or STOPPING=1 is told with the
    /// lifecycle state it depends on, so that they reach systemd in an order that is true. A lock
    /// of its own: a send to the notify socket blocks while systemd's queue is full, and nothing
    /// that takes the lifecycle lock (every job's end) may wait for that.
    let notifyOrder = LockedBox(())
    /// One permit per worker; only the dispatcher waits on it. An ended attempt's permit goes back
    /// to it once, or straight to the next step (`endHandingOn`, a loop of built-ins).
    let slots: DispatchSemaphore

    let intakeQueue = DispatchQueue(label: "spoold.intake")
    let finishQueue = DispatchQueue(label: "spoold.finish")
    let timerQueue = DispatchQueue(label: "spoold.timers")
    /// Reads parked jobs' records back (Daemon+Backlog.swift): its own queue, so that a refill never
    /// waits behind an intake pass.
    let backlogQueue = DispatchQueue(label: "spoold.backlog")
    /// Built-in operations run here, as many at once as the worker slots allow (libdispatch
    /// reuses its threads; a thread per operation cost more than most operations do).
    let builtinQueue = DispatchQueue(label: "spoold.builtins", attributes: .concurrent)
    let exitSignal = DispatchSemaphore(value: 0)
    /// The timers (cancelled at exit) and the signal sources (kept to the end: on Linux every
    /// DispatchSource conforms to every source protocol, so the two cannot be told apart by type).
    let sources = LockedBox<[any DispatchSourceProtocol]>([])
    let signalSources = LockedBox<[any DispatchSourceProtocol]>([])
    /// The periodic rescan (also in `sources`), kept to change its period on reload.
    let rescanTimer = LockedBox<(any DispatchSourceTimer)?>(nil)
    let watcher = LockedBox<InboxWatcher?>(nil)
    let controlWatcher = LockedBox<InboxWatcher?>(nil)
    /// Control requests whose job was not known yet, by file name: each applies under the engine's
    /// lock in the step that accepts its job (`accept`, `controlsWaiting`), else at its next look.
    let deferredControls = LockedBox([FileName: DeferredControl]())
    /// Finished jobs with `ttl_seconds`, by the time they are removed.
    let expiries = LockedBox(ExpirySchedule())
    /// Which pause files count (as root: an administrator's only).
    let pauseFiles = PauseFiles()

    /// What the one lock guards.
    struct Core: Sendable {
        var engine: Engine
        /// The executor's handles of the attempts that run now.
        var attempts: [AttemptKey: any RunningAttempt] = [:]
        /// The draw for each event's `random` (retry jitter): a generator of its own under this lock,
        /// as the system's costs a getrandom(2) call per draw, two per operation of a batch.
        var jitter = SplitMix64(seed: UInt64.random(in: 0...UInt64.max))
        /// Modification time of each job's SPOOL_PROGRESS file when last read.
        var progressSeen: [JobID: Double] = [:]

        /// The engine's answer to `event`, with a jitter drawn for it.
        mutating func handle(_ event: EngineEvent, now: Timestamp) -> [EngineAction] {
            let random = Double.random(in: 0..<1, using: &jitter)
            return engine.handle(event, now: now, random: random)
        }
    }

    struct Lifecycle {
        /// READY=1 sent (--drain stops only after: never a STOPPING=1 before READY=1).
        var isReady = false
        /// pending/ loaded and the first scans done (the start-up block on the intake queue): before
        /// that the engine holds nothing and the spool would look idle to --drain. A drain check
        /// queued by a record that recovery wrote ran after READY=1 but before the load, and the
        /// daemon exited with every pending job left (the crash-state explorer found it).
        var isLoaded = false
        var isStopping = false
        /// Every job has ended and the exit sequence has begun: control requests wait for the next start.
        var isExiting = false
        var exitCode: Int32?
        var intakePausedUntil: Timestamp?
        var diskFullLogged = false
        var lowSpaceLogged = false
        /// The worker count the semaphore was made for (a reload may change it).
        var workers = 0
        /// Permits to drop as they come back, after a reload lowered the worker count.
        var owedSlots = 0
        /// The configuration file as last loaded, for SIGHUP.
        var config: DaemonConfig?
    }

    public enum StartError: Error, CustomStringConvertible {
        case spool(String)
        public var description: String {
            switch self { case .spool(let m): return m }
        }
    }

    public init(options: DaemonOptions) throws {
        self.settings = LockedBox(options)
        self.log = Log(minimum: options.logLevel)
        self.notify = SystemdNotify()
        do {
            layout = try SpoolLayout(path: options.spoolPath)
        } catch {
            throw StartError.spool("cannot open spool \(options.spoolPath): \(error)")
        }
        do {
            lock = try SpoolLock(layout: layout, path: options.lockFile)
        } catch {
            throw StartError.spool("\(error)")
        }
        var st = stat()
        if fstat(layout.fd(.inbox), &st) == 0, st.st_mode & S_IWOTH != 0, st.st_mode & S_ISVTX == 0,
           !options.allowWorldWritableInbox {
            throw StartError.spool("\(layout.path(.inbox)) is world-writable without the sticky bit: anyone could run commands as this daemon's user; restrict it (chmod o-w, or give it a group and mode 2770) or start with --allow-world-writable-inbox")
        }
        filesystem = SpoolFilesystem.of(fd: layout.rootFD)
        store = StateStore(layout: layout, durable: options.durable, recycles: !filesystem.isShared)
        store.privacy.withLock { $0 = ResultPrivacy(access: options.intake.access) }
        do {
            events = try EventLog(root: layout.root, maxAgeSeconds: options.retention?.doneMaxAgeSeconds)
        } catch {
            events = nil
            log.error("events: cannot open the event log: \(error); no events are written")
        }
        history = History(layout: layout, log: log, shared: options.lockFile != nil)
        if let history { events?.observe { id, event, time in history.observe(id, event, at: time) } }
        intake = Intake(store: store, index: index, idGenerator: idGenerator, sequence: sequence,
                        config: options.intake, log: log)
        // Jobs must not talk to systemd as if they were the daemon.
        let environment = ProcessInfo.processInfo.environment.filter { !SystemdNotify.environmentKeys.contains($0.key) }
        let settings = self.settings
        executor = LocalExecutor(store: store, environment: environment, timers: timerQueue,
                                 grace: { settings.withLock { $0.killGraceSeconds } })
        // A supervisor must not crash itself at the daemon's fault-injection points.
        supervised = options.liveRestore
            ? SupervisedExecutor(store: store, environment: environment.filter { $0.key != FaultInjection.environmentKey },
                                 grace: { settings.withLock { $0.killGraceSeconds } })
            : nil
        let slurmQueues = options.remoteQueues.filter { $0.value.executor == .slurm }
        if slurmQueues.isEmpty {
            slurm = nil
        } else {
            // sbatch passes its environment on to the wrapper: no fault injection on the nodes.
            let clean = environment.filter { $0.key != FaultInjection.environmentKey }
            switch SlurmCommands.find(path: environment["PATH"] ?? "", environment: clean) {
            case .failure(let e): throw StartError.spool(e.message)
            case .success(let commands):
                slurm = SlurmExecutor(store: store, commands: commands, environment: clean,
                                      queues: slurmQueues, grace: { settings.withLock { $0.killGraceSeconds } }, log: log)
            }
        }
        metrics = LockedBox(SpoolMetrics(startTime: Timestamp.now().seconds, spool: layout.root))
        slots = DispatchSemaphore(value: max(1, options.workers))
        core = LockedBox(Core(engine: Engine(queueLimits: options.queueLimits, workers: options.workers, gpus: options.gpus,
                                             liveRestore: options.liveRestore, remoteQueues: Set(options.remoteQueues.keys),
                                             pendingWindow: options.pendingWindow)))
        lifecycle.withLock {
            $0.workers = max(1, options.workers)
            $0.config = options.config
        }
        let core = self.core
        intake.startsEarly.withLock {
            $0 = Intake.EarlyRule { spec in core.withLock { $0.engine.mayStartBeforeDurable(spec) } }
        }
    }

    /// Recovers, starts every part, and blocks until the daemon should exit; returns the exit code.
    public func run() -> Int32 {
        installSignalHandlers()
        describeFilesystem()
        recover()
        startIntake()
        startControl()
        // pending/ is read on the intake queue while READY=1 is sent (a million records take minutes
        // from a cold disk, longer than systemd waits for a start); inbox and control events that
        // come meanwhile wait behind it (sequences are time-based besides, so new jobs get later
        // ones than every job found). Control requests that
        // waited while the daemon was down are then applied before any job starts (the dispatchers
        // start after them), so that a cancel dropped during the downtime wins over its job. Those
        // naming jobs still in the inbox wait, and are applied as those jobs are accepted.
        intakeQueue.async { [self] in
            loadPending(now: Timestamp.now())
            rescanControl()
            startDispatchers()
            rescanInbox()
            lifecycle.withLock { $0.isLoaded = true }
        }
        startTimers()
        awaitSignalHandlers()
        let (running, pending, _) = core.withLock { $0.engine.counts }
        log.info("spoold: ready on \(layout.root) with \(options.workers) workers; \(pending) pending, \(running) running\(options.drain ? "; draining" : "")")
        if AccessPolicy.runsAsOwner {
            log.notice("spoold: running as root: each job runs as the owner of its file; files owned by root are \(options.intake.access.allowRoot ? "allowed (--allow-root-jobs or allow_root_jobs)" : "rejected as forbidden unless --allow-root-jobs (or allow_root_jobs in config.json)")")
            let access = options.intake.access
            let admins = access.adminGroup.map { "root and members of group \($0)" } ?? "root (no admin_group set)"
            if access.sharedResults {
                log.notice("spoold: only a job's owner or an administrator (\(admins)) may control it; records and outputs are readable by every member (shared_results)")
            } else {
                log.notice("spoold: only a job's owner or an administrator (\(admins)) may control it or read its record and outputs")
                if !ResultPrivacy.aclsWork(tmpFD: layout.fd(.tmp)) {
                    log.error("spoold: the spool's file system does not take POSIX ACLs: records and outputs are readable by the administrators only, not by their owners; mount it with ACL support or set shared_results in config.json")
                }
            }
        }
        let status = statusLine()
        notifyOrder.withLock { _ in
            _ = notify.ready(status: status)
            lifecycle.withLock { $0.isReady = true }
        }
        if options.drain { intakeQueue.async { [self] in drainIfIdle() } }
        startServiceTimers()
        exitSignal.wait()
        // No timer fires and no control request is taken from here on: one under way while the
        // process exits would leave its scratch file in tmp/ (the crash-state explorer found one
        // after a --drain), or write after the clean-stop mark. What is under way ends in the queue
        // syncs below; a control request's delayed recheck finds the daemon exiting. (The signal
        // sources stay: a second SIGTERM must not kill the process.)
        lifecycle.withLock { $0.isExiting = true }
        for timer in sources.withLock({ $0 }) { timer.cancel() }
        controlWatcher.withLock { w in
            w?.cancel()
            w = nil
        }
        intakeQueue.sync {}
        let code = lifecycle.withLock { $0.exitCode ?? 0 }
        let clean = code == 0 && CleanStop.isVouched(lockFile: options.lockFile, durable: store.durable)
        // A clean stop leaves the spares for the next start (SparePool): the pool is sealed and the
        // mark's syncfs below makes their old names' removal durable.
        finishQueue.sync { if !clean { store.removeSpares() } }
        events?.flush()
        history?.flush()
        timerQueue.sync { writeMetrics() }
        if clean {
            // Once intake and the finisher are idle (an intake pass in flight ends first): nothing
            // writes a record after the mark's syncfs.
            intakeQueue.sync { finishQueue.sync { CleanStop.mark(layout, sparesTokens: store.sealSpares()) } }
        }
        return code
    }

    /// Ends `run()` with `code`.
    func exit(_ code: Int32) {
        let first = lifecycle.withLock { l -> Bool in
            guard l.exitCode == nil else { return false }
            l.exitCode = code
            return true
        }
        if first { exitSignal.signal() }
    }
}
