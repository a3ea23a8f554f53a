// The daemon's settings, from the command line (and later a configuration file).
import Foundation

public struct DaemonOptions: Sendable {
    public var spoolPath = "spool"
    /// At most this many jobs run at once.
    public var workers = ProcessInfo.processInfo.activeProcessorCount
    /// Exit 0 once inbox, pending and running are empty.
    public var drain = false
    public var intake = IntakeConfig()
    /// Seconds between SIGTERM and SIGKILL when a job's group is stopped (timeout, cancel, shutdown).
    public var killGraceSeconds = 5.0
    /// Seconds running jobs get to finish on SIGTERM before they are stopped and put back.
    public var shutdownGraceSeconds = 10.0
    /// Seconds between safety-net rescans of the inbox (inotify is the fast path).
    public var rescanSeconds = 10.0
    /// fsync state files and folders (turn off only to measure what durability costs).
    public var durable = true
    public var logLevel = Log.Level.info
    /// Concurrency limits of named queues; `workers` stays the global bound.
    public var queueLimits: [String: Int] = [:]
    /// Queues whose jobs run elsewhere (SPEC §9: `"executor": "slurm"`), read at start only; their
    /// `max_running` (in `queueLimits`) is their own bound, apart from `workers`.
    public var remoteQueues: [String: RemoteQueue] = [:]
    /// Seconds between writes of metrics.prom and stats.json.
    public var metricsIntervalSeconds = 5.0
    /// Intake pauses while the spool's filesystem has less free space than this (0: off).
    public var minFreeBytes: Int = 0
    /// Each output file is cut to this size, keeping its head and tail (nil: no cap).
    public var maxOutputBytes: Int?
    /// Devices jobs may be given through CUDA_VISIBLE_DEVICES (`gpus` in config.json).
    public var gpus: [String] = []
    /// Finished records older than this are pruned by the daemon (nil: kept).
    public var retention: DaemonConfig.Retention?
    /// The configuration file (--config, or config.json in the spool) and what it held at start.
    public var configPath: String?
    public var config: DaemonConfig?
    /// Lock file other than <spool>/spoold.lock: only for daemons on different hosts sharing one spool.
    public var lockFile: String?
    /// Start even if the inbox is world-writable without the sticky bit.
    public var allowWorldWritableInbox = false
    /// Command jobs run under a per-job supervisor and outlive the daemon (`live_restore`, SPEC §6).
    public var liveRestore = false
    /// Command-line arguments, re-applied over the file on every reload so that flags keep winning.
    public var commandLine: [String] = []
    /// Queued jobs per queue held with their records before more are parked (PendingBacklog).
    /// Not a flag: tests set `SPOOLD_PENDING_WINDOW` to see parking with a few jobs.
    public var pendingWindow = DaemonOptions.environmentPendingWindow ?? Engine.defaultPendingWindow

    static let pendingWindowKey = "SPOOLD_PENDING_WINDOW"
    static var environmentPendingWindow: Int? {
        ProcessInfo.processInfo.environment[pendingWindowKey].flatMap { Int($0) }.map { max(2, $0) }
    }

    public init() {}
}

/// A queue whose jobs run on a remote engine, and what is passed to it.
public struct RemoteQueue: Sendable, Equatable {
    public var executor: DaemonConfig.QueueExecutor
    public var sbatchArgs: [String]
    public init(executor: DaemonConfig.QueueExecutor, sbatchArgs: [String] = []) {
        self.executor = executor
        self.sbatchArgs = sbatchArgs
    }
}
