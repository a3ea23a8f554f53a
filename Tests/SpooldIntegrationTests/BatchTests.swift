// Batches against the real daemon: max_parallel measured from the operations' own timestamps,
// partial and stop_on_error outcomes, built-ins, per-operation outputs, the progress file, a
// SIGKILL in the middle of a batch after which no finished operation runs again, retry of the
// failed part, and HTTP operations against a local server.
import Foundation
import Testing

@Suite("batches", .serialized)
struct BatchTests {
    func ops(_ r: [String: Any]) -> [[String: Any]] { r["operations"] as? [[String: Any]] ?? [] }

    @Test("a batch never runs more than max_parallel operations at once; outcomes are per operation")
    func parallelismAndOutcomes() throws {
        let spool = try TempSpool()
        let log = spool.path("intervals")
        var items: [String] = []
        for i in 0..<8 {
            items.append(#"{"name": "op\#(i)", "shell": "s=$(date +%s.%N); sleep 0.15; e=$(date +%s.%N); echo \"$s $e\" >> \#(log); echo out\#(i)"}"#)
        }
        try spool.drop("b.json", #"{"id": "b", "max_parallel": 3, "operations": [\#(items.joined(separator: ","))]}"#)
        drain(spool, workers: 8)
        let r = try #require(spool.record("b"))
        #expect(r.status == "succeeded")
        let intervals = (spool.read("intervals") ?? "").split(separator: "\n").map { $0.split(separator: " ").compactMap { Double($0) } }
        #expect(intervals.count == 8)
        let maxOverlap = intervals.map { a in intervals.filter { $0[0] <= a[0] && a[0] < $0[1] }.count }.max() ?? 0
        #expect(maxOverlap <= 3, "\(maxOverlap) operations overlapped")
        #expect(maxOverlap >= 2)
        let o = ops(r)
        #expect(o.count == 8)
        #expect(o.allSatisfy { $0["status"] as? String == "succeeded" && $0["attempts"] as? Int == 1 })
        let out3 = try #require(o[3]["stdout"] as? String)
        #expect(spool.read(out3) == "out3\n")
        #expect(o[3]["name"] as? String == "op3")
        for key in ["index", "name", "status", "exit_code", "error", "started_at", "finished_at", "duration_seconds", "attempts", "stdout", "stderr"] {
            #expect(o[0].keys.contains(key), "operation record lacks \(key)")
        }
        let progress = try #require(r["progress"] as? [String: Any])
        #expect(progress["total"] as? Int == 8 && progress["succeeded"] as? Int == 8 && progress["percent"] as? Double == 100)
    }

    @Test("some failures make the batch partial; all failing makes it failed; stop_on_error skips the rest")
    func partialFailedStop() throws {
        let spool = try TempSpool()
        try spool.drop("p.json", #"{"id": "p", "operations": [{"shell": "true"}, {"shell": "exit 4"}, {"shell": "true"}]}"#)
        try spool.drop("f.json", #"{"id": "f", "operations": [{"shell": "exit 1"}, {"command": ["false"]}]}"#)
        try spool.drop("s.json", #"{"id": "s", "stop_on_error": true, "operations": [{"shell": "true"}, {"shell": "exit 2"}, {"shell": "true"}, {"shell": "true"}]}"#)
        drain(spool)
        let p = try #require(spool.record("p"))
        #expect(p.status == "partial")
        #expect(p.errorCode == "operation_failed")
        #expect(p.errorMessage?.contains("1 of 3 operations") == true)
        #expect(ops(p)[1]["exit_code"] as? Int == 4)
        #expect(spool.record("f")?.status == "failed")
        let s = try #require(spool.record("s"))
        #expect(s.status == "failed")
        #expect(ops(s).map { $0["status"] as? String } == ["succeeded", "failed", "skipped", "skipped"])
    }

    @Test("built-in operations return results; bad params fail only that operation with a message naming the param")
    func builtins() throws {
        let spool = try TempSpool()
        try spool.drop("a.json", #"""
            {"id": "a", "max_parallel": 4, "operations": [
              {"type": "descriptive_stats", "params": {"data": [2, 4, 4, 4, 5, 5, 7, 9]}},
              {"type": "correlation", "params": {"x": [1, 2, 3, 4], "y": [2, 4, 6, 8.5]}},
              {"type": "forecast", "params": {"data": [1, 2, 3, 4], "horizon": 2, "method": "linear"}},
              {"type": "descriptive_stats", "params": {"data": []}},
              {"type": "correlation_matrix", "params": {"columns": {"price": [1, 2, 3.5, 4], "sales": [3, 1, 2, 5], "ads": [2, 2, 1, 0]}}}]}
            """#)
        drain(spool)
        let r = try #require(spool.record("a"))
        #expect(r.status == "partial")
        let o = ops(r)
        let stats = try #require(o[0]["result"] as? [String: Any])
        #expect(stats["mean"] as? Double == 5)
        #expect(abs((stats["std"] as? Double ?? 0) - 2.138089935299395) < 1e-9)
        let forecast = try #require((o[2]["result"] as? [String: Any])?["forecast"] as? [Double])
        #expect(forecast.count == 2 && abs(forecast[0] - 5) < 1e-9 && abs(forecast[1] - 6) < 1e-9)
        #expect(o[3]["status"] as? String == "failed")
        #expect(((o[3]["error"] as? [String: Any])?["message"] as? String)?.contains("param \"data\"") == true)
        // Columns come back in the order of the job file, through the records the daemon wrote and read.
        #expect((o[4]["result"] as? [String: Any])?["names"] as? [String] == ["price", "sales", "ads"])
    }

    @Test("a reload that lowers the workers in the middle of a batch of built-ins: from then on one operation at a time")
    func builtinsReloadWorkers() throws {
        let spool = try TempSpool()
        try spool.write("config.json", #"{"workers": 2, "max_operations": 30000, "max_job_bytes": 4000000}"#)
        let items = Array(repeating: #"{"type": "descriptive_stats", "params": {"data": [1, 2, 3]}}"#, count: 30_000)
        try spool.drop("b.json", #"{"id": "b", "max_parallel": 2, "operations": [\#(items.joined(separator: ","))]}"#)
        let d = DaemonProcess(spool: spool, workers: nil)
        poll(timeout: 60, "the batch runs") { spool.names("running").contains("b.journal") }
        try spool.write("config.json", #"{"workers": 1, "max_operations": 30000, "max_job_bytes": 4000000}"#)
        d.signal(SIGHUP)
        poll(timeout: 30, "reload applied") { d.log.contains("applied: workers") }
        let applied = Date().timeIntervalSince1970
        poll(timeout: 120, "the batch ends") { spool.record("b") != nil }
        let r = try #require(spool.record("b"))
        #expect(r.status == "succeeded")
        // Microseconds, from the text: the operations take about as long.
        func seconds(_ v: Any?) -> Double? {
            guard let s = v as? String, let dot = s.firstIndex(of: ".") else { return nil }
            let f = ISO8601DateFormatter()
            guard let whole = f.date(from: String(s[..<dot]) + "Z"), let fraction = Double("0" + s[dot...].dropLast()) else { return nil }
            return whole.timeIntervalSince1970 + fraction
        }
        let spans = ops(r).compactMap { o -> (Double, Double)? in
            guard let start = seconds(o["started_at"]), let end = seconds(o["finished_at"]) else { return nil }
            return (start, end)
        }
        #expect(spans.count == 30_000)
        let after = spans.filter { $0.0 > applied }.sorted { $0.0 < $1.0 }
        #expect(after.count > 100, "\(after.count) operations started after the reload")
        let overlapping = zip(after, after.dropFirst()).filter { $1.0 < $0.1 }.count
        #expect(overlapping == 0, "\(overlapping) operations started before the one before them ended")
        withExtendedLifetime(d) {}
    }

    @Test("a SIGKILL in the middle of a 200-operation batch: after restart no finished operation runs again")
    func crashMidBatch() throws {
        let spool = try TempSpool()
        let log = spool.path("ran")
        let items = (0..<200).map { #"{"shell": "echo \#($0) >> \#(log); sleep 0.01"}"# }
        try spool.drop("big.json", #"{"id": "big", "max_parallel": 2, "operations": [\#(items.joined(separator: ","))]}"#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 30, "some operations ran") { (spool.read("ran") ?? "").split(separator: "\n").count >= 40 }
        d.crash()
        let before = (spool.read("ran") ?? "").split(separator: "\n").count
        drain(spool)
        let r = try #require(spool.record("big"))
        #expect(r.status == "succeeded")
        let lines = (spool.read("ran") ?? "").split(separator: "\n").map(String.init)
        var counts: [String: Int] = [:]
        for l in lines { counts[l, default: 0] += 1 }
        #expect(counts.count == 200)
        // Only the operations running at the moment of the kill (at most max_parallel) may run twice.
        let twice = counts.filter { $0.value > 1 }
        #expect(twice.count <= 2, "ran again: \(twice.keys.sorted())")
        #expect(lines.count <= 202)
        #expect(before >= 40)
        #expect(spool.names("running").isEmpty)
    }

    @Test("a state file newer than the journal for an operation (its end line not written yet) keeps the operation's end")
    func stateAheadOfJournal() throws {
        let spool = try TempSpool()
        try spool.drop("f.json", #"""
            {"id": "f", "on_interrupt": "fail", "max_parallel": 1, "operations": [
              {"type": "descriptive_stats", "params": {"data": [1, 2, 3]}}, {"shell": "sleep 60"}]}
            """#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 30, "the running state holds the first operation's end") {
            ops(spool.record("f", in: "running") ?? [:]).first?["status"] as? String == "succeeded"
        }
        d.crash()
        // The moment between the engine taking an end and its loop writing the line: the journal
        // has the first operation's durable start (on_interrupt: fail) but not its end.
        let journal = try #require(spool.read("running/f.journal"))
        let kept = journal.split(separator: "\n").filter { line in
            let o = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any]
            return !(o?["index"] as? Int == 0 && o?["status"] as? String == "succeeded")
        }
        #expect(kept.count < journal.split(separator: "\n").count, "no end line to take out:\n\(journal)")
        try spool.write("running/f.journal", kept.joined(separator: "\n") + "\n")
        drain(spool)
        let r = try #require(spool.record("f"))
        #expect(ops(r).first?["status"] as? String == "succeeded", "the first operation's end was lost: \(ops(r).first ?? [:])")
        #expect((ops(r).first?["result"] as? [String: Any])?["mean"] as? Double == 2)
        #expect(ops(r).last?["status"] as? String == "failed", "the interrupted one follows on_interrupt: fail")
    }

    @Test("a command job's SPOOL_PROGRESS reports show in its running state file")
    func progressFile() throws {
        let spool = try TempSpool()
        try spool.drop("p.json", #"{"id": "prog", "shell": "echo 3/10 > $SPOOL_PROGRESS; sleep 3"}"#)
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        poll(timeout: 10, "progress 30% in running/prog.json") {
            ((spool.record("prog", in: "running")?["progress"] as? [String: Any])?["percent"] as? Double) == 30
        }
        let p = try #require(spool.record("prog", in: "running")?["progress"] as? [String: Any])
        #expect(p["total"] as? Int == 10)
        #expect(spool.record("prog", in: "running")?.status == "running")
    }

    @Test("retry --failed-only submits just the failed and skipped operations under a new id naming the old one")
    func retryFailedOnly() throws {
        let spool = try TempSpool()
        try spool.drop("r.json", #"{"id": "r", "stop_on_error": true, "operations": [{"name": "a", "shell": "true"}, {"name": "b", "shell": "exit 3"}, {"name": "c", "shell": "true"}]}"#)
        drain(spool)
        #expect(spool.record("r")?.status == "failed")
        let out = runCommand(Binaries.spoolctl, ["--spool", spool.root, "retry", "r", "--failed-only"])
        #expect(out.status == 0, "\(out.stderr)")
        let newID = try #require(out.stdout.split(whereSeparator: \.isWhitespace).last.map(String.init))
        drain(spool)
        let again = try #require(spool.record(newID))
        #expect(again["retry_of"] as? String == "r")
        let names = ops(again).map { $0["name"] as? String }
        #expect(names == ["b", "c"])
        // stop_on_error came along: b fails again, so c is skipped again.
        #expect(again.status == "failed")
        #expect(ops(again).map { $0["status"] as? String } == ["failed", "skipped"])
        let whole = runCommand(Binaries.spoolctl, ["--spool", spool.root, "retry", "r"])
        let wholeID = try #require(whole.stdout.split(whereSeparator: \.isWhitespace).last.map(String.init))
        drain(spool)
        #expect(ops(try #require(spool.record(wholeID))).count == 3)
    }

    @Test("http operations report status, headers and body; a non-2xx status fails the operation")
    func http() throws {
        let spool = try TempSpool()
        let server = try LocalHTTPServer()
        try spool.drop("h.json", #"""
            {"id": "h", "max_parallel": 2, "operations": [
              {"name": "ok", "type": "http", "params": {"method": "GET", "url": "\#(server.url)/json"}},
              {"name": "missing", "type": "http", "params": {"method": "GET", "url": "\#(server.url)/status/404"}}]}
            """#)
        drain(spool)
        let r = try #require(spool.record("h"))
        #expect(r.status == "partial")
        let o = ops(r)
        let result = try #require(o[0]["result"] as? [String: Any])
        #expect(result["status"] as? Int == 200)
        #expect(result["body"] as? [String: Any] != nil)
        #expect(o[1]["status"] as? String == "failed")
        #expect(((o[1]["error"] as? [String: Any])?["message"] as? String)?.contains("404") == true)
        // A failed http operation keeps the response it got (SPEC §4).
        let failed = try #require(o[1]["result"] as? [String: Any])
        #expect(failed["status"] as? Int == 404)
        #expect((failed["body"] as? [String: Any])?["status"] as? Int == 404)
    }

    @Test("without libcurl an http operation fails saying what to install; the rest of the batch runs")
    func httpWithoutLibcurl() throws {
        let spool = try TempSpool()
        let server = try LocalHTTPServer()
        try spool.drop("h.json", #"""
            {"id": "h", "operations": [
              {"name": "get", "type": "http", "params": {"method": "GET", "url": "\#(server.url)/json"}},
              {"name": "sum", "type": "descriptive_stats", "params": {"data": [1, 2, 3]}}]}
            """#)
        // libcurl is loaded at the first http operation; a name that does not exist stands for a
        // machine without it.
        drain(spool, environment: ["SPOOLD_LIBCURL": "\(spool.root)/no-libcurl.so.4"])
        let r = try #require(spool.record("h"))
        #expect(r.status == "partial")
        let o = ops(r)
        #expect(o[0]["status"] as? String == "failed")
        let message = try #require((o[0]["error"] as? [String: Any])?["message"] as? String)
        #expect(message.contains("http GET \(server.url)/json failed: libcurl is not installed ("), "\(message)")
        #expect(message.hasSuffix("the http operation needs it (Debian: apt-get install libcurl4)"), "\(message)")
        #expect(o[1]["status"] as? String == "succeeded")
    }
}

/// The builtins' test server (Tests/SpoolBuiltinsTests/Fixtures/http_server.py) on a free port.
/// It prints its port and serves until its stdin closes, which happens when this object goes.
final class LocalHTTPServer: @unchecked Sendable {
    let process = Process()
    let stdin = Pipe()
    let url: String

    init() throws {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("SpoolBuiltinsTests/Fixtures/http_server.py").path
        let portFile = FileManager.default.temporaryDirectory.appendingPathComponent("port-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: portFile.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script]
        process.standardInput = stdin
        process.standardOutput = try FileHandle(forWritingTo: portFile)
        try process.run()
        var port = ""
        poll(timeout: 15, "http server port") {
            port = ((try? String(contentsOf: portFile, encoding: .utf8)) ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            return !port.isEmpty
        }
        url = "http://127.0.0.1:\(port)"
    }

    deinit {
        try? stdin.fileHandleForWriting.close()
        process.terminate()
        process.waitUntilExit()
    }
}
