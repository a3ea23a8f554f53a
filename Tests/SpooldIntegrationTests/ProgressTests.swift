// Progress as users read it from records: the ETA of a batch follows the width it really gets
// (2 workers, not max_parallel 20), and percent counts finished work (a cancelled batch is not
// 100 %, a rejected file is 0 %).
import Foundation
import Testing

@Suite("progress", .serialized)
struct ProgressTests {
    @Test("a batch's eta uses the workers it really has, not max_parallel")
    func etaWithFewWorkers() throws {
        let spool = try TempSpool()
        let items = (0..<24).map { _ in #"{"shell": "sleep 0.2"}"# }.joined(separator: ",")
        try spool.drop("b.json", #"{"id": "b", "max_parallel": 20, "operations": [\#(items)]}"#)
        let d = DaemonProcess(spool: spool, workers: 2)
        d.waitReady()
        var seen: [String: Any] = [:]
        poll(timeout: 30, "a running record with an eta\n\(d.log)") {
            guard let r = spool.record("b", in: "running"), let p = r["progress"] as? [String: Any],
                  (p["succeeded"] as? Int ?? 0) >= 4, (p["succeeded"] as? Int ?? 0) <= 16, p["eta_seconds"] as? Double != nil
            else { return false }
            seen = r
            return true
        }
        let p = try #require(seen["progress"] as? [String: Any])
        let ops = try #require(seen["operations"] as? [[String: Any]])
        let durations = ops.compactMap { $0["status"] as? String == "succeeded" ? $0["duration_seconds"] as? Double : nil }
        let finished = ops.filter { ["succeeded", "failed", "skipped"].contains($0["status"] as? String ?? "") }.count
        let mean = durations.reduce(0, +) / Double(max(1, durations.count))
        let atWidth2 = mean * Double(24 - finished) / 2
        let eta = try #require(p["eta_seconds"] as? Double)
        // The old estimate divided by max_parallel (20): ten times too small.
        #expect(eta > atWidth2 * 0.75 && eta < atWidth2 * 1.33, "eta \(eta) s, expected about \(atWidth2) s")
        poll(timeout: 60, "b done") { spool.record("b")?.status == "succeeded" }
    }

    @Test("a cancelled batch shows the work it did, not 100 %; a rejected file shows 0 %")
    func percentOfWorkDone() throws {
        let spool = try TempSpool()
        let marker = spool.path("second-started")
        try spool.drop("c.json", #"{"id": "c", "operations": [{"shell": "true"}, {"shell": "touch \#(marker); exec sleep 30"}, {"shell": "true"}, {"shell": "true"}, {"shell": "true"}]}"#)
        try spool.drop("bad.json", #"{"id": "bad", "command": "not an array"}"#)
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        poll(timeout: 20, "second operation running") { spool.exists("second-started") }
        try dropControl(spool, #"{"action": "cancel", "id": "c"}"#)
        poll(timeout: 20, "c cancelled\n\(d.log)") { spool.record("c")?.status == "cancelled" }
        let p = try #require(spool.record("c")?["progress"] as? [String: Any])
        #expect(p["succeeded"] as? Int == 1 && p["skipped"] as? Int == 3 && p["total"] as? Int == 5)
        #expect(p["percent"] as? Double == 40, "\(p)")  // one succeeded, one cut short (failed): 2 of 5 ran
        let bad = try #require(spool.record("bad")?["progress"] as? [String: Any])
        #expect(spool.record("bad")?.status == "rejected")
        #expect(bad["percent"] as? Double == 0 && bad["succeeded"] as? Int == 0)
    }

    @Test("the stop message counts a batch as one job, with its running operations apart")
    func stopMessageCountsJobs() throws {
        let spool = try TempSpool()
        let items = (0..<3).map { i in #"{"shell": "touch \#(spool.path("op\(i)")); exec sleep 30"}"# }.joined(separator: ",")
        try spool.drop("b.json", #"{"id": "b", "max_parallel": 3, "operations": [\#(items)]}"#)
        let d = DaemonProcess(spool: spool, workers: 3, extra: ["--shutdown-grace", "0"])
        d.waitReady()
        poll(timeout: 20, "three operations running") { (0..<3).allSatisfy { spool.exists("op\($0)") } }
        d.signal(SIGTERM)
        #expect(d.waitExit(timeout: 30) == 0)
        #expect(d.log.contains("grace for 1 running job (1 batch with 3 operations running) to finish"), "\(d.log)")
    }
}
