// The fold of the history index (history/summary.json): everything `stats`, `watch` and
// `estimate` need, a few kilobytes whatever the number of records. A pure value: `apply` folds
// one line, and the file says which prefix of the index it is the fold of (`covers`), so that
// a reader gets the exact current state from the summary plus the few lines written after it.
//
// Two kinds of figures: what the spool holds now (`live`, `holdings`, `recentFailures`), which a
// removed line takes back, and the per-name and per-queue history (`names`, `queues`), which it
// does not: pruning records keeps the history that estimates and statistics need, as aggregates.
import Foundation
import SpoolJSON

public struct HistorySummary: Sendable, Equatable {
    public static let format = 1
    /// Names beyond this many (least recently finished first) lose their aggregates: a spool
    /// whose jobs are named by a unique file stem must not grow a summary as big as its index.
    public static let maxNames = 1024
    /// Runs per name kept for estimates.
    public static let recentRuns = 20

    /// Where in the index the fold stops: a segment's first line number and a byte offset in it.
    public struct Position: Sendable, Equatable, Comparable {
        public var segment: Int64
        public var offset: Int
        public init(segment: Int64, offset: Int) {
            self.segment = segment
            self.offset = offset
        }
        public static func < (a: Position, b: Position) -> Bool { (a.segment, a.offset) < (b.segment, b.offset) }
    }

    /// Counts of what the spool holds, by status and queue.
    public struct Holding: Sendable, Hashable {
        public var status: JobStatus
        public var queue: String
    }

    /// One succeeded run, for estimates.
    public struct Run: Sendable, Equatable {
        public var finishedAt: Double
        /// Run time without paused time.
        public var seconds: Double
        public var operations: Int?
        public var operationSeconds: Double?
        /// Batches: the width it got.
        public var width: Int?

        public init(finishedAt: Double, seconds: Double, operations: Int? = nil, operationSeconds: Double? = nil, width: Int? = nil) {
            self.finishedAt = finishedAt
            self.seconds = seconds
            self.operations = operations
            self.operationSeconds = operationSeconds
            self.width = width
        }
    }

    /// A recent failure, for `watch`.
    public struct Failure: Sendable, Equatable {
        public var id: String
        public var name: String
        public var status: JobStatus
        public var finishedAt: Double?
        public var error: String?
    }

    /// History of one name or queue: every run folded in, removed ones included.
    public struct Aggregate: Sendable, Equatable {
        public var runs = 0
        public var byStatus: [JobStatus: Int] = [:]
        /// Run times (without paused time) of runs that ran.
        public var durations = LogHistogram()
        public var operations = HistoryEntry.Operations(total: 0)
        public var operationBatches = 0
        public var recent: [Run] = []
        public var lastFinishedAt: Double = 0
        /// What the runs that measured it used.
        public var usage = Usage()

        public init() {}

        mutating func add(_ e: HistoryEntry) {
            if let u = e.usage { usage.add(u) }
            runs += 1
            byStatus[e.status, default: 0] += 1
            if e.ran, let d = e.activeSeconds { durations.add(d) }
            if let o = e.operations {
                operationBatches += 1
                operations.total += o.total
                operations.succeeded += o.succeeded
                operations.failed += o.failed
                operations.skipped += o.skipped
                operations.seconds += o.seconds
                operations.timed += o.timed
            }
            lastFinishedAt = max(lastFinishedAt, e.finishedAt ?? e.indexedAt)
            if e.status == .succeeded, let d = e.activeSeconds {
                recent.append(Run(finishedAt: e.finishedAt ?? e.indexedAt, seconds: d, operations: e.operations?.total,
                                  operationSeconds: e.operations?.meanSeconds, width: e.width))
                if recent.count > HistorySummary.recentRuns { recent.removeFirst(recent.count - HistorySummary.recentRuns) }
            }
        }

        /// Finished (not rejected) runs and how many of them succeeded.
        public var ended: Int { runs - (byStatus[.rejected] ?? 0) }
        public var successRate: Double? { ended > 0 ? Double(byStatus[.succeeded] ?? 0) / Double(ended) : nil }
        public var failureRate: Double? { successRate.map { 1 - $0 } }
    }

    /// CPU time and peak memory of runs, for means and maxima per name (SPEC §4 `usage`).
    public struct Usage: Sendable, Equatable {
        /// Runs that measured what they used.
        public var runs = 0
        public var cpuUserSum = 0.0
        public var cpuUserMax = 0.0
        public var cpuSystemSum = 0.0
        public var cpuSystemMax = 0.0
        /// Runs whose peak memory was measured (above their starter's: InheritedPeak.swift).
        public var rssRuns = 0
        /// Peak memory in bytes of those (a sum of many peaks can pass 2^53: a Double is exact enough).
        public var rssSum = 0.0
        public var rssMax: Int64 = 0

        public init() {}

        public mutating func add(_ u: ResourceUsage) {
            runs += 1
            cpuUserSum += u.cpuUserSeconds
            cpuUserMax = max(cpuUserMax, u.cpuUserSeconds)
            cpuSystemSum += u.cpuSystemSeconds
            cpuSystemMax = max(cpuSystemMax, u.cpuSystemSeconds)
            if let rss = u.maxRSSBytes {
                rssRuns += 1
                rssSum += Double(rss)
                rssMax = max(rssMax, rss)
            }
        }

        public mutating func merge(_ o: Usage) {
            runs += o.runs
            cpuUserSum += o.cpuUserSum
            cpuUserMax = max(cpuUserMax, o.cpuUserMax)
            cpuSystemSum += o.cpuSystemSum
            cpuSystemMax = max(cpuSystemMax, o.cpuSystemMax)
            rssRuns += o.rssRuns
            rssSum += o.rssSum
            rssMax = max(rssMax, o.rssMax)
        }

        public var meanCPUUser: Double? { runs > 0 ? cpuUserSum / Double(runs) : nil }
        public var meanCPUSystem: Double? { runs > 0 ? cpuSystemSum / Double(runs) : nil }
        public var meanRSS: Double? { rssRuns > 0 ? rssSum / Double(rssRuns) : nil }
    }

    /// What the daemon runs with: the real width jobs get.
    public struct Width: Sendable, Equatable {
        public var workers: Int
        public var queueLimits: [String: Int]
        public init(workers: Int, queueLimits: [String: Int]) {
            self.workers = workers
            self.queueLimits = queueLimits
        }
    }

    public var covers = Position(segment: 1, offset: 0)
    /// Lines folded in, and the index's next line number.
    public var lines: Int64 = 0
    /// Records held in done/ according to the index, and the XOR of their ids' hashes: at start
    /// the daemon compares both with a listing of done/.
    public var live = 0
    public var fingerprint: UInt64 = 0
    /// Files in done/ named like records that the last rebuild could not read (not indexed), so
    /// that they do not look like a difference at every start.
    public var unindexed = 0
    public var unindexedFingerprint: UInt64 = 0
    public var lastIndexedAt: Double = 0
    public var holdings: [Holding: Int] = [:]
    public var names: [String: Aggregate] = [:]
    public var queues: [String: Aggregate] = [:]
    public var all = Aggregate()
    public var recentFailures: [Failure] = []
    public var width: Width?

    public init() {}

    /// Folds one line in.
    public mutating func apply(_ e: HistoryEntry) {
        lines += 1
        lastIndexedAt = max(lastIndexedAt, e.indexedAt)
        fingerprint ^= Self.hash(e.id)
        let h = Holding(status: e.status, queue: e.queue)
        switch e.kind {
        case .finished:
            live += 1
            holdings[h, default: 0] += 1
            names[e.name, default: Aggregate()].add(e)
            queues[e.queue, default: Aggregate()].add(e)
            all.add(e)
            if [.failed, .partial, .rejected].contains(e.status) {
                recentFailures.append(Failure(id: e.id, name: e.name, status: e.status, finishedAt: e.finishedAt, error: e.errorCode))
                if recentFailures.count > 10 { recentFailures.removeFirst(recentFailures.count - 10) }
            }
            if names.count > Self.maxNames { trimNames() }
        case .removed:
            live -= 1
            if let n = holdings[h] { holdings[h] = n > 1 ? n - 1 : nil }
            recentFailures.removeAll { $0.id == e.id }
        }
    }

    /// Drops the names that finished least recently, down to three quarters of the cap.
    private mutating func trimNames() {
        let keep = Self.maxNames * 3 / 4
        let sorted = names.sorted { $0.value.lastFinishedAt > $1.value.lastFinishedAt }
        names = Dictionary(uniqueKeysWithValues: sorted.prefix(keep).map { ($0.key, $0.value) })
    }

    /// FNV-1a of an id: the fingerprint of a set of ids is the XOR of their hashes.
    public static func hash<S: StringProtocol>(_ id: S) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 {
            h ^= UInt64(b)
            h = h &* 0x100_0000_01b3
        }
        return h
    }

    /// Counts held now by status (optionally of some queues).
    public func held(statuses: Set<JobStatus> = [], queues q: Set<String> = []) -> Int {
        holdings.reduce(0) { sum, h in
            (statuses.isEmpty || statuses.contains(h.key.status)) && (q.isEmpty || q.contains(h.key.queue)) ? sum + h.value : sum
        }
    }
}

/// Run times in buckets 5 % wide from 1 ms up (bucket 0: under 1 ms), for percentiles in a few
/// bytes: a percentile is off by at most half a bucket, 2.5 %.
public struct LogHistogram: Sendable, Equatable {
    public static let base = 0.001
    public static let ratio = 1.05
    public private(set) var buckets: [Int: Int] = [:]
    public private(set) var count = 0
    public private(set) var sum = 0.0
    public private(set) var max = 0.0

    public init() {}

    public static func bucket(_ seconds: Double) -> Int {
        guard seconds >= base else { return 0 }
        return Int((log(seconds / base) / log(ratio)).rounded(.down)) + 1
    }

    /// The middle (geometric) of a bucket.
    public static func value(_ bucket: Int) -> Double {
        bucket == 0 ? base / 2 : base * pow(ratio, Double(bucket) - 0.5)
    }

    public mutating func add(_ seconds: Double) {
        guard seconds.isFinite, seconds >= 0 else { return }
        buckets[Self.bucket(seconds), default: 0] += 1
        count += 1
        sum += seconds
        max = Swift.max(max, seconds)
    }

    public mutating func merge(_ other: LogHistogram) {
        for (b, n) in other.buckets { buckets[b, default: 0] += n }
        count += other.count
        sum += other.sum
        max = Swift.max(max, other.max)
    }

    public var mean: Double? { count > 0 ? sum / Double(count) : nil }

    /// The q-quantile (0...1): the value below which a fraction q of the observations lie.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = Swift.max(1, Int((q * Double(count)).rounded(.up)))
        var seen = 0
        for b in buckets.keys.sorted() {
            seen += buckets[b]!
            if seen >= rank { return Swift.min(Self.value(b), max) }
        }
        return max
    }

    init(buckets: [Int: Int], count: Int, sum: Double, max: Double) {
        self.buckets = buckets
        self.count = count
        self.sum = sum
        self.max = max
    }
}

// MARK: summary.json

extension HistorySummary {
    public func encoded() -> [UInt8] {
        func hist(_ h: LogHistogram) -> JSONValue {
            .object(JSONObject([("count", .integer(h.count)), ("sum", .number(h.sum)), ("max", .number(h.max)),
                                ("buckets", .object(JSONObject(h.buckets.sorted { $0.key < $1.key }.map { (key: String($0.key), value: .integer($0.value)) })))]))
        }
        func aggregate(_ a: Aggregate) -> JSONValue {
            var fields: [(key: String, value: JSONValue)] = [
                ("runs", .integer(a.runs)),
                ("by_status", .object(JSONObject(a.byStatus.sorted { $0.key.rawValue < $1.key.rawValue }.map { (key: $0.key.rawValue, value: .integer($0.value)) }))),
                ("durations", hist(a.durations)),
                ("operations", .array([.integer(a.operationBatches), .integer(a.operations.total), .integer(a.operations.succeeded),
                                       .integer(a.operations.failed), .integer(a.operations.skipped), .number(a.operations.seconds),
                                       .integer(a.operations.timed)])),
                ("recent", .array(a.recent.map { r in
                    .array([.number(r.finishedAt), .number(r.seconds), r.operations.map { .integer($0) } ?? .null,
                            r.operationSeconds.map { .number($0) } ?? .null, r.width.map { .integer($0) } ?? .null])
                })),
                ("last_finished_at", .number(a.lastFinishedAt)),
            ]
            if a.usage.runs > 0 {
                let u = a.usage
                fields.append(("usage", .array([.integer(u.runs), .number(u.cpuUserSum), .number(u.cpuUserMax), .number(u.cpuSystemSum),
                                                .number(u.cpuSystemMax), .number(u.rssSum), .integer(Int(u.rssMax))])))
                // A key of its own, not an eighth element: an older spoold reading this file keeps the rest.
                fields.append(("usage_peaks", .integer(u.rssRuns)))
            }
            return .object(JSONObject(fields))
        }
        var m: [(key: String, value: JSONValue)] = [
            ("format", .integer(Self.format)),
            ("covers", .object(JSONObject([("segment", .integer(Int(covers.segment))), ("offset", .integer(covers.offset))]))),
            ("lines", .integer(Int(lines))),
            ("live", .integer(live)),
            ("fingerprint", .string(String(fingerprint, radix: 16))),
            ("unindexed", .array([.integer(unindexed), .string(String(unindexedFingerprint, radix: 16))])),
            ("last_indexed_at", .number(lastIndexedAt)),
            ("holdings", .array(holdings.sorted { ($0.key.status.rawValue, $0.key.queue) < ($1.key.status.rawValue, $1.key.queue) }.map {
                .array([.string($0.key.status.rawValue), .string($0.key.queue), .integer($0.value)])
            })),
            ("all", aggregate(all)),
            ("queues", .object(JSONObject(queues.sorted { $0.key < $1.key }.map { (key: $0.key, value: aggregate($0.value)) }))),
            ("names", .object(JSONObject(names.sorted { $0.key < $1.key }.map { (key: $0.key, value: aggregate($0.value)) }))),
            ("recent_failures", .array(recentFailures.map { f in
                .array([.string(f.id), .string(f.name), .string(f.status.rawValue), f.finishedAt.map { .number($0) } ?? .null,
                        f.error.map { .string($0) } ?? .null])
            })),
        ]
        if let width {
            m.append(("width", .object(JSONObject([("workers", .integer(width.workers)),
                                                   ("queue_limits", .object(JSONObject(width.queueLimits.sorted { $0.key < $1.key }.map { (key: $0.key, value: .integer($0.value)) })))]))))
        }
        return JSONValue.object(JSONObject(m)).serializedBytes() + [0x0A]
    }

    public enum DecodeError: Error { case invalid(String) }

    public static func decode(_ bytes: [UInt8]) throws(DecodeError) -> HistorySummary {
        guard case .object(let o)? = try? JSONParser(maxDepth: 8).parse(bytes) else { throw .invalid("not JSON") }
        guard o["format"]?.doubleValue == Double(format) else { throw .invalid("format") }
        func int(_ v: JSONValue?) -> Int? { v?.doubleValue.flatMap { $0.isFinite ? Int(exactly: $0.rounded()) : nil } }
        func hist(_ v: JSONValue?) -> LogHistogram {
            guard case .object(let h)? = v else { return LogHistogram() }
            var b: [Int: Int] = [:]
            for m in h["buckets"]?.objectValue?.members ?? [] { if let k = Int(m.key), let n = int(m.value) { b[k] = n } }
            return LogHistogram(buckets: b, count: int(h["count"]) ?? 0, sum: h["sum"]?.doubleValue ?? 0, max: h["max"]?.doubleValue ?? 0)
        }
        func aggregate(_ v: JSONValue?) -> Aggregate {
            var a = Aggregate()
            guard case .object(let x)? = v else { return a }
            a.runs = int(x["runs"]) ?? 0
            for m in x["by_status"]?.objectValue?.members ?? [] { if let s = JobStatus(rawValue: m.key) { a.byStatus[s] = int(m.value) ?? 0 } }
            a.durations = hist(x["durations"])
            if let ops = x["operations"]?.arrayValue, ops.count == 7 {
                a.operationBatches = int(ops[0]) ?? 0
                a.operations = HistoryEntry.Operations(total: int(ops[1]) ?? 0, succeeded: int(ops[2]) ?? 0, failed: int(ops[3]) ?? 0,
                                                       skipped: int(ops[4]) ?? 0, seconds: ops[5].doubleValue ?? 0, timed: int(ops[6]) ?? 0)
            }
            a.recent = (x["recent"]?.arrayValue ?? []).compactMap { r in
                guard let r = r.arrayValue, r.count == 5, let f = r[0].doubleValue, let s = r[1].doubleValue else { return nil }
                return Run(finishedAt: f, seconds: s, operations: int(r[2]), operationSeconds: r[3].doubleValue, width: int(r[4]))
            }
            a.lastFinishedAt = x["last_finished_at"]?.doubleValue ?? 0
            if let u = x["usage"]?.arrayValue, u.count == 7 {
                a.usage.runs = int(u[0]) ?? 0
                a.usage.cpuUserSum = u[1].doubleValue ?? 0
                a.usage.cpuUserMax = u[2].doubleValue ?? 0
                a.usage.cpuSystemSum = u[3].doubleValue ?? 0
                a.usage.cpuSystemMax = u[4].doubleValue ?? 0
                a.usage.rssSum = u[5].doubleValue ?? 0
                a.usage.rssMax = Int64(u[6].doubleValue ?? 0)
                // Written before peaks were told apart from the daemon's: every run counted one.
                a.usage.rssRuns = int(x["usage_peaks"]) ?? a.usage.runs
            }
            return a
        }
        var s = HistorySummary()
        guard case .object(let c)? = o["covers"], let seg = int(c["segment"]), let off = int(c["offset"]),
              let live = int(o["live"]), case .string(let fp)? = o["fingerprint"], let fingerprint = UInt64(fp, radix: 16)
        else { throw .invalid("covers, live or fingerprint") }
        s.covers = Position(segment: Int64(seg), offset: off)
        s.lines = Int64(int(o["lines"]) ?? 0)
        s.live = live
        s.fingerprint = fingerprint
        s.lastIndexedAt = o["last_indexed_at"]?.doubleValue ?? 0
        if let u = o["unindexed"]?.arrayValue, u.count == 2, let n = int(u[0]), let f = u[1].stringValue.flatMap({ UInt64($0, radix: 16) }) {
            s.unindexed = n
            s.unindexedFingerprint = f
        }
        for h in o["holdings"]?.arrayValue ?? [] {
            guard let a = h.arrayValue, a.count == 3, let st = a[0].stringValue.flatMap(JobStatus.init(rawValue:)),
                  let q = a[1].stringValue, let n = int(a[2]) else { throw .invalid("holdings") }
            s.holdings[Holding(status: st, queue: q)] = n
        }
        s.all = aggregate(o["all"])
        for m in o["queues"]?.objectValue?.members ?? [] { s.queues[m.key] = aggregate(m.value) }
        for m in o["names"]?.objectValue?.members ?? [] { s.names[m.key] = aggregate(m.value) }
        s.recentFailures = (o["recent_failures"]?.arrayValue ?? []).compactMap { f in
            guard let a = f.arrayValue, a.count == 5, let id = a[0].stringValue, let name = a[1].stringValue,
                  let st = a[2].stringValue.flatMap(JobStatus.init(rawValue:)) else { return nil }
            return Failure(id: id, name: name, status: st, finishedAt: a[3].doubleValue, error: a[4].stringValue)
        }
        if case .object(let w)? = o["width"], let workers = int(w["workers"]) {
            var limits: [String: Int] = [:]
            for m in w["queue_limits"]?.objectValue?.members ?? [] { limits[m.key] = int(m.value) }
            s.width = Width(workers: workers, queueLimits: limits)
        }
        return s
    }
}

extension HistorySummary.Aggregate {
    /// Two aggregates as one (several names asked for at once).
    public mutating func merge(_ o: HistorySummary.Aggregate) {
        runs += o.runs
        for (k, v) in o.byStatus { byStatus[k, default: 0] += v }
        durations.merge(o.durations)
        operationBatches += o.operationBatches
        operations.total += o.operations.total
        operations.succeeded += o.operations.succeeded
        operations.failed += o.operations.failed
        operations.skipped += o.operations.skipped
        operations.seconds += o.operations.seconds
        operations.timed += o.operations.timed
        recent = (recent + o.recent).sorted { $0.finishedAt < $1.finishedAt }.suffix(HistorySummary.recentRuns)
        usage.merge(o.usage)
        lastFinishedAt = max(lastFinishedAt, o.lastFinishedAt)
    }
}
