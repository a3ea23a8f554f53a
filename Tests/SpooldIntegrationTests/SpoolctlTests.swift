// spoolctl as a user runs it: exact output and exit codes, against a real daemon.
import Foundation
import Testing

@Suite("spoolctl", .serialized)
struct SpoolctlTests {
    func ctl(_ spool: TempSpool, _ args: [String]) -> CommandResult {
        runCommand(Binaries.spoolctl, ["--spool", spool.root] + args)
    }

    @Test("submit prints the id as the last word, wait exits 0 on success, status and logs show the job")
    func submitWaitStatusLogs() throws {
        let spool = try TempSpool()
        let daemon = DaemonProcess(spool: spool)
        daemon.waitReady()
        let sub = ctl(spool, ["submit", "--name", "greet", "--", "sh", "-c", "echo hello; echo warn >&2"])
        #expect(sub.status == 0, "\(sub.stderr)")
        let id = try #require(sub.stdout.split(whereSeparator: \.isWhitespace).last.map(String.init))
        #expect(id.hasPrefix("greet-"))
        let wait = ctl(spool, ["wait", id, "--timeout", "30"])
        #expect(wait.status == 0)
        #expect(wait.stdout == "\(id) succeeded\n")
        let status = ctl(spool, ["status", id])
        #expect(status.status == 0)
        #expect(status.stdout.contains("status     succeeded"))
        #expect(status.stdout.contains("name       greet"))
        let json = ctl(spool, ["status", id, "--json"])
        let obj = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(obj["id"] as? String == id)
        #expect(ctl(spool, ["logs", id]).stdout == "hello\n")
        #expect(ctl(spool, ["logs", id, "--stderr"]).stdout == "warn\n")
    }

    @Test("wait exits 1 when a job failed; status of an unknown id exits 1 with one line")
    func failures() throws {
        let spool = try TempSpool()
        let id = ctl(spool, ["submit", "--id", "bad", "--", "false"]).stdout.split(separator: " ").last.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) }
        #expect(id == "bad")
        drain(spool)
        let wait = ctl(spool, ["wait", "bad"])
        #expect(wait.status == 1)
        #expect(wait.stdout.hasPrefix("bad failed: "))
        let missing = ctl(spool, ["status", "nosuch"])
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("spoolctl: error: no job \"nosuch\""))
        #expect(missing.stderr.split(separator: "\n").count == 1)
    }

    @Test("usage errors exit 64 with a one-line reason and the usage line")
    func usage() throws {
        let spool = try TempSpool()
        let cases: [[String]] = [["bogus"], [], ["status"], ["submit", "--retries", "-1", "--", "true"], ["list", "--state", "nope"],
                                 ["wait", "../x"]]
        for args in cases {
            let r = ctl(spool, args)
            #expect(r.status == 64, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.hasPrefix("spoolctl: error: "), "\(args): \(r.stderr)")
        }
        #expect(ctl(spool, ["--help"]).status == 0)
        #expect(ctl(spool, ["list", "--help"]).stdout.hasPrefix("Usage: spoolctl list"))
    }

    @Test("submit rejects an invalid job before dropping it; validate lists every problem")
    func validateAndSubmitChecks() throws {
        let spool = try TempSpool()
        let bad = spool.path("bad-job.json")
        try Data(#"{"comand": ["x"], "retries": -2}"#.utf8).write(to: URL(fileURLWithPath: bad))
        let v = ctl(spool, ["validate", bad])
        #expect(v.status == 1)
        #expect(v.stdout.split(separator: "\n").count == 3, "\(v.stdout)")
        #expect(v.stdout.contains("unknown field \"comand\""))
        let s = ctl(spool, ["submit", bad])
        #expect(s.status == 1)
        #expect(spool.names("inbox").isEmpty)
        let good = spool.path("good.json")
        try Data(#"{"command": ["true"]}"#.utf8).write(to: URL(fileURLWithPath: good))
        #expect(ctl(spool, ["validate", good]).stdout == "\(good): ok\n")
    }

    @Test("list shows jobs newest first, filters by status, and pages")
    func list() throws {
        let spool = try TempSpool()
        for i in 0..<5 {
            _ = ctl(spool, ["submit", "--id", "ok\(i)", "--", "true"])
            usleep(2000)
        }
        _ = ctl(spool, ["submit", "--id", "no", "--", "false"])
        drain(spool, workers: 1)
        let all = ctl(spool, ["list", "--json"])
        let rows = try #require((try JSONSerialization.jsonObject(with: Data(all.stdout.utf8)) as? [String: Any])?["jobs"] as? [[String: Any]])
        #expect(rows.count == 6)
        let failed = ctl(spool, ["list", "--status", "failed", "--json"])
        let f = try #require((try JSONSerialization.jsonObject(with: Data(failed.stdout.utf8)) as? [String: Any])?["jobs"] as? [[String: Any]])
        #expect(f.map { $0["id"] as? String } == ["no"])
        let page = ctl(spool, ["list", "--limit", "2", "--offset", "1"])
        let lines = page.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("ID"))
    }
}

@Suite("spoolctl history", .serialized)
struct SpoolctlHistoryTests {
    func ctl(_ spool: TempSpool, _ args: [String]) -> CommandResult {
        runCommand(Binaries.spoolctl, ["--spool", spool.root] + args)
    }

    @Test("list filters by label, name and queue; stats counts and rates; prune removes old records and their files")
    func filtersStatsPrune() throws {
        let spool = try TempSpool()
        try spool.drop("a.json", #"{"id": "a", "name": "etl", "labels": {"team": "x"}, "shell": "echo a"}"#)
        try spool.drop("b.json", #"{"id": "b", "name": "etl", "queue": "q2", "shell": "exit 1"}"#)
        try spool.drop("c.json", #"{"id": "c", "name": "other", "labels": {"team": "y"}, "command": ["true"]}"#)
        drain(spool)
        func ids(_ args: [String]) throws -> [String] {
            let out = ctl(spool, ["list", "--json"] + args)
            let rows = try #require((try JSONSerialization.jsonObject(with: Data(out.stdout.utf8)) as? [String: Any])?["jobs"] as? [[String: Any]])
            return rows.compactMap { $0["id"] as? String }.sorted()
        }
        #expect(try ids(["--label", "team=x"]) == ["a"])
        #expect(try ids(["--name", "etl"]) == ["a", "b"])
        #expect(try ids(["--queue", "q2"]) == ["b"])
        #expect(try ids(["--since", "1h"]) == ["a", "b", "c"])
        let stats = ctl(spool, ["stats", "--json"])
        let s = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any])
        #expect((s["by_status"] as? [String: Int]) == ["succeeded": 2, "failed": 1])
        #expect(abs((s["success_rate"] as? Double ?? 0) - 2.0 / 3) < 1e-9)
        #expect(((s["finished_per_minute"] as? [String: Double])?["1m"] ?? 0) == 3)
        let out = try #require(spool.record("a")?["stdout"] as? String)
        // prune asks the daemon (delete requests), which keeps the history index in step.
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        #expect(ctl(spool, ["prune", "--older-than", "1h"]).stdout == "removed 0 finished jobs older than 1h\n")
        let pruned = ctl(spool, ["prune", "--older-than", "0s", "--status", "succeeded"])
        #expect(pruned.stdout == "removed 2 finished jobs older than 0s\n", "\(pruned.stderr)\n\(d.log)")
        #expect(spool.recordNames("done") == ["b.json"])
        #expect(!spool.exists(out))
        #expect(ctl(spool, ["prune"]).status == 64)
        // What the spool holds went down; the history of the pruned runs stays.
        let after = try #require(try JSONSerialization.jsonObject(with: Data(ctl(spool, ["stats", "--json"]).stdout.utf8)) as? [String: Any])
        #expect((after["by_status"] as? [String: Int]) == ["failed": 1])
        #expect(after["runs"] as? Int == 3)
        #expect(((after["by_name"] as? [String: Any])?["etl"] as? [String: Any])?["runs"] as? Int == 2)
    }

    @Test("estimate predicts from recent runs of the same name, within 5% for a steady workload")
    func estimate() throws {
        let spool = try TempSpool()
        // Jobs of 1 s: what starting a process costs (more on a loaded machine) is a small part of them.
        for i in 0..<3 { try spool.drop("s\(i).json", #"{"name": "steady", "command": ["sleep", "1"]}"#) }
        drain(spool, workers: 1)
        let file = spool.path("next.json")
        try Data(#"{"name": "steady", "command": ["sleep", "1"]}"#.utf8).write(to: URL(fileURLWithPath: file))
        let est = ctl(spool, ["estimate", file, "--json"])
        #expect(est.status == 0, "\(est.stderr)")
        let e = try #require(try JSONSerialization.jsonObject(with: Data(est.stdout.utf8)) as? [String: Any])
        let predicted = try #require(e["expected_duration_seconds"] as? Double)
        #expect(e["expected_finish_at"] is String)
        // Measure the real duration of one more run and compare.
        try spool.drop("next.json", #"{"id": "measured", "name": "steady", "command": ["sleep", "1"]}"#)
        drain(spool, workers: 1)
        let actual = try #require(spool.record("measured")?["duration_seconds"] as? Double)
        print("estimate of a single steady job: predicted \(String(format: "%.3f", predicted)) s, took \(String(format: "%.3f", actual)) s, error \(String(format: "%.1f", abs(predicted - actual) / actual * 100)) %")
        #expect(abs(predicted - actual) / actual < 0.05, "predicted \(predicted), actual \(actual)")
        let none = ctl(spool, ["estimate", file.replacingOccurrences(of: "next", with: "none")])
        #expect(none.status == 1)
    }

    @Test("watch --once shows running jobs with a progress bar, pending per queue and recent failures")
    func watchOnce() throws {
        let spool = try TempSpool()
        try spool.drop("bad.json", #"{"id": "bad", "shell": "exit 2"}"#)
        drain(spool)
        try spool.drop("p.json", #"{"id": "prog", "shell": "echo 5/10 > $SPOOL_PROGRESS; sleep 5"}"#)
        try spool.drop("q.json", #"{"id": "later", "queue": "night", "not_before": "2099-01-01T00:00:00Z", "command": ["true"]}"#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 10, "progress written") {
            ((spool.record("prog", in: "running")?["progress"] as? [String: Any])?["percent"] as? Double) == 50
        }
        let w = ctl(spool, ["watch", "--once"])
        #expect(w.status == 0)
        #expect(w.stdout.contains("prog"))
        #expect(w.stdout.contains("[##########..........]  50.0%"), "\(w.stdout)")
        #expect(w.stdout.contains("night"))
        #expect(w.stdout.contains("bad"))
        #expect(!w.stdout.contains("\u{1B}["), "escape codes when not on a terminal")
        _ = d
    }
}
