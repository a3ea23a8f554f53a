// `resources` in the scheduler, as tables: worker slots taken per run, the first in line waits
// for room (nothing overtakes it), GPUs handed out and back.
import Testing
@testable import SpoolCore

@Suite("scheduling with resources")
struct ResourceSchedulingTests {
    let now = Timestamp(seconds: 100)

    func job(_ id: String, seq: Int64, cpus: Int = 1, gpus: Int = 0) -> QueuedJob {
        var q = QueuedJob(id: JobID(id)!, priority: 0, sequence: seq, runAfter: nil)
        q.cpus = cpus
        q.gpus = gpus
        return q
    }

    func state(capacity: Int, gpus: [String] = [], _ jobs: [QueuedJob]) -> SchedulerState {
        var s = SchedulerState()
        s.capacity = capacity
        s.setGPUs(gpus)
        for j in jobs { s.jobQueued(j, now: now) }
        return s
    }

    @Test("a 2-slot job fills 2 workers; the next waits until it ends")
    func slots() {
        var s = state(capacity: 2, [job("big", seq: 1, cpus: 2), job("small", seq: 2)])
        #expect(s.pick(now: now) == .start(.job(JobID("big")!)))
        #expect(s.slotsInUse == 2)
        #expect(s.pick(now: now) == .wait(until: nil))
        s.itemEnded(.job(JobID("big")!))
        #expect(s.slotsInUse == 0)
        #expect(s.pick(now: now) == .start(.job(JobID("small")!)))
    }

    @Test("the first in line waits for room and nothing overtakes it")
    func headOfLine() {
        var s = state(capacity: 2, [job("a", seq: 1), job("b", seq: 2, cpus: 2), job("c", seq: 3)])
        #expect(s.pick(now: now) == .start(.job(JobID("a")!)))
        #expect(s.pick(now: now) == .wait(until: nil), "b does not fit yet and c must not pass it")
        s.itemEnded(.job(JobID("a")!))
        #expect(s.pick(now: now) == .start(.job(JobID("b")!)))
        #expect(s.pick(now: now) == .wait(until: nil))
        s.itemEnded(.job(JobID("b")!))
        #expect(s.pick(now: now) == .start(.job(JobID("c")!)))
    }

    @Test("more slots than the workers (after a shrink) run alone instead of waiting forever")
    func largerThanCapacity() {
        var s = state(capacity: 2, [job("huge", seq: 1, cpus: 8), job("after", seq: 2)])
        #expect(s.pick(now: now) == .start(.job(JobID("huge")!)))
        #expect(s.slotsInUse == 2)
        #expect(s.pick(now: now) == .wait(until: nil))
    }

    @Test("GPUs are handed out one set per run and come back when it ends")
    func gpus() {
        var s = state(capacity: 8, gpus: ["0", "1"], [job("g1", seq: 1, gpus: 1), job("g2", seq: 2, gpus: 1), job("g3", seq: 3, gpus: 1), job("plain", seq: 4)])
        #expect(s.pick(now: now) == .start(.job(JobID("g1")!)))
        #expect(s.pick(now: now) == .start(.job(JobID("g2")!)))
        #expect(s.gpus(of: .job(JobID("g1")!)) == ["0"] && s.gpus(of: .job(JobID("g2")!)) == ["1"])
        #expect(s.pick(now: now) == .wait(until: nil), "g3 waits for a GPU")
        s.itemEnded(.job(JobID("g1")!))
        #expect(s.pick(now: now) == .start(.job(JobID("g3")!)))
        #expect(s.gpus(of: .job(JobID("g3")!)) == ["0"])
        #expect(s.pick(now: now) == .start(.job(JobID("plain")!)))
        #expect(s.gpus(of: .job(JobID("plain")!)).isEmpty)
    }

    @Test("a batch job holds no slot itself; its operations each take the job's resources")
    func batches() {
        var batch = job("b", seq: 1, cpus: 2)
        batch.isBatch = true
        var op = QueuedJob(item: .operation(JobID("b")!, 0), priority: 0, sequence: 2, runAfter: nil)
        op.cpus = 2
        var s = state(capacity: 2, [batch])
        #expect(s.pick(now: now) == .start(.job(JobID("b")!)))
        #expect(s.slotsInUse == 0)
        s.jobQueued(op, now: now)
        #expect(s.pick(now: now) == .start(.operation(JobID("b")!, 0)))
        #expect(s.slotsInUse == 2)
    }

    @Test("a batch's room: the slots other work leaves it, within its queue's limit, in operations of its size")
    func room() {
        var batch = job("b", seq: 1)
        batch.isBatch = true
        var s = state(capacity: 4, [batch, job("other", seq: 2)])
        _ = s.pick(now: now)  // b
        _ = s.pick(now: now)  // other: one slot taken by someone else
        for i in 0..<2 { s.jobQueued(QueuedJob(item: .operation(JobID("b")!, i), priority: 0, sequence: Int64(10 + i), runAfter: nil), now: now) }
        _ = s.pick(now: now)
        _ = s.pick(now: now)
        #expect(s.room(for: JobID("b")!, queue: "default", cpus: 1) == 3, "4 slots, 1 held by another job")
        #expect(s.room(for: JobID("b")!, queue: "default", cpus: 2) == 1)
        s.queueLimits["default"] = 3
        #expect(s.room(for: JobID("b")!, queue: "default", cpus: 1) == 2, "the queue's limit less the other job")
        s.capacity = 1
        #expect(s.room(for: JobID("b")!, queue: "default", cpus: 1) == 1, "never less than one")
    }
}
