// One line of the history index (history/NNNNNNNNNNNN.ndjson): what `list`, `stats`, `watch`,
// `estimate` and `report` need of a finished job, about 400 bytes instead of its record. A line
// is either `finished` (a record landed in done/) or `removed` (a record left done/: delete,
// prune, retention, ttl); a removed line repeats the entry, so that folding it can take the job
// out of the counts of what the spool holds without reading anything else. Lines always begin
// `{"kind":"f","id":"<id>"` or `{"kind":"d",...`, so the id can be taken without parsing JSON.
// The records in done/ stay the truth: the index is rebuilt from them when it is missing or damaged.
import Foundation
import SpoolJSON

public struct HistoryEntry: Sendable, Equatable {
    public enum Kind: String, Sendable { case finished = "f", removed = "d" }

    public var kind: Kind = .finished
    public var id: String
    public var name: String
    public var status: JobStatus
    public var queue: String
    public var priority: Int = 0
    public var labels: [String: String] = [:]
    /// Arrival order (the record's `sequence`), the tie-break of newest-first.
    public var sequence: Int64 = 0
    public var submittedAt: Double
    public var startedAt: Double?
    public var finishedAt: Double?
    /// When the line was written; never decreases along the index (see `HistoryLog`), and is at
    /// least the job's `submitted_at`, which is what lets `list` stop reading early.
    public var indexedAt: Double
    /// Start to finish of the last attempt, as in the record.
    public var durationSeconds: Double?
    /// Time the job spent paused (`spoolctl pause`) during that attempt.
    public var pausedSeconds: Double = 0
    public var errorCode: String?
    public var exitCode: Int?
    public var attempts: Int = 0
    /// Batches: the operations and the sum of their own durations.
    public var operations: Operations?
    /// Batches: `max_parallel`; every job: the worker slots one run takes (`resources.cpus`).
    public var maxParallel: Int = 1
    public var cpus: Int = 1
    /// Batches: the width it got (the smallest of max_parallel, workers, its queue's limit and
    /// its operations), as the daemon saw it when it indexed the batch.
    public var width: Int?
    /// What the last attempt used (SPEC §4 `usage`); a batch: its command operations together (CPU
    /// summed, the largest peak memory). Nil when nothing was measured (built-ins, a rejected file).
    public var usage: ResourceUsage?

    public struct Operations: Sendable, Equatable {
        public var total: Int
        public var succeeded: Int
        public var failed: Int
        public var skipped: Int
        /// Sum of `duration_seconds` of the operations that have one, and how many have one.
        public var seconds: Double
        public var timed: Int

        public init(total: Int, succeeded: Int = 0, failed: Int = 0, skipped: Int = 0, seconds: Double = 0, timed: Int = 0) {
            self.total = total
            self.succeeded = succeeded
            self.failed = failed
            self.skipped = skipped
            self.seconds = seconds
            self.timed = timed
        }

        /// Mean duration of one operation, if any was timed.
        public var meanSeconds: Double? { timed > 0 ? seconds / Double(timed) : nil }
    }

    public init(id: String, name: String, status: JobStatus, queue: String, submittedAt: Double, indexedAt: Double) {
        self.id = id
        self.name = name
        self.status = status
        self.queue = queue
        self.submittedAt = submittedAt
        self.indexedAt = indexedAt
    }

    /// The entry of a finished record; `pausedSeconds` is what the daemon saw of pauses.
    public init(record r: JobRecord, indexedAt: Double, pausedSeconds: Double = 0) {
        self.init(id: r.id.rawValue, name: r.name, status: r.status, queue: r.spec?.effectiveQueue ?? "default",
                  submittedAt: r.submittedAt.seconds, indexedAt: indexedAt)
        priority = r.spec?.effectivePriority ?? 0
        labels = r.spec?.labels ?? [:]
        sequence = r.sequence
        startedAt = r.startedAt?.seconds
        finishedAt = r.finishedAt?.seconds
        durationSeconds = r.durationSeconds
        self.pausedSeconds = max(0, pausedSeconds)
        errorCode = r.error?.code.rawValue
        exitCode = r.exitCode.map(Int.init)
        attempts = r.attempts
        maxParallel = r.spec?.effectiveMaxParallel ?? 1
        cpus = r.spec?.effectiveCPUs ?? 1
        usage = r.usage ?? Self.combined((r.operations ?? []).compactMap(\.usage))
        if let ops = r.operations {
            var o = Operations(total: ops.count)
            for op in ops {
                switch op.status {
                case .succeeded: o.succeeded += 1
                case .failed: o.failed += 1
                case .skipped: o.skipped += 1
                default: break
                }
                if let d = op.durationSeconds, d.isFinite, d >= 0, op.status == .succeeded || op.status == .failed {
                    o.seconds += d
                    o.timed += 1
                }
            }
            operations = o
        }
    }

    /// A batch's operations' usage as one: CPU summed, the largest peak memory; nil for none.
    public static func combined(_ usages: [ResourceUsage]) -> ResourceUsage? {
        guard !usages.isEmpty else { return nil }
        return ResourceUsage(cpuUserSeconds: usages.reduce(0) { $0 + $1.cpuUserSeconds },
                             cpuSystemSeconds: usages.reduce(0) { $0 + $1.cpuSystemSeconds },
                             maxRSSBytes: usages.compactMap(\.maxRSSBytes).max())
    }

    /// Run time without paused time (nil when the job never ran).
    public var activeSeconds: Double? { durationSeconds.map { max(0, $0 - pausedSeconds) } }

    /// True for a run that counts in the duration history (rejected files never ran).
    public var ran: Bool { status != .rejected && durationSeconds != nil }

    // MARK: the line

    /// The line, without its newline.
    public func line() -> String {
        var m: [(key: String, value: JSONValue)] = [
            ("kind", .string(kind.rawValue)), ("id", .string(id)), ("name", .string(name)), ("status", .string(status.rawValue)),
            ("queue", .string(queue)),
        ]
        if priority != 0 { m.append(("priority", .integer(priority))) }
        if !labels.isEmpty {
            m.append(("labels", .object(JSONObject(labels.sorted { $0.key < $1.key }.map { (key: $0.key, value: .string($0.value)) }))))
        }
        m.append(("sequence", .integer(Int(sequence))))
        m.append(("submitted_at", Self.time(submittedAt)))
        if let startedAt { m.append(("started_at", Self.time(startedAt))) }
        if let finishedAt { m.append(("finished_at", Self.time(finishedAt))) }
        m.append(("indexed_at", Self.time(indexedAt)))
        if let durationSeconds, durationSeconds.isFinite { m.append(("duration_seconds", Self.time(durationSeconds))) }
        if pausedSeconds > 0 { m.append(("paused_seconds", Self.time(pausedSeconds))) }
        if let errorCode { m.append(("error", .string(errorCode))) }
        if let exitCode { m.append(("exit_code", .integer(exitCode))) }
        m.append(("attempts", .integer(attempts)))
        if maxParallel != 1 { m.append(("max_parallel", .integer(maxParallel))) }
        if cpus != 1 { m.append(("cpus", .integer(cpus))) }
        if let width { m.append(("width", .integer(width))) }
        if let u = usage {
            m.append(("usage", .array([Self.time(u.cpuUserSeconds), Self.time(u.cpuSystemSeconds), u.maxRSSBytes.map { .integer(Int($0)) } ?? .null])))
        }
        if let o = operations {
            m.append(("operations", .object(JSONObject([
                ("total", .integer(o.total)), ("succeeded", .integer(o.succeeded)), ("failed", .integer(o.failed)),
                ("skipped", .integer(o.skipped)), ("seconds", Self.time(o.seconds)), ("timed", .integer(o.timed)),
            ]))))
        }
        return JSONValue.object(JSONObject(m)).serialized()
    }

    /// Seconds with microseconds, as a JSON number.
    private static func time(_ s: Double) -> JSONValue {
        .number(JSONNumber((s * 1_000_000).rounded() / 1_000_000))
    }

    public enum DecodeError: Error, Equatable { case notJSON, missing(String) }

    /// Parses one line (without its newline).
    public static func decode<C: Collection>(_ bytes: C) throws(DecodeError) -> HistoryEntry where C.Element == UInt8 {
        guard case .object(let o)? = try? JSONParser(maxDepth: 4).parse(Array(bytes)) else { throw .notJSON }
        func string(_ k: String) throws(DecodeError) -> String {
            guard case .string(let s)? = o[k] else { throw .missing(k) }
            return s
        }
        func number(_ k: String) -> Double? { o[k]?.doubleValue }
        func int(_ k: String) -> Int? { o[k]?.doubleValue.flatMap { $0.isFinite ? Int(exactly: $0.rounded()) : nil } }
        guard let kind = Kind(rawValue: try string("kind")) else { throw .missing("kind") }
        guard let status = JobStatus(rawValue: try string("status")) else { throw .missing("status") }
        guard let submitted = number("submitted_at") else { throw .missing("submitted_at") }
        guard let indexed = number("indexed_at") else { throw .missing("indexed_at") }
        var e = HistoryEntry(id: try string("id"), name: try string("name"), status: status, queue: try string("queue"),
                             submittedAt: submitted, indexedAt: indexed)
        e.kind = kind
        e.priority = int("priority") ?? 0
        if case .object(let l)? = o["labels"] {
            for m in l.members { if case .string(let v) = m.value { e.labels[m.key] = v } }
        }
        e.sequence = o["sequence"].flatMap { if case .number(let n) = $0 { return n.integer } else { return nil } } ?? 0
        e.startedAt = number("started_at")
        e.finishedAt = number("finished_at")
        e.durationSeconds = number("duration_seconds")
        e.pausedSeconds = number("paused_seconds") ?? 0
        e.errorCode = o["error"]?.stringValue
        e.exitCode = int("exit_code")
        e.attempts = int("attempts") ?? 0
        e.maxParallel = int("max_parallel") ?? 1
        e.cpus = int("cpus") ?? 1
        e.width = int("width")
        if let u = o["usage"]?.arrayValue, u.count == 3, let user = u[0].doubleValue, let system = u[1].doubleValue {
            e.usage = ResourceUsage(cpuUserSeconds: user, cpuSystemSeconds: system, maxRSSBytes: u[2].doubleValue.map { Int64($0) })
        }
        if case .object(let p)? = o["operations"] {
            let n = { (k: String) in p[k]?.doubleValue.map { Int($0) } ?? 0 }
            e.operations = Operations(total: n("total"), succeeded: n("succeeded"), failed: n("failed"), skipped: n("skipped"),
                                      seconds: p["seconds"]?.doubleValue ?? 0, timed: n("timed"))
        }
        return e
    }

    /// The kind and id of a line, read from its fixed beginning without parsing it.
    public static func peek<C: Collection>(_ bytes: C) -> (kind: Kind, id: Substring)? where C.Element == UInt8 {
        let prefix = Array(#"{"kind":""#.utf8)
        let middle = Array(#"","id":""#.utf8)
        let b = Array(bytes.prefix(200))
        guard b.count > prefix.count + 1 + middle.count, Array(b[0..<prefix.count]) == prefix,
              let kind = Kind(rawValue: String(UnicodeScalar(b[prefix.count])))
        else { return nil }
        let idStart = prefix.count + 1 + middle.count
        guard Array(b[(prefix.count + 1)..<idStart]) == middle, let end = b[idStart...].firstIndex(of: UInt8(ascii: "\"")) else { return nil }
        return (kind, Substring(String(decoding: b[idStart..<end], as: UTF8.self)))
    }
}

extension HistoryEntry {
    /// The entry of a record file, read from its JSON without decoding the whole record (the
    /// rebuild reads a million of them); the same entry as `init(record:)`. Nil if the bytes are
    /// not a record.
    public init?(recordBytes bytes: [UInt8], indexedAt: Double) {
        guard case .object(let o)? = try? JSONParser(maxDepth: 128).parse(bytes),
              case .string(let id)? = o["id"], case .string(let name)? = o["name"],
              let status = o["status"]?.stringValue.flatMap(JobStatus.init(rawValue:)),
              let submitted = o["submitted_at"]?.stringValue.flatMap(Timestamp.init(rfc3339:))
        else { return nil }
        func time(_ v: JSONValue?) -> Double? { v?.stringValue.flatMap(Timestamp.init(rfc3339:))?.seconds }
        func int(_ v: JSONValue?) -> Int? {
            if case .number(let n)? = v { return n.integer.map(Int.init) ?? (n.double.isFinite ? Int(exactly: n.double) : nil) }
            return nil
        }
        let spec = o["spec"]?.objectValue
        self.init(id: id, name: name, status: status, queue: spec?["queue"]?.stringValue ?? "default",
                  submittedAt: submitted.seconds, indexedAt: indexedAt)
        priority = int(spec?["priority"]) ?? 0
        for m in spec?["labels"]?.objectValue?.members ?? [] { if case .string(let v) = m.value { labels[m.key] = v } }
        if case .number(let n)? = o["sequence"] { sequence = n.integer ?? 0 }
        startedAt = time(o["started_at"])
        finishedAt = time(o["finished_at"])
        durationSeconds = o["duration_seconds"]?.doubleValue
        errorCode = o["error"]?.objectValue?["code"]?.stringValue
        exitCode = int(o["exit_code"])
        attempts = int(o["attempts"]) ?? 0
        maxParallel = int(spec?["max_parallel"]) ?? 1
        cpus = int(spec?["resources"]?.objectValue?["cpus"]) ?? 1
        func usage(_ v: JSONValue?) -> ResourceUsage? {
            guard let u = v?.objectValue, let user = u["cpu_user_seconds"]?.doubleValue, let system = u["cpu_system_seconds"]?.doubleValue
            else { return nil }
            return ResourceUsage(cpuUserSeconds: user, cpuSystemSeconds: system, maxRSSBytes: int(u["max_rss_bytes"]).map { Int64($0) })
        }
        self.usage = usage(o["usage"]) ?? Self.combined((o["operations"]?.arrayValue ?? []).compactMap { usage($0.objectValue?["usage"]) })
        if case .array(let ops)? = o["operations"] {
            var t = Operations(total: ops.count)
            for op in ops {
                let s = op.objectValue?["status"]?.stringValue.flatMap(OperationStatus.init(rawValue:))
                switch s {
                case .succeeded?: t.succeeded += 1
                case .failed?: t.failed += 1
                case .skipped?: t.skipped += 1
                default: break
                }
                if let d = op.objectValue?["duration_seconds"]?.doubleValue, d.isFinite, d >= 0, s == .succeeded || s == .failed {
                    t.seconds += d
                    t.timed += 1
                }
            }
            operations = t
        }
    }
}
