// SPEC §4 `usage` and `executor`: a command job's record and each command operation's entry say
// what the last attempt used (from wait4's rusage) and where it ran.
import Foundation
import Testing

@Suite("usage and executor")
struct UsageTests {
    @Test("a command job and a command operation record CPU time, peak memory and the local executor")
    func usageRecorded() throws {
        let spool = try TempSpool()
        // 64 MiB touched (bytearray zero-fills it) and a fixed amount of arithmetic.
        let work = #"python3 -c 'b = bytearray(64 * 1024 * 1024); s = sum(range(3000000))'"#
        try spool.drop("j.json", #"{"id": "j", "shell": "\#(work)"}"#)
        try spool.drop("b.json", #"{"id": "b", "operations": [{"shell": "\#(work)"}, {"type": "descriptive_stats", "params": {"data": [1, 2]}}]}"#)
        drain(spool)
        let j = try #require(spool.record("j"))
        #expect(j.status == "succeeded")
        let usage = try #require(j["usage"] as? [String: Any], "\(j)")
        let rss = try #require(usage["max_rss_bytes"] as? Int)
        #expect(rss >= 64 * 1024 * 1024, "max_rss_bytes \(rss)")
        let cpu = (usage["cpu_user_seconds"] as? Double ?? 0) + (usage["cpu_system_seconds"] as? Double ?? 0)
        #expect(cpu > 0, "\(usage)")
        #expect((j["executor"] as? [String: Any])?["type"] as? String == "local")
        let shown = runCommand(Binaries.spoolctl, ["--spool", spool.root, "status", "j"])
        #expect(shown.stdout.contains("used       cpu ") && shown.stdout.contains("MiB"), "\(shown.stdout)")
        #expect(shown.stdout.contains("ran on     local"), "\(shown.stdout)")

        let ops = try #require(spool.record("b")?["operations"] as? [[String: Any]])
        #expect(((ops[0]["usage"] as? [String: Any])?["max_rss_bytes"] as? Int ?? 0) >= 64 * 1024 * 1024)
        #expect((ops[0]["executor"] as? [String: Any])?["type"] as? String == "local")
        #expect(ops[1]["usage"] == nil, "a built-in operation has no process to account for")
    }
}
