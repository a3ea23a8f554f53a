// Every attempt's output is kept and named in the record: retried operations and retried jobs
// append each attempt after a marker line, and nothing is left in done/ that no record names.
import Foundation
import Testing

@Suite("outputs of every attempt", .serialized)
struct AttemptOutputTests {
    /// A shell line that fails until its third run, printing the run number to stdout and stderr.
    func flaky(_ counter: String) -> String {
        #"n=$(cat \#(counter) 2>/dev/null || echo 0); n=$((n+1)); echo $n > \#(counter); echo \"out $n\"; echo \"err $n\" >&2; [ $n -ge 3 ]"#
    }

    /// Every file in done/ is a record or named by one.
    func expectNothingOrphaned(_ spool: TempSpool, sourceLocation: SourceLocation = #_sourceLocation) {
        var named = Set<String>()
        for r in spool.doneRecords() {
            named.insert("\(r.id ?? "").json")
            for key in ["stdout", "stderr", "original"] { if let p = r[key] as? String { named.insert(String(p.dropFirst(5))) } }
            for op in r["operations"] as? [[String: Any]] ?? [] {
                for key in ["stdout", "stderr"] { if let p = op[key] as? String { named.insert(String(p.dropFirst(5))) } }
            }
        }
        #expect(Set(spool.names("done")).subtracting(named).isEmpty, "orphans: \(Set(spool.names("done")).subtracting(named))",
                sourceLocation: sourceLocation)
    }

    @Test("an operation that failed twice then succeeded keeps all three attempts' output, marked, in the files its record names")
    func operationRetries() throws {
        let spool = try TempSpool()
        let counter = spool.path("count-op")
        try spool.drop("b.json", #"{"id": "b", "retry_delay_seconds": 0, "operations": [{"name": "flaky", "retries": 2, "shell": "\#(flaky(counter))"}, {"shell": "true"}]}"#)
        drain(spool)
        let r = try #require(spool.record("b"))
        #expect(r.status == "succeeded")
        let op = try #require((r["operations"] as? [[String: Any]])?.first)
        #expect(op["attempts"] as? Int == 3)
        let stderr = try #require(op["stderr"] as? String)
        let stdout = try #require(op["stdout"] as? String)
        #expect(spool.read(stderr) == "err 1\n--- spoold: attempt 2 ---\nerr 2\n--- spoold: attempt 3 ---\nerr 3\n")
        #expect(spool.read(stdout) == "out 1\n--- spoold: attempt 2 ---\nout 2\n--- spoold: attempt 3 ---\nout 3\n")
        expectNothingOrphaned(spool)
    }

    @Test("a command job retried until it succeeds keeps every attempt's output; a cancelled retry keeps what ran")
    func jobRetries() throws {
        let spool = try TempSpool()
        let counter = spool.path("count-job")
        try spool.drop("j.json", #"{"id": "j", "retries": 2, "retry_delay_seconds": 0, "shell": "\#(flaky(counter))"}"#)
        drain(spool)
        let r = try #require(spool.record("j"))
        #expect(r.status == "succeeded" && r.attempts == 3)
        #expect(r["stdout"] as? String == "done/j.stdout")
        #expect(spool.read("done/j.stdout") == "out 1\n--- spoold: attempt 2 ---\nout 2\n--- spoold: attempt 3 ---\nout 3\n")
        #expect(spool.read("done/j.stderr") == "err 1\n--- spoold: attempt 2 ---\nerr 2\n--- spoold: attempt 3 ---\nerr 3\n")

        // Failed once, then cancelled while waiting for a long backoff: the first attempt's output stays named.
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        try spool.drop("c.json", #"{"id": "c", "retries": 3, "retry_delay_seconds": 3600, "shell": "echo tried; exit 1"}"#)
        poll(timeout: 20, "c waits for its retry") { (spool.record("c", in: "pending")?["wait_reason"] as? String)?.hasPrefix("retry 1") == true }
        try dropControl(spool, #"{"action": "cancel", "id": "c"}"#)
        poll(timeout: 20, "c cancelled") { spool.record("c")?.status == "cancelled" }
        #expect(spool.record("c")?["stdout"] as? String == "done/c.stdout")
        #expect(spool.read("done/c.stdout") == "tried\n")
        expectNothingOrphaned(spool)
    }
}
