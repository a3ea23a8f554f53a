// Accepted jobs and their dependencies (SPEC §3 `after`): a job goes into the scheduler's queue,
// or waits in the dependency graph until each dependency has succeeded; one that can never run
// (a dependency ended otherwise, or its `after` closes a cycle) ends at once. Jobs that never
// leave pending/ (these, and cancels) end through `endPending`.

extension Engine {
    mutating func accept(_ records: [JobRecord], finished: [JobID: JobStatus], unseen: Set<JobID>,
                         now: Timestamp) -> [EngineAction] {
        var actions: [EngineAction] = []
        for r in records where jobs[r.id] == nil && !backlog.holds(r.id) {
            if parkIfBacklogged(r, now: now, actions: &actions) { continue }
            hold(EngineJob(record: r, state: .queued))
            guard let after = r.spec?.after, !after.isEmpty else {
                queue(r.id, now: now)
                continue
            }
            var remaining = Set<JobID>()
            var failedDependency: (JobID, JobStatus)? = nil
            for dep in after {
                if let status = finished[dep], jobs[dep] == nil {
                    if status != .succeeded { failedDependency = (dep, status); break }
                } else {
                    remaining.insert(dep)
                }
            }
            if let (dep, status) = failedDependency {
                actions += endPending(r.id, status: .failed, error: SpoolError(.dependencyFailed, "job \(r.id): dependency \(dep) ended \(status.rawValue)"), now: now)
                continue
            }
            if remaining.isEmpty {
                queue(r.id, now: now)
                continue
            }
            if let cycle = dependencies.add(QueuedJob(r), waitingFor: remaining) {
                let why = "its dependencies form a cycle: \(cycle.map(\.rawValue).joined(separator: " -> "))"
                actions += endPending(r.id, status: .rejected, error: SpoolError(.dependencyFailed, "job \(r.id): \(why)"), now: now)
                continue
            }
            update(r.id) { $0.state = .blocked }
            let notSeen = remaining.intersection(unseen).sorted()
            var reason = "waiting for \(remaining.sorted().map(\.rawValue).joined(separator: ", ")) to succeed"
            if !notSeen.isEmpty { reason += " (not seen yet: \(notSeen.map(\.rawValue).joined(separator: ", ")))" }
            if r.waitReason != reason {
                update(r.id) { $0.record.waitReason = reason }
                actions.append(.rewritePending(render(r.id)!))
                actions.append(.log(.info, "job \(r.id): \(reason)"))
            }
        }
        return actions
    }

    /// Puts a held job in the scheduler's queue.
    mutating func queue(_ id: JobID, now: Timestamp) {
        update(id) { $0.state = .queued }
        let record = jobs[id]!.record
        scheduler.jobQueued(QueuedJob(record), now: now)
        backlog.windowed(Self.place(of: record), queue: record.spec?.effectiveQueue ?? "default")
    }

    /// Job `id` ended with `status` (its record is durable): free or fail the jobs waiting for it.
    mutating func dependencyEnded(_ id: JobID, status: JobStatus, now: Timestamp) -> [EngineAction] {
        let (ready, failed) = dependencies.ended(id, succeeded: status == .succeeded)
        var actions: [EngineAction] = []
        for j in ready where jobs[j.id] != nil {
            queue(j.id, now: now)
            actions.append(.log(.info, "job \(j.id): its dependencies succeeded; queued"))
        }
        for w in failed where jobs[w] != nil {
            actions += endPending(w, status: .failed, error: SpoolError(.dependencyFailed, "job \(w): dependency \(id) ended \(status.rawValue)"), now: now)
        }
        return actions
    }

    /// Ends a job that never left pending/ (cancelled, or failed by its dependencies): its final
    /// record goes to done/ (what earlier attempts finished stays counted, the rest is skipped).
    mutating func endPending(_ id: JobID, status: JobStatus, error: SpoolError, now: Timestamp) -> [EngineAction] {
        guard let job = jobs[id] else { impossible("endPending", id) }
        switch job.state {
        case .queued: _ = scheduler.removeQueued(id)
        case .blocked: _ = dependencies.remove(id)
        default: impossible("endPending", id)
        }
        update(id) { job in
            var r = job.record
            r.finishedAt = now
            r.waitReason = nil
            r.runAfter = nil
            r.error = error
            let ops = r.operations ?? []
            let succeeded = ops.filter { $0.status == .succeeded }.count, failed = ops.filter { $0.status == .failed }.count
            let total = r.progress.total
            r.progress = Progress(total: total, succeeded: succeeded, failed: failed, skipped: max(0, total - succeeded - failed),
                                  percent: Progress.percent(Double(succeeded + failed), of: Double(total)), etaSeconds: nil)
            if var ops = r.operations {
                for i in ops.indices where !ops[i].status.isFinished { ops[i].status = .skipped }
                r.operations = ops
            }
            job.record = r
            job.state = .ending(.final(status), from: .pending)
        }
        let level: Log.Level = status == .cancelled ? .info : .warning
        let what = status == .cancelled ? "cancelled before it started" : "\(status.rawValue): \(error.message.dropPrefix("job \(id): "))"
        return [.write(RecordWrite(record: render(id)!, to: .done, from: .pending, attempt: nil)),
                .log(level, "job \(id): \(what)")]
    }
}

extension String {
    /// The string without `prefix` when it starts with it.
    func dropPrefix(_ prefix: String) -> String {
        hasPrefix(prefix) ? String(dropFirst(prefix.count)) : self
    }
}
