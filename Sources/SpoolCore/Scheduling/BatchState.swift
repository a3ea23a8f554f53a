// A running batch, as a pure value: which operations may be handed to the scheduler now (at
// most `max_parallel` queued or running, failed ones after their backoff), what an operation's
// end means (retry or final), progress with an ETA, and the job's final status. No I/O, no clock.

public struct BatchState: Sendable {
    public private(set) var operations: [OperationRecord]
    let specs: [OperationSpec]
    let maxParallel: Int
    let stopOnError: Bool
    let defaultRetries: Int
    let retryDelay: Double
    /// Operations handed to the scheduler or running.
    public private(set) var inFlight: Set<Int> = []
    /// Set by stop_on_error or a cancel: nothing new starts, the rest ends skipped.
    public private(set) var isStopped = false
    /// Set while the job is paused: nothing new starts.
    public var isPaused = false
    /// Set by a cancel: the job ends `cancelled`.
    public private(set) var isCancelled = false
    /// Every operation before this index is finished.
    private var cursor = 0

    public init(spec: JobSpec, operations existing: [OperationRecord]?) {
        let specs = spec.operations ?? []
        self.specs = specs
        self.maxParallel = spec.effectiveMaxParallel
        self.stopOnError = spec.effectiveStopOnError
        self.defaultRetries = spec.effectiveRetries
        self.retryDelay = spec.effectiveRetryDelay
        if let existing, existing.count == specs.count {
            operations = existing
        } else {
            operations = specs.enumerated().map { OperationRecord(index: $0.offset, name: $0.element.name) }
        }
    }

    public func spec(_ index: Int) -> OperationSpec { specs[index] }

    /// Operations to queue now, in order; they count as in flight from here on.
    public mutating func takeReady(now: Timestamp) -> [Int] {
        guard !isStopped, !isPaused else { return [] }
        while cursor < operations.count && operations[cursor].status.isFinished { cursor += 1 }
        var out: [Int] = []
        var i = cursor
        while inFlight.count < maxParallel, i < operations.count {
            let op = operations[i]
            if op.status == .pending, !inFlight.contains(i), op.runAfter.map({ $0 <= now }) ?? true {
                inFlight.insert(i)
                out.append(i)
            }
            i += 1
        }
        return out
    }

    /// The earliest retry time of a pending operation, for a wake-up.
    public var nextRetryAt: Timestamp? {
        operations.filter { $0.status == .pending && !inFlight.contains($0.index) }.compactMap(\.runAfter).min()
    }

    public mutating func started(_ i: Int, now: Timestamp) {
        operations[i].status = .running
        operations[i].startedAt = now
        operations[i].finishedAt = nil
        operations[i].attempts += 1
        operations[i].runAfter = nil
    }

    /// How an operation attempt ended.
    public enum Outcome: Sendable, Equatable {
        case succeeded(exitCode: Int32?, result: JSONValueBox?)
        case failed(SpoolError, exitCode: Int32?, signal: Int32?)
    }

    /// Records an attempt's end; failed attempts with retries left go back to pending after a backoff.
    public mutating func finished(_ i: Int, _ outcome: Outcome, now: Timestamp, random unit: Double,
                                  stdout: String?, stderr: String?) {
        inFlight.remove(i)
        var op = operations[i]
        op.finishedAt = now
        op.durationSeconds = op.startedAt.map { max(0, now.seconds - $0.seconds) }
        op.stdout = stdout
        op.stderr = stderr
        switch outcome {
        case .succeeded(let code, let result):
            op.status = .succeeded
            op.exitCode = code
            op.signal = nil
            op.error = nil
            op.result = result?.value
        case .failed(let error, let code, let signal):
            op.exitCode = code
            op.signal = signal
            op.error = error
            let retries = specs[i].retries ?? defaultRetries
            if op.attempts <= retries && !isStopped {
                op.status = .pending
                op.runAfter = now.adding(Backoff.delay(base: retryDelay, failedAttempts: op.attempts, unit: unit))
            } else {
                op.status = .failed
                if stopOnError { stop() }
            }
        }
        operations[i] = op
    }

    /// An operation interrupted by a daemon stop: back to pending (requeue) or failed (fail).
    public mutating func interrupted(_ i: Int, policy: InterruptPolicy, now: Timestamp) {
        inFlight.remove(i)
        if policy == .fail {
            operations[i].status = .failed
            operations[i].finishedAt = now
            operations[i].error = SpoolError(.interrupted, "operations[\(i)]: the daemon stopped during attempt \(operations[i].attempts) and on_interrupt is \"fail\"")
        } else {
            operations[i].status = .pending
            operations[i].startedAt = nil
        }
    }

    /// Nothing new starts; pending operations end `skipped`.
    public mutating func stop() {
        isStopped = true
        for i in operations.indices where operations[i].status == .pending && !inFlight.contains(i) {
            operations[i].status = .skipped
            operations[i].runAfter = nil
        }
    }

    /// A cancel: like stop, and the job ends `cancelled`.
    public mutating func cancel() {
        isCancelled = true
        stop()
    }

    /// Gives back operations that were queued but never started (the daemon is stopping).
    public mutating func unqueue(_ indices: [Int]) {
        for i in indices where operations[i].status == .pending { inFlight.remove(i) }
    }

    public var runningCount: Int { operations.filter { $0.status == .running }.count }

    /// Every operation finished (or skipped), none in flight.
    public var isComplete: Bool { inFlight.isEmpty && operations.allSatisfy { $0.status.isFinished } }

    public func progress(message: String? = nil) -> Progress {
        var succeeded = 0, failed = 0, skipped = 0, running = 0
        var durations = 0.0, timed = 0
        for op in operations {
            switch op.status {
            case .succeeded: succeeded += 1
            case .failed: failed += 1
            case .skipped: skipped += 1
            case .running: running += 1
            case .pending: break
            }
            if op.status == .succeeded || op.status == .failed, let d = op.durationSeconds {
                durations += d
                timed += 1
            }
        }
        let total = operations.count
        let finished = succeeded + failed + skipped
        let remaining = total - finished
        var eta: Double? = nil
        if remaining == 0 {
            eta = 0
        } else if timed > 0 {
            // Mean duration of finished operations times the waves still to run at this parallelism.
            let mean = durations / Double(timed)
            eta = mean * Double(remaining) / Double(max(1, min(maxParallel, remaining)))
        }
        let percent = total == 0 ? 100 : (Double(finished) * 100 / Double(total) * 10).rounded() / 10
        return Progress(total: total, succeeded: succeeded, failed: failed, skipped: skipped, running: running,
                        percent: percent, etaSeconds: eta, message: message)
    }

    /// The job's status once complete: succeeded (all), failed (none, or stop_on_error hit), partial.
    public func finalStatus(jobID: JobID) -> (JobStatus, SpoolError?) {
        if isCancelled {
            let done = operations.filter { $0.status == .succeeded }.count
            return (.cancelled, SpoolError(.cancelled, "job \(jobID): cancelled with \(done) of \(operations.count) operations succeeded; the rest were stopped or skipped"))
        }
        let failed = operations.filter { $0.status != .succeeded }
        if failed.isEmpty { return (.succeeded, nil) }
        let first = failed.first { $0.status == .failed } ?? failed[0]
        let firstText = first.error?.message ?? "operations[\(first.index)] \(first.status.rawValue)"
        let succeeded = operations.count - failed.count
        let message = "job \(jobID): \(failed.count) of \(operations.count) operations did not succeed; first: \(firstText)"
        let status: JobStatus = (succeeded == 0 || (stopOnError && isStopped)) ? .failed : .partial
        return (status, SpoolError(.operationFailed, message))
    }
}

import SpoolJSON

/// A JSONValue wrapper with Equatable for outcomes.
public struct JSONValueBox: Sendable, Equatable {
    public var value: JSONValue
    public init(_ value: JSONValue) { self.value = value }
}
