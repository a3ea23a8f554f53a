// The runtime's two verbs: `send` hands an event to the engine under the one lock, and
// `perform` carries out the actions it returned, outside that lock, in order.
import Foundation

extension Daemon {
    /// Sends an event to the engine and carries out what it decides.
    func send(_ event: EngineEvent) {
        perform(decide(event))
    }

    /// The engine's answer to `event`, taken under the lock (the clock read and the jitter drawn here).
    func decide(_ event: EngineEvent) -> [EngineAction] {
        let now = Timestamp.now()
        return core.update { emitInOrder($0.handle(event, now: now)) }
    }

    /// Appends the events among `actions` to the event log and returns the other actions. Called
    /// under the engine's lock, so that the log has the events in the order the engine decided
    /// them: appended when the actions were carried out, a job's `retrying` (decided once its
    /// record was written) could follow the `started` of the attempt it queued, which another
    /// thread launched as soon as the lock was let go (EventTests.lifecycle saw it). Appending
    /// only queues the line for the log's writer: no I/O happens under the lock.
    func emitInOrder(_ actions: [EngineAction]) -> [EngineAction] {
        guard let events, actions.contains(where: { if case .emit = $0 { return true } else { return false } }) else { return actions }
        return actions.filter { action in
            guard case .emit(let id, let status, let event, let fields) = action else { return true }
            events.append(id, event, status: status, extra: fields.map { ($0.key, $0.value) })
            return false
        }
    }

    /// An attempt's end: the engine takes it (and frees the slots it held) before its worker permit
    /// is given back, so that the dispatcher the permit wakes finds the room free, not an engine
    /// that has not heard of the end yet. A job's actions (its record, handed to the finisher) then
    /// overlap the next start. A batch operation's action is its checkpoint, and the batch queues its
    /// next operation only once that is written: the permit goes back after it.
    func sendEnd(_ event: EngineEvent, queue: String) {
        let actions = decide(event)
        switch event {
        case .operationEnded, .operationInterrupted:
            perform(actions)
            freeSlot(of: queue)
        default:
            freeSlot(of: queue)
            perform(actions)
        }
    }

    func perform(_ actions: [EngineAction]) {
        for action in actions { perform(action) }
    }

    private func perform(_ action: EngineAction) {
        switch action {
        case .launch(let key, let plan):
            launch(key, plan)
        case .launchOperation(let key, let plan):
            launchOperation(key, plan)
        case .runBuiltin(let key, let type, let params, let label, let queue):
            runBuiltin(BuiltinRun(key: key, type: type, params: params, label: label, queue: queue))
        case .tearDown(let key, let reason):
            attempt(key)?.tearDown(reason)
        case .pause(let key):
            _ = attempt(key)?.pause()
        case .resume(let key):
            _ = attempt(key)?.resume()
        case .freeWorker:
            slots.signal()
        case .write(let write):
            complete(write)
        case .writeLater(let write, let seconds):
            finishQueue.asyncAfter(deadline: .now() + seconds) { [self] in complete(write) }
        case .loadParked(let ids):
            backlogQueue.async { [self] in loadParked(ids) }
        case .rewritePending(let record):
            rewritePending(record)
        case .rewriteRunning(let record):
            // On the finish queue, so that it never races the job's final record.
            finishQueue.async { [self] in writeRunningRecords([record]) }
        case .openJournal(let id):
            do {
                let owner = core.withLock { $0.engine.jobs[id]?.record.owner }
                let journal = try BatchJournal(name: JobFiles.journal(id), dirFD: layout.fd(.running),
                                               privacy: store.privacy.withLock { $0 }, owner: owner)
                journals.withLock { $0[id] = journal }
            } catch {
                log.error("job \(id): \(error); the batch runs without a checkpoint journal")
            }
        case .journal(let id, let op, _):
            // Before an `on_interrupt: fail` operation starts: durable, so that after a crash it
            // counts as interrupted, never as not run.
            guard let journal = journals.withLock({ $0[id] }) else { return }
            journal.append(op)
            journal.sync()
        case .checkpoint(let id, let op):
            writeCheckpoint(id, op)
            send(.checkpointed(id))
        case .releaseFollowUp(let record):
            releaseFollowUp(of: record)
        case .removeControl(let name):
            removeControl(name)
        case .removeFinished(let record, let why):
            // The record in done/ names the outputs placed there.
            let done = ((try? store.read(record.id, in: .done)) ?? nil) ?? record
            removeFinished(done, why: why)
        case .countFinished(let record):
            recordFinished(record)
        case .emit(let id, let status, let event, let fields):
            events?.append(id, event, status: status, extra: fields.map { ($0.key, $0.value) })
        case .log(let level, let message):
            log.log(level, message)
        case .arm(let timer, let seconds):
            timerQueue.asyncAfter(deadline: .now() + seconds) { [self] in send(.timer(timer)) }
        case .exit:
            // After the writes queued before it.
            finishQueue.async { [self] in exit(0) }
        }
    }

    /// An operation's end, appended to its batch's journal (a write(2), synced with the state writes).
    func writeCheckpoint(_ id: JobID, _ op: OperationRecord) {
        guard let journal = journals.withLock({ $0[id] }) else { return }
        FaultInjection.hit(.beforeCheckpoint)
        journal.append(op)
        FaultInjection.hit(.afterCheckpoint)
    }

    /// The executor's handle of an attempt that runs now.
    func attempt(_ key: AttemptKey) -> (any RunningAttempt)? {
        core.withLock { $0.attempts[key] }
    }

    /// Rewrites a pending job's record (why it waits).
    private func rewritePending(_ record: JobRecord) {
        var sync = DirectorySync()
        do {
            try store.write(record, to: .pending, sync: &sync)
            store.commit(&sync)
        } catch {
            log.warning("job \(record.id): cannot record why it waits: \(error)")
        }
    }

    /// Rewrites running/<id>.json, only for jobs still there (their end may be queued but not yet written).
    func writeRunningRecords(_ records: [JobRecord]) {
        guard !records.isEmpty else { return }
        var sync = DirectorySync()
        for r in records {
            guard store.exists(JobFiles.record(r.id), in: .running) else { continue }
            do { try store.write(r, to: .running, sync: &sync) } catch {
                log.warning("job \(r.id): cannot update running/\(r.id).json: \(error)")
            }
        }
        store.commit(&sync)
    }
}
