// Progress and ETA as tables: the width a batch really gets, percent of work done after a cancel
// or stop, a cancelled command job's own percent; retry ids; ttl expiry.
import Testing
@testable import SpoolCore

@Suite("progress, retry ids and expiry")
struct ProgressTableTests {
    let t0 = Timestamp(seconds: 1000)

    /// A batch of `n` operations where the first `done` finished after `each` seconds.
    func batch(_ n: Int, maxParallel: Int, capacity: Int, done: Int, each: Double) -> BatchState {
        var spec = JobSpec(operations: (0..<n).map { _ in var o = OperationSpec(); o.shell = "x"; return o })
        spec.maxParallel = maxParallel
        var b = BatchState(spec: spec, operations: nil)
        b.capacity = capacity
        var finished = 0
        while finished < done {
            for i in b.takeReady(now: t0) where finished < done {
                b.started(i, now: t0)
                b.finished(i, .succeeded(exitCode: 0, result: nil), now: t0.adding(each), random: 0, stdout: nil, stderr: nil)
                finished += 1
            }
        }
        return b
    }

    struct EtaCase: Sendable, CustomStringConvertible {
        var operations: Int, maxParallel: Int, capacity: Int, done: Int, each: Double, expected: Double
        var description: String { "\(operations) ops, max_parallel \(maxParallel), capacity \(capacity), \(done) done" }
    }

    @Test("eta uses the smallest of max_parallel, the capacity and the operations left", arguments: [
        // The case users saw: 2 workers, max_parallel 20.
        EtaCase(operations: 100, maxParallel: 20, capacity: 2, done: 10, each: 0.5, expected: 0.5 * 90 / 2),
        // max_parallel is the bound.
        EtaCase(operations: 100, maxParallel: 20, capacity: 50, done: 10, each: 0.5, expected: 0.5 * 90 / 20),
        // Two left: at most two run at once.
        EtaCase(operations: 100, maxParallel: 4, capacity: 3, done: 98, each: 1.0, expected: 1.0 * 2 / 2),
        EtaCase(operations: 10, maxParallel: 1, capacity: 8, done: 5, each: 2.0, expected: 2.0 * 5 / 1),
        EtaCase(operations: 10, maxParallel: 5, capacity: 5, done: 10, each: 1.0, expected: 0),
    ])
    func etaWidth(_ c: EtaCase) {
        let p = batch(c.operations, maxParallel: c.maxParallel, capacity: c.capacity, done: c.done, each: c.each).progress()
        #expect(abs((p.etaSeconds ?? -1) - c.expected) < 1e-9, "\(c)")
    }

    @Test("percent counts finished work: skipped operations after a cancel are not work done")
    func cancelledPercent() {
        var b = batch(100, maxParallel: 1, capacity: 1, done: 14, each: 0.1)
        b.cancel()
        #expect(b.isComplete)
        let p = b.progress()
        #expect(p.succeeded == 14 && p.skipped == 86 && p.percent == 14)
        #expect(b.finalStatus(jobID: JobID("j")!).0 == .cancelled)
    }

    @Test("a command job cancelled while running keeps the percent it reported, and counts nothing as finished")
    func cancelledCommand() {
        var running = JobRecord(id: JobID("c")!, name: "c", status: .running, spec: JobSpec(action: .shell("sleep 9")),
                                source: "c.json", submittedAt: t0, sequence: 1)
        running.attempts = 1
        running.startedAt = t0
        running.progress = Progress(total: 1, running: 1, percent: 42, message: "copying")
        guard case .done(let r) = AttemptResult.resolve(running, termination: .signaled(15), teardown: .cancel, now: t0.adding(3), random: 0)
        else { Issue.record("a cancel must end the job"); return }
        #expect(r.status == .cancelled)
        #expect(r.progress == Progress(total: 1, percent: 42, message: "copying"))
    }

    @Test("retry ids are <root>.r<N>: the smallest free N, never growing with retries of retries", arguments: [
        ("report", [], "report.r1"),
        ("report", ["report.r1"], "report.r2"),
        ("report.r1", ["report.r1"], "report.r2"),
        ("report.r12", ["report.r1", "report.r2"], "report.r3"),
        ("v1.2.r", [], "v1.2.r.r1"),              // ".r" without digits is part of the name
        ("a.rb", [], "a.rb.r1"),
    ])
    func retryIDs(_ c: (String, [String], String)) {
        let taken = Set(c.1)
        #expect(JobID.retry(of: JobID(c.0)!) { taken.contains($0.rawValue) }.rawValue == c.2)
    }

    @Test("a retry id of a 128-character id is still a valid id")
    func longRetryID() {
        let long = JobID(String(repeating: "x", count: 128))!
        let id = JobID.retry(of: long) { _ in false }
        #expect(JobID.isValid(id.rawValue) && id.rawValue.hasSuffix(".r1"))
    }

    @Test("records with ttl_seconds are due that long after they finished, earliest first; others never")
    func expiry() {
        func record(_ id: String, ttl: Double?, finished: Double?) -> JobRecord {
            var spec = JobSpec(action: .command(["true"]))
            spec.ttlSeconds = ttl
            var r = JobRecord(id: JobID(id)!, name: id, status: .succeeded, spec: spec, source: "", submittedAt: t0, sequence: 1)
            r.finishedAt = finished.map { t0.adding($0) }
            return r
        }
        var s = ExpirySchedule()
        s.add(record("late", ttl: 60, finished: 0))
        s.add(record("soon", ttl: 5, finished: 0))
        s.add(record("none", ttl: nil, finished: 0))
        s.add(record("unfinished", ttl: 1, finished: nil))
        #expect(s.count == 2)
        #expect(s.takeDue(now: t0.adding(4.9)).isEmpty)
        #expect(s.takeDue(now: t0.adding(61)).map(\.rawValue) == ["soon", "late"])
        #expect(s.count == 0 && s.next == nil)
    }
}

@Suite("an attempt's end, mapped once for jobs and operations")
struct AttemptFailureTableTests {
    struct Case: Sendable, CustomStringConvertible {
        var termination: Termination, teardown: TeardownReason?, code: SpoolError.Code?, text: String
        var description: String { "\(termination) \(String(describing: teardown))" }
    }

    @Test("termination and teardown give the error code and a message naming the attempt", arguments: [
        Case(termination: .exited(0), teardown: nil, code: nil, text: ""),
        Case(termination: .exited(4), teardown: nil, code: .exitNonzero, text: "op: command exited with status 4"),
        Case(termination: .signaled(9), teardown: nil, code: .killedBySignal, text: "op: command was killed by signal 9 (SIGKILL)"),
        Case(termination: .signaled(15), teardown: .timeout(seconds: 2), code: .timeout, text: "op: timed out after 2 s (timeout_seconds)"),
        Case(termination: .exited(0), teardown: .timeout(seconds: 0.5), code: .timeout, text: "op: timed out after 0.5 s"),
        Case(termination: .signaled(15), teardown: .cancel, code: .cancelled, text: "op: cancelled while running"),
        Case(termination: .notStarted(SpoolError(.spawnFailed, "op: no such program")), teardown: nil, code: .spawnFailed, text: "op: no such program"),
    ])
    func mapping(_ c: Case) {
        let e = AttemptResult.failure(of: c.termination, teardown: c.teardown, label: "op")
        #expect(e?.code == c.code, "\(c)")
        #expect(e.map { $0.message.hasPrefix(c.text) } ?? c.text.isEmpty, "\(String(describing: e))")
    }
}
