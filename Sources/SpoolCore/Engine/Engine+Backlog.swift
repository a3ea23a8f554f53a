// Parking (Scheduling/PendingBacklog.swift): which accepted jobs the engine holds by their place in
// line only, and when their records are read back. Only a job that needs nothing but its place
// while it waits is parked: queued at once (no `after` to wait for, no `not_before` ahead). Every
// record `accepted` brings is the one in pending/ (just written by intake or a retry, or read at
// start), so reading it back gives the engine exactly what it would have held.

extension Engine {
    /// The place in line of a record, as the scheduler orders it.
    static func place(of record: JobRecord) -> PendingBacklog.Entry {
        PendingBacklog.Entry(priority: record.spec?.effectivePriority ?? 0, sequence: record.sequence, id: record.id)
    }

    /// Where a record would wait if parked; nil if it may not be parked (it waits for
    /// dependencies or for its `not_before`).
    static func parkable(_ record: JobRecord, now: Timestamp) -> PendingBacklog.Parked? {
        guard let spec = record.spec, spec.after?.isEmpty ?? true, record.runAfter.map({ $0 <= now }) ?? true else { return nil }
        return PendingBacklog.Parked(place: place(of: record), queue: spec.effectiveQueue)
    }

    /// Parks `record` if its queue's window is full and nothing it would pass is waiting; true if
    /// parked. The first job parked in a queue with none parked says so in the log.
    mutating func parkIfBacklogged(_ record: JobRecord, now: Timestamp, actions: inout [EngineAction]) -> Bool {
        guard let parked = Self.parkable(record, now: now) else { return false }
        let (place, queue) = (parked.place, parked.queue)
        guard backlog.shouldPark(place, queue: queue, queued: scheduler.queuedJobs(in: queue)) else { return false }
        if backlog.perQueue[queue] == nil {
            actions.append(.log(.info, "spoold: queue \(queue) holds \(scheduler.queuedJobs(in: queue)) queued jobs; later ones wait in pending/ by their place in line, their records read back as their turn nears"))
        }
        backlog.park(place, queue: queue)
        operationSequence = max(operationSequence, record.sequence)
        return true
    }

    /// Jobs found in pending/ at start, all parked, in chunks as pending/ is read (`last`: the
    /// final one). Nothing is read back before the last chunk: whatever order pending/ lists
    /// them in, the best of each queue are then read back first (the refill after that event),
    /// and a backlog of a million never has its records in memory at once.
    mutating func parkedAtStart(_ found: [PendingBacklog.Parked], last: Bool) -> [EngineAction] {
        backlog.holdRefills(!last)
        for p in found where jobs[p.place.id] == nil && !backlog.holds(p.place.id) {
            backlog.park(p.place, queue: p.queue)
            operationSequence = max(operationSequence, p.place.sequence)
        }
        return []
    }

    /// Parked jobs to read back now (after every event): a queue's window ran low, or its best due
    /// job ranks below its best parked one (PendingBacklog.takeForLoading).
    mutating func refillFromBacklog() -> [EngineAction] {
        guard !isStopping else { return [] }  // nothing starts any more: the records stay where they are
        let ids = backlog.takeForLoading(queued: { scheduler.queuedJobs(in: $0) },
                                         bestReady: { q in scheduler.bestReady(in: q).map { PendingBacklog.Entry(priority: $0.priority, sequence: $0.sequence, id: $0.id) } })
        return ids.isEmpty ? [] : [.loadParked(ids)]
    }

    /// Parked jobs' records, read back from pending/ (for a refill or a control request); `missing`:
    /// those whose file could not be read (removed by hand, or damaged: left for an operator, and
    /// loaded again by the next start).
    mutating func parkedLoaded(_ records: [JobRecord], missing: [JobID], now: Timestamp) -> [EngineAction] {
        for r in records where jobs[r.id] == nil && backlog.loaded(r.id) {
            hold(EngineJob(record: r, state: .queued))
            queue(r.id, now: now)
        }
        for id in missing { _ = backlog.loaded(id) }  // the runtime said why
        return []
    }
}
