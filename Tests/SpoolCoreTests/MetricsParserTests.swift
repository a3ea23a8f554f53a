// metrics.prom read back by a real Prometheus parser: the official Python client's
// `text_string_to_metric_families`. The test installs prometheus_client itself when it is missing
// (TestTools); where it cannot, the test is skipped with the reason printed, never passed silently.
import Foundation
import Testing
import TestTools
@testable import SpoolCore

/// Reads exposition text on stdin and prints its families as JSON: [[name, type, help, [[sample, labels, value]]]].
private let parserScript = """
    import json, math, sys
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError as e:
        sys.exit("prometheus_client is not installed for %s: %s (pip install prometheus_client)" % (sys.executable, e))
    out = []
    for f in text_string_to_metric_families(sys.stdin.read()):
        samples = [[s.name, s.labels, s.value if math.isfinite(s.value) else repr(s.value)] for s in f.samples]
        out.append([f.name, f.type, f.documentation, samples])
    print(json.dumps(out))
    """

private struct ParsedFamily {
    var name: String
    var type: String
    var help: String
    var samples: [(name: String, labels: [String: String], value: Double)]
}

/// Runs python3 with prometheus_client (installed by the test itself when missing) on `text`; the families it parsed.
private func parseWithPrometheusClient(_ text: String) throws -> [ParsedFamily] {
    let python = try TestTools.prometheusPython.orSkip()
    let r = python.run(["-c", parserScript], stdin: text)
    guard r.status == 0 else { throw ParserFailed("\(python.executable) failed (exit \(r.status)): \(r.stderr)") }
    let data = Data(r.stdout.utf8)
    guard let families = try JSONSerialization.jsonObject(with: data) as? [[Any]] else {
        throw ParserFailed("unexpected parser output: \(r.stdout)")
    }
    return families.map { f in
        let samples = (f[3] as? [[Any]] ?? []).map { s -> (String, [String: String], Double) in
            let value: Double
            if let n = s[2] as? Double { value = n } else if let t = s[2] as? String { value = Double(t) ?? .nan } else { value = .nan }
            return (s[0] as? String ?? "", s[1] as? [String: String] ?? [:], value)
        }
        return ParsedFamily(name: f[0] as? String ?? "", type: f[1] as? String ?? "", help: f[2] as? String ?? "",
                            samples: samples.map { (name: $0.0, labels: $0.1, value: $0.2) })
    }
}

private struct ParserFailed: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

@Suite("metrics text, read by the Prometheus Python client")
struct MetricsParserTests {
    @Test("every family, type and sample of a small spool parses back to the same values")
    func smallSpool() throws {
        let m = MetricsTextTests.small()
        let families = try parseWithPrometheusClient(m.prometheusText())
        // The client names a counter's family without its _total suffix.
        #expect(families.map(\.name) == ["spoold_start_time_seconds", "spoold_intake_paused", "spoold_jobs",
                                         "spoold_jobs_finished", "spoold_rejected_files", "spoold_job_duration_seconds"])
        #expect(families.map(\.type) == ["gauge", "gauge", "gauge", "counter", "counter", "histogram"])
        #expect(families[0].help == "Start time of the spoold process in seconds since 1970.")
        func value(_ family: Int, _ name: String, _ labels: [String: String]) -> Double? {
            families[family].samples.first { $0.name == name && $0.labels == labels }?.value
        }
        #expect(value(0, "spoold_start_time_seconds", [:]) == 1_764_000_000.5)
        #expect(value(1, "spoold_intake_paused", [:]) == 1)
        #expect(value(2, "spoold_jobs", ["state": "pending", "queue": "default"]) == 2)
        #expect(value(2, "spoold_jobs", ["state": "running", "queue": "reports"]) == 1)
        #expect(families[2].samples.count == 6)
        #expect(value(3, "spoold_jobs_finished_total", ["status": "succeeded", "queue": "default"]) == 2)
        #expect(value(3, "spoold_jobs_finished_total", ["status": "rejected", "queue": "default"]) == 1)
        #expect(families[3].samples.count == 10)
        #expect(value(4, "spoold_rejected_files_total", ["code": "invalid_json"]) == 1)
        #expect(value(5, "spoold_job_duration_seconds_bucket", ["le": "60"]) == 2)
        #expect(value(5, "spoold_job_duration_seconds_bucket", ["le": "+Inf"]) == 3)
        #expect(value(5, "spoold_job_duration_seconds_sum", [:]) == 4042.2)
        #expect(value(5, "spoold_job_duration_seconds_count", [:]) == 3)
        #expect(families[5].samples.count == 15)
    }

    @Test("label values with quotes, backslashes, newlines and UTF-8 come back unchanged")
    func escaping() throws {
        let spool = "/srv/spool \"x\"\\y\nz ü"
        var m = SpoolMetrics(startTime: 1, spool: spool)
        m.setJobCount(5, state: .pending, queue: "q.1")
        let families = try parseWithPrometheusClient(m.prometheusText())
        let all = families.flatMap(\.samples)
        #expect(!all.isEmpty)
        #expect(all.allSatisfy { $0.labels["spool"] == spool })
        #expect(all.contains { $0.name == "spoold_jobs" && $0.labels["queue"] == "q.1" && $0.value == 5 })
    }
}
