// The files a supervised attempt keeps in running/ beside its job's record (live restore, SPEC §6):
//   <id>.attempt     the plan, written by the daemon before it starts the supervisor;
//   <id>.supervisor  who supervises it (pid, start time), written by the supervisor once the job runs;
//   <id>.control     what the daemon wants (paused or not, torn down and why), then SIGUSR1;
//   <id>.result      how the attempt ended, written durably by the supervisor before it exits.
// A batch's command operation N (its index in the job file) has its own: <id>.opN.attempt and so
// on, beside its outputs <id>.opN.stdout/.stderr. All are small JSON files replaced atomically
// (a temporary name, then rename). On Slurm the same supervisor is the on-node wrapper, and its
// files are named after a stem of their own (`<id>.slurm.job.1`, `<id>.slurm.op3.2`: one per
// attempt and operation) instead of the job id.
import Foundation

enum SupervisorFiles {
    /// What the names of an attempt's files begin with: the job's id, or `<id>.opN` for operation N.
    static func stem(_ id: JobID, _ operation: Int?) -> String {
        operation.map { "\(id.rawValue).op\($0)" } ?? id.rawValue
    }
    static func plan(_ id: JobID, operation: Int? = nil) -> String { plan(stem: stem(id, operation)) }
    static func supervisor(_ id: JobID, operation: Int? = nil) -> String { supervisor(stem: stem(id, operation)) }
    static func control(_ id: JobID, operation: Int? = nil) -> String { control(stem: stem(id, operation)) }
    static func result(_ id: JobID, operation: Int? = nil) -> String { result(stem: stem(id, operation)) }
    static func all(_ id: JobID, operation: Int? = nil) -> [String] { all(stem: stem(id, operation)) }
    static func plan(stem: String) -> String { "\(stem).attempt" }
    static func supervisor(stem: String) -> String { "\(stem).supervisor" }
    static func control(stem: String) -> String { "\(stem).control" }
    static func result(stem: String) -> String { "\(stem).result" }
    static func all(stem: String) -> [String] { [plan(stem: stem), supervisor(stem: stem), control(stem: stem), result(stem: stem)] }

    /// Replaces `name` in the folder `dirFD` with `value`. `durable`: the file and then the folder
    /// are fsynced, through Durability like every durable write (a failed sync is never retried:
    /// the file is taken back, temporary or renamed, and `syncFailed` gets the error and does not
    /// return).
    static func write<T: Encodable>(_ value: T, name: String, dirFD: Int32, durable: Bool,
                                    syncFailed: (SystemError) -> Never = { Durability.failed($0) }) throws {
        let bytes = JSONEncoderBox.compact(value)
        let temporary = ".\(name).\(getpid()).tmp"
        let fd = openat(dirFD, temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { throw SystemError("open", temporary) }
        var written = 0
        while written < bytes.count {
            let n = bytes[written...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                let e = SystemError("write", temporary)
                close(fd)
                throw e
            }
            written += n
        }
        // What a failed sync was to make durable is taken back first: nothing may act on it.
        if durable {
            Durability.sync(fd, .supervisor, "running/\(temporary)") { e in
                close(fd)
                unlinkat(dirFD, temporary, 0)
                syncFailed(e)
            }
        }
        close(fd)
        guard renameat(dirFD, temporary, dirFD, name) == 0 else { throw SystemError("rename", name) }
        if durable {
            Durability.sync(dirFD, .supervisor, "running/ (after \(name))") { e in
                unlinkat(dirFD, name, 0)
                syncFailed(e)
            }
        }
    }

    static func read<T: Decodable>(_ type: T.Type, name: String, dirFD: Int32) -> T? {
        let fd = openat(dirFD, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let read = readUpTo(fd, limit: 1 << 20), !read.tooLarge else { return nil }
        return try? JSONDecoderBox.decode(type, from: read.bytes)
    }
}

/// The plan of a supervised attempt (a ProcessPlan, as JSON), with what the supervisor needs besides.
struct SupervisedPlan: Codable, Sendable {
    var id: JobID
    /// A batch operation's index in the job file; nil for a command job.
    var operation: Int?
    var command: [String]?
    var shell: String?
    var cwd: String?
    var env: [String: String]
    var extraEnv: [String: String]
    var attempt: Int
    var stdoutName: String
    var stderrName: String
    var label: String
    var owner: JobOwner?
    var timeoutSeconds: Double?
    /// The environment jobs start from (the daemon's, without what they must not see).
    var environment: [String: String]
    /// Seconds between SIGTERM and SIGKILL, unless a later control request says otherwise.
    var killGraceSeconds: Double
    /// Who may read the job's outputs (ResultPrivacy), as the daemon's own files; nil: shared.
    var privacy: ResultPrivacy?

    init(_ p: ProcessPlan, environment: [String: String], killGraceSeconds: Double, privacy: ResultPrivacy? = nil) {
        id = p.id
        operation = p.operation
        switch p.action {
        case .command(let c): command = c
        case .shell(let s): shell = s
        }
        cwd = p.cwd
        env = p.env
        extraEnv = p.extraEnv
        attempt = p.attempt
        stdoutName = p.stdoutName
        stderrName = p.stderrName
        label = p.label
        owner = p.owner
        timeoutSeconds = p.timeoutSeconds
        self.environment = environment
        self.killGraceSeconds = killGraceSeconds
        self.privacy = privacy
    }

    var processPlan: ProcessPlan? {
        let action: JobAction
        if let command, !command.isEmpty { action = .command(command) } else if let shell { action = .shell(shell) } else { return nil }
        return ProcessPlan(id: id, action: action, cwd: cwd, env: env, attempt: attempt, stdoutName: stdoutName, stderrName: stderrName,
                           extraEnv: extraEnv, label: label, owner: owner, timeoutSeconds: timeoutSeconds, operation: operation)
    }
}

/// Who supervises an attempt.
struct SupervisorInfo: Codable, Sendable {
    var pid: Int32
    /// The job's process (and process group) id.
    var jobPID: Int32
    var attempt: Int
    var startedAt: Timestamp
    /// The Slurm node it runs on (SLURMD_NODENAME), when it is Slurm's wrapper.
    var host: String? = nil
}

/// What the daemon wants of a supervised attempt: the whole wish each time, so that requests
/// that arrive together (one SIGUSR1 for two writes) lose nothing.
struct SupervisorControl: Codable, Sendable, Equatable {
    var paused = false
    /// "timeout:<seconds>", "cancel" or "shutdown" once the daemon has asked for a tear-down.
    var teardown: String?
    var killGraceSeconds: Double
}

/// How a supervised attempt ended.
struct SupervisorResult: Codable, Sendable {
    var exitCode: Int32?
    var signal: Int32?
    /// Set when the job's process could not be started.
    var notStarted: SpoolError?
    var teardown: String?
    var usage: ResourceUsage?
    var endedAt: Timestamp

    init(_ end: AttemptEnd, endedAt: Timestamp) {
        switch end.termination {
        case .exited(let c): exitCode = c
        case .signaled(let s): signal = s
        case .notStarted(let e): notStarted = e
        }
        teardown = end.teardown.map(Self.name)
        usage = end.usage
        self.endedAt = endedAt
    }

    var end: AttemptEnd {
        let termination: Termination
        if let notStarted { termination = .notStarted(notStarted) } else if let signal { termination = .signaled(signal) } else { termination = .exited(exitCode ?? 0) }
        return AttemptEnd(termination: termination, teardown: teardown.flatMap(Self.reason), usage: usage, endedAt: endedAt)
    }

    static func name(_ r: TeardownReason) -> String {
        switch r {
        case .timeout(let s): return "timeout:\(s)"
        case .cancel: return "cancel"
        case .shutdown: return "shutdown"
        }
    }

    static func reason(_ s: String) -> TeardownReason? {
        if s == "cancel" { return .cancel }
        if s == "shutdown" { return .shutdown }
        if s.hasPrefix("timeout:"), let seconds = Double(s.dropFirst(8)) { return .timeout(seconds: seconds) }
        return nil
    }
}
