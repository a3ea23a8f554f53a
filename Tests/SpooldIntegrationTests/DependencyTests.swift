// `after` and `on_complete` with the real daemon: a chain runs in order, a failed dependency
// fails its dependants, an unknown dependency waits and says so, a cycle is refused, and a
// follow-up is created exactly once and can read its parent's record.
import Foundation
import Testing

@Suite("dependencies and follow-ups", .serialized)
struct DependencyTests {
    @Test("a chain runs in dependency order, whatever the arrival order")
    func chain() throws {
        let spool = try TempSpool()
        let log = spool.path("order")
        try spool.drop("c.json", #"{"id": "c", "after": ["b"], "shell": "echo c >> \#(log)"}"#)
        try spool.drop("b.json", #"{"id": "b", "after": ["a"], "shell": "echo b >> \#(log)"}"#)
        try spool.drop("a.json", #"{"id": "a", "shell": "sleep 0.2; echo a >> \#(log)"}"#)
        drain(spool, workers: 4)
        #expect(spool.read("order") == "a\nb\nc\n")
        #expect(["a", "b", "c"].allSatisfy { spool.record($0)?.status == "succeeded" })
    }

    @Test("when a dependency fails, its dependants end failed with dependency_failed naming it")
    func failedDependency() throws {
        let spool = try TempSpool()
        try spool.drop("x.json", #"{"id": "x", "shell": "exit 1"}"#)
        try spool.drop("y.json", #"{"id": "y", "after": ["x"], "shell": "true"}"#)
        try spool.drop("z.json", #"{"id": "z", "after": ["y"], "shell": "true"}"#)
        drain(spool)
        let y = try #require(spool.record("y"))
        #expect(y.status == "failed")
        #expect(y.errorCode == "dependency_failed")
        #expect(y.errorMessage?.contains("dependency x ended failed") == true)
        #expect(spool.record("z")?.errorMessage?.contains("dependency y ended failed") == true)
        #expect(spool.record("z")?["started_at"] is NSNull)
    }

    @Test("a dependency the spool has not seen waits and says so; it runs once the dependency arrives and succeeds")
    func unknownDependency() throws {
        let spool = try TempSpool()
        try spool.drop("w.json", #"{"id": "w", "after": ["later"], "command": ["true"]}"#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 10, "waiting reason") {
            (spool.record("w", in: "pending")?["wait_reason"] as? String)?.contains("not seen yet: later") == true
        }
        try spool.drop("later.json", #"{"id": "later", "command": ["true"]}"#)
        poll(timeout: 10, "w ran") { spool.record("w")?.status == "succeeded" }
        _ = d
    }

    @Test("a dependency cycle is detected and refused")
    func cycle() throws {
        let spool = try TempSpool()
        try spool.drop("p.json", #"{"id": "p", "after": ["q"], "command": ["true"]}"#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 10, "p waiting") { spool.record("p", in: "pending") != nil }
        try spool.drop("q.json", #"{"id": "q", "after": ["p"], "command": ["true"]}"#)
        poll(timeout: 10, "q refused") { spool.record("q") != nil }
        let q = try #require(spool.record("q"))
        #expect(q.status == "rejected")
        #expect(q.errorCode == "dependency_failed")
        #expect(q.errorMessage?.contains("cycle: q -> p -> q") == true)
        // p waited for q, which was refused: p fails too.
        poll(timeout: 10, "p failed") { spool.record("p")?.errorCode == "dependency_failed" }
        _ = d
    }

    @Test("on_complete drops one follow-up that sees SPOOL_PARENT_ID and reads its parent's record")
    func followUp() throws {
        let spool = try TempSpool()
        try spool.drop("parent.json", #"""
            {"id": "parent", "shell": "echo parent-out; exit 3",
             "on_complete": {"shell": "echo $SPOOL_PARENT_ID; grep -o '\"status\" : \"[a-z]*\"' \"$SPOOL_PARENT_RESULT\""}}
            """#)
        drain(spool)
        #expect(spool.record("parent")?.status == "failed")
        let child = try #require(spool.record("parent.on_complete"))
        #expect(child.status == "succeeded", "\(child.errorMessage ?? "")")
        #expect(spool.read(child["stdout"] as! String) == "parent\n\"status\" : \"failed\"\n")
        #expect(spool.recordNames("done").count == 2)
        #expect(spool.tmpLeftovers().isEmpty)
    }

    @Test("a follow-up is created exactly once even when the daemon dies right after the parent's record")
    func followUpAcrossCrash() throws {
        let spool = try TempSpool()
        try spool.drop("p.json", #"{"id": "p", "command": ["true"], "on_complete": {"id": "next", "command": ["true"]}}"#)
        let d = DaemonProcess(spool: spool, environment: ["SPOOLD_CRASH_AT": "after_final_record"])
        #expect(d.waitExit(timeout: 20) == 128 + SIGKILL)
        drain(spool)
        #expect(spool.record("p")?.status == "succeeded")
        #expect(spool.record("next")?.status == "succeeded")
        #expect(spool.recordNames("done").sorted() == ["next.json", "p.json"])
    }
}
