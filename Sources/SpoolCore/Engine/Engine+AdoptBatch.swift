// Live restore of a batch (SPEC §6): a batch found in running/ at start whose command operations
// were found under their supervisors goes on running, instead of going back to pending. Those
// still running are held as in flight (their ends come later, as any operation's); those that
// ended while no daemon ran get their real result; an operation whose supervisor died, or that
// was running in the record but has no supervisor (a built-in, or a command killed with the
// daemon), follows `on_interrupt`. Then the batch goes on as it would have: the rest is queued.
import SpoolJSON

/// A batch operation's attempt found at start under its supervisor (live restore).
struct AdoptedOperation: Sendable {
    /// The operation's position in the batch.
    var position: Int
    /// The attempt the supervisor runs (or ran), and when it started.
    var attempt: Int
    var startedAt: Timestamp?
    var state: State

    enum State: Sendable {
        /// It still runs: its end comes as `operationEnded` (or `operationInterrupted`).
        case running
        /// It ended while no daemon ran; its outputs are placed in done/ already.
        case ended(BatchState.Outcome, stdout: String?, stderr: String?, usage: ResourceUsage?, executor: ExecutorInfo?, endedAt: Timestamp?)
        /// Its supervisor died without a result: what it ran is stopped, and it follows on_interrupt.
        case interrupted
    }
}

extension Engine {
    mutating func adoptedBatch(_ found: JobRecord, operations adopted: [AdoptedOperation], now: Timestamp, random: Double) -> [EngineAction] {
        let id = found.id
        guard jobs[id] == nil, let spec = found.spec, spec.isBatch, !adopted.isEmpty else { impossible("adoptedBatch", id) }
        var r = found
        let paused = r.status == .paused
        if r.status == .pending {
            // Claimed and begun (its operations started), but its running record was never rewritten.
            r.attempts += 1
        }
        if r.startedAt == nil { r.startedAt = adopted.compactMap(\.startedAt).min() ?? now }
        r.finishedAt = nil
        r.waitReason = nil
        r.runAfter = nil
        let policy = spec.effectiveOnInterrupt
        var batch = BatchState(spec: spec, operations: r.operations)
        // Running in the record but not found under a supervisor: interrupted with the daemon.
        let found = Set(adopted.map(\.position))
        let lost = batch.operations.indices.filter { batch.operations[$0].status == .running && !found.contains($0) }
        for i in lost { batch.interrupted(i, policy: policy, now: now) }
        batch.isPaused = paused
        var settled: [Int] = lost
        var running: Set<Int> = []
        var ended = 0
        for a in adopted {
            batch.adopted(a.position, attempt: a.attempt, startedAt: a.startedAt ?? now)
            switch a.state {
            case .running:
                running.insert(a.position)
            case .ended(let outcome, let stdout, let stderr, let usage, let executor, let endedAt):
                ended += 1
                batch.finished(a.position, outcome, now: endedAt.map { min($0, now) } ?? now, random: random,
                               stdout: stdout, stderr: stderr, usage: usage, executor: executor)
                settled.append(a.position)
            case .interrupted:
                batch.interrupted(a.position, policy: policy, now: now)
                settled.append(a.position)
            }
        }
        r.progress = batch.progress(message: r.progress.message)
        var job = EngineJob(record: r, state: .running(JobState.Run(isPaused: paused)))
        job.batch = batch
        job.handedOver = running
        job.isDirty = true
        hold(job)
        scheduler.adopt(QueuedJob(r))
        for i in running.sorted() {
            var op = QueuedJob(item: .operation(id, i), priority: spec.effectivePriority, sequence: r.sequence, runAfter: nil, queue: spec.effectiveQueue)
            op.cpus = spec.effectiveCPUs
            op.gpus = spec.effectiveGPUs
            scheduler.adopt(op)
        }
        var actions: [EngineAction] = [
            .openJournal(id),
            .emit(id, paused ? .paused : .running, "adopted", [EventField("attempt", .integer(r.attempts)),
                                                               EventField("operations", .integer(running.count))]),
            .log(.notice, "job \(id): adopted: batch attempt \(r.attempts): \(plural(running.count, "operation")) kept running under "
                 + "\(running.count == 1 ? "its supervisor" : "their supervisors") while no daemon watched, \(ended) ended meanwhile"
                 + (settled.count > ended ? ", \(settled.count - ended) interrupted (on_interrupt \(policy.rawValue))" : "")),
        ]
        // What was settled here is in the journal before anything else happens to the batch.
        for i in settled.sorted() { actions.append(.journal(id, batch.operations[i], sync: true)) }
        return actions + pump(id, now: now)
    }
}
