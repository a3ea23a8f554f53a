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
    /// How many operations can really run at once besides max_parallel: the daemon's workers and
    /// the queue's limit (SPEC §4 `eta_seconds`). Set by the daemon; unbounded in pure tests.
    public var capacity = Int.max
    /// Every operation before this index is finished.
    private var cursor = 0
    /// Counts by status and the sum of finished durations, kept as operations change, so that
    /// progress costs O(1) however many operations the batch has.
    private var counts: [OperationStatus: Int] = [:]
    private var durationSum = 0.0
    private var timed = 0

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
        for op in operations { count(op, +1) }
        waitingRetry = Set(operations.indices.filter { operations[$0].status == .pending && operations[$0].runAfter != nil })
    }

    private mutating func count(_ op: OperationRecord, _ sign: Int) {
        counts[op.status, default: 0] += sign
        if op.status == .succeeded || op.status == .failed, let d = op.durationSeconds {
            durationSum += Double(sign) * d
            timed += sign
        }
    }

    /// Changes operation `i` through `body`, keeping the counters right.
    private mutating func update(_ i: Int, _ body: (inout OperationRecord) -> Void) {
        count(operations[i], -1)
        body(&operations[i])
        count(operations[i], +1)
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

    /// Operations waiting for a retry's backoff.
    private var waitingRetry: Set<Int> = []

    /// The earliest retry time of a pending operation, for a wake-up.
    public var nextRetryAt: Timestamp? {
        waitingRetry.compactMap { operations[$0].status == .pending ? operations[$0].runAfter : nil }.min()
    }

    public mutating func started(_ i: Int, now: Timestamp) {
        waitingRetry.remove(i)
        update(i) { op in
            op.status = .running
            op.startedAt = now
            op.finishedAt = nil
            op.attempts += 1
            op.runAfter = nil
        }
    }

    /// An operation whose attempt `attempt` (started at `startedAt`) was found under its supervisor
    /// after a restart (live restore): running and in flight again, whatever the record said.
    public mutating func adopted(_ i: Int, attempt: Int, startedAt: Timestamp) {
        waitingRetry.remove(i)
        inFlight.insert(i)
        update(i) { op in
            op.status = .running
            op.attempts = attempt
            op.startedAt = startedAt
            op.finishedAt = nil
            op.runAfter = nil
        }
    }

    /// How an operation attempt ended.
    public enum Outcome: Sendable, Equatable {
        case succeeded(exitCode: Int32?, result: JSONValueBox?)
        /// `result`: what a failed built-in got (an http response with an unexpected status).
        case failed(SpoolError, exitCode: Int32?, signal: Int32?, result: JSONValueBox? = nil)
    }

    /// Records an attempt's end; failed attempts with retries left go back to pending after a backoff.
    public mutating func finished(_ i: Int, _ outcome: Outcome, now: Timestamp, random unit: Double,
                                  stdout: String?, stderr: String?, usage: ResourceUsage? = nil, executor: ExecutorInfo? = nil) {
        inFlight.remove(i)
        count(operations[i], -1)
        var op = operations[i]
        op.finishedAt = now
        op.durationSeconds = op.startedAt.map { max(0, now.seconds - $0.seconds) }
        op.stdout = stdout
        op.stderr = stderr
        op.usage = usage
        op.executor = executor
        switch outcome {
        case .succeeded(let code, let result):
            op.status = .succeeded
            op.exitCode = code
            op.signal = nil
            op.error = nil
            op.result = result?.value
        case .failed(let error, let code, let signal, let result):
            op.exitCode = code
            op.signal = signal
            op.error = error
            op.result = result?.value
            let retries = specs[i].retries ?? defaultRetries
            if op.attempts <= retries && !isStopped {
                op.status = .pending
                op.runAfter = now.adding(Backoff.delay(base: retryDelay, failedAttempts: op.attempts, unit: unit))
                waitingRetry.insert(i)
            } else {
                op.status = .failed
            }
        }
        operations[i] = op
        count(op, +1)
        if op.status == .failed && stopOnError { stop() }
    }

    /// An operation interrupted by a daemon stop: back to pending (requeue) or failed (fail).
    public mutating func interrupted(_ i: Int, policy: InterruptPolicy, now: Timestamp) {
        inFlight.remove(i)
        update(i) { op in
            if policy == .fail {
                op.status = .failed
                op.finishedAt = now
                op.error = SpoolError(.interrupted, "operations[\(op.index)]: the daemon stopped during attempt \(op.attempts) and on_interrupt is \"fail\"")
            } else {
                op.status = .pending
                op.startedAt = nil
            }
        }
    }

    /// Nothing new starts; pending operations end `skipped`.
    public mutating func stop() {
        isStopped = true
        for i in operations.indices where operations[i].status == .pending && !inFlight.contains(i) {
            update(i) { op in
                op.status = .skipped
                op.runAfter = nil
            }
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

    public var runningCount: Int { counts[.running, default: 0] }

    /// Every operation finished (or skipped), none in flight.
    public var isComplete: Bool {
        inFlight.isEmpty && counts[.succeeded, default: 0] + counts[.failed, default: 0] + counts[.skipped, default: 0] == operations.count
    }

    public func progress(message: String? = nil) -> Progress {
        let succeeded = counts[.succeeded, default: 0], failed = counts[.failed, default: 0]
        let skipped = counts[.skipped, default: 0], running = counts[.running, default: 0]
        let durations = durationSum
        let total = operations.count
        let finished = succeeded + failed + skipped
        let remaining = total - finished
        var eta: Double? = nil
        if remaining == 0 {
            eta = 0
        } else if timed > 0 {
            // Mean duration of finished operations times the waves still to run at the width the
            // batch really gets: max_parallel, the workers and queue limit, and what is left.
            let mean = durations / Double(timed)
            eta = mean * Double(remaining) / Double(width(remaining: remaining))
        }
        // Percent counts work done: skipped operations (after a cancel or stop_on_error) are not.
        let worked = succeeded + failed
        let percent = total == 0 ? 100 : Progress.percent(Double(worked), of: Double(total))
        return Progress(total: total, succeeded: succeeded, failed: failed, skipped: skipped, running: running,
                        percent: percent, etaSeconds: eta, message: message)
    }

    /// Operations that can run at once: the smallest of max_parallel, the capacity and `remaining`.
    public func width(remaining: Int) -> Int {
        max(1, min(maxParallel, capacity, remaining))
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
