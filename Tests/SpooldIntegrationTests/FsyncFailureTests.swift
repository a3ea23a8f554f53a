// fsync and syncfs failures are failures (issue 17; PostgreSQL's "fsyncgate", 2018): when a sync
// fails, the daemon must not act on what it could not make durable, must say so at error level
// and exit non-zero (74) so that its supervisor restarts it into recovery. SPOOLD_FAIL_FSYNC
// (Support/FaultInjection.swift) makes the n-th sync of one kind fail with EIO; after the exit a
// plain restart must lose nothing and run no `on_interrupt: fail` job twice.
import Foundation
import SpoolCore
import Testing

@Suite("fsync failures", .serialized)
struct FsyncFailureTests {
    static let jobs: [(String, String)] = [
        ("once.json", #"{"id": "once", "on_interrupt": "fail", "shell": "echo once >> $SPOOL_ROOT/ran; sleep 0.2"}"#),
        ("again.json", #"{"id": "again", "shell": "echo again >> $SPOOL_ROOT/ran"}"#),
        ("batch.json", #"{"id": "batch", "on_interrupt": "fail", "max_parallel": 2, "operations": [{"shell": "echo op0 >> $SPOOL_ROOT/ran; sleep 0.6"}, {"shell": "echo op1 >> $SPOOL_ROOT/ran; sleep 0.6"}, {"type": "descriptive_stats", "params": {"data": [1, 2]}}]}"#),
        ("parent.json", #"{"id": "parent", "command": ["true"], "on_complete": {"id": "child", "command": ["true"]}}"#),
        ("bad.json", #"{"id": "bad", "command": []}"#),
    ] + (0..<6).map { ("plain\($0).json", #"{"command": ["true"]}"#) }  // 11 files: intake takes the group-commit (syncfs) path

    /// Which sync fails: every kind, at its first hit and (where a run has several) a later one.
    static let failures = ["folder:1", "folder:4", "syncfs:1", "file:1", "file:3", "journal:1"]

    @Test("a failed sync: error logged, exit 74, and after a restart nothing lost or run twice", arguments: failures)
    func failedSync(spec: String) throws {
        let spool = try TempSpool()
        for (name, body) in Self.jobs { try spool.drop(name, body) }
        let d = DaemonProcess(spool: spool, extra: ["--drain", "--settle", "0"], environment: ["SPOOLD_FAIL_FSYNC": spec])
        let status = d.waitExit(timeout: 60)
        #expect(status == Durability.exitStatus, "\(spec): exit \(String(describing: status))\n\(d.log)")
        let kind = String(spec.prefix { $0 != ":" })
        let call = kind == "syncfs" ? "syncfs" : (kind == "journal" ? "fdatasync" : "fsync")
        let line = d.log.split(separator: "\n").first { $0.contains(" error: spoold: \(call) ") }
        #expect(line?.contains("Input/output error") == true && line?.contains("exiting (status 74)") == true, "\(spec): no error line for the failed \(call)\n\(d.log)")

        drain(spool, extra: ["--settle", "0"])
        let records = spool.doneRecords()
        #expect(records.count == Self.jobs.count + 1, "\(spec): \(spool.recordNames("done"))")
        for (name, _) in Self.jobs {
            #expect(records.filter { ($0["source"] as? String) == name }.count == 1, "\(spec): \(name) has not exactly one record")
        }
        #expect(spool.record("child") != nil, "\(spec): the follow-up is missing")
        let ran = (spool.read("ran") ?? "").split(separator: "\n")
        for once in ["once", "op0", "op1"] {
            #expect(ran.filter { $0 == once }.count <= 1, "\(spec): \(once) ran twice although on_interrupt is fail")
        }
        #expect(spool.names("running").isEmpty && spool.tmpLeftovers().isEmpty && spool.names("pending").isEmpty
                && spool.names("inbox").isEmpty, "\(spec): left behind: \(spool.names("running")) \(spool.tmpLeftovers())")
    }
}
