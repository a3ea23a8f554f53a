// Crash anywhere: for every fault-injection point of the daemon (CrashPoint.allCases, so a new
// point is walked as soon as it is added), the daemon is killed with SIGKILL right after that
// step, twice in a row, then restarted to drain. The invariants are the promise: one record per
// dropped file, no torn record, `on_interrupt: fail` jobs never run twice, `requeue` jobs and
// batches run to success, follow-ups created exactly once, nothing left in tmp/ or running/.
import Foundation
import SpoolCore
import Testing

@Suite("crash points", .serialized)
struct CrashPointTests {
    static let jobs: [(String, String)] = [
        ("fail.json", #"{"id": "fail", "on_interrupt": "fail", "shell": "echo fail >> $SPOOL_ROOT/ran; sleep 0.2"}"#),
        ("requeue.json", #"{"id": "requeue", "shell": "echo requeue >> $SPOOL_ROOT/ran; sleep 0.2"}"#),
        ("retry.json", #"{"id": "retry", "retries": 1, "retry_delay_seconds": 0.05, "shell": "test -f $SPOOL_ROOT/m || { touch $SPOOL_ROOT/m; exit 1; }"}"#),
        ("batch.json", #"{"id": "batch", "max_parallel": 2, "operations": [{"shell": "echo op0 >> $SPOOL_ROOT/ops"}, {"shell": "echo op1 >> $SPOOL_ROOT/ops"}, {"type": "descriptive_stats", "params": {"data": [1, 2, 3]}}, {"shell": "echo op3 >> $SPOOL_ROOT/ops"}]}"#),
        ("parent.json", #"{"id": "parent", "command": ["true"], "on_complete": {"id": "child", "command": ["true"]}}"#),
        ("bad.json", #"{"id": "bad", "command": "not-an-array"}"#),
        ("generated.json", #"{"command": ["true"]}"#),
    ]

    @Test("every crash point: nothing lost, nothing torn, nothing run twice that must not be", arguments: CrashPoint.allCases.filter { !CrashPoint.slurmOnly.contains($0) })
    func crashAt(point: CrashPoint) throws {
        let spool = try TempSpool()
        for (name, body) in Self.jobs { try spool.drop(name, body) }
        // A first crash leaves work for recovery (claimed, running and pending jobs), then the point
        // under test is hit on two restarts in a row.
        var crashed = 0
        for (run, target) in ["after_spawn:2", "\(point.rawValue):1", "\(point.rawValue):2"].enumerated() {
            // Each run has a fresh file to accept and one to reject.
            try spool.drop("late\(run).json", #"{"command": ["true"]}"#)
            try spool.drop("latebad\(run).json", #"{"command": []}"#)
            let d = DaemonProcess(spool: spool, extra: ["--drain", "--settle", "0"], environment: ["SPOOLD_CRASH_AT": target])
            let status = d.waitExit(timeout: 60)
            if status == 128 + SIGKILL {
                if target.hasPrefix(point.rawValue) { crashed += 1 }
            } else {
                #expect(status == 0, "\(point.rawValue): \(d.log)")
            }
        }
        #expect(crashed >= 1, "\(point.rawValue) was never reached")
        drain(spool, extra: ["--settle", "0"])
        // One record per dropped file, plus the follow-up; every record parses (record() flags torn files).
        let records = spool.doneRecords()
        #expect(records.count == Self.jobs.count + 6 + 1, "\(point.rawValue): \(spool.recordNames("done"))")
        for id in ["fail", "requeue", "retry", "batch", "parent", "child"] {
            #expect(spool.record(id) != nil, "\(point.rawValue): no record for \(id)")
        }
        #expect(spool.record("bad")?.status == "rejected")
        #expect(records.filter { ($0["source"] as? String) == "generated.json" }.count == 1)
        let ran = (spool.read("ran") ?? "").split(separator: "\n")
        #expect(ran.filter { $0 == "fail" }.count <= 1, "\(point.rawValue): fail-job ran twice")
        let fail = spool.record("fail")
        #expect(fail?.status == "succeeded" || fail?.errorCode == "interrupted", "\(point.rawValue): \(String(describing: fail?.status))")
        #expect(spool.record("requeue")?.status == "succeeded", "\(point.rawValue)")
        #expect(spool.record("retry")?.status == "succeeded", "\(point.rawValue)")
        #expect(spool.record("batch")?.status == "succeeded", "\(point.rawValue)")
        #expect(spool.record("child")?.status == "succeeded", "\(point.rawValue)")
        #expect(spool.names("running").isEmpty, "\(point.rawValue): left in running/: \(spool.names("running"))")
        #expect(spool.tmpLeftovers().isEmpty, "\(point.rawValue): left in tmp/: \(spool.tmpLeftovers())")
        #expect(spool.names("pending").isEmpty && spool.names("inbox").isEmpty)
    }
}
