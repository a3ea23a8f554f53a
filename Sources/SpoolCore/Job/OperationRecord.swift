// The outcome of one batch operation inside its job's record (SPEC §4 `operations[i]`).
import SpoolJSON

/// An operation's status.
public enum OperationStatus: String, Codable, Sendable {
    case pending, running, succeeded, failed, skipped

    public var isFinished: Bool { self == .succeeded || self == .failed || self == .skipped }
}

/// One entry of a batch record's `operations`.
public struct OperationRecord: Sendable, Equatable, Codable, JSONObjectEncodable {
    public var index: Int
    public var name: String?
    public var status: OperationStatus
    public var exitCode: Int32?
    public var signal: Int32?
    public var error: SpoolError?
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp?
    public var durationSeconds: Double?
    public var attempts: Int
    public var stdout: String?
    public var stderr: String?
    public var result: JSONValue?
    /// A failed attempt waits for this time before its retry.
    public var runAfter: Timestamp?
    /// Command operations: what the last attempt used, and where it ran (SPEC §4).
    public var usage: ResourceUsage?
    public var executor: ExecutorInfo?

    /// `encode(to:)` and `writeMembers` write these in the same order: change both together.
    enum CodingKeys: String, CodingKey {
        case index, name, status
        case exitCode = "exit_code", signal, error
        case startedAt = "started_at", finishedAt = "finished_at", durationSeconds = "duration_seconds"
        case attempts, stdout, stderr, result
        case runAfter = "run_after"
        case usage, executor
    }

    public init(index: Int, name: String?) {
        self.index = index
        self.name = name
        self.status = .pending
        self.attempts = 0
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        index = try c.decode(Int.self, forKey: .index)
        name = try c.decodeIfPresent(String.self, forKey: .name)
        status = try c.decode(OperationStatus.self, forKey: .status)
        exitCode = try c.decodeIfPresent(Int32.self, forKey: .exitCode)
        signal = try c.decodeIfPresent(Int32.self, forKey: .signal)
        error = try c.decodeIfPresent(SpoolError.self, forKey: .error)
        startedAt = try c.decodeIfPresent(Timestamp.self, forKey: .startedAt)
        finishedAt = try c.decodeIfPresent(Timestamp.self, forKey: .finishedAt)
        durationSeconds = try c.decodeIfPresent(Double.self, forKey: .durationSeconds)
        attempts = try c.decodeIfPresent(Int.self, forKey: .attempts) ?? 0
        stdout = try c.decodeIfPresent(String.self, forKey: .stdout)
        stderr = try c.decodeIfPresent(String.self, forKey: .stderr)
        result = try c.decodeIfPresent(JSONValue.self, forKey: .result)
        runAfter = try c.decodeIfPresent(Timestamp.self, forKey: .runAfter)
        usage = try c.decodeIfPresent(ResourceUsage.self, forKey: .usage)
        executor = try c.decodeIfPresent(ExecutorInfo.self, forKey: .executor)
    }

    public func encode(to encoder: any Encoder) throws {
        if let direct = encoder as? any JSONBytesEncoder { return try direct.writeObject(writeMembers) }
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(index, forKey: .index)
        try c.encode(name, forKey: .name)
        try c.encode(status, forKey: .status)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(error, forKey: .error)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(durationSeconds, forKey: .durationSeconds)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(stdout, forKey: .stdout)
        try c.encode(stderr, forKey: .stderr)
        try c.encodeIfPresent(result, forKey: .result)
        try c.encodeIfPresent(runAfter, forKey: .runAfter)
        try c.encodeIfPresent(usage, forKey: .usage)
        try c.encodeIfPresent(executor, forKey: .executor)
    }

    /// `encode(to:)` straight to bytes (JSONBytesEncoder), member for member the same.
    public func writeMembers(_ m: inout JSONMembers) throws {
        try m.write(CodingKeys.index.stringValue, index)
        try m.write(CodingKeys.name.stringValue, name)
        try m.write(CodingKeys.status.stringValue, status.rawValue)
        try m.write(CodingKeys.exitCode.stringValue, exitCode)
        try m.write(CodingKeys.signal.stringValue, signal)
        try m.write(CodingKeys.error.stringValue, error)
        try m.write(CodingKeys.startedAt.stringValue, startedAt?.rfc3339)
        try m.write(CodingKeys.finishedAt.stringValue, finishedAt?.rfc3339)
        try m.write(CodingKeys.durationSeconds.stringValue, durationSeconds)
        try m.write(CodingKeys.attempts.stringValue, attempts)
        try m.write(CodingKeys.stdout.stringValue, stdout)
        try m.write(CodingKeys.stderr.stringValue, stderr)
        m.writeIfPresent(CodingKeys.result.stringValue, result)
        m.writeIfPresent(CodingKeys.runAfter.stringValue, runAfter?.rfc3339)
        try m.writeIfPresent(CodingKeys.usage.stringValue, usage)
        try m.writeIfPresent(CodingKeys.executor.stringValue, executor)
    }
}
