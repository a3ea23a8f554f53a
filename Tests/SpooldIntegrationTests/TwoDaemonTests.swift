// Two daemons on one spool with the lock bypassed (different lock files, as on two hosts sharing
// a filesystem): every job is claimed by exactly one of them, because claims are renames that
// only one process can win.
import Foundation
import Testing

@Suite("two daemons", .serialized)
struct TwoDaemonTests {
    @Test("5,000 jobs dropped while two daemons share a spool run exactly once each, with one record each")
    func noDoubleRuns() throws {
        let spool = try TempSpool()
        let log = spool.path("ran")
        let a = DaemonProcess(spool: spool, workers: 2, extra: ["--lock-file", spool.path("a.lock")])
        let b = DaemonProcess(spool: spool, workers: 2, extra: ["--lock-file", spool.path("b.lock")])
        a.waitReady()
        b.waitReady()
        let total = 5000
        for i in 0..<total {
            // Half with explicit ids, half generated; each job appends its id once.
            let id = i % 2 == 0 ? #""id": "j\#(i)", "# : ""
            try spool.drop("j\(i).json", #"{\#(id)"command": ["/bin/sh", "-c", "echo $SPOOL_JOB_ID >> \#(log)"]}"#)
        }
        poll(timeout: 300, "all records") { spool.recordNames("done").count >= total }
        a.signal(SIGTERM)
        b.signal(SIGTERM)
        #expect(a.waitExit(timeout: 30) == 0)
        #expect(b.waitExit(timeout: 30) == 0)
        let records = spool.doneRecords()
        #expect(records.count == total)
        #expect(records.allSatisfy { $0.status == "succeeded" })
        let ran = (spool.read("ran") ?? "").split(separator: "\n").map(String.init)
        #expect(ran.count == total, "\(ran.count) runs for \(total) jobs")
        #expect(Set(ran).count == total, "some job ran twice")
        #expect(Set(records.compactMap { $0["source"] as? String }).count == total)
        // Both daemons did work.
        #expect(a.log.contains("succeeded") && b.log.contains("succeeded"))
    }
}
