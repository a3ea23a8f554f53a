// Remote queues (SPEC §9, Slurm) in the pure parts: the scheduler keeps them apart from the
// local workers (no slot, no GPU, only their own max_running, picked by their own dispatcher),
// and the engine frees no worker for them, refuses to pause them, and leaves their running
// command jobs to the cluster when the daemon stops. Tables of event → actions, as EngineTests.
import Foundation
import Testing
@testable import SpoolCore

@Suite("remote queues")
struct RemoteQueueTests {
    let t0 = Timestamp(seconds: 1000)

    func queued(_ id: String, queue: String, sequence: Int64, cpus: Int = 1) -> QueuedJob {
        var j = QueuedJob(id: JobID(id)!, priority: 0, sequence: sequence, runAfter: nil, queue: queue)
        j.cpus = cpus
        return j
    }

    @Test("a remote queue's jobs are picked only by the remote dispatcher, take no worker slot, and are bounded by their queue alone")
    func scheduler() {
        var s = SchedulerState()
        s.capacity = 1
        s.remoteQueues = ["hpc"]
        s.queueLimits = ["hpc": 2]
        s.jobQueued(queued("local1", queue: "default", sequence: 1), now: t0)
        s.jobQueued(queued("local2", queue: "default", sequence: 2), now: t0)
        for i in 3...5 { s.jobQueued(queued("r\(i)", queue: "hpc", sequence: Int64(i), cpus: 500), now: t0) }
        #expect(s.pick(now: t0) == .start(.job(JobID("local1")!)))
        #expect(s.pick(now: t0) == .wait(until: nil))  // the one worker is busy
        // The remote dispatcher still gets work: 500 cpus fit (Slurm decides), two at a time.
        #expect(s.pick(now: t0, remote: true) == .start(.job(JobID("r3")!)))
        #expect(s.pick(now: t0, remote: true) == .start(.job(JobID("r4")!)))
        #expect(s.pick(now: t0, remote: true) == .wait(until: nil))
        #expect(s.slotsInUse == 1)
        s.jobEnded(JobID("r3")!)
        #expect(s.pick(now: t0, remote: true) == .start(.job(JobID("r5")!)))
        s.jobEnded(JobID("local1")!)
        #expect(s.pick(now: t0) == .start(.job(JobID("local2")!)))
    }

    /// What a dispatcher's look gives, spelled: "claim a", "wait", "start", "stop".
    func look(_ h: inout EngineHarness, remote: Bool) -> String {
        switch h.engine.next(now: h.now, pausedQueues: [], remote: remote) {
        case .claim(let id): return "claim \(id)"
        case .wait: return "wait"
        case .start: return "start"
        case .stop: return "stop"
        }
    }

    func harness() -> EngineHarness {
        var h = EngineHarness()
        h.engine = Engine(workers: 1, remoteQueues: ["hpc"])
        return h
    }

    /// Runs a job of queue hpc through the remote dispatcher to launched.
    func runRemote(_ h: inout EngineHarness, _ name: String) {
        h.accept(EngineHarness.command(name, queue: "hpc"))
        #expect(look(&h, remote: false) == "wait")  // not the local dispatcher's
        #expect(look(&h, remote: true) == "claim \(name)")
        #expect(h.on(.claimed(id(name))) == ["launch \(name)"])
        h.on(.launched(AttemptKey(id(name)), AttemptInfo(executor: ExecutorInfo(type: "slurm", jobID: "77"))))
        #expect(h.engine.render(id(name))?.executor == ExecutorInfo(type: "slurm", jobID: "77"))
    }

    @Test("pause of a running Slurm job is refused with a sentence; nothing changes")
    func pauseRefused() {
        var h = harness()
        runRemote(&h, "a")
        let (answer, actions) = h.engine.control(ControlRequest(action: .pause, id: id("a")), file: c1, by: .root, now: h.now)
        #expect(answer == .impossible("pause job a refused: it runs on Slurm (queue hpc), where spoold cannot pause a job; cancel it instead"))
        #expect(actions.isEmpty)
        #expect(h.engine.render(id("a"))?.status == .running)
    }

    @Test("a remote job cancelled while it is claimed ends without freeing a worker it never took")
    func noWorkerFreed() {
        var h = harness()
        h.accept(EngineHarness.command("a", queue: "hpc"))
        #expect(look(&h, remote: true) == "claim a")
        _ = h.engine.control(ControlRequest(action: .cancel, id: id("a")), file: c1, by: .root, now: h.now)
        let actions = h.on(.claimed(id("a")))
        #expect(!actions.contains("freeWorker") && actions.contains("write a cancelled running->done"), "\(actions)")
    }

    @Test("SIGTERM leaves a running Slurm job to the cluster: no tear-down, the daemon exits at once")
    func shutdownLeavesIt() {
        var h = harness()
        runRemote(&h, "a")
        let actions = h.on(.shutdown(reason: "SIGTERM", graceSeconds: 10))
        #expect(actions == ["exit"], "\(actions)")
    }

    @Test("a local job still gets its grace and tear-down beside a remote one")
    func shutdownLocalBeside() {
        var h = harness()
        runRemote(&h, "r")
        h.accept(EngineHarness.command("l"))
        #expect(look(&h, remote: false) == "claim l")
        h.on(.claimed(id("l")))
        h.on(.launched(AttemptKey(id("l")), AttemptInfo(executor: .local, pid: 9)))
        #expect(h.on(.shutdown(reason: "SIGTERM", graceSeconds: 10)) == ["arm shutdownGrace"])
        #expect(h.on(.timer(.shutdownGrace)) == ["tearDown l shutdown"])
    }

    @Test("an attempt interrupted by its node (not the daemon) says so: requeued with that reason, or failed interrupted naming it")
    func nodeInterruption() {
        for (onInterrupt, expected) in [("requeue", "requeued after its Slurm job 77 ended NODE_FAIL during attempt 1"),
                                        ("fail", "job a: its Slurm job 77 ended NODE_FAIL during attempt 1 and on_interrupt is \"fail\"")] {
            var h = harness()
            h.accept(EngineHarness.command("a", onInterrupt: onInterrupt, queue: "hpc"))
            #expect(look(&h, remote: true) == "claim a")
            h.on(.claimed(id("a")))
            h.on(.launched(AttemptKey(id("a")), AttemptInfo(executor: ExecutorInfo(type: "slurm", jobID: "77"))))
            let end = AttemptEnd(termination: .signaled(SIGKILL), teardown: .shutdown, usage: nil, interruption: "its Slurm job 77 ended NODE_FAIL")
            h.on(.attemptEnded(id("a"), end, diskFull: false))
            let r = h.engine.render(id("a"))
            #expect((onInterrupt == "requeue" ? r?.waitReason : r?.error?.message) == expected, "\(String(describing: r))")
        }
    }
}
