// The engine's transitions as tables: a state reached through events, one more event, and the
// actions it must return (logs and event-log lines left out unless they are the point), plus the
// state the job is left in. Every row runs on a fresh engine; no I/O, no clock.
import Testing
@testable import SpoolCore

/// A compact, comparable spelling of an action.
func spelled(_ a: EngineAction) -> String? {
    switch a {
    case .launch(let k, _): return "launch \(k)"
    case .launchOperation(let k, _): return "launch \(k)"
    case .runBuiltin(let k, let type, _, _, _): return "builtin \(k) \(type)"
    case .tearDown(let k, let r): return "tearDown \(k) \(r)"
    case .pause(let k): return "pause \(k)"
    case .resume(let k): return "resume \(k)"
    case .freeWorker: return "freeWorker"
    case .write(let w): return "write \(w.record.id) \(w.record.status.rawValue) \(w.from.rawValue)->\(w.to.rawValue)"
    case .writeLater(let w, _): return "writeLater \(w.record.id) \(w.record.status.rawValue)"
    case .loadParked(let ids): return "loadParked \(ids.map(\.rawValue).joined(separator: ","))"
    case .rewritePending(let r): return "rewritePending \(r.id)"
    case .rewriteRunning(let r): return "rewriteRunning \(r.id) \(r.status.rawValue)"
    case .openJournal(let id): return "openJournal \(id)"
    case .journal(let id, let op, _): return "journal \(id)#\(op.index) \(op.status.rawValue) sync"
    case .checkpoint(let id, let op): return "checkpoint \(id)#\(op.index) \(op.status.rawValue)"
    case .releaseFollowUp(let r): return "releaseFollowUp \(r.id)"
    case .removeControl(let n): return "removeControl \(n)"
    case .removeFinished(let r, _): return "removeFinished \(r.id)"
    case .countFinished(let r): return "count \(r.id) \(r.status.rawValue)"
    case .emit(let id, _, let e, _): return e == "progress" ? nil : "emit \(id) \(e)"
    case .log: return nil
    case .arm(let t, _): return "arm \(t)"
    case .exit: return "exit"
    }
}

struct EngineHarness {
    var engine = Engine(workers: 2)
    var now = Timestamp(seconds: 1000)
    var last: [String] = []

    static func command(_ id: String, after: [String]? = nil, retries: Int? = nil, onInterrupt: String? = nil, queue: String? = nil) -> JobRecord {
        var fields = ["\"id\": \"\(id)\"", "\"command\": [\"true\"]"]
        if let after { fields.append("\"after\": [\(after.map { "\"\($0)\"" }.joined(separator: ","))]") }
        if let retries { fields.append("\"retries\": \(retries)") }
        if let onInterrupt { fields.append("\"on_interrupt\": \"\(onInterrupt)\"") }
        if let queue { fields.append("\"queue\": \"\(queue)\"") }
        return record("{\(fields.joined(separator: ","))}")
    }

    static func batch(_ id: String, operations: Int, maxParallel: Int = 1) -> JobRecord {
        let ops = Array(repeating: "{\"command\": [\"true\"]}", count: operations).joined(separator: ",")
        return record("{\"id\": \"\(id)\", \"operations\": [\(ops)], \"max_parallel\": \(maxParallel)}")
    }

    static func record(_ json: String) -> JobRecord {
        guard case .success(let spec) = JobSpec.parse(Array(json.utf8), file: "t.json") else { fatalError("bad test job \(json)") }
        var r = JobRecord(id: spec.id!, name: spec.id!.rawValue, status: .pending, spec: spec, source: "t.json",
                          submittedAt: Timestamp(seconds: 0), sequence: Int64(spec.id!.rawValue.unicodeScalars.first!.value))
        r.progress = Progress(total: spec.operations?.count ?? 1)
        return r
    }

    /// Handles an event and keeps the actions' spelling.
    @discardableResult
    mutating func on(_ event: EngineEvent, random: Double = 0) -> [String] {
        let actions = engine.handle(event, now: now, random: random)
        last = actions.compactMap(spelled)
        return last
    }

    mutating func accept(_ records: JobRecord..., finished: [JobID: JobStatus] = [:], unseen: Set<JobID> = []) {
        on(.accepted(records, finished: finished, unseen: unseen))
    }

    /// Runs the dispatcher until it waits; returns the claims and starts it made.
    mutating func dispatch() -> [String] {
        var out: [String] = []
        while true {
            switch engine.next(now: now, pausedQueues: []) {
            case .claim(let id): out.append("claim \(id)")
            case .start(let actions): out += actions.compactMap(spelled)
            case .wait, .stop: return out
            }
        }
    }

    /// Accepts, claims and launches a command job: it is running.
    mutating func run(_ r: JobRecord) {
        accept(r)
        #expect(dispatch() == ["claim \(r.id)"])
        on(.claimed(r.id))
        on(.launched(AttemptKey(r.id), AttemptInfo(executor: .local, pid: 42)))
    }

    func state(_ id: String) -> JobState? { engine.state(of: JobID(id)!) }
}

func id(_ s: String) -> JobID { JobID(s)! }
let c1 = FileName("c1.json")

@Suite("engine: intake and dependencies")
struct EngineIntakeTests {
    @Test("an accepted job is queued and claimed; a claimed command job is launched")
    func acceptAndStart() {
        var h = EngineHarness()
        h.accept(EngineHarness.command("a"))
        #expect(h.state("a") == .queued)
        #expect(h.dispatch() == ["claim a"])
        #expect(h.state("a") == .starting)
        #expect(h.on(.claimed(id("a"))) == ["launch a"])
        #expect(h.engine.render(id("a"))?.status == .running && h.engine.render(id("a"))?.attempts == 1)
        #expect(h.on(.launched(AttemptKey(id("a")), AttemptInfo(executor: .local, pid: 7))) == ["emit a started"])
        #expect(h.engine.render(id("a"))?.pid == 7)
    }

    @Test("dependencies: table of what the engine knows of them → what the job does", arguments: [
        // (finished dependencies, expected state or final write)
        ([String: JobStatus](), "blocked"),
        (["d": .succeeded], "queued"),
        (["d": .failed], "write b failed pending->done"),
        (["d": .cancelled], "write b failed pending->done"),
    ])
    func dependencies(finished: [String: JobStatus], expected: String) {
        var h = EngineHarness()
        let f = Dictionary(uniqueKeysWithValues: finished.map { (id($0.key), $0.value) })
        h.accept(EngineHarness.command("b", after: ["d"]), finished: f)
        if expected.hasPrefix("write") {
            #expect(h.last.contains(expected), "\(h.last)")
        } else {
            #expect(String(describing: h.state("b")!) == expected)
        }
    }

    @Test("a blocked job is queued when its dependency succeeds, and fails when it does not", arguments: [
        (JobStatus.succeeded, JobState.queued), (.failed, .ending(.final(.failed), from: .pending)), (.rejected, .ending(.final(.failed), from: .pending)),
    ])
    func dependencyEnds(status: JobStatus, expected: JobState) {
        var h = EngineHarness()
        h.accept(EngineHarness.command("b", after: ["d"]))
        h.on(.dependencyFound(id("d"), status))
        #expect(h.state("b") == expected)
    }

    @Test("a cycle is rejected; why a job waits is written to its pending record once")
    func cycleAndReason() {
        var h = EngineHarness()
        h.accept(EngineHarness.command("x", after: ["y"]), unseen: [id("y")])
        #expect(h.last == ["rewritePending x"])
        #expect(h.engine.render(id("x"))?.waitReason == "waiting for y to succeed (not seen yet: y)")
        h.accept(EngineHarness.command("y", after: ["x"]))
        #expect(h.last == ["write y rejected pending->done"])
    }

    @Test("a job accepted twice is held once")
    func duplicate() {
        var h = EngineHarness()
        h.accept(EngineHarness.command("a"))
        h.accept(EngineHarness.command("a"))
        #expect(h.dispatch() == ["claim a"])
    }
}

@Suite("engine: ends")
struct EngineEndTests {
    @Test("an attempt's end: table of termination → record written", arguments: [
        (Termination.exited(0), nil as TeardownReason?, 0, "write a succeeded running->done"),
        (.exited(3), nil, 0, "write a failed running->done"),
        (.exited(3), nil, 1, "write a pending running->pending"),
        (.signaled(9), nil, 0, "write a failed running->done"),
        (.exited(0), .timeout(seconds: 1), 0, "write a failed running->done"),
        (.signaled(15), .cancel, 0, "write a cancelled running->done"),
        (.signaled(15), .shutdown, 0, "write a pending running->pending"),
    ])
    func attemptEnd(termination: Termination, teardown: TeardownReason?, retries: Int, expected: String) {
        var h = EngineHarness()
        h.run(EngineHarness.command("a", retries: retries))
        #expect(h.on(.attemptEnded(id("a"), AttemptEnd(termination: termination, teardown: teardown, usage: nil), diskFull: false)) == [expected])
    }

    @Test("on_interrupt fail: a shutdown's tear-down ends the job failed")
    func interruptFail() {
        var h = EngineHarness()
        h.run(EngineHarness.command("a", onInterrupt: "fail"))
        h.on(.attemptEnded(id("a"), AttemptEnd(termination: .signaled(15), teardown: .shutdown, usage: nil), diskFull: false))
        #expect(h.last == ["write a failed running->done"])
    }

    @Test("a final record written: the job is let go, its slot freed, its waiters told")
    func writtenFinal() {
        var h = EngineHarness()
        h.accept(EngineHarness.command("b", after: ["a"]))
        h.run(EngineHarness.command("a"))
        h.on(.attemptEnded(id("a"), AttemptEnd(termination: .exited(0), teardown: nil, usage: nil), diskFull: false))
        #expect(h.on(.written([id("a")])) == ["releaseFollowUp a", "emit a finished", "count a succeeded"])
        #expect(!h.engine.holds(id("a")))
        #expect(h.state("b") == .queued)
        #expect(h.dispatch() == ["claim b"])
    }

    @Test("an ended attempt's slot goes to the next job before its record is durable; the queue's limit too")
    func slotFreedAtEnd() {
        var h = EngineHarness()
        h.engine = Engine(queueLimits: ["q": 1], workers: 1)
        h.run(EngineHarness.command("a", queue: "q"))
        h.accept(EngineHarness.command("b", queue: "q"))
        #expect(h.dispatch() == [], "one worker, taken by a")
        h.on(.attemptEnded(id("a"), AttemptEnd(termination: .exited(0), teardown: nil, usage: nil), diskFull: false))
        #expect(h.state("a") == .ending(.final(.succeeded), from: .running))
        #expect(h.dispatch() == ["claim b"], "a's process is gone: b starts while a's record is written")
        #expect(h.engine.holds(id("a")))
        h.on(.written([id("a")]))
        #expect(!h.engine.holds(id("a")))
        #expect(h.engine.scheduler.slotsInUse == 1 && h.engine.scheduler.runningPerQueue["q"] == 1, "b's slot and place are still held")
    }

    @Test("a record that cannot be written holds every start until it is written (the freed slot must not run the backlog into a full disk)")
    func failedWriteHoldsStarts() {
        var h = EngineHarness()
        h.engine = Engine(workers: 1)
        h.run(EngineHarness.command("a"))
        h.accept(EngineHarness.command("b"))
        h.on(.attemptEnded(id("a"), AttemptEnd(termination: .exited(0), teardown: nil, usage: nil), diskFull: false))
        #expect(h.on(.writeFailed(id("a"), diskFull: true)) == ["writeLater a failed"])
        #expect(h.dispatch() == [], "a's record is not written: b waits")
        h.on(.writeFailed(id("a"), diskFull: true))
        #expect(h.dispatch() == [])
        h.on(.written([id("a")]))
        #expect(h.dispatch() == ["claim b"])
    }

    @Test("which starts may go before their claim is durable: table of job → answer", arguments: [
        ("requeue command", true), ("fail command", false), ("batch", false), ("live restore", false), ("remote queue", false),
    ])
    func startBeforeDurableClaim(kind: String, expected: Bool) {
        var h = EngineHarness()
        let r: JobRecord
        switch kind {
        case "fail command": r = EngineHarness.command("a", onInterrupt: "fail")
        case "batch": r = EngineHarness.batch("a", operations: 2)
        case "remote queue":
            h.engine = Engine(workers: 2, remoteQueues: ["hpc"])
            r = EngineHarness.command("a", queue: "hpc")
        case "live restore":
            h.engine = Engine(workers: 2, liveRestore: true)
            r = EngineHarness.command("a")
        default: r = EngineHarness.command("a")
        }
        h.accept(r)
        #expect(h.engine.startsBeforeClaimIsDurable(id("a")) == expected)
    }

    @Test("a requeued record written: the job is queued again (after its backoff)")
    func writtenRequeue() {
        var h = EngineHarness()
        h.run(EngineHarness.command("a", retries: 1))
        h.on(.attemptEnded(id("a"), AttemptEnd(termination: .exited(1), teardown: nil, usage: nil), diskFull: false))
        #expect(h.on(.written([id("a")])) == ["emit a retrying"])
        #expect(h.state("a") == .queued)
        #expect(h.dispatch() == [])  // its backoff has not passed
        h.now = h.now.adding(60)
        #expect(h.dispatch() == ["claim a"])
    }

    @Test("a failed write is tried again; on a full disk a final record says its output was cut")
    func writeFailed() {
        var h = EngineHarness()
        h.run(EngineHarness.command("a"))
        h.on(.attemptEnded(id("a"), AttemptEnd(termination: .exited(0), teardown: nil, usage: nil), diskFull: false))
        #expect(h.on(.writeFailed(id("a"), diskFull: false)) == ["writeLater a succeeded"])
        #expect(h.on(.writeFailed(id("a"), diskFull: true)) == ["writeLater a failed"])
        #expect(h.engine.render(id("a"))?.error?.code == .outputFailed)
    }

    @Test("a launch that fails ends the attempt as not started")
    func launchFailed() {
        var h = EngineHarness()
        h.accept(EngineHarness.command("a"))
        _ = h.dispatch()
        h.on(.claimed(id("a")))
        h.on(.launchFailed(id("a"), SpoolError(.spawnFailed, "no such program"), .local))
        #expect(h.last == ["write a failed running->done"])
        #expect(h.engine.render(id("a"))?.executor == .local)
    }
}

@Suite("engine: control")
struct EngineControlTests {
    /// Brings job "a" into a named state.
    static func reach(_ state: String) -> EngineHarness {
        var h = EngineHarness()
        switch state {
        case "queued": h.accept(EngineHarness.command("a"))
        case "blocked": h.accept(EngineHarness.command("a", after: ["z"]))
        case "starting":
            h.accept(EngineHarness.command("a"))
            _ = h.dispatch()
        case "running": h.run(EngineHarness.command("a"))
        case "ending":
            h.run(EngineHarness.command("a"))
            h.on(.attemptEnded(id("a"), AttemptEnd(termination: .exited(0), teardown: nil, usage: nil), diskFull: false))
        case "unknown": break
        default: fatalError(state)
        }
        return h
    }

    @Test("cancel in every state", arguments: [
        ("queued", ControlAnswer.untilEnd(JobID("a")!), ["write a cancelled pending->done"]),
        ("blocked", .untilEnd(JobID("a")!), ["write a cancelled pending->done"]),
        ("starting", .untilEnd(JobID("a")!), []),
        ("running", .untilEnd(JobID("a")!), ["tearDown a cancel"]),
        ("ending", .untilEnd(JobID("a")!), []),
        ("unknown", .notHeld, []),
    ])
    func cancel(state: String, answer: ControlAnswer, actions: [String]) {
        var h = Self.reach(state)
        let (got, acts) = h.engine.control(ControlRequest(action: .cancel, id: id("a")), file: c1, by: .owner, now: h.now)
        #expect(got == answer)
        #expect(acts.compactMap(spelled) == actions)
    }

    @Test("a request that waited for a job applies in its acceptance's step, also to a job the acceptance parked",
          arguments: [(2048, false), (2, true)])
    func controlOnAcceptance(window: Int, parks: Bool) {
        var h = EngineHarness(engine: Engine(workers: 2, pendingWindow: window))
        let c = EngineHarness.command("c")
        h.accept(EngineHarness.command("a"), EngineHarness.command("b"), c)
        #expect((h.engine.jobs[id("c")] == nil) == parks)
        #expect(h.engine.backlog.holds(id("c")) == parks)
        let (answer, actions) = h.engine.controlOnAcceptance(ControlRequest(action: .cancel, id: id("c")), of: c, file: c1,
                                                             by: .owner, now: h.now)
        #expect(answer == .untilEnd(id("c")))
        #expect(actions.compactMap(spelled) == ["write c cancelled pending->done"])
        #expect(!h.engine.backlog.holds(id("c")))
        #expect(h.dispatch() == ["claim a", "claim b"])  // c is never picked
    }

    @Test("a cancel's request file goes when the job's end is durable")
    func cancelRemovesRequestAtEnd() {
        var h = Self.reach("running")
        _ = h.engine.control(ControlRequest(action: .cancel, id: id("a")), file: c1, by: .owner, now: h.now)
        #expect(h.engine.waitingControls.contains(c1))
        h.on(.attemptEnded(id("a"), AttemptEnd(termination: .signaled(15), teardown: .cancel, usage: nil), diskFull: false))
        #expect(h.last == ["write a cancelled running->done"])
        #expect(h.on(.written([id("a")])).contains("removeControl c1.json"))
        #expect(!h.engine.waitingControls.contains(c1))
    }

    @Test("cancel of a job being claimed: it ends at its claim without running")
    func cancelStarting() {
        var h = Self.reach("starting")
        _ = h.engine.control(ControlRequest(action: .cancel, id: id("a")), file: c1, by: .owner, now: h.now)
        #expect(h.on(.claimed(id("a"))) == ["freeWorker", "write a cancelled running->done"])
    }

    @Test("cancel of a job whose requeue is being written: it ends pending once the requeue is durable")
    func cancelRequeueing() {
        var h = EngineHarness()
        h.run(EngineHarness.command("a", retries: 2))
        h.on(.attemptEnded(id("a"), AttemptEnd(termination: .exited(1), teardown: nil, usage: nil), diskFull: false))
        _ = h.engine.control(ControlRequest(action: .cancel, id: id("a")), file: c1, by: .owner, now: h.now)
        #expect(h.on(.written([id("a")])) == ["emit a retrying", "write a cancelled pending->done"])
    }

    @Test("cancel of a job launched after the request: torn down at its launch")
    func cancelBeforeLaunch() {
        var h = EngineHarness()
        h.accept(EngineHarness.command("a"))
        _ = h.dispatch()
        h.on(.claimed(id("a")))
        _ = h.engine.control(ControlRequest(action: .cancel, id: id("a")), file: c1, by: .owner, now: h.now)
        #expect(h.on(.launched(AttemptKey(id("a")), AttemptInfo(executor: .local, pid: 1))) == ["emit a started", "tearDown a cancel"])
    }

    @Test("pause and resume: table of state → actions", arguments: [
        ("running", ControlRequest.Action.pause, ["pause a", "emit a paused", "rewriteRunning a paused"]),
        ("queued", .pause, []),
        ("running", .resume, ["resume a", "emit a resumed", "rewriteRunning a running"]),
    ])
    func pauseResume(state: String, action: ControlRequest.Action, actions: [String]) {
        var h = Self.reach(state)
        let (answer, acts) = h.engine.control(ControlRequest(action: action, id: id("a")), file: c1, by: .owner, now: h.now)
        #expect(answer == .applied)
        #expect(acts.compactMap(spelled) == actions)
    }

    @Test("delete of a running job: cancelled, then removed once its end is durable")
    func deleteRunning() {
        var h = Self.reach("running")
        let (answer, _) = h.engine.control(ControlRequest(action: .delete, id: id("a")), file: c1, by: .owner, now: h.now)
        #expect(answer == .untilEnd(id("a")))
        h.on(.attemptEnded(id("a"), AttemptEnd(termination: .signaled(15), teardown: .cancel, usage: nil), diskFull: false))
        #expect(h.on(.written([id("a")])).contains("removeFinished a"))
    }
}

@Suite("engine: batches, queues, shutdown, recovery")
struct EngineBatchTests {
    @Test("a batch queues up to max_parallel operations, frees its own worker, and ends when all have")
    func batch() {
        var h = EngineHarness()
        h.accept(EngineHarness.batch("b", operations: 3, maxParallel: 2))
        #expect(h.dispatch() == ["claim b"])
        #expect(h.on(.claimed(id("b"))) == ["openJournal b", "emit b started", "freeWorker"])
        #expect(h.dispatch() == ["launch b#0", "launch b#1"])
        for i in 0..<3 {
            h.on(.launched(AttemptKey(id("b"), operation: i), AttemptInfo(executor: .local, pid: 1)))
            h.on(.operationEnded(AttemptKey(id("b"), operation: i), .succeeded(exitCode: 0, result: nil), stdout: nil, stderr: nil, usage: nil, executor: .local))
            #expect(h.last == ["checkpoint b#\(i) succeeded"])
            // Nothing more of the batch is queued before the end is in the journal.
            #expect(h.dispatch() == [])
            h.on(.checkpointed(id("b")))
            if i == 0 { #expect(h.dispatch() == ["launch b#2"]) }
        }
        #expect(h.last == ["write b succeeded running->done"])
    }

    @Test("pausing a batch takes its queued operations back; resuming queues them again")
    func pauseBatch() {
        var h = EngineHarness(engine: Engine(workers: 1))
        h.accept(EngineHarness.batch("b", operations: 3, maxParallel: 3))
        _ = h.dispatch()
        h.on(.claimed(id("b")))
        #expect(h.dispatch() == ["launch b#0"])  // one worker: the rest wait in the queue
        _ = h.engine.control(ControlRequest(action: .pause, id: id("b")), file: c1, by: .owner, now: h.now)
        h.on(.operationEnded(AttemptKey(id("b"), operation: 0), .succeeded(exitCode: 0, result: nil), stdout: nil, stderr: nil, usage: nil, executor: nil))
        h.on(.checkpointed(id("b")))
        #expect(h.dispatch() == [])
        _ = h.engine.control(ControlRequest(action: .resume, id: id("b")), file: c1, by: .owner, now: h.now)
        #expect(h.dispatch() == ["launch b#1"])
    }

    @Test("cancel of a batch: queued operations skipped, running ones torn down, ends cancelled")
    func cancelBatch() {
        var h = EngineHarness(engine: Engine(workers: 1))
        h.accept(EngineHarness.batch("b", operations: 3, maxParallel: 3))
        _ = h.dispatch()
        h.on(.claimed(id("b")))
        _ = h.dispatch()
        h.on(.launched(AttemptKey(id("b"), operation: 0), AttemptInfo(executor: .local)))
        let (_, acts) = h.engine.control(ControlRequest(action: .cancel, id: id("b")), file: c1, by: .owner, now: h.now)
        #expect(acts.compactMap(spelled) == ["tearDown b#0 cancel"])
        h.on(.operationEnded(AttemptKey(id("b"), operation: 0), .failed(SpoolError(.cancelled, "x"), exitCode: nil, signal: 15), stdout: nil, stderr: nil, usage: nil, executor: nil))
        #expect(h.on(.checkpointed(id("b"))) == ["write b cancelled running->done"])
    }

    @Test("queue limits and paused queues hold jobs back; other queues go on")
    func queues() {
        var h = EngineHarness(engine: Engine(queueLimits: ["q": 1], workers: 4))
        h.accept(EngineHarness.command("a", queue: "q"), EngineHarness.command("b", queue: "q"), EngineHarness.command("c"))
        #expect(Set(h.dispatch()) == ["claim a", "claim c"])
        var paused = EngineHarness(engine: Engine(workers: 4))
        paused.accept(EngineHarness.command("a", queue: "q"), EngineHarness.command("c"))
        if case .claim(let first) = paused.engine.next(now: paused.now, pausedQueues: ["q"]) { #expect(first == id("c")) }
        if case .wait = paused.engine.next(now: paused.now, pausedQueues: ["q"]) {} else { Issue.record("a paused queue started a job") }
    }

    @Test("shutdown: no more starts, running jobs get the grace period; with nothing running the daemon exits")
    func shutdown() {
        var idle = EngineHarness()
        idle.accept(EngineHarness.command("a"))
        #expect(idle.on(.shutdown(reason: "SIGTERM", graceSeconds: 5)) == ["exit"])
        var busy = EngineHarness()
        busy.run(EngineHarness.command("a"))
        #expect(busy.on(.shutdown(reason: "SIGTERM", graceSeconds: 5)) == ["arm shutdownGrace"])
        #expect(busy.on(.timer(.shutdownGrace)) == ["tearDown a shutdown"])
        busy.on(.attemptEnded(id("a"), AttemptEnd(termination: .signaled(15), teardown: .shutdown, usage: nil), diskFull: false))
        #expect(busy.on(.written([id("a")])) == ["emit a requeued", "exit"])
    }

    @Test("recovery: a job found in running/ follows on_interrupt through the same write", arguments: [
        ("requeue", "write a pending running->pending"), ("fail", "write a failed running->done"),
    ])
    func recovered(policy: String, expected: String) {
        var h = EngineHarness()
        var r = EngineHarness.command("a", onInterrupt: policy)
        r.status = .running
        r.attempts = 1
        #expect(h.on(.recovered(r)) == [expected])
        #expect(h.engine.render(id("a"))?.error?.code == (policy == "fail" ? .interrupted : nil))
    }

    @Test("recovery of a batch: interrupted operations go back to pending, finished ones stay")
    func recoveredBatch() {
        var h = EngineHarness()
        var r = EngineHarness.batch("b", operations: 2)
        r.operations = [OperationRecord(index: 0, name: nil), OperationRecord(index: 1, name: nil)]
        r.operations![0].status = .succeeded
        r.operations![1].status = .running
        #expect(h.on(.recovered(r)) == ["write b pending running->pending"])
        #expect(h.engine.render(id("b"))?.operations?.map(\.status) == [.succeeded, .pending])
    }
}

@Suite("engine: live restore")
struct EngineLiveRestoreTests {
    func running(_ id: String) -> JobRecord {
        var r = EngineHarness.command(id)
        r.status = .running
        r.attempts = 1
        r.startedAt = Timestamp(seconds: 900)
        return r
    }

    @Test("an adopted job is held running with its slot, is not launched again, and ends like any other")
    func adopted() {
        var h = EngineHarness(engine: Engine(workers: 1, liveRestore: true))
        #expect(h.on(.adopted(running("a"))) == ["emit a adopted"])
        #expect(h.engine.render(id("a"))?.status == .running)
        h.accept(EngineHarness.command("b"))
        #expect(h.dispatch() == [])  // the adopted job holds the only worker
        h.on(.attemptEnded(id("a"), AttemptEnd(termination: .exited(0), teardown: nil, usage: nil, endedAt: Timestamp(seconds: 950)), diskFull: false))
        #expect(h.last == ["write a succeeded running->done"])
        #expect(h.engine.render(id("a"))?.durationSeconds == 50)  // ended while no daemon ran: its own end time
        h.on(.written([id("a")]))
        #expect(h.dispatch() == ["claim b"])
    }

    @Test("shutdown with live restore: launched command jobs are left to their supervisors, batches and starts are waited for", arguments: [
        (false, ["arm shutdownGrace"]), (true, ["exit"]),
    ])
    func shutdown(liveRestore: Bool, expected: [String]) {
        var h = EngineHarness(engine: Engine(workers: 2, liveRestore: liveRestore))
        h.run(EngineHarness.command("a"))
        #expect(h.on(.shutdown(reason: "SIGTERM", graceSeconds: 5)) == expected)
    }

    @Test("with live restore a stopping daemon leaves command jobs and batches' command operations to their supervisors; it waits for a built-in operation, and exits after it")
    func tearDown() {
        var h = EngineHarness(engine: Engine(workers: 3, liveRestore: true))
        h.run(EngineHarness.command("a"))
        h.accept(EngineHarness.record(#"{"id": "b", "max_parallel": 2, "operations": [{"command": ["true"]}, {"type": "descriptive_stats", "params": {"data": [1]}}]}"#))
        _ = h.dispatch()
        h.on(.claimed(id("b")))
        #expect(h.dispatch() == ["launch b#0", "builtin b#1 descriptive_stats"])
        h.on(.launched(AttemptKey(id("b"), operation: 0), AttemptInfo(executor: .local)))
        #expect(h.on(.shutdown(reason: "SIGTERM", graceSeconds: 5)) == ["arm shutdownGrace"])  // the built-in holds it
        // The supervised ones are spared; a built-in has nothing to stop (the runtime finds no handle).
        #expect(h.on(.timer(.shutdownGrace)) == ["tearDown b#1 shutdown"])
        h.on(.operationEnded(AttemptKey(id("b"), operation: 1), .succeeded(exitCode: nil, result: nil), stdout: nil, stderr: nil, usage: nil, executor: nil))
        #expect(h.on(.checkpointed(id("b"))) == ["exit"])
        #expect(h.engine.render(id("b"))?.operations?.map(\.status) == [.running, .succeeded])
    }

    @Test("a stopping daemon with live restore exits once the last job it was starting has its supervisor")
    func exitAfterLaunch() {
        var h = EngineHarness(engine: Engine(workers: 2, liveRestore: true))
        h.accept(EngineHarness.command("a"))
        _ = h.dispatch()
        h.on(.claimed(id("a")))
        #expect(h.on(.shutdown(reason: "SIGTERM", graceSeconds: 5)) == ["arm shutdownGrace"])
        #expect(h.on(.launched(AttemptKey(id("a")), AttemptInfo(executor: .local, pid: 5))) == ["emit a started", "exit"])
    }
}

@Suite("engine: running state files")
struct EngineRunningStateTests {
    /// Starts a batch of `operations` with two in flight; one of them ends (news), at `h.now`.
    static func runningBatch(_ operations: Int) -> EngineHarness {
        var h = EngineHarness()
        h.accept(EngineHarness.batch("b", operations: operations, maxParallel: 2))
        _ = h.dispatch()
        h.on(.claimed(id("b")))
        _ = h.dispatch()
        h.now = Timestamp(seconds: h.now.seconds + 1)
        h.on(.operationEnded(AttemptKey(id("b"), operation: 0), .succeeded(exitCode: 0, result: nil), stdout: nil, stderr: nil, usage: nil, executor: .local))
        return h
    }

    @Test("a batch's record is rewritten at most every N/1,000 s for N ≥ 1,000 operations; progress goes out every time",
          arguments: [(10, 0.5, true), (999, 0.5, true), (10_000, 0.5, false), (10_000, 9.9, false), (10_000, 10.0, true), (2_000, 2.0, true)])
    func paced(operations: Int, later: Double, writtenAgain: Bool) {
        var h = Self.runningBatch(operations)
        let first = h.engine.runningStates(now: h.now)
        #expect(first.due.map(\.id) == [id("b")], "the first rewrite is never held back")
        #expect(first.progressed.count == 1)
        // More news, `later` seconds on.
        h.now = Timestamp(seconds: h.now.seconds + later)
        h.on(.checkpointed(id("b")))
        h.on(.operationEnded(AttemptKey(id("b"), operation: 1), .succeeded(exitCode: 0, result: nil), stdout: nil, stderr: nil, usage: nil, executor: .local))
        let second = h.engine.runningStates(now: h.now)
        #expect(second.due.map(\.id) == (writtenAgain ? [id("b")] : []))
        #expect(second.progressed.map(\.1.succeeded) == [2], "progress is told whether or not the file is rewritten")
        // A forced write (a control answer that must show) is never held back.
        #expect(h.engine.runningStates(now: h.now, force: id("b")).due.count == (writtenAgain ? 0 : 1))
    }
}
