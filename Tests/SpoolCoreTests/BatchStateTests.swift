import Testing
@testable import SpoolCore
@testable import SpoolJSON

@Suite("batch state")
struct BatchStateTests {
    func batch(_ n: Int, maxParallel: Int = 2, stopOnError: Bool = false, retries: Int = 0) -> BatchState {
        var spec = JobSpec(operations: (0..<n).map { _ in var o = OperationSpec(); o.shell = "x"; return o })
        spec.maxParallel = maxParallel
        spec.stopOnError = stopOnError
        spec.retries = retries
        spec.retryDelaySeconds = 1
        return BatchState(spec: spec, operations: nil)
    }
    let t0 = Timestamp(seconds: 100)

    @Test("at most max_parallel operations are in flight, in order")
    func parallelBound() {
        var b = batch(5, maxParallel: 2)
        #expect(b.takeReady(now: t0) == [0, 1])
        #expect(b.takeReady(now: t0) == [])
        b.started(0, now: t0)
        b.finished(0, .succeeded(exitCode: 0, result: nil), now: t0.adding(1), random: 0.5, stdout: nil, stderr: nil)
        #expect(b.takeReady(now: t0) == [2])
    }

    @Test("stop_on_error skips the rest and the batch ends failed; otherwise partial")
    func stopOnError() {
        var b = batch(4, maxParallel: 1, stopOnError: true)
        for i in 0..<2 {
            #expect(b.takeReady(now: t0) == [i])
            b.started(i, now: t0)
            let outcome: BatchState.Outcome = i == 0 ? .succeeded(exitCode: 0, result: nil) : .failed(SpoolError(.exitNonzero, "x"), exitCode: 1, signal: nil)
            b.finished(i, outcome, now: t0, random: 0.5, stdout: nil, stderr: nil)
        }
        #expect(b.takeReady(now: t0).isEmpty)
        #expect(b.isComplete)
        #expect(b.operations.map(\.status) == [.succeeded, .failed, .skipped, .skipped])
        #expect(b.finalStatus(jobID: JobID("j")!).0 == .failed)

        var p = batch(2, maxParallel: 2)
        _ = p.takeReady(now: t0)
        p.started(0, now: t0); p.started(1, now: t0)
        p.finished(0, .succeeded(exitCode: 0, result: nil), now: t0, random: 0, stdout: nil, stderr: nil)
        p.finished(1, .failed(SpoolError(.exitNonzero, "x"), exitCode: 2, signal: nil), now: t0, random: 0, stdout: nil, stderr: nil)
        let (status, error) = p.finalStatus(jobID: JobID("j")!)
        #expect(status == .partial && error?.code == .operationFailed)
    }

    @Test("a failed built-in keeps the result it got (an http response); a later failure without one clears it")
    func failedKeepsResult() {
        var b = batch(1, maxParallel: 1, retries: 1)
        _ = b.takeReady(now: t0)
        b.started(0, now: t0)
        let got: JSONValue = ["status": 404, "body": "no"]
        b.finished(0, .failed(SpoolError(.operationFailed, "404"), exitCode: nil, signal: nil, result: JSONValueBox(got)),
                   now: t0, random: 0.5, stdout: nil, stderr: nil)
        #expect(b.operations[0].result == got)
        _ = b.takeReady(now: t0.adding(1))
        b.started(0, now: t0.adding(1))
        b.finished(0, .failed(SpoolError(.operationFailed, "refused"), exitCode: nil, signal: nil), now: t0.adding(2), random: 0.5,
                   stdout: nil, stderr: nil)
        #expect(b.operations[0].status == .failed)
        #expect(b.operations[0].result == nil)
    }

    @Test("a failed operation with retries waits for its backoff, then runs again")
    func retries() {
        var b = batch(1, maxParallel: 1, retries: 1)
        _ = b.takeReady(now: t0)
        b.started(0, now: t0)
        b.finished(0, .failed(SpoolError(.exitNonzero, "x"), exitCode: 1, signal: nil), now: t0, random: 0.5, stdout: nil, stderr: nil)
        #expect(b.operations[0].status == .pending)
        #expect(b.nextRetryAt == t0.adding(1))
        #expect(b.takeReady(now: t0).isEmpty)
        #expect(b.takeReady(now: t0.adding(1)) == [0])
    }

    @Test("progress counts and the ETA from mean duration and parallelism")
    func progress() {
        var b = batch(6, maxParallel: 2)
        _ = b.takeReady(now: t0)
        b.started(0, now: t0); b.started(1, now: t0)
        b.finished(0, .succeeded(exitCode: 0, result: nil), now: t0.adding(2), random: 0, stdout: nil, stderr: nil)
        b.finished(1, .succeeded(exitCode: 0, result: nil), now: t0.adding(4), random: 0, stdout: nil, stderr: nil)
        let p = b.progress()
        #expect(p.total == 6 && p.succeeded == 2 && p.running == 0)
        #expect(abs(p.percent - 33.3) < 0.01)
        #expect(p.etaSeconds.map { abs($0 - 6) < 1e-9 } == true)  // mean 3 s, 4 left, 2 at a time
    }

    @Test("cancel ends the batch cancelled with pending operations skipped")
    func cancel() {
        var b = batch(3, maxParallel: 1)
        _ = b.takeReady(now: t0)
        b.started(0, now: t0)
        b.cancel()
        b.finished(0, .failed(SpoolError(.cancelled, "c"), exitCode: nil, signal: 15), now: t0, random: 0, stdout: nil, stderr: nil)
        #expect(b.isComplete)
        #expect(b.operations.map(\.status) == [.failed, .skipped, .skipped])
        #expect(b.finalStatus(jobID: JobID("j")!).0 == .cancelled)
    }
}

@Suite("dependency graph")
struct DependencyGraphTests {
    func q(_ id: String) -> QueuedJob { QueuedJob(id: JobID(id)!, priority: 0, sequence: 1, runAfter: nil) }
    func ids(_ s: String...) -> Set<JobID> { Set(s.map { JobID($0)! }) }

    @Test("a job is released when its last dependency succeeds")
    func release() {
        var g = DependencyGraph()
        #expect(g.add(q("c"), waitingFor: ids("a", "b")) == nil)
        #expect(g.ended(JobID("a")!, succeeded: true).ready.isEmpty)
        let r = g.ended(JobID("b")!, succeeded: true)
        #expect(r.ready.map(\.id.rawValue) == ["c"])
        #expect(g.isEmpty)
    }

    @Test("a failed dependency fails its waiters")
    func failure() {
        var g = DependencyGraph()
        _ = g.add(q("c"), waitingFor: ids("a", "b"))
        let r = g.ended(JobID("a")!, succeeded: false)
        #expect(r.failed.map(\.rawValue) == ["c"])
        #expect(g.isEmpty)
        #expect(g.ended(JobID("b")!, succeeded: true).ready.isEmpty)
    }

    @Test("a job that would close a cycle is refused with the cycle")
    func cycle() {
        var g = DependencyGraph()
        _ = g.add(q("a"), waitingFor: ids("b"))
        _ = g.add(q("b"), waitingFor: ids("c"))
        let cycle = g.add(q("c"), waitingFor: ids("a"))
        #expect(cycle?.map(\.rawValue) == ["c", "a", "b", "c"])
        #expect(!g.isWaiting(JobID("c")!))
    }

    @Test("progress files: N/M and JSON")
    func reportedProgress() {
        let p = ReportedProgress(Array("3/10\n".utf8))
        #expect(p?.progress(startedAt: nil, now: Timestamp(seconds: 0)).percent == 30)
        let j = ReportedProgress(Array(#"{"done": 1, "total": 4, "message": "copying"}"#.utf8))
        #expect(j?.message == "copying" && j?.progress(startedAt: nil, now: Timestamp(seconds: 0)).percent == 25)
        #expect(ReportedProgress(Array("nonsense".utf8)) == nil)
        #expect(ReportedProgress(Array("1/0".utf8)) == nil)
    }
}
