import Testing
@testable import SpoolCore

@Suite("attempt results")
struct AttemptResultTests {
    func running(retries: Int = 0, policy: InterruptPolicy? = nil) -> JobRecord {
        var spec = JobSpec(action: .shell("x"))
        spec.retries = retries
        spec.retryDelaySeconds = 2
        spec.onInterrupt = policy
        var r = JobRecord(id: JobID("j")!, name: "j", status: .running, spec: spec, source: "j.json",
                          submittedAt: Timestamp(seconds: 0), sequence: 1)
        r.attempts = 1
        r.startedAt = Timestamp(seconds: 10)
        return r
    }

    let now = Timestamp(seconds: 12)

    @Test("exit 0 succeeds with duration and full progress")
    func success() {
        guard case .done(let r) = AttemptResult.resolve(running(), termination: .exited(0), teardown: nil, now: now, random: 0.5) else {
            Issue.record("not done")
            return
        }
        #expect(r.status == .succeeded && r.error == nil && r.exitCode == 0 && r.durationSeconds == 2)
        #expect(r.progress.percent == 100 && r.progress.succeeded == 1)
    }

    @Test("a failure with retries left goes back to pending with a backoff")
    func retry() {
        guard case .requeue(let r) = AttemptResult.resolve(running(retries: 1), termination: .exited(2), teardown: nil, now: now, random: 0.5)
        else {
            Issue.record("not requeued")
            return
        }
        #expect(r.status == .pending && r.failedAttempts == 1)
        #expect(r.runAfter == Timestamp(seconds: 14))  // base 2 s, first retry, jitter factor 1.0
        #expect(r.error?.code == .exitNonzero)
    }

    @Test("timeout, signal, shutdown and cancel map to their codes", arguments: [
        (Termination.signaled(9), TeardownReason?.some(.timeout(seconds: 1)), InterruptPolicy?.none, JobStatus.failed, SpoolError.Code.timeout),
        (.signaled(11), nil, nil, .failed, .killedBySignal),
        (.signaled(15), .shutdown, .fail, .failed, .interrupted),
        (.signaled(15), .cancel, nil, .cancelled, .cancelled),
    ])
    func mapping(termination: Termination, teardown: TeardownReason?, policy: InterruptPolicy?, status: JobStatus, code: SpoolError.Code) {
        guard case .done(let r) = AttemptResult.resolve(running(policy: policy), termination: termination, teardown: teardown, now: now, random: 0)
        else {
            Issue.record("not done")
            return
        }
        #expect(r.status == status && r.error?.code == code)
    }

    @Test("shutdown with on_interrupt requeue does not use up a retry")
    func requeueOnShutdown() {
        guard case .requeue(let r) = AttemptResult.resolve(running(), termination: .signaled(15), teardown: .shutdown, now: now, random: 0)
        else {
            Issue.record("not requeued")
            return
        }
        #expect(r.failedAttempts == 0 && r.runAfter == nil)
    }

    @Test("backoff doubles, is capped, and jitters within ±25 %")
    func backoff() {
        #expect(Backoff.delay(base: 1, failedAttempts: 1, unit: 0.5) == 1)
        #expect(Backoff.delay(base: 1, failedAttempts: 4, unit: 0.5) == 8)
        #expect(Backoff.delay(base: 1, failedAttempts: 40, unit: 0.5) == Backoff.cap)
        #expect(Backoff.delay(base: 4, failedAttempts: 1, unit: 0) == 3)
        #expect(Backoff.delay(base: 4, failedAttempts: 1, unit: 0.999) < 5)
    }

    @Test("RFC 3339 times parse with offsets and print in UTC", arguments: [
        ("2026-11-23T10:00:00Z", 1795428000.0), ("2026-11-23T12:00:00+02:00", 1795428000.0),
        ("2026-11-23T10:00:00.25z", 1795428000.25), ("1970-01-01T00:00:00Z", 0.0),
    ])
    func timestamps(text: String, seconds: Double) {
        #expect(Timestamp(rfc3339: text)?.seconds == seconds)
        #expect(Timestamp(rfc3339: "2026-13-01T00:00:00Z") == nil)
        #expect(Timestamp(rfc3339: "2026-11-23") == nil)
        #expect(Timestamp(seconds: 1795428000.25).rfc3339 == "2026-11-23T10:00:00.250000Z")
    }
}
