// The daemon's figures for stats.json and metrics.prom (SPEC §6): counters since start, gauges
// set from the current spool, and a histogram of job durations with fixed buckets. A pure value:
// the daemon records events into it under its own lock and renders it (MetricsText.swift) to
// write the files; nothing here does I/O. Its Codable form is stats.json.
import Foundation

/// Counters, gauges and the duration histogram of one spool.
public struct SpoolMetrics: Sendable, Codable, Equatable {
    /// Upper bounds of the duration histogram's buckets, in seconds (+Inf is implied).
    public static let durationBuckets: [Double] = [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 1800, 3600]
    /// The states the `spoold_jobs` gauge reports.
    public static let jobStates: [JobStatus] = [.pending, .running, .paused]
    /// Terminal statuses, in the order they are reported.
    public static let terminalStatuses: [JobStatus] = JobStatus.allCases.filter(\.isTerminal)
    /// Intake rejection codes, reported as 0 until they happen so that rate() works from the start.
    public static let rejectionCodes: [SpoolError.Code] = [.invalidJSON, .invalidJob, .duplicateID, .tooLarge, .notARegularFile]
    /// The queue of jobs that name none.
    public static let defaultQueue = "default"

    /// When set, every series carries `spool="..."`, so that several spools can feed one node_exporter.
    public var spool: String?
    /// When the daemon started, in seconds since 1970.
    public var startTimeSeconds: Double
    /// True while intake is paused (disk below `min_free_bytes`, or a full disk).
    public var isIntakePaused = false
    /// Jobs now in each non-terminal state: state name → queue → count.
    public var jobs: [String: [String: Int]] = [:]
    /// Jobs finished since start: terminal status → queue → count.
    public var finished: [String: [String: Int]] = [:]
    /// Files rejected since start: error code → count.
    public var rejected: [String: Int] = [:]
    /// Run time of finished jobs (first start to finish), in seconds.
    public var duration = Histogram(upperBounds: SpoolMetrics.durationBuckets)

    enum CodingKeys: String, CodingKey {
        case spool
        case startTimeSeconds = "start_time_seconds"
        case isIntakePaused = "intake_paused"
        case jobs
        case finished = "jobs_finished_total"
        case rejected = "rejected_files_total"
        case duration = "job_duration_seconds"
    }

    /// Empty metrics of a daemon started at `startTime` (seconds since 1970).
    public init(startTime: Double, spool: String? = nil) {
        self.startTimeSeconds = startTime
        self.spool = spool
    }

    /// Counts a job that reached a terminal status; `duration` is nil for a job that never ran.
    public mutating func recordFinished(status: JobStatus, queue: String, duration seconds: Double?) {
        finished[status.rawValue, default: [:]][queue, default: 0] += 1
        if let seconds { duration.observe(seconds) }
    }

    /// Counts a rejected file by its code, and as a finished job with status `rejected`
    /// (so call this instead of `recordFinished` for it).
    public mutating func recordRejected(code: SpoolError.Code, queue: String = SpoolMetrics.defaultQueue) {
        rejected[code.rawValue, default: 0] += 1
        finished[JobStatus.rejected.rawValue, default: [:]][queue, default: 0] += 1
    }

    /// Sets the `spoold_jobs` gauge for one state and queue.
    public mutating func setJobCount(_ count: Int, state: JobStatus, queue: String) {
        jobs[state.rawValue, default: [:]][queue] = count
    }

    /// Replaces every `spoold_jobs` gauge: state → queue → count (absent pairs read as 0).
    public mutating func setJobCounts(_ counts: [JobStatus: [String: Int]]) {
        jobs = Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })
    }

    /// Every queue named anywhere, plus the default one, sorted.
    public var queueNames: [String] {
        var names: Set<String> = [Self.defaultQueue]
        for byQueue in jobs.values { names.formUnion(byQueue.keys) }
        for byQueue in finished.values { names.formUnion(byQueue.keys) }
        return names.sorted()
    }

    /// The same figures as metrics.prom, as pretty JSON with sorted keys: the content of stats.json.
    public func statsJSON() -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        // Every Double here is finite (observe() drops the rest), so encoding cannot fail.
        guard let data = try? encoder.encode(self) else { return Array("{}\n".utf8) }
        return Array(data) + [UInt8(ascii: "\n")]
    }
}

extension SpoolMetrics {
    /// A cumulative histogram: `counts[i]` observations were <= `upperBounds[i]`; `count` is the +Inf bucket.
    public struct Histogram: Sendable, Codable, Equatable {
        public private(set) var upperBounds: [Double]
        public private(set) var counts: [Int]
        public private(set) var sum: Double = 0
        public private(set) var count: Int = 0

        enum CodingKeys: String, CodingKey {
            case upperBounds = "le", counts, sum, count
        }

        /// An empty histogram with these (ascending, finite) bucket bounds.
        public init(upperBounds: [Double]) {
            self.upperBounds = upperBounds
            self.counts = Array(repeating: 0, count: upperBounds.count)
        }

        public init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            upperBounds = try c.decode([Double].self, forKey: .upperBounds)
            counts = try c.decode([Int].self, forKey: .counts)
            sum = try c.decode(Double.self, forKey: .sum)
            count = try c.decode(Int.self, forKey: .count)
            guard counts.count == upperBounds.count else {
                throw DecodingError.dataCorruptedError(forKey: .counts, in: c,
                                                       debugDescription: "needs one count per bound in \"le\"")
            }
        }

        /// Adds one observation; negative, NaN and infinite values are ignored.
        public mutating func observe(_ value: Double) {
            guard value.isFinite, value >= 0 else { return }
            for (i, bound) in upperBounds.enumerated() where value <= bound { counts[i] += 1 }
            sum += value
            count += 1
        }
    }
}
