// The state file of SPEC §4, the same shape in pending/, running/ and done/. The SPEC's fields
// are always written (null when unknown) so that scripts can rely on them; fields this daemon
// adds for its own bookkeeping (`sequence`, `run_after`, `intake`...) are documented in docs/records.md.

/// Counts for `progress`; for a single command job total is 1.
public struct Progress: Sendable, Equatable, Codable, JSONObjectEncodable {
    public var total: Int
    public var succeeded: Int
    public var failed: Int
    public var skipped: Int
    public var running: Int
    public var percent: Double
    public var etaSeconds: Double?
    public var message: String?

    enum CodingKeys: String, CodingKey {
        case total, succeeded, failed, skipped, running, percent
        case etaSeconds = "eta_seconds"
        case message
    }

    public init(total: Int = 1, succeeded: Int = 0, failed: Int = 0, skipped: Int = 0, running: Int = 0,
                percent: Double = 0, etaSeconds: Double? = nil, message: String? = nil) {
        self.total = total
        self.succeeded = succeeded
        self.failed = failed
        self.skipped = skipped
        self.running = running
        self.percent = percent
        self.etaSeconds = etaSeconds
        self.message = message
    }

    /// `done` of `total` as a percent with one decimal (0 when there is nothing to do).
    public static func percent(_ done: Double, of total: Double) -> Double {
        total > 0 ? (min(1, done / total) * 1000).rounded() / 10 : 0
    }

    public func encode(to encoder: any Encoder) throws {
        if let direct = encoder as? any JSONBytesEncoder { return try direct.writeObject(writeMembers) }
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(total, forKey: .total)
        try c.encode(succeeded, forKey: .succeeded)
        try c.encode(failed, forKey: .failed)
        try c.encode(skipped, forKey: .skipped)
        try c.encode(running, forKey: .running)
        try c.encode(percent.isFinite ? percent : 0, forKey: .percent)
        try c.encode(etaSeconds.flatMap { $0.isFinite ? $0 : nil }, forKey: .etaSeconds)
        try c.encode(message, forKey: .message)
    }

    /// `encode(to:)` straight to bytes (JSONBytesEncoder), member for member the same.
    public func writeMembers(_ m: inout JSONMembers) throws {
        try m.write(CodingKeys.total.stringValue, total)
        try m.write(CodingKeys.succeeded.stringValue, succeeded)
        try m.write(CodingKeys.failed.stringValue, failed)
        try m.write(CodingKeys.skipped.stringValue, skipped)
        try m.write(CodingKeys.running.stringValue, running)
        try m.write(CodingKeys.percent.stringValue, percent.isFinite ? percent : 0)
        try m.write(CodingKeys.etaSeconds.stringValue, etaSeconds.flatMap { $0.isFinite ? $0 : nil })
        try m.write(CodingKeys.message.stringValue, message)
    }
}

/// The user and group a job runs as (spoold as root).
public struct JobOwner: Sendable, Equatable, Codable, JSONObjectEncodable {
    public var uid: UInt32
    public var gid: UInt32

    /// The synthesized `encode(to:)`'s members, straight to bytes inside a record.
    public func writeMembers(_ m: inout JSONMembers) throws {
        try m.write("uid", uid)
        try m.write("gid", gid)
    }
}

/// A job's state file.
public struct JobRecord: Sendable, Equatable, Codable {
    public var id: JobID
    public var name: String
    public var status: JobStatus
    /// The accepted job; null for a rejected file.
    public var spec: JobSpec? {
        get { sharedSpec?.value }
        set { sharedSpec = newValue.map(SharedSpec.init) }
    }
    /// `spec`, in a box every copy of the record shares (a spec does not change once accepted): a
    /// copy retains one box instead of each of the spec's strings and arrays, and the record is
    /// about 290 bytes smaller, which counts for every pending job the daemon holds.
    private var sharedSpec: SharedSpec?
    /// The inbox file name it came from, escaped if it was not printable UTF-8.
    public var source: String
    public var submittedAt: Timestamp
    public var startedAt: Timestamp?
    public var finishedAt: Timestamp?
    public var attempts: Int
    public var exitCode: Int32?
    public var signal: Int32?
    public var error: SpoolError?
    public var stdout: String?
    public var stderr: String?
    public var progress: Progress
    /// Seconds from start to finish of the last attempt.
    public var durationSeconds: Double?
    /// Why a pending job is not running yet (`not_before`, retry backoff), or null.
    public var waitReason: String?
    /// Earliest start time of a pending job (from `not_before` or a retry backoff).
    public var runAfter: Timestamp?
    /// Arrival order in the inbox; FIFO within a priority, kept across restarts.
    public var sequence: Int64
    /// The intake claim this record came from; makes a re-seen claim after a crash idempotent.
    public var intake: String?
    /// For rejected files: the kept original, relative to the spool root.
    public var original: String?
    /// Process id of the running attempt (process group id as well).
    public var pid: Int32?
    /// Failed attempts so far (interrupted ones do not count against `retries`).
    public var failedAttempts: Int
    /// For batches: one entry per operation.
    public var operations: [OperationRecord]?
    /// The job this one was submitted to retry (`spoolctl retry`).
    public var retryOf: JobID?
    /// When spoold runs as root: the dropped file's owner, whom the job runs as.
    public var owner: JobOwner?
    /// Command jobs: what the last attempt used, and where it ran (SPEC §4).
    public var usage: ResourceUsage?
    public var executor: ExecutorInfo?

    enum CodingKeys: String, CodingKey {
        case id, name, status, spec, source
        case submittedAt = "submitted_at", startedAt = "started_at", finishedAt = "finished_at"
        case attempts
        case exitCode = "exit_code", signal, error, stdout, stderr, progress
        case durationSeconds = "duration_seconds"
        case waitReason = "wait_reason", runAfter = "run_after", sequence, intake, original, pid
        case failedAttempts = "failed_attempts"
        case operations
        case retryOf = "retry_of"
        case owner
        case usage, executor
    }

    public init(id: JobID, name: String, status: JobStatus, spec: JobSpec?, source: String, submittedAt: Timestamp,
                sequence: Int64) {
        self.id = id
        self.name = name
        self.status = status
        self.sharedSpec = spec.map(SharedSpec.init)
        self.source = source
        self.submittedAt = submittedAt
        self.attempts = 0
        self.progress = Progress()
        self.sequence = sequence
        self.failedAttempts = 0
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decode(JobID.self, forKey: .id)
        name = try c.decode(String.self, forKey: .name)
        status = try c.decode(JobStatus.self, forKey: .status)
        sharedSpec = try c.decodeIfPresent(JobSpec.self, forKey: .spec).map(SharedSpec.init)
        source = try c.decodeIfPresent(String.self, forKey: .source) ?? ""
        submittedAt = try c.decode(Timestamp.self, forKey: .submittedAt)
        startedAt = try c.decodeIfPresent(Timestamp.self, forKey: .startedAt)
        finishedAt = try c.decodeIfPresent(Timestamp.self, forKey: .finishedAt)
        attempts = try c.decodeIfPresent(Int.self, forKey: .attempts) ?? 0
        exitCode = try c.decodeIfPresent(Int32.self, forKey: .exitCode)
        signal = try c.decodeIfPresent(Int32.self, forKey: .signal)
        error = try c.decodeIfPresent(SpoolError.self, forKey: .error)
        stdout = try c.decodeIfPresent(String.self, forKey: .stdout)
        stderr = try c.decodeIfPresent(String.self, forKey: .stderr)
        progress = try c.decodeIfPresent(Progress.self, forKey: .progress) ?? Progress()
        durationSeconds = try c.decodeIfPresent(Double.self, forKey: .durationSeconds)
        waitReason = try c.decodeIfPresent(String.self, forKey: .waitReason)
        runAfter = try c.decodeIfPresent(Timestamp.self, forKey: .runAfter)
        sequence = try c.decodeIfPresent(Int64.self, forKey: .sequence) ?? 0
        intake = try c.decodeIfPresent(String.self, forKey: .intake)
        original = try c.decodeIfPresent(String.self, forKey: .original)
        pid = try c.decodeIfPresent(Int32.self, forKey: .pid)
        failedAttempts = try c.decodeIfPresent(Int.self, forKey: .failedAttempts) ?? 0
        operations = try c.decodeIfPresent([OperationRecord].self, forKey: .operations)
        retryOf = try c.decodeIfPresent(JobID.self, forKey: .retryOf)
        owner = try c.decodeIfPresent(JobOwner.self, forKey: .owner)
        usage = try c.decodeIfPresent(ResourceUsage.self, forKey: .usage)
        executor = try c.decodeIfPresent(ExecutorInfo.self, forKey: .executor)
    }

    public func encode(to encoder: any Encoder) throws {
        // Straight to bytes but for a batch, whose operations' entries (10,000 of them, say) are
        // written through the stream's containers, which hand them out in pieces. The spec, big
        // or small, goes through the stream either way (JSONMembers.writeValue).
        if spec?.isBatch != true, operations == nil, let direct = encoder as? any JSONBytesEncoder {
            return try direct.writeObject(encodeMembers)
        }
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(name, forKey: .name)
        try c.encode(status, forKey: .status)
        try c.encode(sharedSpec, forKey: .spec)
        try c.encode(source, forKey: .source)
        try c.encode(submittedAt, forKey: .submittedAt)
        try c.encode(startedAt, forKey: .startedAt)
        try c.encode(finishedAt, forKey: .finishedAt)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(exitCode, forKey: .exitCode)
        try c.encode(signal, forKey: .signal)
        try c.encode(error, forKey: .error)
        try c.encode(stdout, forKey: .stdout)
        try c.encode(stderr, forKey: .stderr)
        try c.encode(progress, forKey: .progress)
        try c.encode(durationSeconds, forKey: .durationSeconds)
        try c.encode(waitReason, forKey: .waitReason)
        try c.encode(runAfter, forKey: .runAfter)
        try c.encode(sequence, forKey: .sequence)
        try c.encodeIfPresent(intake, forKey: .intake)
        try c.encodeIfPresent(original, forKey: .original)
        try c.encodeIfPresent(pid, forKey: .pid)
        try c.encode(failedAttempts, forKey: .failedAttempts)
        try c.encodeIfPresent(operations, forKey: .operations)
        try c.encodeIfPresent(retryOf, forKey: .retryOf)
        try c.encodeIfPresent(owner, forKey: .owner)
        if spec?.isBatch != true {  // a batch's usage is in each operation's entry
            try c.encode(usage, forKey: .usage)
            try c.encode(executor, forKey: .executor)
        }
    }

    /// `encode(to:)` straight to bytes (JSONBytesEncoder), member for member the same; the record of
    /// every job but a batch's is written twice (pending/, done/), and through the stream's keyed
    /// containers its thirty-odd members were most of the finisher's time (bench `drained`, perf).
    private func encodeMembers(_ m: inout JSONMembers) throws {
        try m.write(CodingKeys.id.stringValue, id.rawValue)
        try m.write(CodingKeys.name.stringValue, name)
        try m.write(CodingKeys.status.stringValue, status.rawValue)
        try m.write(CodingKeys.spec.stringValue, sharedSpec)
        try m.write(CodingKeys.source.stringValue, source)
        try m.write(CodingKeys.submittedAt.stringValue, submittedAt.rfc3339)
        try m.write(CodingKeys.startedAt.stringValue, startedAt?.rfc3339)
        try m.write(CodingKeys.finishedAt.stringValue, finishedAt?.rfc3339)
        try m.write(CodingKeys.attempts.stringValue, attempts)
        try m.write(CodingKeys.exitCode.stringValue, exitCode)
        try m.write(CodingKeys.signal.stringValue, signal)
        try m.write(CodingKeys.error.stringValue, error)
        try m.write(CodingKeys.stdout.stringValue, stdout)
        try m.write(CodingKeys.stderr.stringValue, stderr)
        try m.write(CodingKeys.progress.stringValue, progress)
        try m.write(CodingKeys.durationSeconds.stringValue, durationSeconds)
        try m.write(CodingKeys.waitReason.stringValue, waitReason)
        try m.write(CodingKeys.runAfter.stringValue, runAfter?.rfc3339)
        try m.write(CodingKeys.sequence.stringValue, sequence)
        m.writeIfPresent(CodingKeys.intake.stringValue, intake)
        m.writeIfPresent(CodingKeys.original.stringValue, original)
        m.writeIfPresent(CodingKeys.pid.stringValue, pid)
        try m.write(CodingKeys.failedAttempts.stringValue, failedAttempts)
        m.writeIfPresent(CodingKeys.retryOf.stringValue, retryOf?.rawValue)
        try m.writeIfPresent(CodingKeys.owner.stringValue, owner)
        if spec?.isBatch != true {  // a batch's usage is in each operation's entry
            try m.write(CodingKeys.usage.stringValue, usage)
            try m.write(CodingKeys.executor.stringValue, executor)
        }
    }
}

extension JobRecord {
    static let encoder: JSONEncoderBox = JSONEncoderBox()

    /// The record as the bytes of its state file (pretty JSON plus a newline).
    public func encoded() -> [UInt8] {
        JobRecord.encoder.encode(self)
    }

    /// Decodes a state file. JSON objects inside it (`params`, `on_complete`, results) keep their order.
    public static func decode(_ bytes: [UInt8]) throws -> JobRecord {
        try JSONDecoderBox.decode(JobRecord.self, from: bytes)
    }
}

import Foundation
import SpoolJSON

/// Encodes records and journal lines with JSONValueEncoder rather than Foundation's JSONEncoder,
/// which on Linux either sorts every object's keys (`.sortedKeys`) or writes them in hash order.
/// Here a record's own fields follow its `encode(to:)`, JSON objects inside it (a built-in's
/// `params`, whose column order means something, `on_complete`, results) keep their order, and
/// string-keyed dictionaries (`env`, `labels`) are sorted. The pretty layout is JSONEncoder's, but
/// for arrays of scalars, written on one line (JSONByteWriter).
struct JSONEncoderBox: Sendable {
    /// One line of compact JSON (for journals).
    static func compact<T: Encodable>(_ value: T) -> [UInt8] {
        Self.bytes(value, JSONStreamEncoder())
    }

    func encode<T: Encodable>(_ value: T) -> [UInt8] {
        var bytes = Self.bytes(value, JSONStreamEncoder(pretty: true, spaceBeforeColon: true))
        bytes.append(0x0A)
        return bytes
    }

    /// `encode` in pieces of about `chunk` bytes (JSONStreamEncoder's chunked form); throws what
    /// `write` or `restart` throw (or an encoding error, which our record types never raise).
    func encode<T: Encodable>(_ value: T, chunk: Int, write: ([UInt8]) throws -> Void, restart: () throws -> Void) throws {
        try JSONStreamEncoder(pretty: true, spaceBeforeColon: true).encode(value, chunk: chunk, write: write, restart: restart)
        try write([0x0A])
    }

    /// Straight to bytes (JSONStreamEncoder: the same bytes as through a JSONValue, without the tree).
    private static func bytes<T: Encodable>(_ value: T, _ encoder: JSONStreamEncoder) -> [UInt8] {
        // Encoding our own value types cannot fail; a failure here is a bug.
        guard let b = try? encoder.encode(value) else { preconditionFailure("cannot encode \(T.self)") }
        return b
    }
}

/// Pretty JSON text in the style and key order of state files (for `spoolctl ... --json`), so that a
/// record shown by spoolctl has its params in the order of the job file.
public func orderedJSONText<T: Encodable>(_ value: T) -> String {
    String(decoding: JSONEncoderBox().encode(value).dropLast(), as: UTF8.self)
}

/// Decoding of what JSONEncoderBox wrote, keeping the order of JSON objects.
enum JSONDecoderBox {
    /// Records nest a job file (parsed at most 64 deep) a few levels down.
    static let maxDepth = 128

    static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try JSONValueDecoder().decode(type, from: try JSONParser(maxDepth: maxDepth).parse(bytes))
    }
}

/// An accepted job's spec, immutable, shared by the records that hold it. A big one (a batch's)
/// keeps its encoded bytes, written again into each of the job's records (JSONBytesEncoder).
final class SharedSpec: @unchecked Sendable, Equatable, Encodable {
    let value: JobSpec
    /// Guarded by `keptLock`, one lock for every spec: few specs keep bytes, and a lock of its own
    /// (a LockedBox: three allocations) cost about 150 bytes for each of a million pending jobs
    /// (bench `backlog`: 1,006 → 1,155 MiB). Hence @unchecked Sendable: `value` never changes.
    private nonisolated(unsafe) var kept: KeptBytes?
    private static let keptLock = NSLock()
    init(_ value: JobSpec) { self.value = value }
    static func == (a: SharedSpec, b: SharedSpec) -> Bool { a === b || a.value == b.value }

    /// Below this, encoding again is cheap, and keeping would cost memory for every pending job.
    static let keptBytesMinimum = 64 << 10

    private final class KeptBytes {
        let layout: JSONLayout
        let bytes: [UInt8]
        init(_ layout: JSONLayout, _ bytes: [UInt8]) { self.layout = layout; self.bytes = bytes }
    }

    func encode(to encoder: any Encoder) throws {
        guard let keeping = encoder as? any JSONBytesEncoder else { return try value.encode(to: encoder) }
        let layout = keeping.layout
        let hit = Self.keptLock.withLock { kept.flatMap { $0.layout == layout ? $0.bytes : nil } }
        if let bytes = hit { return try keeping.writeKept(bytes) }
        guard let bytes = try keeping.writeKeeping(atLeast: Self.keptBytesMinimum, { try value.encode(to: encoder) }) else { return }
        let made = KeptBytes(layout, bytes)
        Self.keptLock.withLock { kept = made }
    }
}
