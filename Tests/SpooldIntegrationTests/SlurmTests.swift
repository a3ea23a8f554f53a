// The Slurm executor (SPEC §9, issue 13) against a real single-node Slurm that the tests start
// from Debian's packages (TestTools.slurm): exit codes, signals and outputs, timeout_seconds to
// the second, cancel through scancel, pause refused, retries, crash points around sbatch (exactly
// one Slurm job each), a daemon restart that adopts running jobs and one that finds a job ended
// while it was down, a controller restart, a batch, and local and Slurm queues side by side. The
// spool is local: the single node on localhost shares its filesystem. Every job notes each run
// in a file, so "ran once" is checked by what ran, not by what the daemon says.
import Foundation
import Testing
import TestTools

@Suite("Slurm executor", .serialized)
struct SlurmTests {
    /// A spool whose queue `hpc` runs on the test cluster; `config` adds fields to config.json.
    func slurmSpool(_ config: String = "") throws -> (TempSpool, SlurmCluster) {
        let cluster = try TestTools.slurm.orSkip()
        let spool = try TempSpool()
        try spool.write("config.json", #"{"queues": {"hpc": {"executor": "slurm"}}\#(config)}"#)
        return (spool, cluster)
    }

    func daemon(_ spool: TempSpool, _ cluster: SlurmCluster, workers: Int = 2, extra: [String] = [],
                crashAt: String? = nil) -> DaemonProcess {
        var env = cluster.environment
        if let crashAt { env["SPOOLD_CRASH_AT"] = crashAt }
        return DaemonProcess(spool: spool, workers: workers, extra: extra, environment: env)
    }

    func runs(_ spool: TempSpool, _ id: String) -> Int {
        (spool.read("\(id).ran") ?? "").split(separator: "\n").count
    }

    /// A Slurm job of queue hpc that notes its run in `<id>.ran`, then runs `shell`.
    func dropJob(_ spool: TempSpool, _ id: String, _ shell: String, extra: String = "") throws {
        let ran = spool.path("\(id).ran")
        try spool.drop("\(id).json", #"{"id": "\#(id)", "queue": "hpc", "shell": "echo run >> \#(ran); \#(shell)"\#(extra)}"#)
    }

    /// The Slurm jobs the cluster knows that ran in this spool (by their working directory).
    func slurmJobs(_ cluster: SlurmCluster, _ spool: TempSpool) -> [String] {
        let o = cluster.client("squeue", ["-h", "-t", "all", "-o", "%i|%Z|%T"])
        return o.stdout.split(separator: "\n").map(String.init).filter { $0.split(separator: "|").dropFirst().first.map(String.init) == spool.root }
    }

    func drainSlurm(_ spool: TempSpool, _ cluster: SlurmCluster, timeout: Double = 120,
                    sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let d = daemon(spool, cluster, extra: ["--drain"])
        let status = d.waitExit(timeout: timeout)
        #expect(status == 0, "spoold --drain exited with \(String(describing: status))\n\(d.log)", sourceLocation: sourceLocation)
        return d.log
    }

    @Test("exit codes, signals and outputs: one record each, with Slurm's job id as the executor")
    func exitCodes() throws {
        let (spool, cluster) = try slurmSpool()
        try dropJob(spool, "ok", "echo out; echo err >&2")
        try dropJob(spool, "bad", "exit 3")
        try dropJob(spool, "sig", "kill -9 $$")
        try spool.drop("env.json", #"{"id": "env", "queue": "hpc", "shell": "echo $SPOOL_JOB_ID $SLURM_JOB_ID", "resources": {"cpus": 2, "memory_mb": 100}}"#)
        let log = drainSlurm(spool, cluster)
        let ok = try #require(spool.record("ok"), "\(log)")
        #expect(ok.status == "succeeded" && ok["exit_code"] as? Int == 0, "\(ok)")
        #expect(spool.read("done/ok.stdout") == "out\n" && spool.read("done/ok.stderr") == "err\n")
        let executor = try #require(ok["executor"] as? [String: Any])
        #expect(executor["type"] as? String == "slurm" && (executor["job_id"] as? String).map { Int($0) != nil } == true, "\(executor)")
        #expect(executor["host"] as? String == "localhost", "\(executor)")  // the test cluster's one node
        let bad = try #require(spool.record("bad"))
        #expect(bad.status == "failed" && bad["exit_code"] as? Int == 3 && bad.errorCode == "exit_nonzero", "\(bad)")
        let sig = try #require(spool.record("sig"))
        #expect(sig.status == "failed" && sig["signal"] as? Int == 9 && sig.errorCode == "killed_by_signal", "\(sig)")
        // The job sees its own id and Slurm's, and Slurm's id is the record's.
        let env = try #require(spool.record("env"))
        let slurmID = (env["executor"] as? [String: Any])?["job_id"] as? String
        #expect(spool.read("done/env.stdout") == "env \(slurmID ?? "?")\n", "\(env)")
        #expect(["ok", "bad", "sig"].allSatisfy { runs(spool, $0) == 1 })
        #expect(spool.names("running").isEmpty, "\(spool.names("running"))")
    }

    @Test("timeout_seconds is kept by the wrapper to the second, not by Slurm's minute-grained limit")
    func timeout() throws {
        let (spool, cluster) = try slurmSpool(#", "kill_grace_seconds": 1"#)
        try dropJob(spool, "slow", "sleep 60", extra: #", "timeout_seconds": 2"#)
        let log = drainSlurm(spool, cluster)
        let slow = try #require(spool.record("slow"), "\(log)")
        #expect(slow.status == "failed" && slow.errorCode == "timeout", "\(slow)")
        let took = slow["duration_seconds"] as? Double ?? -1
        print("slurm timeout: timeout_seconds 2, kill grace 1, duration_seconds \(took)")
        // Slurm's own limit would have been a minute at least (--time is in minutes).
        #expect(took < 30, "\(slow)")
    }

    @Test("cancel of a running Slurm job goes through scancel and ends cancelled; pause is refused with a clear error")
    func cancelAndPause() throws {
        let (spool, cluster) = try slurmSpool()
        try dropJob(spool, "long", "sleep 120")
        let d = daemon(spool, cluster)
        poll(timeout: 60, "the Slurm job started\n\(d.log)") { runs(spool, "long") == 1 }
        let pause = runCommand(Binaries.spoolctl, ["--spool", spool.root, "pause", "long"])
        #expect(pause.status == 1, "\(pause)")
        #expect(pause.stderr.contains("pause job long refused: it runs on Slurm (queue hpc), where spoold cannot pause a job; cancel it instead"), "\(pause.stderr)")
        let cancel = runCommand(Binaries.spoolctl, ["--spool", spool.root, "cancel", "long"])
        #expect(cancel.status == 0, "\(cancel)")
        poll(timeout: 60, "the cancelled record\n\(d.log)") { spool.record("long") != nil }
        let long = try #require(spool.record("long"))
        #expect(long.status == "cancelled" && long.errorCode == "cancelled", "\(long)")
        // Slurm reports the job COMPLETING for a moment after scancel (a CI run read it then).
        var jobs: [String] = []
        poll(timeout: 60, "Slurm to report the job cancelled") {
            jobs = slurmJobs(cluster, spool)
            return jobs.count == 1 && jobs[0].hasSuffix("|CANCELLED")
        }
        #expect(jobs.count == 1 && jobs[0].hasSuffix("|CANCELLED"), "\(jobs)")
    }

    @Test("a failed attempt is retried on Slurm with backoff, as a new Slurm job")
    func retries() throws {
        let (spool, cluster) = try slurmSpool()
        let mark = spool.path("mark")
        try dropJob(spool, "flaky", "test -f \(mark) || { touch \(mark); exit 1; }", extra: #", "retries": 2, "retry_delay_seconds": 0.1"#)
        let log = drainSlurm(spool, cluster)
        let flaky = try #require(spool.record("flaky"), "\(log)")
        #expect(flaky.status == "succeeded" && flaky.attempts == 2, "\(flaky)")
        #expect(runs(spool, "flaky") == 2)
        #expect(slurmJobs(cluster, spool).count == 2)
    }

    @Test("a daemon killed while its Slurm jobs run adopts them at restart: none is submitted twice, and one that ended meanwhile gets its real result")
    func restartAdopts() throws {
        let (spool, cluster) = try slurmSpool()
        // Both wait for the gate, opened once the daemon is dead: "short" then ends while no
        // daemon runs, "long" runs on past the restart.
        let gate = spool.path("gate")
        try dropJob(spool, "short", "while ! test -f \(gate); do sleep 0.1; done; echo done-short; exit 4")
        try dropJob(spool, "long", "while ! test -f \(gate); do sleep 0.1; done; sleep 5; echo done-long")
        let first = daemon(spool, cluster)
        poll(timeout: 60, "both Slurm jobs started\n\(first.log)") { runs(spool, "short") == 1 && runs(spool, "long") == 1 }
        first.crash()
        try spool.write("gate", "")
        poll(timeout: 60, "short's wrapper wrote its result: \(spool.names("running"))") { spool.names("running").contains { $0.hasPrefix("short.slurm.job.") && $0.hasSuffix(".result") } }
        let log = drainSlurm(spool, cluster)
        let short = try #require(spool.record("short"), "\(log)")
        #expect(short.status == "failed" && short["exit_code"] as? Int == 4 && short.attempts == 1, "\(short)")
        #expect((short["executor"] as? [String: Any])?["type"] as? String == "slurm", "\(short)")
        #expect(spool.read("done/short.stdout") == "done-short\n")
        let long = try #require(spool.record("long"))
        #expect(long.status == "succeeded" && long.attempts == 1, "\(long)")
        #expect(spool.read("done/long.stdout") == "done-long\n")
        #expect(runs(spool, "short") == 1 && runs(spool, "long") == 1)
        #expect(slurmJobs(cluster, spool).count == 2, "\(slurmJobs(cluster, spool))")
        #expect(log.contains("adopted"), "\(log)")
        #expect(spool.names("running").isEmpty, "\(spool.names("running"))")
    }

    @Test("SIGTERM leaves Slurm jobs running on the cluster and exits; the next daemon records them", .timeLimit(.minutes(3)))
    func sigtermLeavesJobs() throws {
        let (spool, cluster) = try slurmSpool()
        try dropJob(spool, "job", "sleep 4; echo finished")
        let first = daemon(spool, cluster, extra: ["--shutdown-grace", "60"])
        poll(timeout: 60, "the Slurm job started\n\(first.log)") { runs(spool, "job") == 1 }
        first.signal(SIGTERM)
        #expect(first.waitExit(timeout: 30) == 0, "\(first.log)")
        #expect(first.log.contains("left running on the cluster"), "\(first.log)")
        let log = drainSlurm(spool, cluster)
        let job = try #require(spool.record("job"), "\(log)")
        #expect(job.status == "succeeded" && spool.read("done/job.stdout") == "finished\n", "\(job)")
        #expect(runs(spool, "job") == 1 && slurmJobs(cluster, spool).count == 1)
    }

    @Test("crash before sbatch, and after it before the record: exactly one Slurm job each, and the job ends once", arguments: ["before_submit", "after_submit"])
    func crashAroundSubmission(point: String) throws {
        let (spool, cluster) = try slurmSpool()
        try dropJob(spool, "j", "echo hi")
        let first = daemon(spool, cluster, crashAt: point)
        #expect(first.waitExit(timeout: 60) == 128 + SIGKILL, "\(first.log)")
        #expect(first.log.contains("crash injected at \(point)"), "\(first.log)")
        let log = drainSlurm(spool, cluster)
        let j = try #require(spool.record("j"), "\(log)")
        // The output of a second attempt follows a marker line (Spool/AttemptOutput.swift).
        #expect(j.status == "succeeded" && spool.read("done/j.stdout")?.hasSuffix("hi\n") == true, "\(j)\n\(log)")
        #expect(runs(spool, "j") == 1)
        let jobs = slurmJobs(cluster, spool)
        #expect(jobs.count == 1, "\(point): \(jobs)")
        // Before sbatch the attempt never began: it is requeued (attempt 2); after, it is adopted (attempt 1).
        #expect(j.attempts == (point == "before_submit" ? 2 : 1), "\(j)")
        #expect(spool.names("running").isEmpty, "\(spool.names("running"))")
    }

    @Test("a controller restart while jobs run loses nothing")
    func controllerRestart() throws {
        let (spool, cluster) = try slurmSpool()
        try dropJob(spool, "a", "sleep 4; echo a")
        let d = daemon(spool, cluster)
        poll(timeout: 60, "the Slurm job started\n\(d.log)") { runs(spool, "a") == 1 }
        let restarted = cluster.control("restart-controller")
        #expect(restarted.status == 0, "\(restarted)")
        poll(timeout: 90, "a's record\n\(d.log)") { spool.record("a") != nil }
        #expect(spool.record("a")?.status == "succeeded" && runs(spool, "a") == 1)
    }

    /// The parent of process `pid`, from /proc.
    func parent(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        return stat[stat.index(after: close)...].split(separator: " ").dropFirst().first.flatMap { Int32($0) }
    }

    @Test("a node failure (slurmd, slurmstepd, the wrapper and the job killed) is an interruption: on_interrupt requeue runs it again once the node is back, on_interrupt fail ends it interrupted; Slurm never reruns it itself", .timeLimit(.minutes(4)))
    func nodeFailure() throws {
        let (spool, cluster) = try slurmSpool()
        for (id, extra) in [("n", ""), ("f", #", "on_interrupt": "fail""#)] {
            let mark = spool.path("\(id).mark")
            try dropJob(spool, id, "test -f \(mark) && exit 0; touch \(mark); echo $$ > \(spool.path("\(id).pid")); sleep 300", extra: extra)
        }
        let d = daemon(spool, cluster)
        poll(timeout: 60, "both jobs wrote their pids\n\(d.log)") { ["n", "f"].allSatisfy { (spool.read("\($0).pid") ?? "").hasSuffix("\n") } }
        // The node dies: its slurmd, each job's slurmstepd (the wrapper's parent), the wrapper and the job.
        if let slurmd = (try? String(contentsOfFile: "\(cluster.directory)/slurmd.pid", encoding: .utf8)).flatMap({ Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }) {
            kill(slurmd, SIGKILL)
        }
        for id in ["n", "f"] {
            let job = try #require(Int32((spool.read("\(id).pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)))
            let wrapper = try #require(parent(of: job))
            let stepd = try #require(parent(of: wrapper))
            for pid in [stepd, wrapper] { kill(pid, SIGKILL) }
            kill(-job, SIGKILL)
        }
        poll(timeout: 120, "f ended interrupted after NODE_FAIL\n\(d.log)") { spool.record("f") != nil }
        let f = try #require(spool.record("f"))
        #expect(f.status == "failed" && f.errorCode == "interrupted", "\(f)")
        let message = (f["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains("ended NODE_FAIL during attempt 1"), "\(message)")
        #expect(d.log.contains("NODE_FAIL"), "\(d.log)")
        let node = cluster.control("start-node")
        #expect(node.status == 0, "\(node)")
        poll(timeout: 120, "n ran again once the node was back\n\(d.log)") { spool.record("n") != nil }
        let n = try #require(spool.record("n"))
        #expect(n.status == "succeeded" && n.attempts == 2, "\(n)")
        #expect(runs(spool, "n") == 2 && runs(spool, "f") == 1)
    }

    @Test("a node failure on one of two namespaced nodes: the attempt is interrupted (NODE_FAIL) and requeued by on_interrupt, and runs again on the other node", .timeLimit(.minutes(4)))
    func twoNodeFailure() throws {
        _ = try TestTools.slurm.orSkip()  // the packages
        guard geteuid() == 0, TestTools.which("ip") != nil, TestTools.which("nsenter") != nil else {
            TestTools.say("SKIPPED-NEEDS-TOOL: twoNodeFailure: needs root, ip and nsenter for network namespaces")
            return
        }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/slurm-two-node-cluster.sh").path
        let spool = try TempSpool()
        let dir = spool.path("cluster")
        let started = TestTools.run("/bin/bash", [script, "start", dir, String(40_000 + Int(getpid()) % 10_000 * 2)], timeout: 120)
        defer { _ = TestTools.run("/bin/bash", [script, "stop", dir], timeout: 60) }
        try #require(started.status == 0, "\(started.stdout)\(started.stderr)")
        try spool.write("config.json", #"{"queues": {"hpc": {"executor": "slurm"}}}"#)
        let mark = spool.path("r.mark"), node = spool.path("r.node")
        try dropJob(spool, "r", "test -f \(mark) && { echo $SLURM_JOB_NODELIST; exit 0; }; touch \(mark); echo $SLURM_JOB_NODELIST > \(node); sleep 300")
        let d = DaemonProcess(spool: spool, environment: ["SLURM_CONF": "\(dir)/slurm.conf"])
        poll(timeout: 60, "r started on a node\n\(d.log)") { (spool.read("r.node") ?? "").hasSuffix("\n") }
        let first = (spool.read("r.node") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        let killed = TestTools.run("/bin/bash", [script, "kill-node", dir, first], timeout: 60)
        #expect(killed.status == 0, "\(killed)")
        poll(timeout: 150, "r ran again after its node failed\n\(d.log)") { spool.record("r") != nil }
        let r = try #require(spool.record("r"))
        #expect(r.status == "succeeded" && r.attempts == 2, "\(r)")
        let second = (spool.read("done/r.stdout") ?? "").split(separator: "\n").last.map(String.init) ?? ""
        #expect(["n1", "n2"].contains(first) && ["n1", "n2"].contains(second) && second != first, "first \(first), then \(second)")
        #expect(d.log.contains("ended NODE_FAIL"), "\(d.log)")
        #expect((r["executor"] as? [String: Any])?["host"] as? String == second, "\(r)")
        #expect(runs(spool, "r") == 2)
    }

    @Test("a batch on Slurm: one submission per operation, per-operation records")
    func batch() throws {
        let (spool, cluster) = try slurmSpool()
        try spool.drop("b.json", #"{"id": "b", "queue": "hpc", "max_parallel": 2, "operations": [{"shell": "echo 0"}, {"shell": "exit 2"}, {"shell": "echo 2"}, {"type": "descriptive_stats", "params": {"data": [1, 2, 3]}}]}"#)
        let log = drainSlurm(spool, cluster)
        let b = try #require(spool.record("b"), "\(log)")
        #expect(b.status == "partial", "\(b)")
        let ops = try #require(b["operations"] as? [[String: Any]])
        #expect(ops.map { $0["status"] as? String } == ["succeeded", "failed", "succeeded", "succeeded"], "\(ops)")
        #expect(ops[1]["exit_code"] as? Int == 2)
        #expect((ops[0]["executor"] as? [String: Any])?["type"] as? String == "slurm", "\(ops[0])")
        #expect(slurmJobs(cluster, spool).count == 3)
        #expect(spool.names("running").isEmpty, "\(spool.names("running"))")
    }

    @Test("local and Slurm queues side by side: Slurm jobs hold no local worker")
    func sideBySide() throws {
        let (spool, cluster) = try slurmSpool()
        let gate = spool.path("gate")
        try spool.drop("local.json", #"{"id": "local", "shell": "while ! test -f \#(gate); do sleep 0.1; done"}"#)
        for i in 0..<3 { try dropJob(spool, "s\(i)", "echo \(i)") }
        let d = daemon(spool, cluster, workers: 1)
        // The one worker is held by the local job until the Slurm jobs are done.
        poll(timeout: 90, "Slurm jobs finished beside a busy local worker\n\(d.log)") { (0..<3).allSatisfy { spool.record("s\($0)") != nil } }
        #expect(spool.record("local") == nil)
        #expect((0..<3).allSatisfy { spool.record("s\($0)")?.status == "succeeded" })
        try spool.write("gate", "")
        poll(timeout: 30, "the local job's record") { spool.record("local") != nil }
        #expect((spool.record("local")?["executor"] as? [String: Any])?["type"] as? String == "local")
    }

    @Test("what Slurm refuses is a clear spawn_failed record, and nothing is lost; a job too big for this host is accepted for Slurm")
    func refused() throws {
        let (spool, cluster) = try slurmSpool()
        try dropJob(spool, "gpu", "true", extra: #", "resources": {"gpus": 1, "cpus": 500}"#)
        let log = drainSlurm(spool, cluster)
        let gpu = try #require(spool.record("gpu"), "\(log)")
        #expect(gpu.status == "failed" && gpu.errorCode == "spawn_failed", "\(gpu)")
        let message = (gpu["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.hasPrefix("job gpu: sbatch refused it: "), "\(message)")
        #expect(runs(spool, "gpu") == 0 && spool.names("running").isEmpty)
    }

    @Test("a configuration naming an unknown executor stops the start with the field named")
    func badConfig() throws {
        let spool = try TempSpool()
        try spool.write("config.json", #"{"queues": {"hpc": {"executor": "pbs"}}}"#)
        let d = DaemonProcess(spool: spool)
        #expect(d.waitExit(timeout: 30) == 78)
        #expect(d.log.contains(#"field "queues.hpc.executor" must be "local" or "slurm", got "pbs""#), "\(d.log)")
    }
}
