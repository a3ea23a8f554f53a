// The daemon's configuration file: `config.json` in the spool root, or `--config FILE`.
// Every field is optional and an absent field keeps the built-in default, so an empty object
// is a valid file. Parsing is as strict as for job files (DaemonConfig+Validation.swift).
// Pure apart from `load`: applying and comparing configurations touch no files.
import Foundation
import SpoolJSON

/// The settings read from a configuration file; nil means "not set in the file".
public struct DaemonConfig: Sendable, Equatable {
    /// A named queue's own limits, and where its jobs run (SPEC §9).
    public struct Queue: Sendable, Equatable {
        /// At most this many of the queue's jobs run at once (within the global worker bound for a
        /// local queue; a remote queue's own bound). nil: no limit of its own.
        public var maxRunning: Int?
        /// Where its jobs run: `local` (this host's workers) or `slurm`.
        public var executor: QueueExecutor = .local
        /// Extra `sbatch` arguments for every job of a Slurm queue (`--partition=batch`).
        public var sbatchArgs: [String] = []
        public init(maxRunning: Int?, executor: QueueExecutor = .local, sbatchArgs: [String] = []) {
            self.maxRunning = maxRunning
            self.executor = executor
            self.sbatchArgs = sbatchArgs
        }
    }

    /// The executors a queue may name.
    public enum QueueExecutor: String, Sendable, Equatable, CaseIterable {
        case local, slurm
    }

    /// When records in done/ are pruned.
    public struct Retention: Sendable, Equatable {
        /// Records finished longer ago than this are pruned; nil: never.
        public var doneMaxAgeSeconds: Double?
        /// Only records with one of these statuses are pruned; nil: every terminal status.
        public var statuses: [JobStatus]?
        public init(doneMaxAgeSeconds: Double? = nil, statuses: [JobStatus]? = nil) {
            self.doneMaxAgeSeconds = doneMaxAgeSeconds
            self.statuses = statuses
        }
    }

    /// `workers`: jobs running at once.
    public var workers: Int?
    /// `queues`: per-queue limits by queue name.
    public var queues: [String: Queue]?
    /// `kill_grace_seconds`: SIGTERM to SIGKILL delay when a job's group is stopped.
    public var killGraceSeconds: Double?
    /// `shutdown_grace_seconds`: how long running jobs may finish after SIGTERM.
    public var shutdownGraceSeconds: Double?
    /// `max_job_bytes`: largest accepted job file.
    public var maxJobBytes: Int?
    /// `max_operations`: most operations in one batch job.
    public var maxOperations: Int?
    /// `settle_seconds`: how long an unparsable inbox file must be unchanged before it is rejected.
    public var settleSeconds: Double?
    /// `rescan_seconds`: safety-net inbox rescan interval.
    public var rescanSeconds: Double?
    /// `retention`: pruning of done/.
    public var retention: Retention?
    /// `min_free_bytes`: intake pauses while the spool's file system has less free space.
    public var minFreeBytes: Int?
    /// `max_output_bytes`: cap on each captured output file.
    public var maxOutputBytes: Int?
    /// `gpus`: the devices jobs may be given (`resources.gpus`), as CUDA_VISIBLE_DEVICES names them.
    public var gpus: [String]?
    /// `durable`: fsync state files and folders (needs a restart to change).
    public var durable: Bool?
    /// `log_level`: least severe level logged.
    public var logLevel: Log.Level?
    /// `metrics_interval_seconds`: how often stats.json and metrics.prom are rewritten.
    public var metricsIntervalSeconds: Double?

    /// When spoold runs as root: users (names or uids) whose files may run jobs; nil means anyone but root.
    public var allowedUsers: [String]?
    /// When spoold runs as root: groups (names or gids) a dropped file's group must be in; nil means any.
    public var allowedGroups: [String]?
    /// When spoold runs as root: whether files owned by root may run jobs as root.
    public var allowRootJobs: Bool?
    /// Start even if the inbox is world-writable without the sticky bit.
    public var allowWorldWritableInbox: Bool?
    /// `live_restore`: command jobs run under a per-job supervisor and outlive the daemon (SPEC §6).
    public var liveRestore: Bool?
    /// When spoold runs as root: the group (name or gid) whose members are administrators: they
    /// may control every job and read every record (root and the daemon's user always may).
    public var adminGroup: String?
    /// When spoold runs as root: records and outputs readable by every member of the spool's
    /// group, instead of by their owner and the administrators only (the default).
    public var sharedResults: Bool?

    public init() {}

    /// The file name looked for in the spool root when no `--config` is given.
    public static let defaultFileName = "config.json"

    /// Reads and validates the file at `path`; a missing file is an error.
    public static func load(path: String) throws(ConfigError) -> DaemonConfig {
        guard let config = try loadIfPresent(path: path) else {
            throw ConfigError(["\(path): cannot read the configuration file: No such file or directory"])
        }
        return config
    }

    /// Like `load`, but a missing file gives nil (the default location need not exist).
    public static func loadIfPresent(path: String) throws(ConfigError) -> DaemonConfig? {
        let bytes: [UInt8]
        switch readConfigFile(path) {
        case .missing: return nil
        case .failed(let reason): throw ConfigError(["\(path): cannot read the configuration file: \(reason)"])
        case .read(let b): bytes = b
        }
        return try parse(bytes, file: path)
    }

    /// Copies the settings that DaemonOptions has into `options`; unset fields leave it unchanged.
    public func apply(to options: inout DaemonOptions) {
        if let workers { options.workers = workers }
        if let queues {
            options.queueLimits = queues.compactMapValues(\.maxRunning)
            options.remoteQueues = queues.filter { $0.value.executor != .local }.mapValues {
                RemoteQueue(executor: $0.executor, sbatchArgs: $0.sbatchArgs)
            }
        }
        if let killGraceSeconds { options.killGraceSeconds = killGraceSeconds }
        if let shutdownGraceSeconds { options.shutdownGraceSeconds = shutdownGraceSeconds }
        if let maxJobBytes { options.intake.maxJobBytes = maxJobBytes }
        if let maxOperations { options.intake.limits.maxOperations = maxOperations }
        if let settleSeconds { options.intake.settleSeconds = settleSeconds }
        if let rescanSeconds { options.rescanSeconds = rescanSeconds }
        if let durable { options.durable = durable }
        if let logLevel { options.logLevel = logLevel }
        if let metricsIntervalSeconds { options.metricsIntervalSeconds = metricsIntervalSeconds }
        if let minFreeBytes { options.minFreeBytes = minFreeBytes }
        if let maxOutputBytes { options.maxOutputBytes = maxOutputBytes }
        if let gpus { options.gpus = gpus }
        if let retention { options.retention = retention }
        if let allowedUsers { options.intake.access.allowedUsers = allowedUsers }
        if let allowedGroups { options.intake.access.allowedGroups = allowedGroups }
        if let allowRootJobs { options.intake.access.allowRoot = allowRootJobs }
        if let liveRestore { options.liveRestore = liveRestore }
        if let allowWorldWritableInbox { options.allowWorldWritableInbox = allowWorldWritableInbox }
        if let adminGroup { options.intake.access.adminGroup = adminGroup }
        if let sharedResults { options.intake.access.sharedResults = sharedResults }
    }

    /// The fields (JSON names, in file order) that differ from `old`: those SIGHUP can apply
    /// to a running daemon, and those that take effect only after a restart.
    public func liveChanges(from old: DaemonConfig) -> (applied: [String], needsRestart: [String]) {
        var applied: [String] = []
        var needsRestart: [String] = []
        for field in Self.fields where !field.isEqual(self, old) {
            if field.isLive { applied.append(field.name) } else { needsRestart.append(field.name) }
        }
        return (applied, needsRestart)
    }

    struct Field: Sendable {
        var name: String
        var isLive: Bool
        var isEqual: @Sendable (DaemonConfig, DaemonConfig) -> Bool
    }

    /// Every field, in the order of the documentation; `durable` and `gpus` need a restart.
    static let fields: [Field] = [
        Field(name: "workers", isLive: true) { $0.workers == $1.workers },
        Field(name: "queues", isLive: true) { $0.queues == $1.queues },
        Field(name: "kill_grace_seconds", isLive: true) { $0.killGraceSeconds == $1.killGraceSeconds },
        Field(name: "shutdown_grace_seconds", isLive: true) { $0.shutdownGraceSeconds == $1.shutdownGraceSeconds },
        Field(name: "max_job_bytes", isLive: true) { $0.maxJobBytes == $1.maxJobBytes },
        Field(name: "max_operations", isLive: true) { $0.maxOperations == $1.maxOperations },
        Field(name: "settle_seconds", isLive: true) { $0.settleSeconds == $1.settleSeconds },
        Field(name: "rescan_seconds", isLive: true) { $0.rescanSeconds == $1.rescanSeconds },
        Field(name: "retention", isLive: true) { $0.retention == $1.retention },
        Field(name: "min_free_bytes", isLive: true) { $0.minFreeBytes == $1.minFreeBytes },
        Field(name: "max_output_bytes", isLive: true) { $0.maxOutputBytes == $1.maxOutputBytes },
        Field(name: "gpus", isLive: false) { $0.gpus == $1.gpus },
        Field(name: "durable", isLive: false) { $0.durable == $1.durable },
        Field(name: "log_level", isLive: true) { $0.logLevel == $1.logLevel },
        Field(name: "metrics_interval_seconds", isLive: true) { $0.metricsIntervalSeconds == $1.metricsIntervalSeconds },
        Field(name: "allowed_users", isLive: true) { $0.allowedUsers == $1.allowedUsers },
        Field(name: "allowed_groups", isLive: true) { $0.allowedGroups == $1.allowedGroups },
        Field(name: "allow_root_jobs", isLive: true) { $0.allowRootJobs == $1.allowRootJobs },
        Field(name: "allow_world_writable_inbox", isLive: false) { $0.allowWorldWritableInbox == $1.allowWorldWritableInbox },
        Field(name: "live_restore", isLive: false) { $0.liveRestore == $1.liveRestore },
        Field(name: "admin_group", isLive: true) { $0.adminGroup == $1.adminGroup },
        Field(name: "shared_results", isLive: true) { $0.sharedResults == $1.sharedResults },
    ]
}

/// Everything wrong with a configuration file; each message names the file and the field.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// One sentence per problem, in the order found.
    public var problems: [String]

    public init(_ problems: [String]) { self.problems = problems }

    public var description: String { problems.joined(separator: "; ") }
}

private enum ConfigFileRead {
    case read([UInt8])
    case missing
    case failed(String)
}

/// Largest configuration file read; a bigger one is certainly a mistake.
private let maxConfigBytes = 1 << 20

// O_NONBLOCK: a FIFO given as --config must not hang the start; it is refused below.
private func readConfigFile(_ path: String) -> ConfigFileRead {
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    guard fd >= 0 else {
        let e = errno
        return e == ENOENT ? .missing : .failed("\(String(cString: strerror(e))) (errno \(e))")
    }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { return .failed(String(cString: strerror(errno))) }
    guard (st.st_mode & S_IFMT) == S_IFREG else { return .failed("not a regular file") }
    // A root daemon runs jobs as other users: a file those users could write (config.json in the
    // spool root, which members may create) would let them name themselves administrators or
    // share everyone's results. It must be root's own and writable by root alone.
    if geteuid() == 0, st.st_uid != 0 || st.st_mode & 0o022 != 0 {
        return .failed("it is owned by uid \(st.st_uid) with mode \(String(st.st_mode & 0o7777, radix: 8)); spoold runs as root, so its configuration must be owned by root and writable by root alone (chown root; chmod go-w)")
    }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while bytes.count <= maxConfigBytes {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return .failed(String(cString: strerror(errno)))
        }
        if n == 0 { return .read(bytes) }
        bytes.append(contentsOf: chunk[0..<n])
    }
    return .failed("larger than \(maxConfigBytes) bytes")
}
