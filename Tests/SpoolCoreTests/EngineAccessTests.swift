// Who may control a held job (issue 18), as tables: the job's recorded owner, the requester the
// runtime read from the request file, the action → allowed or refused. A refusal changes nothing:
// no action (the runtime logs and answers it), the job's state and record as before. No I/O, no clock.
import Testing
@testable import SpoolCore

extension Requester {
    /// The harness's jobs have no recorded owner (the daemon is not root): anyone may.
    static let owner = Requester(uid: 4242, isAdmin: false)
    static let alice = Requester(uid: 1001, isAdmin: false, shown: "alice (uid 1001)")
    static let bob = Requester(uid: 1002, isAdmin: false, shown: "bob (uid 1002)")
    static let admin = Requester(uid: 1003, isAdmin: true, shown: "carol (uid 1003)")
    static let root = Requester(uid: 0, isAdmin: true, shown: "root (uid 0)")
}

@Suite("engine: who may control a job")
struct EngineAccessTests {
    /// Job "a", owned by alice (uid 1001), brought into `state`.
    static func alicesJob(_ state: String) -> EngineHarness {
        var h = EngineHarness()
        var r = EngineHarness.command("a")
        r.owner = JobOwner(uid: 1001, gid: 1001)
        switch state {
        case "queued": h.accept(r)
        case "running": h.run(r)
        default: fatalError(state)
        }
        return h
    }

    @Test("the pure rule: owner, administrator, or a record without an owner", arguments: [
        // (owner uid, requester, allowed)
        (UInt32?(1001), Requester.alice, true),
        (1001, .bob, false),
        (1001, .admin, true),
        (1001, .root, true),
        (nil, .bob, true),
        (0, .bob, false),
        (0, .alice, false),
        (0, .root, true),
    ])
    func rule(owner: UInt32?, requester: Requester, allowed: Bool) {
        for action in ControlRequest.Action.allCases {
            let why = requester.refusal(action, job: id("a"), owner: owner.map { JobOwner(uid: $0, gid: $0) })
            #expect((why == nil) == allowed, "\(action) by \(requester.shown)")
            if let why {
                #expect(why.contains("\(action.rawValue) job a refused") && why.contains(requester.shown), "\(why)")
            }
        }
    }

    @Test("a held job: table of state × action × requester → answer and actions", arguments: [
        ("running", ControlRequest.Action.cancel, Requester.bob, "refused", [String]()),
        ("running", .delete, .bob, "refused", []),
        ("running", .pause, .bob, "refused", []),
        ("running", .resume, .bob, "refused", []),
        ("running", .retry, .bob, "refused", []),
        ("queued", .cancel, .bob, "refused", []),
        ("queued", .delete, .bob, "refused", []),
        ("running", .cancel, .alice, "untilEnd", ["tearDown a cancel"]),
        ("running", .pause, .alice, "applied", ["pause a", "emit a paused", "rewriteRunning a paused"]),
        ("running", .cancel, .admin, "untilEnd", ["tearDown a cancel"]),
        ("running", .pause, .root, "applied", ["pause a", "emit a paused", "rewriteRunning a paused"]),
        ("queued", .cancel, .admin, "untilEnd", ["write a cancelled pending->done"]),
        ("queued", .delete, .alice, "untilEnd", ["write a cancelled pending->done"]),
    ])
    func heldJob(state: String, action: ControlRequest.Action, requester: Requester, answer: String, actions: [String]) {
        var h = Self.alicesJob(state)
        let before = h.engine.render(id("a"))
        let stateBefore = h.state("a")
        let (got, acts) = h.engine.control(ControlRequest(action: action, id: id("a")), file: c1, by: requester, now: h.now)
        #expect(acts.compactMap(spelled) == actions)
        switch (answer, got) {
        case ("refused", .refused(let owner)):
            #expect(owner == JobOwner(uid: 1001, gid: 1001))
            // Nothing changed: no action at all, same state, same record, no request kept.
            #expect(acts.isEmpty)
            #expect(h.state("a") == stateBefore)
            #expect(h.engine.render(id("a")) == before)
            #expect(!h.engine.waitingControls.contains(c1))
        case ("untilEnd", .untilEnd(let j)): #expect(j == id("a"))
        case ("applied", .applied): break
        default: Issue.record("expected \(answer), got \(got)")
        }
    }

    @Test("a refused cancel of a queued job leaves it queued, and it starts as usual")
    func refusedCancelRuns() {
        var h = EngineHarness(engine: Engine(workers: 1))
        var r = EngineHarness.command("a")
        r.owner = JobOwner(uid: 1001, gid: 1001)
        var busy = EngineHarness.command("b")
        busy.owner = JobOwner(uid: 1002, gid: 1002)
        h.run(busy)
        h.accept(r)
        _ = h.engine.control(ControlRequest(action: .cancel, id: id("a")), file: c1, by: .bob, now: h.now)
        #expect(h.state("a") == .queued)
        h.on(.attemptEnded(id("b"), AttemptEnd(termination: .exited(0), teardown: nil, usage: nil), diskFull: false))
        h.on(.written([id("b")]))
        #expect(h.dispatch() == ["claim a"])
    }
}
