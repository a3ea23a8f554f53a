// metrics.prom and stats.json for a small spool, byte for byte; label escaping; the
// histogram's cumulative buckets; and stats.json decoding back to the same figures.
import Foundation
import Testing
@testable import SpoolCore

@Suite("metrics text")
struct MetricsTextTests {
    /// Two queues, three finished jobs, one rejected file, a paused intake.
    static func small() -> SpoolMetrics {
        var m = SpoolMetrics(startTime: 1_764_000_000.5)
        m.isIntakePaused = true
        m.setJobCount(2, state: .pending, queue: "default")
        m.setJobCount(1, state: .running, queue: "reports")
        m.recordFinished(status: .succeeded, queue: "default", duration: 0.2)
        m.recordFinished(status: .succeeded, queue: "default", duration: 42)
        m.recordFinished(status: .failed, queue: "reports", duration: 4000)
        m.recordFinished(status: .cancelled, queue: "reports", duration: nil)
        m.recordRejected(code: .invalidJSON)
        return m
    }

    static let smallText = """
        # HELP spoold_start_time_seconds Start time of the spoold process in seconds since 1970.
        # TYPE spoold_start_time_seconds gauge
        spoold_start_time_seconds 1764000000.5
        # HELP spoold_intake_paused 1 while intake is paused (low disk space), else 0.
        # TYPE spoold_intake_paused gauge
        spoold_intake_paused 1
        # HELP spoold_jobs Jobs now in the spool by state and queue.
        # TYPE spoold_jobs gauge
        spoold_jobs{state="pending",queue="default"} 2
        spoold_jobs{state="pending",queue="reports"} 0
        spoold_jobs{state="running",queue="default"} 0
        spoold_jobs{state="running",queue="reports"} 1
        spoold_jobs{state="paused",queue="default"} 0
        spoold_jobs{state="paused",queue="reports"} 0
        # HELP spoold_jobs_finished_total Jobs that reached a terminal status since start, by status and queue.
        # TYPE spoold_jobs_finished_total counter
        spoold_jobs_finished_total{status="succeeded",queue="default"} 2
        spoold_jobs_finished_total{status="succeeded",queue="reports"} 0
        spoold_jobs_finished_total{status="failed",queue="default"} 0
        spoold_jobs_finished_total{status="failed",queue="reports"} 1
        spoold_jobs_finished_total{status="partial",queue="default"} 0
        spoold_jobs_finished_total{status="partial",queue="reports"} 0
        spoold_jobs_finished_total{status="cancelled",queue="default"} 0
        spoold_jobs_finished_total{status="cancelled",queue="reports"} 1
        spoold_jobs_finished_total{status="rejected",queue="default"} 1
        spoold_jobs_finished_total{status="rejected",queue="reports"} 0
        # HELP spoold_rejected_files_total Inbox files rejected since start, by error code.
        # TYPE spoold_rejected_files_total counter
        spoold_rejected_files_total{code="duplicate_id"} 0
        spoold_rejected_files_total{code="invalid_job"} 0
        spoold_rejected_files_total{code="invalid_json"} 1
        spoold_rejected_files_total{code="not_a_regular_file"} 0
        spoold_rejected_files_total{code="too_large"} 0
        # HELP spoold_job_duration_seconds Run time of finished jobs in seconds.
        # TYPE spoold_job_duration_seconds histogram
        spoold_job_duration_seconds_bucket{le="0.01"} 0
        spoold_job_duration_seconds_bucket{le="0.05"} 0
        spoold_job_duration_seconds_bucket{le="0.1"} 0
        spoold_job_duration_seconds_bucket{le="0.5"} 1
        spoold_job_duration_seconds_bucket{le="1"} 1
        spoold_job_duration_seconds_bucket{le="5"} 1
        spoold_job_duration_seconds_bucket{le="10"} 1
        spoold_job_duration_seconds_bucket{le="30"} 1
        spoold_job_duration_seconds_bucket{le="60"} 2
        spoold_job_duration_seconds_bucket{le="300"} 2
        spoold_job_duration_seconds_bucket{le="1800"} 2
        spoold_job_duration_seconds_bucket{le="3600"} 2
        spoold_job_duration_seconds_bucket{le="+Inf"} 3
        spoold_job_duration_seconds_sum 4042.2
        spoold_job_duration_seconds_count 3

        """

    @Test("a small spool renders to exactly the expected text")
    func smallCase() {
        #expect(Self.small().prometheusText() == Self.smallText)
    }

    @Test("the spool label comes first on every series, escaped")
    func spoolLabel() {
        var m = SpoolMetrics(startTime: 10, spool: "/var/spool/a \"b\"\\c\nd")
        m.recordRejected(code: .forbidden, queue: "q")
        let text = m.prometheusText()
        let samples = text.split(separator: "\n").filter { !$0.hasPrefix("#") }
        let label = #"spool="/var/spool/a \"b\"\\c\nd""#
        #expect(samples.allSatisfy { $0.contains("{" + label) }, "\(samples)")
        #expect(samples.first == "spoold_start_time_seconds{\(label)} 10")
        #expect(samples.contains("spoold_rejected_files_total{\(label),code=\"forbidden\"} 1"))
        #expect(samples.contains("spoold_job_duration_seconds_bucket{\(label),le=\"+Inf\"} 0"))
        #expect(samples.contains("spoold_jobs_finished_total{\(label),status=\"rejected\",queue=\"q\"} 1"))
    }

    @Test("numbers: integers bare, fractions shortest, non-finite as Prometheus spells them", arguments: [
        (0.0, "0"), (3.0, "3"), (0.25, "0.25"), (1e-05, "1e-05"), (1e20, "1e+20"),
        (Double.infinity, "+Inf"), (-Double.infinity, "-Inf"), (Double.nan, "NaN"),
    ])
    func numbers(value: Double, text: String) {
        #expect(MetricsWriter.number(value) == text)
    }

    @Test("the histogram ignores values it cannot count")
    func histogramIgnores() {
        var h = SpoolMetrics.Histogram(upperBounds: [1, 2])
        for v in [-1, .nan, .infinity, 1, 1.5, 3] { h.observe(v) }
        #expect(h.counts == [1, 2] && h.count == 3 && h.sum == 5.5)
    }

    @Test("stats.json holds the same figures and decodes back")
    func statsJSON() throws {
        let m = Self.small()
        let bytes = m.statsJSON()
        #expect(bytes.last == UInt8(ascii: "\n"))
        let decoded = try JSONDecoder().decode(SpoolMetrics.self, from: Data(bytes))
        #expect(decoded == m)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any])
        #expect(Set(object.keys) == ["start_time_seconds", "intake_paused", "jobs", "jobs_finished_total",
                                     "rejected_files_total", "job_duration_seconds"])
        #expect((object["jobs_finished_total"] as? [String: [String: Int]])?["succeeded"] == ["default": 2])
        let histogram = try #require(object["job_duration_seconds"] as? [String: Any])
        #expect(histogram["counts"] as? [Int] == [0, 0, 0, 1, 1, 1, 1, 1, 2, 2, 2, 2])
        #expect(histogram["count"] as? Int == 3)
        #expect(m.statsJSON() == bytes)
    }

    @Test("stats.json with mismatched histogram arrays is refused")
    func badHistogram() {
        let json = #"{"start_time_seconds": 1, "intake_paused": false, "jobs": {}, "jobs_finished_total": {},"#
            + #" "rejected_files_total": {}, "job_duration_seconds": {"le": [1, 2], "counts": [0], "sum": 0, "count": 0}}"#
        #expect(throws: DecodingError.self) { try JSONDecoder().decode(SpoolMetrics.self, from: Data(json.utf8)) }
    }
}
