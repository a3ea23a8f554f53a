// Where accepted jobs go: straight into the scheduler's queue, or, with `after`, into the
// dependency graph until their dependencies have ended. Every terminal record the daemon writes
// is reported to `jobFinished`, which frees or fails the jobs waiting for it.
import Foundation

extension Daemon {
    /// Queues pending jobs, or holds those whose dependencies have not all succeeded yet.
    func enqueue(_ records: [JobRecord], now: Timestamp) {
        var direct: [QueuedJob] = []
        for r in records {
            guard let after = r.spec?.after, !after.isEmpty else {
                direct.append(QueuedJob(r))
                continue
            }
            var remaining = Set<JobID>()
            var failedDep: (JobID, JobStatus)? = nil
            for dep in after {
                if let done = (try? store.read(dep, in: .done)) ?? nil {
                    if done.status != .succeeded { failedDep = (dep, done.status); break }
                } else {
                    remaining.insert(dep)
                }
            }
            if let (dep, status) = failedDep {
                failWaitingJob(r.id, because: "dependency \(dep) ended \(status.rawValue)")
                continue
            }
            if remaining.isEmpty {
                direct.append(QueuedJob(r))
                continue
            }
            let cycle = dependencies.withLock { $0.add(QueuedJob(r), waitingFor: remaining) }
            if let cycle {
                failWaitingJob(r.id, because: "its dependencies form a cycle: \(cycle.map(\.rawValue).joined(separator: " -> "))", rejected: true)
                continue
            }
            // A dependency may have ended between the look above and the add: look once more.
            for dep in remaining {
                if let done = (try? store.read(dep, in: .done)) ?? nil { jobFinished(dep, status: done.status) }
            }
            guard dependencies.withLock({ $0.isWaiting(r.id) }) else { continue }
            let unseen = remaining.filter { !index.contains($0) }.sorted()
            var reason = "waiting for \(remaining.sorted().map(\.rawValue).joined(separator: ", ")) to succeed"
            if !unseen.isEmpty { reason += " (not seen yet: \(unseen.map(\.rawValue).joined(separator: ", ")))" }
            updateWaitReason(r, reason)
        }
        if !direct.isEmpty {
            scheduler.update { s in for j in direct { s.jobQueued(j, now: now) } }
        }
    }

    private func updateWaitReason(_ record: JobRecord, _ reason: String) {
        guard record.waitReason != reason else { return }
        var r = record
        r.waitReason = reason
        var sync = DirectorySync()
        do {
            try store.write(r, to: .pending, sync: &sync)
            try store.commit(&sync)
        } catch {
            log.warning("job \(r.id): cannot record why it waits: \(error)")
        }
        log.info("job \(r.id): \(reason)")
    }

    /// A terminal record is durable: free or fail the jobs that waited for it.
    func jobFinished(_ id: JobID, status: JobStatus) {
        defer {
            finishDeletion(id)
            closeControls(of: id)
        }
        let (ready, failed) = dependencies.withLock { $0.ended(id, succeeded: status == .succeeded) }
        if !ready.isEmpty {
            let now = Timestamp.now()
            scheduler.update { s in for j in ready { s.jobQueued(j, now: now) } }
            for j in ready { log.info("job \(j.id): its dependencies succeeded; queued") }
        }
        for w in failed { failWaitingJob(w, because: "dependency \(id) ended \(status.rawValue)") }
    }

    /// Ends a pending job that can never run because of its dependencies.
    func failWaitingJob(_ id: JobID, because reason: String, rejected: Bool = false) {
        guard let record = (try? store.read(id, in: .pending)) ?? nil else { return }
        do {
            let ended = try endPendingJob(record, status: rejected ? .rejected : .failed,
                                          error: SpoolError(.dependencyFailed, "job \(id): \(reason)"))
            log.warning("job \(id): \(ended.status.rawValue): \(reason)")
        } catch {
            log.error("job \(id): cannot record its dependency failure: \(error)")
        }
    }

    /// Ends a job that never left pending/ (cancelled, or failed by its dependencies): its final
    /// record goes to done/ with its follow-up staged, and those waiting for it are told.
    @discardableResult
    func endPendingJob(_ pending: JobRecord, status: JobStatus, error: SpoolError) throws -> JobRecord {
        var record = pending
        record.status = status
        record.finishedAt = Timestamp.now()
        record.waitReason = nil
        record.runAfter = nil
        record.error = error
        // It never (or never again) ran: what earlier attempts finished stays counted, the rest is skipped.
        let ops = record.operations ?? []
        let succeeded = ops.filter { $0.status == .succeeded }.count, failed = ops.filter { $0.status == .failed }.count
        let total = record.progress.total
        record.progress = Progress(total: total, succeeded: succeeded, failed: failed, skipped: max(0, total - succeeded - failed),
                                   percent: Progress.percent(Double(succeeded + failed), of: Double(total)),
                                   etaSeconds: nil)
        if record.spec?.isBatch != true {
            // Outputs of attempts that ran before it was cancelled (a retry waiting for its backoff).
            (record.stdout, record.stderr) = store.keptOutputs((JobFiles.stdout(record.id), JobFiles.stderr(record.id)))
        }
        if var ops = record.operations {
            for i in ops.indices where !ops[i].status.isFinished { ops[i].status = .skipped }
            record.operations = ops
        }
        var sync = DirectorySync()
        try stageFollowUp(of: record, sync: &sync)
        try store.write(record, to: .done, sync: &sync)
        try store.commit(&sync)
        store.retire(JobFiles.record(record.id), from: .pending)
        releaseFollowUp(of: record)
        emitFinished(record)
        recordFinished(record)
        jobFinished(record.id, status: status)
        return record
    }
}
