// `retry` (SPEC §5): a finished job is submitted again under a new id, whole or, with
// failed_only, just the failed and skipped operations of a batch. The new record names the job
// it retries in `retry_of`. The new job goes straight to pending/ as any accepted job would.
import Foundation

extension Daemon {
    func retry(_ r: ControlRequest, file: String) -> Applied {
        let old: JobRecord
        switch (try? store.read(r.id, in: .done)) ?? nil {
        case .some(let record): old = record
        case .none:
            return .unknown  // not known yet: takeControl keeps the request a while and says so
        }
        guard var spec = old.spec else {
            log.error("control: \(file): retry \(r.id): the job was rejected (\(old.error?.code.rawValue ?? "")); fix its file and submit it again")
            return .applied
        }
        var indexMap: [Int] = []
        if r.failedOnly {
            guard let ops = old.operations, let specs = spec.operations else {
                log.error("control: \(file): retry \(r.id) --failed-only: the job is not a batch; use retry without --failed-only")
                return .applied
            }
            indexMap = ops.indices.filter { ops[$0].status != .succeeded }
            guard !indexMap.isEmpty else {
                log.notice("control: \(file): retry \(r.id) --failed-only: every operation succeeded; nothing to retry")
                return .applied
            }
            spec.operations = indexMap.map { specs[$0] }
        }
        let failedOnlyOperations = r.failedOnly ? indexMap.map { OperationRecord(index: old.operations?[$0].index ?? $0, name: old.operations?[$0].name) } : nil
        let newID = r.newID ?? JobID.retry(of: r.id) { store.holds($0) }
        guard !store.holds(newID) else {
            log.error("control: \(file): retry \(r.id): the new id \(newID) is already held by the spool")
            return .applied
        }
        _ = index.insert(newID)  // free on disk, whatever the index remembered of a removed record
        spec.id = newID
        let now = Timestamp.now()
        var record = JobRecord(id: newID, name: old.name, status: .pending, spec: spec, source: "retry of \(r.id) (\(file))",
                               submittedAt: now, sequence: sequence.next())
        record.retryOf = r.id
        record.owner = old.owner  // a retry runs as the same user as the job it retries
        record.progress = Progress(total: spec.operations?.count ?? 1)
        // The retried operations keep their index and name in the job file retried (SPEC §5), so
        // the two records together give every operation's latest result.
        record.operations = failedOnlyOperations
        var sync = DirectorySync()
        do {
            try store.write(record, to: .pending, sync: &sync)
        } catch {
            index.remove(newID)
            log.error("control: \(file): retry \(r.id): cannot write the new job: \(error); keeping the request")
            return .later
        }
        store.commit(&sync)
        accept([record])
        let what = r.failedOnly ? "\(indexMap.count) failed or skipped operations of" : "all of"
        log.info("job \(newID): retries \(what) job \(r.id)")
        return .applied
    }
}
