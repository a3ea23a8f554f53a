// Running jobs: environment, working directory, spawn errors, timeouts that kill the whole
// process group, retries with backoff, the worker bound, priority order, not_before, pause.
import Foundation
import Testing

@Suite("execution", .serialized)
struct ExecutionTests {
    @Test("a job sees SPOOL_JOB_ID, SPOOL_ATTEMPT, SPOOL_ROOT, SPOOL_PROGRESS, its env and its cwd; stdin is /dev/null")
    func environment() throws {
        let spool = try TempSpool()
        try FileManager.default.createDirectory(atPath: spool.path("work"), withIntermediateDirectories: true)
        try spool.drop("env.json", #"""
            {"id": "envjob", "cwd": "work", "env": {"GREETING": "hi there"},
             "shell": "echo $SPOOL_JOB_ID $SPOOL_ATTEMPT $SPOOL_ROOT; echo $SPOOL_PROGRESS; echo \"$GREETING\"; pwd; cat; ls /proc/self/fd | wc -l"}
            """#)
        drain(spool)
        let r = try #require(spool.record("envjob"))
        #expect(r.status == "succeeded")
        let lines = (spool.read(r["stdout"] as! String) ?? "").split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        #expect(lines[0] == "envjob 1 \(spool.root)")
        #expect(lines[1] == "\(spool.root)/running/envjob.progress")
        #expect(lines[2] == "hi there")
        #expect(lines[3] == spool.path("work"))
        // ls's own fds: 0, 1, 2 and the directory it reads; nothing inherited from the daemon.
        #expect(Int(lines[4]) ?? 99 <= 4, "job inherited fds: \(lines[4])")
    }

    @Test("a program that cannot be started is spawn_failed naming it; a bad cwd is named too")
    func spawnFailures() throws {
        let spool = try TempSpool()
        try spool.drop("missing.json", #"{"id": "missing", "command": ["no-such-program-xyz", "a"]}"#)
        try spool.drop("notexec.json", #"{"id": "notexec", "command": ["/etc/hostname"]}"#)
        try spool.drop("badcwd.json", #"{"id": "badcwd", "cwd": "/nonexistent/dir", "command": ["true"]}"#)
        drain(spool)
        let missing = try #require(spool.record("missing"))
        #expect(missing.status == "failed")
        #expect(missing.errorCode == "spawn_failed")
        #expect(missing.errorMessage?.contains("\"no-such-program-xyz\" was not found in PATH") == true)
        #expect(spool.record("notexec")?.errorMessage?.contains("\"/etc/hostname\"") == true)
        let badcwd = try #require(spool.record("badcwd"))
        #expect(badcwd.errorCode == "spawn_failed")
        #expect(badcwd.errorMessage?.contains("/nonexistent/dir") == true)
        #expect(badcwd.errorMessage?.contains("cwd") == true)
    }

    @Test("exit codes and signals are recorded")
    func exitAndSignal() throws {
        let spool = try TempSpool()
        try spool.drop("exit.json", #"{"id": "exit3", "shell": "exit 3"}"#)
        try spool.drop("sig.json", #"{"id": "sig", "shell": "kill -9 $$"}"#)
        drain(spool)
        let e = try #require(spool.record("exit3"))
        #expect(e.status == "failed" && e.errorCode == "exit_nonzero" && e["exit_code"] as? Int == 3)
        let s = try #require(spool.record("sig"))
        #expect(s.status == "failed" && s.errorCode == "killed_by_signal" && s["signal"] as? Int == 9)
    }

    @Test("timeout stops the whole process group, background grandchildren included")
    func timeoutKillsGroup() throws {
        let spool = try TempSpool()
        let pidFile = spool.path("grandchild.pid")
        try spool.drop("to.json", """
            {"id": "to", "timeout_seconds": 0.5, "shell": "sleep 60 & echo $! > \(pidFile); sleep 60"}
            """)
        drain(spool, extra: ["--kill-grace", "1"])
        let r = try #require(spool.record("to"))
        #expect(r.status == "failed")
        #expect(r.errorCode == "timeout")
        #expect(r.errorMessage?.contains("timed out after 0.5 s") == true)
        let pid = try #require(Int32((spool.read("grandchild.pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(poll(timeout: 5, "grandchild gone") { kill(pid, 0) != 0 })
    }

    @Test("a job that ignores SIGTERM is killed after the grace period")
    func timeoutEscalates() throws {
        let spool = try TempSpool()
        try spool.drop("stubborn.json", #"{"id": "stubborn", "timeout_seconds": 0.3, "shell": "trap '' TERM; sleep 30"}"#)
        drain(spool, extra: ["--kill-grace", "0.5"])
        let r = try #require(spool.record("stubborn"))
        #expect(r.errorCode == "timeout")
        #expect(r["signal"] as? Int == 9)
    }

    @Test("retries are counted and spaced by backoff; a later success ends succeeded")
    func retries() throws {
        let spool = try TempSpool()
        try spool.drop("always.json", #"{"id": "always", "shell": "exit 1", "retries": 2, "retry_delay_seconds": 0.1}"#)
        let marker = spool.path("marker")
        try spool.drop("flaky.json", """
            {"id": "flaky", "shell": "test -f \(marker) || { touch \(marker); exit 1; }", "retries": 3, "retry_delay_seconds": 0.05}
            """)
        drain(spool)
        let always = try #require(spool.record("always"))
        #expect(always.status == "failed")
        #expect(always.attempts == 3)
        #expect(always["failed_attempts"] as? Int == 3)
        let flaky = try #require(spool.record("flaky"))
        #expect(flaky.status == "succeeded")
        #expect(flaky.attempts == 2)
    }

    @Test("never more than --workers jobs run at once (measured from the jobs' own timestamps)")
    func workerBound() throws {
        let spool = try TempSpool()
        let log = spool.path("intervals")
        for i in 0..<12 {
            try spool.drop("w\(i).json", """
                {"shell": "s=$(date +%s.%N); sleep 0.2; e=$(date +%s.%N); echo \\"$s $e\\" >> \(log)"}
                """)
        }
        drain(spool, workers: 3)
        let intervals = (spool.read("intervals") ?? "").split(separator: "\n").map { line -> (Double, Double) in
            let p = line.split(separator: " ").compactMap { Double($0) }
            return (p[0], p[1])
        }
        #expect(intervals.count == 12)
        var maxOverlap = 0
        for (s, _) in intervals {
            let overlap = intervals.filter { $0.0 <= s && s < $0.1 }.count
            maxOverlap = max(maxOverlap, overlap)
        }
        #expect(maxOverlap <= 3, "\(maxOverlap) jobs overlapped")
        #expect(maxOverlap >= 2, "jobs never ran in parallel")
    }

    @Test("higher priority starts first, FIFO within a priority")
    func priorityOrder() throws {
        let spool = try TempSpool()
        let log = spool.path("order")
        let jobs: [(String, Int)] = [("a", 0), ("b", 5), ("c", 0), ("d", 10), ("e", 5), ("f", -1)]
        for (i, (name, prio)) in jobs.enumerated() {
            try spool.drop("\(name).json", #"{"priority": \#(prio), "shell": "echo \#(name) >> \#(log)"}"#)
            // Distinct arrival times: FIFO order is arrival order.
            let t = timespec(tv_sec: 1_700_000_000 + i, tv_nsec: 0)
            var times = [t, t]
            utimensat(AT_FDCWD, spool.path("inbox/\(name).json"), &times, 0)
        }
        drain(spool, workers: 1)
        #expect((spool.read("order") ?? "").split(separator: "\n") == ["d", "b", "e", "a", "c", "f"])
    }

    @Test("not_before delays the start and says why while pending")
    func notBefore() throws {
        let spool = try TempSpool()
        let at = Date().addingTimeInterval(1.5)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        try spool.drop("later.json", #"{"id": "later", "not_before": "\#(f.string(from: at))", "command": ["true"]}"#)
        let daemon = DaemonProcess(spool: spool)
        daemon.waitReady()
        poll(timeout: 10, "pending record") { spool.record("later", in: "pending") != nil }
        let pending = try #require(spool.record("later", in: "pending"))
        #expect((pending["wait_reason"] as? String)?.contains("not_before") == true)
        poll(timeout: 20, "later done") { spool.record("later") != nil }
        let r = try #require(spool.record("later"))
        #expect(r.status == "succeeded")
        #expect((r.time("started_at") ?? 0) >= at.timeIntervalSince1970 - 0.01)
    }

    @Test("the paused file stops new starts until it is removed")
    func pausedFile() throws {
        let spool = try TempSpool()
        try spool.write("paused", "")
        let daemon = DaemonProcess(spool: spool)
        daemon.waitReady()
        try spool.drop("p.json", #"{"id": "p", "command": ["true"]}"#)
        poll(timeout: 10, "accepted") { spool.record("p", in: "pending") != nil }
        usleep(700_000)
        #expect(spool.record("p") == nil, "a job started while paused")
        unlink(spool.path("paused"))
        poll(timeout: 10, "ran after resume") { spool.record("p")?.status == "succeeded" }
    }
}
