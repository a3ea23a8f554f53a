// A backlog beyond the engine's window of queued jobs (SPOOLD_PENDING_WINDOW, a few jobs here
// instead of 2,048): parked jobs keep their place in line, can be cancelled, survive a SIGKILL
// and a restart, and each runs once.
import Foundation
import Testing

@Suite("pending backlog", .serialized)
struct BacklogTests {
    func ctl(_ spool: TempSpool, _ args: [String]) -> CommandResult {
        runCommand(Binaries.spoolctl, ["--spool", spool.root] + args)
    }

    func pendingCount(_ spool: TempSpool) -> Int {
        spool.names("pending").filter { $0.hasSuffix(".json") }.count
    }

    @Test("parked jobs run once each, by priority then arrival, across a SIGKILL and a restart; a cancel reaches them")
    func parkedJobsKeepTheirPlace() throws {
        let spool = try TempSpool()
        try spool.write("paused", "")
        let order = spool.path("order")
        let priorities = [0, 2, 0, 1, 2, 0, 1, 0, 2, 1, 0, 0]
        for (i, prio) in priorities.enumerated() {
            let name = String(format: "j%02d", i + 1)
            try spool.drop("\(name).json", #"{"id": "\#(name)", "priority": \#(prio), "shell": "echo \#(name) >> \#(order)"}"#)
            let t = timespec(tv_sec: 1_700_000_000 + i, tv_nsec: 0)
            var times = [t, t]
            utimensat(AT_FDCWD, spool.path("inbox/\(name).json"), &times, 0)
        }
        let window = ["SPOOLD_PENDING_WINDOW": "4"]
        let first = DaemonProcess(spool: spool, workers: 1, environment: window)
        poll(timeout: 20, "12 accepted\n\(first.log)") { pendingCount(spool) == 12 }
        #expect(first.log.contains("later ones wait in pending/"), "\(first.log)")
        // One above every job, one below: the first goes ahead of the parked jobs, the second behind them.
        try spool.drop("late-high.json", #"{"id": "late-high", "priority": 9, "shell": "echo late-high >> \#(order)"}"#)
        try spool.drop("late-low.json", #"{"id": "late-low", "shell": "echo late-low >> \#(order)"}"#)
        poll(timeout: 20, "14 accepted\n\(first.log)") { pendingCount(spool) == 14 }
        // j12 ranks last of the first twelve: parked.
        #expect(ctl(spool, ["cancel", "j12"]).status == 0)
        poll(timeout: 20, "j12 cancelled\n\(first.log)") { spool.record("j12")?.status == "cancelled" }
        first.signal(SIGKILL)
        first.waitExit()

        let second = DaemonProcess(spool: spool, workers: 1, environment: window)
        second.waitReady()
        unlink(spool.path("paused"))
        let expected = ["late-high", "j02", "j05", "j09", "j04", "j07", "j10", "j01", "j03", "j06", "j08", "j11", "late-low"]
        poll(timeout: 60, "13 jobs done\n\(second.log)") { expected.allSatisfy { spool.record($0)?.status == "succeeded" } }
        #expect((spool.read("order") ?? "").split(separator: "\n").map(String.init) == expected)
        #expect(spool.record("j12")?.status == "cancelled")
        #expect(pendingCount(spool) == 0)
    }
}
