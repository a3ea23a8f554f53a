import Testing
@testable import SpoolCore

@Suite("scheduler state")
struct SchedulerStateTests {
    let t0 = Timestamp(seconds: 1000)

    func job(_ id: String, priority: Int = 0, sequence: Int64, runAfter: Double? = nil) -> QueuedJob {
        QueuedJob(id: JobID(id)!, priority: priority, sequence: sequence, runAfter: runAfter.map { Timestamp(seconds: $0) })
    }

    func drainOrder(_ s: inout SchedulerState, now: Timestamp) -> [String] {
        var out: [String] = []
        while case .start(let item) = s.pick(now: now) { out.append(item.jobID.rawValue) }
        return out
    }

    @Test("higher priority first, FIFO by sequence within a priority")
    func order() {
        var s = SchedulerState()
        for j in [job("a", sequence: 1), job("b", priority: 5, sequence: 2), job("c", sequence: 3),
                  job("d", priority: 10, sequence: 4), job("e", priority: 5, sequence: 5), job("f", priority: -1, sequence: 6)] {
            s.jobQueued(j, now: t0)
        }
        #expect(drainOrder(&s, now: t0) == ["d", "b", "e", "a", "c", "f"])
        #expect(s.runningCount == 6)
        let idle = s.pick(now: t0)
        #expect(idle == .wait(until: nil))
    }

    @Test("a job waits for its run_after, and the wait names that time")
    func delayed() {
        var s = SchedulerState()
        s.jobQueued(job("late", priority: 9, sequence: 1, runAfter: 1010), now: t0)
        s.jobQueued(job("now", sequence: 2), now: t0)
        #expect(drainOrder(&s, now: t0) == ["now"])
        let waiting = s.pick(now: t0)
        #expect(waiting == .wait(until: Timestamp(seconds: 1010)))
        #expect(drainOrder(&s, now: Timestamp(seconds: 1010)) == ["late"])
    }

    @Test("a removed job is skipped; stopping stops picks; ended jobs leave running")
    func removeAndStop() {
        var s = SchedulerState()
        s.jobQueued(job("a", sequence: 1), now: t0)
        s.jobQueued(job("b", sequence: 2), now: t0)
        let removed = s.removeQueued(JobID("a")!)
        #expect(removed)
        let next = s.pick(now: t0)
        #expect(next == .start(.job(JobID("b")!)))
        s.jobEnded(JobID("b")!)
        #expect(s.isIdle)
        s.jobQueued(job("c", sequence: 3), now: t0)
        s.stopRequested()
        let stopped = s.pick(now: t0)
        #expect(stopped == .stop)
    }

    @Test("queuing a job twice keeps one entry")
    func idempotentQueue() {
        var s = SchedulerState()
        s.jobQueued(job("a", sequence: 1), now: t0)
        s.jobQueued(job("a", sequence: 1), now: t0)
        #expect(drainOrder(&s, now: t0) == ["a"])
    }
}
