// metrics.prom read back by a real Prometheus parser: the official Python client's
// `text_string_to_metric_families`. A missing python3 or prometheus_client fails the test and
// says how to install them (.ci/install-deps does it in CI); it never passes silently.
import Foundation
import Testing
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

/// Runs python3 (found in PATH) on `text`; the families it parsed, or the reason it could not.
private func parseWithPrometheusClient(_ text: String) throws -> [ParsedFamily] {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-promparse-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let input = dir.appendingPathComponent("metrics.prom").path
    let output = dir.appendingPathComponent("out").path
    let errors = dir.appendingPathComponent("err").path
    try Data(text.utf8).write(to: URL(fileURLWithPath: input))

    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&actions, 2, errors, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attr, &none)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK))
    let arguments: [String] = ["python3", "-c", parserScript]
    let argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    let envp: [UnsafeMutablePointer<CChar>?] = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { envp.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawnp(&pid, "python3", &actions, &attr, argv, envp)
    guard rc == 0 else {
        throw ParserUnavailable("cannot run python3 from PATH (\(String(cString: strerror(rc)))); install python3 and "
            + "prometheus_client, as .ci/install-deps does")
    }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let stderr = (try? String(contentsOfFile: errors, encoding: .utf8)) ?? ""
    guard status == 0 else { throw ParserUnavailable("python3 failed (wait status \(status)): \(stderr)") }
    let data = try Data(contentsOf: URL(fileURLWithPath: output))
    guard let families = try JSONSerialization.jsonObject(with: data) as? [[Any]] else {
        throw ParserUnavailable("unexpected parser output: \(String(decoding: data, as: UTF8.self))")
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

private struct ParserUnavailable: Error, CustomStringConvertible {
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
