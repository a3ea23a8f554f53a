// Running a batch. The batch job itself holds no worker: its operations do. Up to max_parallel
// of them wait in the scheduler's queue at a time (in arrival order with everything else, so the
// global --workers bound holds and other jobs are not starved), each finished attempt is appended
// to the journal at once, and the state file is rewritten by the coalescing writer. When every
// operation has finished the job's final record goes through the finisher like any other.
import Foundation
import SpoolBuiltins

extension Daemon {
    /// A claimed batch job starts (or resumes after a restart, keeping finished operations).
    func beginBatch(_ claimed: JobRecord, now: Timestamp) {
        let id = claimed.id
        guard let spec = claimed.spec else { return }
        var record = claimed
        record.status = .running
        record.attempts += 1
        if record.startedAt == nil { record.startedAt = now }
        record.finishedAt = nil
        record.waitReason = nil
        record.runAfter = nil
        let batch = BatchState(spec: spec, operations: record.operations)
        record.operations = batch.operations
        record.progress = batch.progress()
        var job = ActiveJob(record: record, attempt: nil)
        job.batch = batch
        do {
            job.journal = try BatchJournal(name: JobFiles.journal(id), dirFD: layout.fd(.running))
        } catch {
            log.error("job \(id): \(error); the batch runs without a checkpoint journal")
        }
        jobs.withLock { $0[id] = job }
        emit(record, "started", [("attempt", .integer(record.attempts)), ("operations", .integer(batch.operations.count))])
        slots.signal()  // the batch itself holds no worker; its operations will
        log.info("job \(id): batch started: \(batch.operations.count) operations, max_parallel \(spec.effectiveMaxParallel)")
        pumpBatch(id)
    }

    /// Queues what may start now; finishes or requeues the batch when nothing is left to do.
    func pumpBatch(_ id: JobID) {
        let now = Timestamp.now()
        let stopping = lifecycle.withLock { $0.isStopping }
        struct Step {
            var ready: [Int]; var complete: Bool; var idle: Bool; var wake: Timestamp?; var priority: Int; var queue: String
            var cpus: Int; var gpus: Int
        }
        let step: Step? = jobs.withLock { j in
            guard j[id]?.batch != nil else { return nil }
            let ready = stopping ? [] : j[id]!.batch!.takeReady(now: now)
            var wake: Timestamp? = nil
            if let at = j[id]!.batch!.nextRetryAt, j[id]!.retryWake.map({ $0 > at }) ?? true {
                j[id]!.retryWake = at
                wake = at
            }
            let job = j[id]!
            return Step(ready: ready, complete: job.batch!.isComplete, idle: job.batch!.inFlight.isEmpty, wake: wake,
                        priority: job.record.spec?.effectivePriority ?? 0, queue: job.record.spec?.effectiveQueue ?? "default",
                        cpus: job.record.spec?.effectiveCPUs ?? 1, gpus: job.record.spec?.effectiveGPUs ?? 0)
        }
        guard let step else { return }
        if !step.ready.isEmpty {
            let seqs = step.ready.map { _ in sequence.next() }
            // Decided under the scheduler's lock: a stop that began meanwhile must not find them queued.
            let queued = scheduler.update { s -> Bool in
                guard !s.isStopping else { return false }
                for (i, index) in step.ready.enumerated() {
                    var op = QueuedJob(item: .operation(id, index), priority: step.priority, sequence: seqs[i], runAfter: nil,
                                       queue: step.queue)
                    op.cpus = step.cpus  // each operation takes the job's resources
                    op.gpus = step.gpus
                    s.jobQueued(op, now: now)
                }
                return true
            }
            if !queued {
                jobs.withLock { $0[id]?.batch?.unqueue(step.ready) }
                pumpBatch(id)
                return
            }
        }
        if step.complete {
            endBatch(id, requeue: false)
        } else if stopping && step.idle {
            endBatch(id, requeue: true)
        } else if let at = step.wake {
            timerQueue.asyncAfter(deadline: .now() + max(0, at.seconds - now.seconds) + 0.001) { [self] in
                jobs.withLock { $0[id]?.retryWake = nil }
                pumpBatch(id)
            }
        }
    }

    /// Starts operation `index` of a running batch (on the dispatcher, holding a worker slot).
    func startOperation(of id: JobID, index: Int) {
        let now = Timestamp.now()
        // In place (j[id]!): a copy of the job would copy all of a big batch's operations.
        let started: (OperationSpec, JobRecord, Int, Int)? = jobs.withLock { j in
            guard j[id]?.batch != nil else { return nil }
            j[id]!.batch!.started(index, now: now)
            j[id]!.record.progress = j[id]!.batch!.progress(message: j[id]!.record.progress.message)
            j[id]!.isDirty = true
            let op = j[id]!.batch!.operations[index]
            return (j[id]!.batch!.spec(index), j[id]!.record, op.attempts, op.index)
        }
        guard let (op, record, attempt, shown) = started, let spec = record.spec else {
            slots.signal()
            scheduler.update { $0.itemEnded(.operation(id, index)) }
            return
        }
        // `shown` is the operation's index in the job file: a failed-only retry keeps the original
        // ones, so messages, output names and SPOOL_OPERATION_INDEX use it, not the position.
        let label = "job \(id) operations[\(shown)]\(op.name.map { " (\($0))" } ?? "")"
        if spec.effectiveOnInterrupt == .fail, let (journal, started) = jobs.withLock({ j in
            j[id].flatMap { job in job.journal.map { ($0, job.batch?.operations[index]) } }
        }), let started {
            // Durable before it starts, so that after a crash it counts as interrupted, never as not run.
            journal.append(started)
            journal.sync()
        }
        switch op.kind {
        case .builtin(let type, let params):
            // Its own thread, not a libdispatch worker: `run` may block (http), and FoundationNetworking
            // needs libdispatch workers to progress; on Linux the pool grows past the cores about once a second.
            Thread.detachNewThread { [self] in
                let outcome: BatchState.Outcome
                if let builtin = BuiltinRegistry.operation(named: type) {
                    do {
                        outcome = .succeeded(exitCode: nil, result: JSONValueBox(try builtin.run(params: params)))
                    } catch {
                        outcome = .failed(SpoolError(.operationFailed, "\(label): \(error)"), exitCode: nil, signal: nil,
                                          result: (error as? BuiltinError)?.result.map(JSONValueBox.init))
                    }
                } else {
                    outcome = .failed(SpoolError(.operationFailed, "\(label): unknown type \"\(type)\""), exitCode: nil, signal: nil)
                }
                slots.signal()
                operationEnded(id, index, outcome, outputs: (nil, nil))
            }
        case .process(let action):
            var env = spec.env ?? [:]
            for (k, v) in op.env ?? [:] { env[k] = v }
            let plan = ProcessPlan(id: id, action: action, cwd: op.cwd ?? spec.cwd, env: env, attempt: attempt,
                                   stdoutName: JobFiles.operationStdout(id, shown), stderrName: JobFiles.operationStderr(id, shown),
                                   extraEnv: deviceEnvironment(for: .operation(id, index)).merging(["SPOOL_OPERATION_INDEX": String(shown)]) { $1 },
                                   label: label, owner: record.owner,
                                   timeoutSeconds: op.timeoutSeconds ?? spec.timeoutSeconds)
            switch executor.start(plan) {
            case .failure(let error):
                slots.signal()
                // Earlier attempts' outputs stay named (and an output file created before the failure is dropped).
                operationEnded(id, index, .failed(error, exitCode: nil, signal: nil), outputs: placeOperationOutputs(plan, startedAt: now),
                               executor: executor.info)
            case .success(let running):
                jobs.withLock { $0[id]?.operationAttempts[index] = running }
                if lifecycle.withLock({ $0.isTearingDown }) { running.tearDown(.shutdown) }
                let info = executor.info
                running.awaitEnd { [self] end in
                    slots.signal()
                    let outputs = placeOperationOutputs(plan, startedAt: now)
                    if end.teardown == .shutdown {
                        operationInterrupted(id, index)
                        return
                    }
                    operationEnded(id, index, Self.outcome(of: end.termination, teardown: end.teardown, label: label),
                                   outputs: outputs, usage: end.usage, executor: info)
                }
            }
        }
    }

    /// An operation attempt's end as the batch counts it (the mapping is AttemptResult's, as for jobs).
    static func outcome(of termination: Termination, teardown: TeardownReason?, label: String) -> BatchState.Outcome {
        guard let error = AttemptResult.failure(of: termination, teardown: teardown, label: label) else {
            return .succeeded(exitCode: 0, result: nil)
        }
        switch termination {
        case .exited(let code) where error.code == .exitNonzero: return .failed(error, exitCode: code, signal: nil)
        case .signaled(let sig) where error.code == .killedBySignal: return .failed(error, exitCode: nil, signal: sig)
        default: return .failed(error, exitCode: nil, signal: nil)
        }
    }

    /// Moves an operation attempt's outputs to done/ at once, after those of its earlier attempts
    /// (empty ones are dropped); returns their paths, null where no attempt wrote anything.
    private func placeOperationOutputs(_ plan: ProcessPlan, startedAt: Timestamp) -> (String?, String?) {
        var sync = DirectorySync()
        func place(_ name: String) -> String? {
            do {
                return try store.placeAttemptOutput(name, attempt: plan.attempt, startedAt: startedAt, capBytes: options.maxOutputBytes, sync: &sync)
            } catch {
                log.error("\(plan.label): cannot keep its output \(name): \(error)")
                return store.exists(name, in: .done) ? "done/\(name)" : nil
            }
        }
        return (place(plan.stdoutName), place(plan.stderrName))
    }

    /// Records an operation attempt's end, checkpoints it, and lets the batch go on.
    func operationEnded(_ id: JobID, _ index: Int, _ outcome: BatchState.Outcome, outputs: (String?, String?),
                        usage: ResourceUsage? = nil, executor: ExecutorInfo? = nil) {
        let now = Timestamp.now()
        let unit = Double.random(in: 0..<1)
        let checkpoint: (BatchJournal?, OperationRecord)? = jobs.withLock { j in
            guard j[id]?.batch != nil else { return nil }
            j[id]!.batch!.finished(index, outcome, now: now, random: unit, stdout: outputs.0, stderr: outputs.1,
                                   usage: usage, executor: executor)
            j[id]!.operationAttempts[index] = nil
            j[id]!.record.progress = j[id]!.batch!.progress(message: j[id]!.record.progress.message)
            j[id]!.isDirty = true
            return (j[id]!.journal, j[id]!.batch!.operations[index])
        }
        if let (journal, op) = checkpoint {
            FaultInjection.hit(.beforeCheckpoint)
            journal?.append(op)
            FaultInjection.hit(.afterCheckpoint)
        }
        scheduler.update { $0.itemEnded(.operation(id, index)) }
        pumpBatch(id)
    }

    /// An operation stopped by a daemon shutdown: it follows the job's on_interrupt.
    func operationInterrupted(_ id: JobID, _ index: Int) {
        let now = Timestamp.now()
        let checkpoint: (BatchJournal?, OperationRecord)? = jobs.withLock { j in
            guard j[id]?.batch != nil else { return nil }
            j[id]!.batch!.interrupted(index, policy: j[id]!.record.spec?.effectiveOnInterrupt ?? .requeue, now: now)
            j[id]!.operationAttempts[index] = nil
            j[id]!.isDirty = true
            return (j[id]!.journal, j[id]!.batch!.operations[index])
        }
        if let (journal, op) = checkpoint { journal?.append(op) }
        scheduler.update { $0.itemEnded(.operation(id, index)) }
        pumpBatch(id)
    }

    /// Takes back the queued operations of every batch (the daemon is stopping).
    func stopBatches() {
        let ids = jobs.withLock { $0.compactMap { $0.value.batch != nil ? $0.key : nil } }
        for id in ids {
            takeBackQueuedOperations(of: id)
            pumpBatch(id)
        }
    }

    /// Takes a batch's operations that wait in the scheduler's queue back out of it (they have not
    /// started: a stop, a pause or a cancel), so that the batch counts them as not in flight.
    /// `then` changes the batch under the same lock as the give-back (a cancel marks it cancelled).
    func takeBackQueuedOperations(of id: JobID, then change: (inout BatchState) -> Void = { _ in }) {
        let taken = scheduler.update { s -> [Int] in
            let ops = s.queuedOperations(of: id)
            for i in ops { _ = s.removeQueued(.operation(id, i)) }
            return ops
        }
        jobs.withLock { j in
            j[id]?.batch?.unqueue(taken)
            if j[id]?.batch != nil { change(&j[id]!.batch!) }
        }
    }

    /// Hands a batch that has nothing more to run to the finisher: final, or back to pending.
    private func endBatch(_ id: JobID, requeue: Bool) {
        let now = Timestamp.now()
        let ended: JobRecord? = jobs.withLock { j in
            guard var job = j[id], let batch = job.batch, job.batch != nil else { return nil }
            job.batch = nil  // ends once
            j[id] = job
            var r = job.record
            r.operations = batch.operations
            r.progress = batch.progress(message: r.progress.message)
            if requeue {
                return AttemptResult.requeued(r, reason: "requeued after the daemon stopped; \(batch.operations.filter { !$0.status.isFinished }.count) operations left", runAfter: nil)
            }
            let (status, error) = batch.finalStatus(jobID: id)
            r.status = status
            r.error = error
            r.finishedAt = now
            r.durationSeconds = r.startedAt.map { max(0, now.seconds - $0.seconds) }
            log.info("job \(id): batch ended after \(job.stateWrites) state-file writes")
            return r
        }
        guard let record = ended else { return }
        complete(Completion(id: id, record: record, termination: .exited(0), teardown: nil, endedAt: now,
                            resolved: requeue ? .requeue(record) : .done(record)))
    }
}
