// Live restore of a batch in the engine (Engine+AdoptBatch.swift), as tables of event → actions:
// what was found under supervisors is held or settled, what was running and not found follows
// on_interrupt, and the batch goes on with the rest.
import Testing
@testable import SpoolCore

@Suite("engine: live restore of batches")
struct EngineAdoptBatchTests {
    /// Batch `b` of four commands (max_parallel 3) as a daemon left it: operations 0-2 running at
    /// attempt 1, operation 3 pending.
    func leftRunning(onInterrupt: String, status: JobStatus = .running) -> JobRecord {
        var r = EngineHarness.record(#"{"id": "b", "max_parallel": 3, "on_interrupt": "\#(onInterrupt)", "operations": [{"command": ["true"]}, {"command": ["true"]}, {"command": ["true"]}, {"command": ["true"]}]}"#)
        r.status = status
        r.attempts = status == .pending ? 0 : 1
        r.startedAt = Timestamp(seconds: 900)
        r.operations = (0..<4).map { i in
            var op = OperationRecord(index: i, name: nil)
            if i < 3 {
                op.status = .running
                op.attempts = 1
                op.startedAt = Timestamp(seconds: 900)
            }
            return op
        }
        return r
    }

    func found(_ position: Int, _ state: AdoptedOperation.State) -> AdoptedOperation {
        AdoptedOperation(position: position, attempt: 1, startedAt: Timestamp(seconds: 900), state: state)
    }

    @Test("running operations are held with their slots, one that ended meanwhile gets its real result and end time, one not found follows on_interrupt, the rest is queued",
          arguments: [("fail", OperationStatus.failed), ("requeue", .pending)])
    func adopted(onInterrupt: String, lost: OperationStatus) {
        var h = EngineHarness(engine: Engine(workers: 2, liveRestore: true))
        let ended = AdoptedOperation.State.ended(.failed(SpoolError(.exitNonzero, "x"), exitCode: 3, signal: nil), stdout: "done/b.op1.stdout",
                                                 stderr: nil, usage: nil, executor: .local, endedAt: Timestamp(seconds: 950))
        let actions = h.on(.adoptedBatch(leftRunning(onInterrupt: onInterrupt), [found(0, .running), found(1, ended)]))
        #expect(actions == ["openJournal b", "emit b adopted", "journal b#1 failed sync", "journal b#2 \(lost.rawValue) sync"])
        let ops = h.engine.render(id("b"))!.operations!
        #expect(ops.map(\.status) == [.running, .failed, lost, .pending])
        #expect(ops[1].exitCode == 3 && ops[1].finishedAt == Timestamp(seconds: 950) && ops[1].durationSeconds == 50)
        #expect(h.engine.render(id("b"))?.attempts == 1 && h.engine.render(id("b"))?.status == .running)
        // Operation 0 holds one of the two workers: one more starts (3 after a requeue of 2).
        // (An on_interrupt: fail operation is in the journal before it starts.)
        #expect(h.dispatch() == (lost == .pending ? ["launch b#2"] : ["journal b#3 running sync", "launch b#3"]))
    }

    @Test("a batch claimed but never rewritten (pending in running/) counts the attempt it was at; paused stays paused and starts nothing")
    func pendingAndPaused() {
        var h = EngineHarness(engine: Engine(workers: 4, liveRestore: true))
        h.on(.adoptedBatch(leftRunning(onInterrupt: "requeue", status: .pending), [found(0, .running), found(1, .running), found(2, .running)]))
        #expect(h.engine.render(id("b"))?.attempts == 1)
        var p = EngineHarness(engine: Engine(workers: 4, liveRestore: true))
        p.on(.adoptedBatch(leftRunning(onInterrupt: "requeue", status: .paused), [found(0, .running), found(1, .interrupted)]))
        #expect(p.engine.render(id("b"))?.status == .paused)
        #expect(p.engine.render(id("b"))?.operations?.map(\.status) == [.running, .pending, .pending, .pending])
        #expect(p.dispatch() == [])
    }

    @Test("the adopted operations' ends finish the batch; a stop waits only until what it was starting has its supervisor")
    func endsAndStop() {
        var h = EngineHarness(engine: Engine(workers: 4, liveRestore: true))
        h.on(.adoptedBatch(leftRunning(onInterrupt: "requeue"), [found(0, .running), found(1, .running)]))
        // Operation 2 (interrupted, on_interrupt requeue) starts again beside the two adopted ones.
        #expect(h.dispatch() == ["launch b#2"])
        #expect(h.on(.shutdown(reason: "SIGTERM", graceSeconds: 5)) == ["arm shutdownGrace"])  // b#2 has no supervisor yet
        #expect(h.on(.launched(AttemptKey(id("b"), operation: 2), AttemptInfo(executor: .local))) == ["exit"])
        var e = EngineHarness(engine: Engine(workers: 4, liveRestore: true))
        e.on(.adoptedBatch(leftRunning(onInterrupt: "requeue"), [found(0, .running), found(1, .running), found(2, .running)]))
        #expect(e.dispatch() == [])  // max_parallel 3: all taken by the adopted ones
        e.on(.operationEnded(AttemptKey(id("b"), operation: 0), .succeeded(exitCode: 0, result: nil), stdout: nil, stderr: nil, usage: nil, executor: .local))
        e.on(.checkpointed(id("b")))
        #expect(e.dispatch() == ["launch b#3"])
        for i in 1..<4 {
            e.on(.operationEnded(AttemptKey(id("b"), operation: i), .succeeded(exitCode: 0, result: nil), stdout: nil, stderr: nil, usage: nil, executor: .local))
            e.on(.checkpointed(id("b")))
        }
        #expect(e.last == ["write b succeeded running->done"])
    }
}
