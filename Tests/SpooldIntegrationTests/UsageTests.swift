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
        let batch = runCommand(Binaries.spoolctl, ["--spool", spool.root, "status", "b"])
        #expect(batch.stdout.contains("used       cpu ") && batch.stdout.contains("(its command operations together)"), "\(batch.stdout)")
        #expect(batch.stdout.contains("ran on     local\n"), "\(batch.stdout)")
    }

    @Test("a job whose peak memory stays under the daemon's own records it as null, not the daemon's figure (Linux carries the spawner's peak into the child's)")
    func peakUnderTheDaemons() throws {
        let spool = try TempSpool()
        try spool.drop("t.json", #"{"id": "t", "command": ["true"]}"#)
        drain(spool)
        let t = try #require(spool.record("t"))
        #expect(t.status == "succeeded")
        let usage = try #require(t["usage"] as? [String: Any], "\(t)")
        #expect(usage["max_rss_bytes"] is NSNull, "`true` under the daemon: \(usage)")
        #expect(usage["cpu_user_seconds"] is Double && usage["cpu_system_seconds"] is Double, "\(usage)")
        let shown = runCommand(Binaries.spoolctl, ["--spool", spool.root, "status", "t"])
        #expect(shown.stdout.contains("peak memory not measurable (under that of the process that started it)"), "\(shown.stdout)")
        let stats = runCommand(Binaries.spoolctl, ["--spool", spool.root, "stats", "--json"])
        let parsed = try #require(try JSONSerialization.jsonObject(with: Data(stats.stdout.utf8)) as? [String: Any], "\(stats.stderr)")
        let rss = try #require(((parsed["usage"] as? [String: Any])?["max_rss_bytes"]) as? [String: Any], "\(parsed)")
        #expect(rss["runs"] as? Int == 0 && rss["max"] is NSNull && rss["mean"] is NSNull, "\(rss)")
        let human = runCommand(Binaries.spoolctl, ["--spool", spool.root, "stats"])
        #expect(human.stdout.contains("peak memory not measurable in any run, 1 run measured"), "\(human.stdout)")
    }
    @Test("stats gives CPU time and peak memory per name (mean and max); a batch's command operations count for its name")
    func usagePerName() throws {
        let spool = try TempSpool()
        // Two runs of "mem": 16 and 64 MiB touched; a batch named "etl" with one such operation.
        for (i, mib) in [16, 64].enumerated() {
            try spool.drop("m\(i).json", #"{"id": "m\#(i)", "name": "mem", "shell": "python3 -c 'b = bytearray(\#(mib) * 1024 * 1024)'"}"#)
        }
        try spool.drop("e.json", #"{"id": "e", "name": "etl", "operations": [{"shell": "python3 -c 'b = bytearray(32 * 1024 * 1024)'"}, {"type": "descriptive_stats", "params": {"data": [1]}}]}"#)
        drain(spool)
        let rss = { (id: String) -> Int in ((spool.record(id)?["usage"] as? [String: Any])?["max_rss_bytes"] as? Int) ?? 0 }
        let shown = runCommand(Binaries.spoolctl, ["--spool", spool.root, "stats", "--json"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let stats = try #require(try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [String: Any])
        let byName = try #require(stats["by_name"] as? [String: Any])
        let mem = try #require((byName["mem"] as? [String: Any])?["usage"] as? [String: Any], "\(byName)")
        #expect(mem["runs"] as? Int == 2)
        let memRSS = try #require(mem["max_rss_bytes"] as? [String: Any])
        #expect(memRSS["max"] as? Int == max(rss("m0"), rss("m1")) && (memRSS["max"] as? Int ?? 0) >= 64 * 1024 * 1024, "\(mem)")
        // The mean is over the runs whose peak was above the daemon's own (16 MiB may not be).
        let measured = [rss("m0"), rss("m1")].filter { $0 > 0 }
        #expect(memRSS["runs"] as? Int == measured.count, "\(mem)")
        let mean = (memRSS["mean"] as? NSNumber)?.doubleValue ?? -1
        #expect(abs(mean - Double(measured.reduce(0, +)) / Double(measured.count)) <= 1, "\(mem)")
        let cpu = try #require(mem["cpu_user_seconds"] as? [String: Any])
        let (cpuMean, cpuMax) = ((cpu["mean"] as? NSNumber)?.doubleValue ?? -1, (cpu["max"] as? NSNumber)?.doubleValue ?? -1)
        #expect(cpuMax >= cpuMean && cpuMean > 0, "\(mem)")
        let etl = try #require((byName["etl"] as? [String: Any])?["usage"] as? [String: Any], "\(byName)")
        let opRSS = try #require(((spool.record("e")?["operations"] as? [[String: Any]])?[0]["usage"] as? [String: Any])?["max_rss_bytes"] as? Int)
        #expect((etl["max_rss_bytes"] as? [String: Any])?["max"] as? Int == opRSS && opRSS >= 32 * 1024 * 1024, "\(etl)")
        #expect((stats["usage"] as? [String: Any])?["runs"] as? Int == 3, "\(stats)")
        // The human view: a usage line for the selection, CPU and peak memory columns per name.
        let human = runCommand(Binaries.spoolctl, ["--spool", spool.root, "stats", "--name", "mem"])
        #expect(human.stdout.contains("usage:         cpu mean ") && human.stdout.contains("2 runs measured"), "\(human.stdout)")
        #expect(human.stdout.contains("MAX RSS") && human.stdout.contains(String(format: "%.1f MiB", Double(max(rss("m0"), rss("m1"))) / 1_048_576)),
                "\(human.stdout)")
    }
}
