// Live restore (SPEC §6): with "live_restore": true each command attempt runs under its own
// supervisor; a daemon that stops (SIGTERM) or dies (SIGKILL) leaves it running, and the next
// daemon adopts it: never killed, never run twice, its record gets the real exit status, times
// and outputs, also when it ended while no daemon ran. Every job here counts its runs in a file.
import Foundation
import Testing

@Suite("live restore", .serialized)
struct LiveRestoreTests {
    /// A spool with live restore on.
    func liveSpool() throws -> TempSpool {
        let spool = try TempSpool()
        try spool.write("config.json", #"{"live_restore": true}"#)
        return spool
    }

    /// A job that notes its start in `<id>.ran`, sleeps, prints two lines around the sleep and exits `code`.
    func dropJob(_ spool: TempSpool, _ id: String, sleep: Double, code: Int = 0, extra: String = "") throws {
        let ran = spool.path("\(id).ran")
        try spool.drop("\(id).json", #"{"id": "\#(id)", "shell": "echo run >> \#(ran); echo before; sleep \#(sleep); echo after; exit \#(code)"\#(extra)}"#)
    }

    func runs(_ spool: TempSpool, _ id: String) -> Int {
        (spool.read("\(id).ran") ?? "").split(separator: "\n").count
    }

    /// The supervisor's record of an attempt, from running/<id>.supervisor.
    func supervisor(_ spool: TempSpool, _ id: String) -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: spool.path("running/\(id).supervisor")) else { return nil }
        return try? JSONSerialization.jsonObject(with: data) as? [String: Any]
    }

    func isAlive(_ pid: Int32) -> Bool { kill(pid, 0) == 0 }

    @Test("SIGTERM leaves running jobs to their supervisors and exits at once; the next daemon adopts them: each ran once, with its real exit code and whole output")
    func sigtermKeepsJobs() throws {
        let spool = try liveSpool()
        try dropJob(spool, "ok", sleep: 2)
        try dropJob(spool, "bad", sleep: 2, code: 3)
        let first = DaemonProcess(spool: spool, extra: ["--shutdown-grace", "30"])
        poll(timeout: 20, "both jobs started\n\(first.log)") { runs(spool, "ok") == 1 && runs(spool, "bad") == 1 }
        let stopped = Date()
        first.signal(SIGTERM)
        #expect(first.waitExit(timeout: 20) == 0, "\(first.log)")
        // Not the 30 s grace: it did not wait for its jobs.
        #expect(Date().timeIntervalSince(stopped) < 15, "\(first.log)")
        #expect(first.log.contains("left running"), "\(first.log)")
        // Right after the exit both are still held in running/, neither ended nor requeued.
        #expect(spool.recordNames("running").sorted() == ["bad.json", "ok.json"])
        #expect(spool.recordNames("pending").isEmpty && spool.recordNames("done").isEmpty)
        let (_, log) = drain(spool)
        let ok = try #require(spool.record("ok"), "\(log)")
        #expect(ok.status == "succeeded" && ok["exit_code"] as? Int == 0 && ok.attempts == 1)
        #expect(spool.read("done/ok.stdout") == "before\nafter\n")
        let bad = try #require(spool.record("bad"))
        #expect(bad.status == "failed" && bad["exit_code"] as? Int == 3 && bad.errorCode == "exit_nonzero")
        #expect(runs(spool, "ok") == 1 && runs(spool, "bad") == 1)
        // What the supervisor reaped comes through (a peak under the supervisor's own is null: InheritedPeak).
        let okUsage = try #require(ok["usage"] as? [String: Any], "\(ok)")
        #expect(okUsage["cpu_user_seconds"] is Double && okUsage.keys.contains("max_rss_bytes"), "\(okUsage)")
        #expect(log.contains("adopted"), "\(log)")
        #expect(spool.names("running").isEmpty, "\(spool.names("running"))")
    }

    @Test("SIGKILL of the daemon: a job that ended while no daemon ran gets its real result and end time")
    func endedWhileDown() throws {
        let spool = try liveSpool()
        try dropJob(spool, "quick", sleep: 0.5, code: 7)
        let first = DaemonProcess(spool: spool)
        poll(timeout: 20, "job started\n\(first.log)") { runs(spool, "quick") == 1 }
        first.crash()
        poll(timeout: 20, "the supervisor wrote the result") { spool.exists("running/quick.result") }
        let (_, log) = drain(spool)
        let r = try #require(spool.record("quick"), "\(log)")
        #expect(r.status == "failed" && r["exit_code"] as? Int == 7 && r.attempts == 1)
        #expect(spool.read("done/quick.stdout") == "before\nafter\n")
        // The end time is when it ended, not when the next daemon found out.
        let took = try #require(r["duration_seconds"] as? Double)
        #expect(took >= 0.4 && took < 5, "duration \(took)")
        #expect(log.contains("ended while no daemon ran"), "\(log)")
        #expect(runs(spool, "quick") == 1)
    }

    @Test("an upgrade: a daemon started from another binary path adopts the jobs, and its timeout counts from the original start")
    func upgradeAndTimeout() throws {
        let spool = try liveSpool()
        let upgraded = spool.path("spoold-upgraded")
        try FileManager.default.copyItem(atPath: Binaries.spoold, toPath: upgraded)
        try dropJob(spool, "long", sleep: 1.5)
        let ran = spool.path("slow.ran")
        try spool.drop("slow.json", #"{"id": "slow", "shell": "echo run >> \#(ran); sleep 60", "timeout_seconds": 3}"#)
        let first = DaemonProcess(spool: spool)
        poll(timeout: 20, "jobs started\n\(first.log)") { runs(spool, "long") == 1 && runs(spool, "slow") == 1 }
        first.signal(SIGTERM)
        #expect(first.waitExit(timeout: 20) == 0, "\(first.log)")
        let second = DaemonProcess(spool: spool, binary: upgraded)
        poll(timeout: 30, "both ended\n\(second.log)") { spool.record("long") != nil && spool.record("slow") != nil }
        let long = try #require(spool.record("long"))
        #expect(long.status == "succeeded" && long.attempts == 1)
        let slow = try #require(spool.record("slow"))
        #expect(slow.errorCode == "timeout", "\(slow)")
        let took = try #require(slow["duration_seconds"] as? Double)
        #expect(took >= 2.5 && took < 8, "timed out after \(took) s, not 3 s after its start")
        #expect(runs(spool, "long") == 1 && runs(spool, "slow") == 1)
    }

    @Test("cancel, pause and resume reach an adopted job")
    func controlAdopted() throws {
        let spool = try liveSpool()
        let ran = spool.path("c.ran")
        try spool.drop("c.json", #"{"id": "c", "shell": "echo run >> \#(ran); sleep 60"}"#)
        let first = DaemonProcess(spool: spool)
        poll(timeout: 20, "job started\n\(first.log)") { runs(spool, "c") == 1 && supervisor(spool, "c") != nil }
        first.crash()
        let second = DaemonProcess(spool: spool)
        poll(timeout: 20, "adopted\n\(second.log)") { second.log.contains("job c: adopted") }
        let jobPID = try #require(supervisor(spool, "c")?["jobPID"] as? Int)
        try spool.write("control/p.json", #"{"action": "pause", "id": "c"}"#)
        poll(timeout: 20, "job stopped") { processState(Int32(jobPID)) == "T" }
        try spool.write("control/r.json", #"{"action": "resume", "id": "c"}"#)
        poll(timeout: 20, "job running again") { processState(Int32(jobPID)) != "T" }
        try spool.write("control/x.json", #"{"action": "cancel", "id": "c"}"#)
        poll(timeout: 30, "cancelled\n\(second.log)") { spool.record("c")?.status == "cancelled" }
        poll(timeout: 10, "the job's process is gone") { !isAlive(Int32(jobPID)) }
        #expect(runs(spool, "c") == 1)
    }

    @Test("the supervisor killed: its job is stopped and follows on_interrupt (fail: failed interrupted; requeue: runs again)",
          arguments: ["fail", "requeue"])
    func supervisorKilled(policy: String) throws {
        let spool = try liveSpool()
        try dropJob(spool, "s", sleep: 60, extra: #", "on_interrupt": "\#(policy)", "timeout_seconds": 120"#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 20, "job started\n\(d.log)") { runs(spool, "s") == 1 && supervisor(spool, "s") != nil }
        let info = try #require(supervisor(spool, "s"))
        let (sup, job) = (try #require(info["pid"] as? Int), try #require(info["jobPID"] as? Int))
        kill(Int32(sup), SIGKILL)
        poll(timeout: 20, "the job's process is stopped") { !isAlive(Int32(job)) }
        if policy == "fail" {
            poll(timeout: 20, "failed\n\(d.log)") { spool.record("s") != nil }
            #expect(spool.record("s")?.errorCode == "interrupted")
            #expect(runs(spool, "s") == 1)
        } else {
            poll(timeout: 20, "runs again\n\(d.log)") { runs(spool, "s") == 2 }
            try spool.write("control/x.json", #"{"action": "cancel", "id": "s"}"#)
            poll(timeout: 20, "cancelled\n\(d.log)") { spool.record("s")?.status == "cancelled" }
            #expect(spool.record("s")?.attempts == 2)
        }
    }

    @Test("a supervisor whose fsync of the result fails says so, exits 74 without a result, and the job follows on_interrupt",
          arguments: ["supervisor:1", "supervisor:2"])
    func supervisorSyncFails(spec: String) throws {
        let spool = try liveSpool()
        // supervisor:1 is the fsync of running/f.result, supervisor:2 that of running/ after its rename.
        try dropJob(spool, "f", sleep: 0.2, extra: #", "on_interrupt": "fail""#)
        let d = DaemonProcess(spool: spool, environment: ["SPOOLD_FAIL_FSYNC": spec])
        poll(timeout: 30, "the job ended\n\(d.log)") { spool.record("f") != nil }
        let f = try #require(spool.record("f"))
        #expect(f.status == "failed" && f.errorCode == "interrupted", "\(spec): \(f)")
        let line = d.log.split(separator: "\n").first { $0.contains(" error: spoold supervise: job f: fsync ") }
        #expect(line?.contains("Input/output error") == true && line?.contains("exiting (status 74)") == true, "\(spec): no error line\n\(d.log)")
        #expect(runs(spool, "f") == 1)
        #expect(!d.hasExited, "the daemon itself goes on\n\(d.log)")
    }

    @Test("a supervisor stuck before it wrote running/<id>.supervisor (the daemon died meanwhile) is found by its command line and killed with its job; the job follows on_interrupt")
    func supervisorWithoutItsFile() throws {
        let spool = try liveSpool()
        try dropJob(spool, "u", sleep: 60, extra: #", "on_interrupt": "fail""#)
        let first = DaemonProcess(spool: spool)
        poll(timeout: 20, "job started\n\(first.log)") { runs(spool, "u") == 1 && supervisor(spool, "u") != nil }
        let info = try #require(supervisor(spool, "u"))
        let (sup, job) = (Int32(try #require(info["pid"] as? Int)), Int32(try #require(info["jobPID"] as? Int)))
        first.crash()
        // As if it were still starting the job: stopped (after the daemon died: a process group
        // orphaned with stopped members gets SIGCONT), and its file not written yet.
        kill(sup, SIGSTOP)
        try FileManager.default.removeItem(atPath: spool.path("running/u.supervisor"))
        let (_, log) = drain(spool)
        let u = try #require(spool.record("u"), "\(log)")
        #expect(u.status == "failed" && u.errorCode == "interrupted", "\(u)")
        #expect(runs(spool, "u") == 1)
        poll(timeout: 10, "the supervisor and the job are stopped") {
            (!isAlive(sup) || processState(sup) == "Z") && (!isAlive(job) || processState(job) == "Z")
        }
    }

    /// The lines of `<name>.ran` that say `what` (a batch's operations note their runs there).
    func runs(_ spool: TempSpool, _ name: String, _ what: String) -> Int {
        (spool.read("\(name).ran") ?? "").split(separator: "\n").filter { $0 == what }.count
    }

    @Test("a batch's command operations outlive the daemon (SIGTERM, SIGKILL): adopted, each ran once with its real exit code and whole output, and the batch completes",
          arguments: ["SIGTERM", "SIGKILL"])
    func batchOperationsSurvive(how: String) throws {
        let spool = try liveSpool()
        let ran = spool.path("b.ran")
        // op0 runs long, op1 ends sooner (with SIGKILL: while no daemon runs) and fails; op2 (a
        // built-in) and op3 wait for room (max_parallel 2) and run after the restart.
        try spool.drop("b.json", #"""
            {"id": "b", "max_parallel": 2, "on_interrupt": "fail", "operations": [
              {"shell": "echo op0 >> \#(ran); echo before; sleep 4; echo after"},
              {"shell": "echo op1 >> \#(ran); echo before; sleep 1; echo after; exit 4"},
              {"type": "descriptive_stats", "params": {"data": [1, 2, 3]}},
              {"shell": "echo op3 >> \#(ran); echo three"}]}
            """#)
        let first = DaemonProcess(spool: spool, extra: ["--shutdown-grace", "30"])
        poll(timeout: 20, "both long operations started\n\(first.log)") {
            runs(spool, "b", "op0") == 1 && runs(spool, "b", "op1") == 1 && spool.exists("running/b.op0.supervisor")
        }
        if how == "SIGTERM" {
            let stopped = Date()
            first.signal(SIGTERM)
            #expect(first.waitExit(timeout: 20) == 0, "\(first.log)")
            // Not the 30 s grace: it left the operations to their supervisors.
            #expect(Date().timeIntervalSince(stopped) < 15, "\(first.log)")
            #expect(first.log.contains("left running"), "\(first.log)")
        } else {
            first.crash()
            poll(timeout: 20, "op1 ended while no daemon ran") { spool.exists("running/b.op1.result") }
        }
        #expect(spool.recordNames("running") == ["b.json"] && spool.recordNames("done").isEmpty)
        let (_, log) = drain(spool)
        let b = try #require(spool.record("b"), "\(log)")
        #expect(b.status == "partial", "\(b)")
        let ops = try #require(b["operations"] as? [[String: Any]])
        #expect(ops.map { $0["status"] as? String } == ["succeeded", "failed", "succeeded", "succeeded"], "\(ops)")
        #expect(ops[0]["exit_code"] as? Int == 0 && ops[1]["exit_code"] as? Int == 4 && ops[3]["exit_code"] as? Int == 0, "\(ops)")
        #expect(ops.map { $0["attempts"] as? Int } == [1, 1, 1, 1], "\(ops)")
        #expect(spool.read("done/b.op0.stdout") == "before\nafter\n" && spool.read("done/b.op1.stdout") == "before\nafter\n")
        #expect(spool.read("done/b.op3.stdout") == "three\n")
        let opUsage = try #require(ops[0]["usage"] as? [String: Any], "\(ops[0])")
        #expect(opUsage["cpu_user_seconds"] is Double && opUsage.keys.contains("max_rss_bytes"), "\(opUsage)")
        #expect((ops[2]["result"] as? [String: Any]) != nil, "\(ops[2])")
        for op in ["op0", "op1", "op3"] { #expect(runs(spool, "b", op) == 1, "\(op) ran \(runs(spool, "b", op)) times") }
        #expect(log.contains("job b: adopted"), "\(log)")
        // op1 ended while no daemon ran (op0 too, on a machine slow enough to take 3 s to restart).
        if how == "SIGKILL" { #expect(log.contains(" ended meanwhile") && !log.contains(" 0 ended meanwhile"), "\(log)") }
        #expect(spool.names("running").isEmpty, "\(spool.names("running"))")
    }

    @Test("a batch operation whose supervisor was killed while no daemon ran follows on_interrupt; the others are adopted")
    func batchOperationSupervisorKilled() throws {
        let spool = try liveSpool()
        let ran = spool.path("k.ran")
        try spool.drop("k.json", #"""
            {"id": "k", "max_parallel": 2, "on_interrupt": "fail", "operations": [
              {"shell": "echo op0 >> \#(ran); sleep 60"},
              {"shell": "echo op1 >> \#(ran); sleep 2; echo done"}]}
            """#)
        let first = DaemonProcess(spool: spool)
        poll(timeout: 20, "both operations started\n\(first.log)") {
            runs(spool, "k", "op0") == 1 && runs(spool, "k", "op1") == 1 && spool.exists("running/k.op0.supervisor")
        }
        first.crash()
        let info = try #require(FileManager.default.contents(atPath: spool.path("running/k.op0.supervisor"))
            .flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] })
        let (sup, job) = (try #require(info["pid"] as? Int), try #require(info["jobPID"] as? Int))
        kill(Int32(sup), SIGKILL)
        poll(timeout: 10, "the supervisor is gone") { !isAlive(Int32(sup)) || processState(Int32(sup)) == "Z" }
        let (_, log) = drain(spool)
        let k = try #require(spool.record("k"), "\(log)")
        let ops = try #require(k["operations"] as? [[String: Any]])
        #expect(ops[0]["status"] as? String == "failed" && (ops[0]["error"] as? [String: Any])?["code"] as? String == "interrupted", "\(ops)")
        #expect(ops[1]["status"] as? String == "succeeded" && ops[1]["exit_code"] as? Int == 0, "\(ops)")
        #expect(spool.read("done/k.op1.stdout") == "done\n")
        #expect(runs(spool, "k", "op0") == 1 && runs(spool, "k", "op1") == 1)
        poll(timeout: 10, "op0's process is stopped") { !isAlive(Int32(job)) || processState(Int32(job)) == "Z" }
    }

    @Test("100 jobs of mixed lengths (0-3 s) across 10 restarts (SIGTERM and SIGKILL in turn): none lost, none run twice, every exit code real")
    func manyRestarts() throws {
        let spool = try liveSpool()
        let count = 100
        let lengths = [0, 0.5, 1, 1.5, 2, 2.5, 3]
        for i in 0..<count {
            try dropJob(spool, "m\(i)", sleep: lengths[i % lengths.count], code: i % 3)
        }
        let started = { (0..<count).filter { runs(spool, "m\($0)") > 0 }.count }
        for round in 0..<10 {
            let d = DaemonProcess(spool: spool, workers: 8)
            let before = started()
            // Each daemon lives until a few more jobs have started (or all have).
            poll(timeout: 60, "more jobs started in round \(round)\n\(d.log)") { started() >= min(count, before + 8) }
            if round % 2 == 0 {
                d.signal(SIGTERM)
                #expect(d.waitExit(timeout: 30) == 0, "\(d.log)")
            } else {
                d.crash()
            }
        }
        let (_, log) = drain(spool, workers: 8, timeout: 240)
        for i in 0..<count {
            let r = try #require(spool.record("m\(i)"), "m\(i) lost\n\(log)")
            #expect(runs(spool, "m\(i)") == 1, "m\(i) ran \(runs(spool, "m\(i)")) times")
            #expect(r["exit_code"] as? Int == i % 3, "m\(i): \(r)")
            #expect(r.status == (i % 3 == 0 ? "succeeded" : "failed"))
            // Its whole output, once (a daemon killed between a claim and the launch counts an attempt
            // that never ran: the output then carries the next attempt's marker line).
            let out = spool.read("done/m\(i).stdout") ?? ""
            #expect(out.hasSuffix("before\nafter\n") && out.components(separatedBy: "before").count == 2, "m\(i): \(out)")
        }
    }

    @Test("SIGKILL of the daemon with jobs running: the next daemon adopts them as they run; each ran once, with its real exit code and whole output")
    func sigkillKeepsJobs() throws {
        let spool = try liveSpool()
        try dropJob(spool, "ok", sleep: 3)
        try dropJob(spool, "bad", sleep: 3, code: 5)
        let first = DaemonProcess(spool: spool)
        poll(timeout: 20, "both jobs started\n\(first.log)") {
            runs(spool, "ok") == 1 && runs(spool, "bad") == 1 && supervisor(spool, "ok") != nil && supervisor(spool, "bad") != nil
        }
        first.crash()
        let (_, log) = drain(spool)
        #expect(log.contains("job ok: adopted") && log.contains("job bad: adopted"), "\(log)")
        let ok = try #require(spool.record("ok"), "\(log)")
        #expect(ok.status == "succeeded" && ok["exit_code"] as? Int == 0 && ok.attempts == 1)
        let bad = try #require(spool.record("bad"))
        #expect(bad.status == "failed" && bad["exit_code"] as? Int == 5 && bad.errorCode == "exit_nonzero")
        #expect(spool.read("done/ok.stdout") == "before\nafter\n" && spool.read("done/bad.stdout") == "before\nafter\n")
        #expect(runs(spool, "ok") == 1 && runs(spool, "bad") == 1)
    }

    @Test("live restore off (the default): no supervisor, the daemon is the job's parent; a SIGTERM stops the job after the grace period and requeues it, and it runs again")
    func defaultUnchanged() throws {
        let spool = try TempSpool()
        try dropJob(spool, "d", sleep: 60)
        let first = DaemonProcess(spool: spool, extra: ["--shutdown-grace", "1"])
        poll(timeout: 20, "job started\n\(first.log)") { runs(spool, "d") == 1 }
        #expect(spool.names("running").allSatisfy { !$0.hasSuffix(".attempt") && !$0.hasSuffix(".supervisor") }, "\(spool.names("running"))")
        // The job's shell is the daemon's own child.
        let job = try #require(OrphanScan.pids(environment: "SPOOL_JOB_ID=d", root: spool.root).first { parentPID($0) == first.pid })
        first.signal(SIGTERM)
        #expect(first.waitExit(timeout: 30) == 0, "\(first.log)")
        #expect(!isAlive(job) || processState(job) == "Z", "the job outlived a daemon without live restore")
        let pending = try #require(spool.record("d", in: "pending"), "\(spool.names("pending"))")
        #expect(pending.status == "pending" && pending.attempts == 1)
        let second = DaemonProcess(spool: spool)
        poll(timeout: 20, "runs again\n\(second.log)") { runs(spool, "d") == 2 }
        try spool.write("control/x.json", #"{"action": "cancel", "id": "d"}"#)
        poll(timeout: 20, "cancelled\n\(second.log)") { spool.record("d")?.status == "cancelled" }
        #expect(spool.record("d")?.attempts == 2)
    }
}

/// The parent of a process (/proc/PID/stat), nil once it is gone.
private func parentPID(_ pid: Int32) -> Int32? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return nil }
    return text[text.index(close, offsetBy: 2)...].split(separator: " ").dropFirst().first.flatMap { Int32($0) }
}

/// Processes whose environment holds `environment` and SPOOL_ROOT=`root` (a job's, found as the daemon finds them).
private enum OrphanScan {
    static func pids(environment: String, root: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { e -> Int32? in
            guard let pid = Int32(e), let data = FileManager.default.contents(atPath: "/proc/\(e)/environ") else { return nil }
            let vars = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return vars.contains(environment) && vars.contains("SPOOL_ROOT=\(root)") ? pid : nil
        }
    }
}

/// The state letter of a process (/proc/PID/stat: R, S, T...), nil once it is gone.
private func processState(_ pid: Int32) -> String? {
    guard let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
          let close = text.lastIndex(of: ")") else { return nil }
    return text[text.index(close, offsetBy: 2)...].split(separator: " ").first.map(String.init)
}
