// The daemon as a systemd service, with a fake NOTIFY_SOCKET: READY, STATUS, WATCHDOG, RELOADING
// and STOPPING in order; SIGHUP with a changed and with a broken configuration; a bad file at
// start; metrics.prom read by Prometheus' own parser; retention; the output cap; journald prefixes.
import Foundation
import Testing
import TestTools

/// A SOCK_DGRAM receiver in python3 that appends every datagram (one per line) to a file.
final class NotifyReceiver: @unchecked Sendable {
    let socketPath: String
    let logPath: String
    let pid: pid_t

    init(dir: String) {
        socketPath = "\(dir)/notify.sock"
        logPath = "\(dir)/notify.log"
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            s.bind(sys.argv[1])
            with open(sys.argv[2], "a") as out:
                while True:
                    data = s.recv(4096).decode()
                    out.write(data.replace("\\n", " | ") + "\\n")
                    out.flush()
            """
        pid = spawnProcess("/usr/bin/env", ["python3", "-c", script, socketPath, logPath], stdout: "/dev/null", stderr: "\(dir)/notify.err")
        poll(timeout: 10, "notify socket bound") { FileManager.default.fileExists(atPath: socketPath) }
    }

    var messages: [String] {
        ((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
    }

    deinit {
        kill(pid, SIGKILL)
        var st: Int32 = 0
        waitpid(pid, &st, 0)
    }
}

@Suite("service", .serialized)
struct ServiceTests {
    @Test("sd_notify: READY, STATUS, WATCHDOG, RELOADING then READY on SIGHUP, STOPPING on SIGTERM, in that order")
    func notifyOrder() throws {
        let spool = try TempSpool()
        let receiver = NotifyReceiver(dir: spool.root)
        let d = DaemonProcess(spool: spool, environment: ["NOTIFY_SOCKET": receiver.socketPath, "WATCHDOG_USEC": "400000"])
        poll(timeout: 10, "READY and WATCHDOG") { receiver.messages.contains("WATCHDOG=1") }
        d.signal(SIGHUP)
        poll(timeout: 10, "RELOADING") { receiver.messages.contains { $0.hasPrefix("RELOADING=1") } }
        d.signal(SIGTERM)
        #expect(d.waitExit(timeout: 20) == 0)
        poll(timeout: 5, "STOPPING") { receiver.messages.contains { $0.hasPrefix("STOPPING=1") } }
        let m = receiver.messages
        func first(_ prefix: String, after: Int = -1) -> Int? { m.indices.first { $0 > after && m[$0].hasPrefix(prefix) } }
        let ready = try #require(first("READY=1"))
        #expect(m[ready].contains("STATUS=0 running, 0 pending"), "\(m[ready])")
        let watchdog = try #require(first("WATCHDOG=1"))
        let reloading = try #require(first("RELOADING=1"))
        let readyAgain = try #require(first("READY=1", after: reloading))
        let stopping = try #require(first("STOPPING=1"))
        #expect(ready < watchdog && watchdog < reloading && reloading < readyAgain && readyAgain < stopping, "\(m)")
        #expect(m[reloading].contains("MONOTONIC_USEC="))
    }

    @Test("a SIGHUP while the daemon stops is no reload: no RELOADING=1 or READY=1 after STOPPING=1")
    func reloadWhileStopping() throws {
        let spool = try TempSpool()
        let receiver = NotifyReceiver(dir: spool.root)
        let d = DaemonProcess(spool: spool, extra: ["--shutdown-grace", "60"], environment: ["NOTIFY_SOCKET": receiver.socketPath])
        poll(timeout: 10, "READY") { receiver.messages.contains { $0.hasPrefix("READY=1") } }
        // A job that keeps the daemon in its shutdown grace period until the second SIGTERM.
        try spool.drop("long.json", #"{"id": "long", "command": ["sleep", "60"]}"#)
        poll(timeout: 30, "the job running") { spool.record("long", in: "running")?.status == "running" }
        d.signal(SIGTERM)
        poll(timeout: 10, "STOPPING") { receiver.messages.contains { $0.hasPrefix("STOPPING=1") } }
        d.signal(SIGHUP)
        poll(timeout: 10, "the SIGHUP ignored") { d.log.contains("reload: SIGHUP ignored: the daemon is stopping") }
        d.signal(SIGTERM)
        #expect(d.waitExit(timeout: 30) == 0)
        let m = receiver.messages
        let stopping = try #require(m.firstIndex { $0.hasPrefix("STOPPING=1") })
        let after = m[(stopping + 1)...].filter { $0.hasPrefix("READY=1") || $0.hasPrefix("RELOADING=1") }
        #expect(after.isEmpty, "\(m)")
        #expect(spool.record("long") != nil || spool.record("long", in: "pending") != nil, "the job has no record after the stop")
    }

    @Test("SIGHUP applies a changed configuration and keeps the old one when the new file is broken")
    func reload() throws {
        let spool = try TempSpool()
        try spool.write("config.json", #"{"workers": 1}"#)
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        try spool.write("config.json", #"{"workers": 3, "log_level": "debug"}"#)
        d.signal(SIGHUP)
        poll(timeout: 10, "reload applied") { d.log.contains("applied: workers, log_level") }
        try spool.write("config.json", #"{"workers": "many"}"#)
        d.signal(SIGHUP)
        poll(timeout: 10, "broken reload refused") { d.log.contains("keeping the previous configuration") }
        #expect(d.log.contains("field \"workers\""))
        try spool.drop("ok.json", #"{"id": "ok", "command": ["true"]}"#)
        poll(timeout: 10, "still running jobs") { spool.record("ok")?.status == "succeeded" }
    }

    @Test("once it says it is ready, SIGTERM, SIGINT and SIGHUP are caught (not still ignored while libdispatch sets up their sources)")
    func signalsCaughtWhenReady() throws {
        for _ in 0..<5 {
            let spool = try TempSpool()
            let d = DaemonProcess(spool: spool)
            d.waitReady()
            let status = try String(contentsOfFile: "/proc/\(d.pid)/status", encoding: .utf8)
            let line = try #require(status.split(separator: "\n").first { $0.hasPrefix("SigCgt:") })
            let caught = try #require(UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16))
            for sig in [SIGTERM, SIGINT, SIGHUP] {
                #expect(caught & (UInt64(1) << UInt64(sig - 1)) != 0, "signal \(sig) not caught at READY: SigCgt \(line)")
            }
            d.signal(SIGTERM)
            #expect(d.waitExit(timeout: 30) == 0)
        }
    }

    @Test("a reload that lowers the worker count bounds the jobs at once; raising it again lets more run")
    func reloadWorkers() throws {
        let spool = try TempSpool()
        try spool.write("config.json", #"{"workers": 3}"#)
        let d = DaemonProcess(spool: spool, workers: nil)  // the file decides the worker count
        d.waitReady()
        #expect(d.log.contains("with 3 workers"))
        try spool.write("config.json", #"{"workers": 1}"#)
        d.signal(SIGHUP)
        poll(timeout: 30, "reload applied") { d.log.contains("applied: workers") }
        let log = spool.path("intervals")
        for i in 0..<4 {
            try spool.drop("one\(i).json", #"{"id": "one\#(i)", "shell": "s=$(date +%s.%N); sleep 0.2; echo \"$s $(date +%s.%N)\" >> \#(log)"}"#)
        }
        poll(timeout: 30, "four jobs ran") { (0..<4).allSatisfy { spool.record("one\($0)")?.status == "succeeded" } }
        let intervals = (spool.read("intervals") ?? "").split(separator: "\n").map { $0.split(separator: " ").compactMap { Double($0) } }
        let overlap = intervals.map { a in intervals.filter { $0[0] <= a[0] && a[0] < $0[1] }.count }.max() ?? 0
        #expect(intervals.count == 4 && overlap == 1, "\(intervals)")

        try backToThreeWorkers(spool, d)
    }

    /// Raises the workers to 3 by a second reload, then checks that three jobs run at once: each
    /// waits (up to 20 s) until all three have started, so they succeed only together.
    private func backToThreeWorkers(_ spool: TempSpool, _ d: DaemonProcess) throws {
        try spool.write("config.json", #"{"workers": 3}"#)
        d.signal(SIGHUP)
        poll(timeout: 30, "second reload applied") { d.log.components(separatedBy: "applied: workers").count == 3 }
        let barrier = #"touch \#(spool.path("b"))$SPOOL_JOB_ID; n=0; while [ $(ls \#(spool.root) | grep -c '^b') -lt 3 ] && [ $n -lt 200 ]; do sleep 0.1; n=$((n+1)); done; [ $n -lt 200 ]"#
        for i in 0..<3 { try spool.drop("three\(i).json", #"{"id": "three\#(i)", "shell": "\#(barrier)"}"#) }
        poll(timeout: 40, "three at once") { (0..<3).allSatisfy { spool.record("three\($0)")?.status != nil } }
        #expect((0..<3).allSatisfy { spool.record("three\($0)")?.status == "succeeded" }, "\(d.log)")
    }

    /// A job's end hands its permit straight to the next start on the thread that saw the exit
    /// (Daemon+Attempts.swift, `endHandingOn`): permits a reload took away must not be handed on.
    @Test("a reload that lowers the workers while 3 jobs run: the jobs queued behind them then run one at a time, after all 3 ended")
    func reloadWorkersWhileRunning() throws {
        let spool = try TempSpool()
        try spool.write("config.json", #"{"workers": 3}"#)
        let d = DaemonProcess(spool: spool, workers: nil)
        d.waitReady()
        let log = spool.path("intervals")
        let go = spool.path("go")
        // Three jobs that hold their workers until `go` exists (up to 20 s), then four short ones.
        for i in 0..<3 {
            try spool.drop("hold\(i).json", #"{"id": "hold\#(i)", "priority": 1, "shell": "touch \#(spool.path("held"))$SPOOL_JOB_ID; n=0; while [ ! -e \#(go) ] && [ $n -lt 200 ]; do sleep 0.1; n=$((n+1)); done; echo \"hold $(date +%s.%N)\" >> \#(log)"}"#)
        }
        poll(timeout: 30, "three jobs holding their workers") { (0..<3).allSatisfy { FileManager.default.fileExists(atPath: spool.path("heldhold\($0)")) } }
        for i in 0..<4 {
            try spool.drop("next\(i).json", #"{"id": "next\#(i)", "shell": "s=$(date +%s.%N); sleep 0.2; echo \"next $s $(date +%s.%N)\" >> \#(log)"}"#)
        }
        poll(timeout: 30, "the four queued") { (0..<4).allSatisfy { spool.record("next\($0)", in: "pending") != nil } }
        try spool.write("config.json", #"{"workers": 1}"#)
        d.signal(SIGHUP)
        poll(timeout: 30, "reload applied") { d.log.contains("applied: workers") }
        try spool.write("go", "")
        poll(timeout: 40, "seven jobs ran") {
            ((0..<3).map { "hold\($0)" } + (0..<4).map { "next\($0)" }).allSatisfy { spool.record($0)?.status == "succeeded" }
        }
        let lines = (spool.read("intervals") ?? "").split(separator: "\n").map { $0.split(separator: " ") }
        let holdEnds = lines.filter { $0.first == "hold" }.compactMap { Double($0[1]) }
        let next = lines.filter { $0.first == "next" }.map { ($0.dropFirst().compactMap { Double($0) }) }
        #expect(holdEnds.count == 3 && next.count == 4, "\(lines)")
        let lastHold = holdEnds.max() ?? 0
        #expect(next.allSatisfy { $0[0] > lastHold }, "a queued job started while the held ones still ran: \(lines)")
        let overlap = next.map { a in next.filter { $0[0] <= a[0] && a[0] < $0[1] }.count }.max() ?? 0
        #expect(overlap == 1, "more than one worker after the reload: \(lines)")

        // Back to 3: exactly the permits owed were dropped, so three jobs run at once again. A
        // permit dropped twice would leave two.
        try backToThreeWorkers(spool, d)
        d.signal(SIGTERM)
        #expect(d.waitExit(timeout: 30) == 0)
    }

    @Test("a bad configuration file at start exits 78 naming the field; flags override the file")
    func badConfigAtStart() throws {
        let spool = try TempSpool()
        try spool.write("config.json", #"{"workers": 0}"#)
        let r = runCommand(Binaries.spoold, ["--spool", spool.root])
        #expect(r.status == 78)
        #expect(r.stderr.contains("field \"workers\""), "\(r.stderr)")
        try spool.write("config.json", #"{"workers": 1}"#)
        let d = DaemonProcess(spool: spool, workers: 4)
        d.waitReady()
        #expect(d.log.contains("with 4 workers"))
    }

    @Test("metrics.prom parses with Prometheus' own parser and counts what happened")
    func metrics() throws {
        let python = try TestTools.prometheusPython.orSkip()
        let spool = try TempSpool()
        try spool.write("config.json", #"{"metrics_interval_seconds": 0.5}"#)
        try spool.drop("a.json", #"{"command": ["true"]}"#)
        try spool.drop("b.json", #"{"shell": "exit 1"}"#)
        try spool.drop("c.json", #"{"command": "x"}"#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 15, "metrics written with 3 ends") {
            let text = spool.read("metrics.prom") ?? ""
            return text.contains(#"code="invalid_job"} 1"#) && text.contains(#"status="failed",queue="default"} 1"#)
                && text.contains(#"status="succeeded",queue="default"} 1"#)
        }
        let script = """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            for f in text_string_to_metric_families(open(sys.argv[1]).read()):
                for s in f.samples:
                    print(s.name, sorted(s.labels.items()), s.value)
            """
        let parsed = runCommand(python.executable, ["-c", script, spool.path("metrics.prom")], environment: python.environment)
        #expect(parsed.status == 0, "prometheus_client could not parse metrics.prom: \(parsed.stderr)")
        #expect(parsed.stdout.contains("spoold_jobs_finished_total [('queue', 'default'), ('spool', '\(spool.root)'), ('status', 'succeeded')] 1"), "\(parsed.stdout)")
        #expect(parsed.stdout.contains("spoold_job_duration_seconds_count"))
        #expect(parsed.stdout.contains("spoold_start_time_seconds"))
        let stats = try #require(try JSONSerialization.jsonObject(with: Data((spool.read("stats.json") ?? "").utf8)) as? [String: Any])
        #expect(stats.keys.contains("jobs_finished_total"))
        _ = d
    }

    @Test("retention removes exactly the records older than the configured age, with their files")
    func retention() throws {
        let spool = try TempSpool()
        for id in ["old1", "old2", "new1"] { try spool.drop("\(id).json", #"{"id": "\#(id)", "shell": "echo \#(id)"}"#) }
        drain(spool)
        // Age two records by two days: their finished_at and their file times.
        let twoDaysAgo = Date().addingTimeInterval(-2 * 86400)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for id in ["old1", "old2"] {
            let path = spool.path("done/\(id).json")
            var text = try String(contentsOfFile: path, encoding: .utf8)
            let finished = try #require(spool.record(id)?["finished_at"] as? String)
            text = text.replacingOccurrences(of: finished, with: f.string(from: twoDaysAgo))
            try text.write(toFile: path, atomically: false, encoding: .utf8)
            var times = [timespec(tv_sec: Int(twoDaysAgo.timeIntervalSince1970), tv_nsec: 0), timespec(tv_sec: Int(twoDaysAgo.timeIntervalSince1970), tv_nsec: 0)]
            utimensat(AT_FDCWD, path, &times, 0)
        }
        let oldOut = try #require(spool.record("old1")?["stdout"] as? String)
        try spool.write("config.json", #"{"retention": {"done_max_age_seconds": 86400}}"#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 15, "old records pruned") { spool.recordNames("done") == ["new1.json"] }
        #expect(!spool.exists(oldOut))
        #expect(spool.exists(spool.record("new1")?["stdout"] as? String ?? "missing"))
        _ = d
    }

    @Test("an output over max_output_bytes keeps its head and its tail with a marker between")
    func outputCap() throws {
        let spool = try TempSpool()
        try spool.write("config.json", #"{"max_output_bytes": 2000}"#)
        try spool.drop("big.json", #"{"id": "big", "shell": "seq 1 50000"}"#)
        drain(spool)
        let r = try #require(spool.record("big"))
        let out = try #require(spool.read(r["stdout"] as! String))
        #expect(out.utf8.count <= 2000)
        #expect(out.hasPrefix("1\n2\n3\n"))
        #expect(out.hasSuffix("49999\n50000\n"))
        #expect(out.contains("output cut here to keep it under max_output_bytes"))
    }

    @Test("under journald every log line carries a priority prefix")
    func journaldPrefix() throws {
        let spool = try TempSpool()
        try spool.drop("bad.json", #"{"command": 1}"#)
        let d = DaemonProcess(spool: spool, extra: ["--drain"], environment: ["JOURNAL_STREAM": "8:123"])
        #expect(d.waitExit(timeout: 20) == 0)
        let lines = d.log.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.hasPrefix("<") }, "\(lines)")
        #expect(lines.contains { $0.hasPrefix("<4>job ") && $0.contains("rejected") })
        #expect(lines.contains { $0.hasPrefix("<6>spoold: ready") })
    }
}
