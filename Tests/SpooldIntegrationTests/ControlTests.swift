// Steering a spool through control files and spoolctl: cancel pending and running jobs (the
// whole process group dies), pause and resume (output stops, timeouts do not count paused time),
// and requests dropped while the daemon is down.
import Foundation
import Testing

@Suite("control", .serialized)
struct ControlTests {
    func ctl(_ spool: TempSpool, _ args: [String]) -> CommandResult {
        runCommand(Binaries.spoolctl, ["--spool", spool.root] + args)
    }

    @Test("cancel of a pending job ends it cancelled without running")
    func cancelPending() throws {
        let spool = try TempSpool()
        try spool.write("paused", "")
        let marker = spool.path("ran")
        try spool.drop("c.json", #"{"id": "c", "shell": "touch \#(marker)"}"#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 10, "accepted") { spool.record("c", in: "pending") != nil }
        #expect(ctl(spool, ["cancel", "c"]).status == 0)
        poll(timeout: 10, "cancelled") { spool.record("c")?.status == "cancelled" }
        #expect(spool.record("c")?.errorCode == "cancelled")
        #expect(!FileManager.default.fileExists(atPath: marker))
        // The request is removed just after the record is written: waited for, not raced.
        poll(timeout: 10, "request removed") { spool.names("control").isEmpty }
        _ = d
    }

    @Test("cancel of a running job kills its process group, background child included")
    func cancelRunning() throws {
        let spool = try TempSpool()
        let pidFile = spool.path("child.pid")
        try spool.drop("r.json", #"{"id": "r", "shell": "sleep 60 & echo $! > \#(pidFile); wait"}"#)
        let d = DaemonProcess(spool: spool, extra: ["--kill-grace", "1"])
        poll(timeout: 10, "started") { spool.read("child.pid")?.isEmpty == false }
        let child = try #require(Int32((spool.read("child.pid") ?? "").trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(ctl(spool, ["cancel", "r"]).status == 0)
        poll(timeout: 10, "cancelled") { spool.record("r")?.status == "cancelled" }
        #expect(poll(timeout: 5, "background child gone") { kill(child, 0) != 0 })
        _ = d
    }

    @Test("pause stops a job's output and does not count against its timeout; resume lets it finish")
    func pauseResume() throws {
        let spool = try TempSpool()
        try spool.drop("p.json", #"{"id": "p", "timeout_seconds": 3, "shell": "for i in $(seq 1 20); do echo $i; sleep 0.1; done"}"#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 10, "output started") { (spool.read("running/p.stdout") ?? "").count > 2 }
        #expect(ctl(spool, ["pause", "p"]).status == 0)
        poll(timeout: 10, "paused in state file") { spool.record("p", in: "running")?.status == "paused" }
        let frozen = spool.read("running/p.stdout") ?? ""
        usleep(2_500_000)  // longer than the time left before the timeout, had it counted
        #expect(spool.read("running/p.stdout") == frozen, "output grew while paused")
        #expect(ctl(spool, ["resume", "p"]).status == 0)
        poll(timeout: 20, "finished") { spool.record("p") != nil }
        let r = try #require(spool.record("p"))
        #expect(r.status == "succeeded", "\(r.errorMessage ?? "")")
        #expect(spool.read(r["stdout"] as! String)?.split(separator: "\n").count == 20)
        _ = d
    }

    @Test("cancels dropped while the daemon is down are applied at start: none of their jobs runs, the others do",
          arguments: [nil, "2"])
    func controlWhileDown(pendingWindow: String?) throws {
        // The requests are read before the inbox; they wait for their jobs, and each applies in the
        // same step as its job's acceptance. Applied just after it, a dispatcher could pick the job
        // in between: CI saw a cancelled record of a job that had run (its marker existed). With a
        // window of 2 the engine parks all but the first jobs on acceptance (a long backlog): their
        // requests apply in that step too. The requests are five minutes old (a long downtime):
        // they wait for their jobs a minute from when the daemon first reads them, not from their
        // files' age.
        let spool = try TempSpool()
        let ran = spool.path("ran")
        try FileManager.default.createDirectory(atPath: ran, withIntermediateDirectories: true)
        let ids = (0..<24).map { "x\($0)" }
        for id in ids {
            try spool.drop("\(id).json", #"{"id": "\#(id)", "shell": "touch \#(ran)/\#(id)"}"#)
        }
        for id in ids where id != "x0" { #expect(ctl(spool, ["cancel", id]).status == 0) }
        let requests = spool.names("control")
        #expect(requests.count == ids.count - 1)
        let fiveMinutesAgo = Date().addingTimeInterval(-300)
        for name in requests {
            try FileManager.default.setAttributes([.modificationDate: fiveMinutesAgo], ofItemAtPath: spool.path("control/\(name)"))
        }
        let d = DaemonProcess(spool: spool, workers: 4, extra: ["--drain"],
                              environment: pendingWindow.map { ["SPOOLD_PENDING_WINDOW": $0] })
        #expect(d.waitExit(timeout: 60) == 0, "\(d.log)")
        #expect(spool.record("x0")?.status == "succeeded")
        #expect(FileManager.default.fileExists(atPath: "\(ran)/x0"))
        for id in ids.dropFirst() { #expect(spool.record(id)?.status == "cancelled", "\(id)") }
        let ranAnyway = ids.dropFirst().filter { FileManager.default.fileExists(atPath: "\(ran)/\($0)") }
        #expect(ranAnyway.isEmpty, "ran although cancelled: \(ranAnyway)\n\(d.log)")
        #expect(spool.names("control").filter { $0.hasSuffix(".json") }.isEmpty)
        if pendingWindow != nil { #expect(d.log.contains("later ones wait in pending/"), "nothing was parked") }
    }

    @Test("a bad control file or one for an unknown id is answered in the log and nothing breaks")
    func badControl() throws {
        let spool = try TempSpool()
        try spool.write("control/bad.json", #"{"action": "explode", "id": "x"}"#)
        try spool.write("control/junk.json", "not json")
        let d = DaemonProcess(spool: spool, extra: ["--settle", "0"])
        poll(timeout: 10, "bad requests removed") { spool.names("control").isEmpty }
        #expect(d.log.contains("field \"action\" must be one of cancel, pause, resume, retry, delete"))
        #expect(d.log.contains("control/junk.json: not valid JSON"))
        try spool.drop("ok.json", #"{"id": "ok", "command": ["true"]}"#)
        poll(timeout: 10, "daemon still works") { spool.record("ok")?.status == "succeeded" }
    }

    @Test("spoolctl pause and resume without an id hold and release the whole spool")
    func spoolPause() throws {
        let spool = try TempSpool()
        #expect(ctl(spool, ["pause"]).status == 0)
        #expect(spool.exists("paused"))
        #expect(ctl(spool, ["resume"]).status == 0)
        #expect(!spool.exists("paused"))
    }
}

@Suite("queues", .serialized)
struct QueueTests {
    @Test("a queue's limit holds (measured from the jobs' timestamps) and a saturated queue never blocks another")
    func queueLimits() throws {
        let spool = try TempSpool()
        let log = spool.path("intervals")
        for i in 0..<4 {
            try spool.drop("slow\(i).json", #"{"queue": "reports", "shell": "s=$(date +%s.%N); sleep 0.3; echo \"reports $s $(date +%s.%N)\" >> \#(log)"}"#)
        }
        for i in 0..<4 {
            try spool.drop("fast\(i).json", #"{"shell": "s=$(date +%s.%N); echo \"default $s $(date +%s.%N)\" >> \#(log)"}"#)
        }
        drain(spool, workers: 3, extra: ["--queue-limit", "reports=1"])
        let rows = (spool.read("intervals") ?? "").split(separator: "\n").map { $0.split(separator: " ") }
        let reports = rows.filter { $0[0] == "reports" }.map { (Double($0[1])!, Double($0[2])!) }
        let defaults = rows.filter { $0[0] == "default" }.map { Double($0[2])! }
        #expect(reports.count == 4 && defaults.count == 4)
        let overlap = reports.map { a in reports.filter { $0.0 <= a.0 && a.0 < $0.1 }.count }.max() ?? 0
        #expect(overlap == 1, "reports jobs overlapped: \(overlap)")
        // The default queue finished long before the reports queue drained.
        #expect((defaults.max() ?? 0) < (reports.map(\.1).max() ?? 0))
    }

    @Test("spoolctl pause --queue holds one queue while others run")
    func pauseQueue() throws {
        let spool = try TempSpool()
        #expect(runCommand(Binaries.spoolctl, ["--spool", spool.root, "pause", "--queue", "night"]).status == 0)
        let d = DaemonProcess(spool: spool)
        try spool.drop("n.json", #"{"id": "n", "queue": "night", "command": ["true"]}"#)
        try spool.drop("m.json", #"{"id": "m", "command": ["true"]}"#)
        poll(timeout: 10, "default queue ran") { spool.record("m")?.status == "succeeded" }
        usleep(500_000)
        #expect(spool.record("n") == nil)
        #expect(runCommand(Binaries.spoolctl, ["--spool", spool.root, "resume", "--queue", "night"]).status == 0)
        poll(timeout: 10, "night queue ran") { spool.record("n")?.status == "succeeded" }
        _ = d
    }
}
