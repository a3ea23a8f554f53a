// The event log (SPEC §8) against the real daemon: every change of a job is one line with a seq
// that grows by one and survives a restart; spoolctl events filters by --since and --id and
// --follow prints new events as they come.
import Foundation
import Testing

@Suite("events", .serialized)
struct EventTests {
    func events(_ spool: TempSpool, _ args: [String] = []) -> [[String: Any]] {
        let r = runCommand(Binaries.spoolctl, ["--spool", spool.root, "events", "--json"] + args)
        return r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }

    func kinds(_ list: [[String: Any]], _ id: String) -> [String] {
        list.filter { $0["id"] as? String == id }.compactMap { $0["event"] as? String }
    }

    @Test("a job's life is told in order, seq by seq: accepted, started, retrying, finished; rejected; cancelled; deleted")
    func lifecycle() throws {
        let spool = try TempSpool()
        let counter = spool.path("n")
        try spool.drop("r.json", #"{"id": "r", "retries": 1, "retry_delay_seconds": 0, "shell": "n=$(cat \#(counter) 2>/dev/null || echo 0); echo $((n+1)) > \#(counter); [ $n -ge 1 ]"}"#)
        try spool.drop("bad.json", #"{"id": "bad", "command": "x"}"#)
        drain(spool)
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        try spool.drop("c.json", #"{"id": "c", "shell": "touch \#(spool.path("c-started")); exec sleep 30"}"#)
        poll(timeout: 20, "c started") { spool.exists("c-started") }
        try dropControl(spool, #"{"action": "delete", "id": "c"}"#)
        poll(timeout: 20, "c deleted") { kinds(events(spool), "c").last == "deleted" }
        let all = events(spool)
        let seqs = all.compactMap { $0["seq"] as? Int }
        #expect(seqs == Array(1...seqs.count), "\(seqs)")
        #expect(kinds(all, "r") == ["accepted", "started", "retrying", "started", "finished"])
        #expect(all.last { $0["id"] as? String == "r" }?["status"] as? String == "succeeded")
        #expect(kinds(all, "bad") == ["rejected"])
        #expect(kinds(all, "c") == ["accepted", "started", "finished", "deleted"])
        #expect(all.first { $0["id"] as? String == "c" && $0["event"] as? String == "finished" }?["status"] as? String == "cancelled")
        for e in all {
            for key in ["seq", "time", "id", "event", "status"] { #expect(e[key] != nil, "\(key) missing in \(e)") }
        }
    }

    @Test("seq goes on after a restart; --since and --id filter; --follow prints new events as they come")
    func sinceFollowRestart() throws {
        let spool = try TempSpool()
        try spool.drop("a.json", #"{"id": "a", "command": ["true"]}"#)
        drain(spool)
        let before = events(spool)
        let last = try #require(before.last?["seq"] as? Int)
        let out = spool.path("follow.out")
        let follower = spawnProcess(Binaries.spoolctl, ["--spool", spool.root, "events", "--follow", "--json", "--since", String(last)],
                                    stdout: out, stderr: out + ".err")
        defer { kill(follower, SIGKILL); _ = waitForExit(follower, timeout: 10) }
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        try spool.drop("b.json", #"{"id": "b", "command": ["true"]}"#)
        poll(timeout: 20, "the follower printed b's end") { (spool.read("follow.out") ?? "").contains(#""event":"finished""#) }
        let followed = (spool.read("follow.out") ?? "").split(separator: "\n").compactMap {
            try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        #expect(followed.first?["seq"] as? Int == last + 1, "seq continues after the restart: \(followed)")
        #expect(followed.allSatisfy { $0["id"] as? String == "b" })
        #expect(kinds(events(spool, ["--id", "a"]), "a") == ["accepted", "started", "finished"])
        #expect(events(spool, ["--since", String(last)]).count == followed.count)
        let human = runCommand(Binaries.spoolctl, ["--spool", spool.root, "events", "--id", "b"])
        #expect(human.stdout.contains("  b  finished  succeeded"), "\(human.stdout)")
    }

    @Test("a running job's progress is told while it changes")
    func progressEvents() throws {
        let spool = try TempSpool()
        try spool.drop("p.json", #"{"id": "p", "shell": "for i in 1 2 3 4; do echo $i/4 > $SPOOL_PROGRESS; sleep 0.6; done"}"#)
        drain(spool)
        let progress = events(spool, ["--id", "p"]).filter { $0["event"] as? String == "progress" }
        #expect(progress.count >= 2, "\(progress)")
        let percents = progress.compactMap { ($0["progress"] as? [String: Any])?["percent"] as? Double }
        #expect(percents.contains { $0 >= 50 }, "\(percents)")
    }
}
