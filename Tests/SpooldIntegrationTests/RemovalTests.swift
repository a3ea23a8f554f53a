// Removing finished jobs against the real daemon: `delete` of finished, running and pending jobs
// (SPEC §5), `ttl_seconds` (SPEC §3, also for records found at start), and ids freed by every
// removal, including a record removed by hand or by `spoolctl prune` behind the daemon's back.
import Foundation
import Testing

/// Drops a control request the recommended way (tmp/, then rename into control/).
func dropControl(_ spool: TempSpool, _ json: String) throws {
    let name = "req-\(UUID().uuidString.prefix(8)).json"
    let tmp = spool.path("tmp/.\(name)")
    try Data(json.utf8).write(to: URL(fileURLWithPath: tmp))
    guard rename(tmp, spool.path("control/\(name)")) == 0 else { throw POSIXError(.EIO) }
}

/// Files in done/ that belong to job `id` (its record and outputs).
func doneFiles(_ spool: TempSpool, _ id: String) -> [String] {
    spool.names("done").filter { $0.hasPrefix("\(id).") }
}

@Suite("removal: delete, ttl and freed ids", .serialized)
struct RemovalTests {
    @Test("delete removes a finished job's record and outputs, and its id can be used again at once")
    func deleteFinished() throws {
        let spool = try TempSpool()
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        try spool.drop("a.json", #"{"id": "d1", "shell": "echo first; echo oops >&2"}"#)
        poll(timeout: 20, "d1 done") { spool.record("d1")?.status == "succeeded" }
        #expect(doneFiles(spool, "d1").sorted() == ["d1.json", "d1.stderr", "d1.stdout"])
        try dropControl(spool, #"{"action": "delete", "id": "d1"}"#)
        poll(timeout: 20, "delete logged\n\(d.log)") { d.log.contains("job d1: deleted (control/") }
        #expect(doneFiles(spool, "d1").isEmpty)
        poll(timeout: 10, "request removed") { spool.names("control").isEmpty }
        try spool.drop("b.json", #"{"id": "d1", "shell": "echo second"}"#)
        poll(timeout: 20, "d1 again\n\(d.log)") { spool.record("d1")?.status == "succeeded" }
        #expect(spool.read("done/d1.stdout") == "second\n")
        #expect(spool.record("d1")?.errorCode == nil)
    }

    @Test("delete of a running or a pending job cancels it first, then removes it; nothing is left")
    func deleteUnfinished() throws {
        let spool = try TempSpool()
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        try spool.drop("run.json", #"{"id": "run", "shell": "touch \#(spool.path("started")); exec sleep 30"}"#)
        try spool.drop("later.json", #"{"id": "later", "not_before": "2999-01-01T00:00:00Z", "command": ["true"]}"#)
        poll(timeout: 20, "run started") { spool.exists("started") }
        poll(timeout: 20, "later pending") { spool.exists("pending/later.json") }
        try dropControl(spool, #"{"action": "delete", "id": "run"}"#)
        try dropControl(spool, #"{"action": "delete", "id": "later"}"#)
        poll(timeout: 30, "both deleted\n\(d.log)") {
            d.log.contains("job run: deleted after it was cancelled") && d.log.contains("job later: deleted after it was cancelled")
        }
        for folder in ["pending", "running", "done"] {
            #expect(spool.names(folder).filter { $0.hasPrefix("run.") || $0.hasPrefix("later.") }.isEmpty, "left in \(folder)")
        }
        // The ids are free again.
        try spool.drop("again.json", #"{"id": "run", "command": ["true"]}"#)
        poll(timeout: 20, "run again") { spool.record("run")?.status == "succeeded" }
    }

    @Test("a request for an id the spool does not hold is answered in the log and removed at once")
    func unknownID() throws {
        let spool = try TempSpool()
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        try dropControl(spool, #"{"action": "delete", "id": "nosuch"}"#)
        try dropControl(spool, #"{"action": "cancel", "id": "nosuch2"}"#)
        poll(timeout: 10, "answered\n\(d.log)") {
            d.log.contains("delete job nosuch: no such job in this spool") && d.log.contains("cancel job nosuch2: no such job in this spool")
        }
        poll(timeout: 10, "requests removed") { spool.names("control").isEmpty }
    }

    @Test("a record removed by hand or by spoolctl prune frees its id in the running daemon; wait sees the new job")
    func removedBehindTheDaemon() throws {
        let spool = try TempSpool()
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        try spool.drop("a.json", #"{"id": "p1", "shell": "echo one"}"#)
        try spool.drop("b.json", #"{"id": "p2", "shell": "echo one"}"#)
        poll(timeout: 20, "first runs") { spool.record("p1")?.status == "succeeded" && spool.record("p2")?.status == "succeeded" }
        unlink(spool.path("done/p1.json"))
        let pruned = runCommand(Binaries.spoolctl, ["--spool", spool.root, "prune", "--older-than", "0s"])
        #expect(pruned.status == 0, "\(pruned.stderr)")
        #expect(spool.record("p2") == nil)
        try spool.drop("c.json", #"{"id": "p1", "shell": "echo two"}"#)
        try spool.drop("e.json", #"{"id": "p2", "shell": "echo two"}"#)
        let waited = runCommand(Binaries.spoolctl, ["--spool", spool.root, "wait", "p1", "p2", "--timeout", "30"])
        #expect(waited.status == 0, "\(waited.stdout)\(waited.stderr)\n\(d.log)")
        #expect(spool.read("done/p1.stdout") == "two\n")
        #expect(spool.read("done/p2.stdout") == "two\n")
        #expect(!d.log.contains("duplicate"))
    }

    @Test("ttl_seconds removes a job's record and outputs after it ended, also for records found at start")
    func ttl() throws {
        let spool = try TempSpool()
        try spool.drop("old.json", #"{"id": "old", "ttl_seconds": 1, "shell": "echo old"}"#)
        drain(spool)
        #expect(spool.record("old")?.status == "succeeded")
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        try spool.drop("t.json", #"{"id": "t", "ttl_seconds": 1, "shell": "echo out"}"#)
        try spool.drop("keep.json", #"{"id": "keep", "shell": "echo out"}"#)
        poll(timeout: 20, "jobs ran") { spool.record("keep")?.status == "succeeded" }
        poll(timeout: 40, "ttl removals\n\(d.log)") {
            d.log.contains("job t: ttl_seconds (1 s) ran out") && d.log.contains("job old: ttl_seconds (1 s) ran out")
        }
        #expect(doneFiles(spool, "t").isEmpty && doneFiles(spool, "old").isEmpty)
        #expect(doneFiles(spool, "keep").sorted() == ["keep.json", "keep.stdout"])
    }

    @Test("a bad ttl_seconds is rejected naming the field, and nothing runs")
    func badTTL() throws {
        let spool = try TempSpool()
        try spool.drop("z.json", #"{"id": "z", "ttl_seconds": 0, "command": ["true"]}"#)
        try spool.drop("s.json", #"{"id": "s", "ttl_seconds": "1d", "command": ["true"]}"#)
        drain(spool)
        for id in ["z", "s"] {
            let r = try #require(spool.record(id))
            #expect(r.status == "rejected" && r.errorCode == "invalid_job")
            #expect(r.errorMessage?.contains("ttl_seconds") == true, "\(r.errorMessage ?? "")")
        }
    }

    @Test("a cancel or delete of a running job survives a daemon killed before the job ended: applied again at the next start")
    func requestsSurviveACrash() throws {
        let spool = try TempSpool()
        let runs = spool.path("runs")
        // Both jobs ignore SIGTERM, and the kill grace is long: they outlive the daemon's SIGKILL.
        for id in ["c", "d"] {
            try spool.drop("\(id).json", #"{"id": "\#(id)", "shell": "echo run >> \#(runs).\#(id); trap '' TERM; sleep 60"}"#)
        }
        let first = DaemonProcess(spool: spool, extra: ["--kill-grace", "60"])
        first.waitReady()
        poll(timeout: 20, "both running") { spool.exists("runs.c") && spool.exists("runs.d") }
        try dropControl(spool, #"{"action": "cancel", "id": "c"}"#)
        try dropControl(spool, #"{"action": "delete", "id": "d"}"#)
        poll(timeout: 20, "both requests applied\n\(first.log)") {
            first.log.contains("job c: cancel requested") && first.log.contains("job d: cancel requested")
        }
        #expect(spool.names("control").count == 2, "the requests wait for their jobs to end")
        first.crash()
        let second = DaemonProcess(spool: spool)
        second.waitReady()
        poll(timeout: 30, "c cancelled, d deleted\n\(second.log)") {
            spool.record("c")?.status == "cancelled" && second.log.contains("job d: deleted after it was cancelled")
        }
        poll(timeout: 10, "requests removed") { spool.names("control").isEmpty }
        #expect(spool.read("runs.c") == "run\n" && spool.read("runs.d") == "run\n", "neither ran again")
        #expect(doneFiles(spool, "d").isEmpty)
    }

    @Test("cancels dropped together with their jobs all apply, whatever state each job is passing through")
    func cancelRacesTheStart() throws {
        let spool = try TempSpool()
        let d = DaemonProcess(spool: spool, workers: 8)
        d.waitReady()
        let ids = (0..<16).map { "race\($0)" }
        for id in ids {
            try spool.drop("\(id).json", #"{"id": "\#(id)", "command": ["sleep", "30"]}"#)
            try dropControl(spool, #"{"action": "cancel", "id": "\#(id)"}"#)
        }
        poll(timeout: 60, "every job cancelled\n\(d.log)") { ids.allSatisfy { spool.record($0)?.status == "cancelled" } }
        poll(timeout: 10, "requests removed") { spool.names("control").isEmpty }
        #expect(!d.log.contains("no such job in this spool"), "\(d.log)")
    }

    @Test("a cancel of a batch whose operations all wait for a retry ends it and leaves no request behind")
    func cancelBatchInBackoff() throws {
        let spool = try TempSpool()
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        try spool.drop("b.json", #"{"id": "b", "max_parallel": 2, "retries": 3, "retry_delay_seconds": 3600, "operations": [{"shell": "exit 1"}, {"shell": "exit 1"}]}"#)
        poll(timeout: 20, "both operations wait for their retry\n\(d.log)") {
            let ops = spool.record("b", in: "running")?["operations"] as? [[String: Any]] ?? []
            return ops.count == 2 && ops.allSatisfy { $0["run_after"] is String }
        }
        try dropControl(spool, #"{"action": "cancel", "id": "b"}"#)
        poll(timeout: 20, "b cancelled\n\(d.log)") { spool.record("b")?.status == "cancelled" }
        poll(timeout: 10, "request removed") { spool.names("control").isEmpty }
    }

    @Test("two spoolctl retry of one job at the same moment get two different ids, and both run")
    func concurrentRetries() throws {
        let spool = try TempSpool()
        try spool.drop("a.json", #"{"id": "a", "command": ["false"]}"#)
        drain(spool)
        let outs = [spool.path("r1.out"), spool.path("r2.out")]
        let pids = outs.map { spawnProcess(Binaries.spoolctl, ["--spool", spool.root, "retry", "a"], stdout: $0, stderr: $0 + ".err") }
        for p in pids { #expect(waitForExit(p, timeout: 30) == 0) }
        let ids = Set(outs.compactMap { spool.read(String($0.dropFirst(spool.root.count + 1)))?.split(separator: " ").last.map { String($0.dropLast()) } })
        #expect(ids == ["a.r1", "a.r2"], "\(ids)")
        drain(spool)
        #expect(spool.record("a.r1")?.status == "failed" && spool.record("a.r2")?.status == "failed")
    }
}
