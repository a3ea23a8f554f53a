// Parked jobs' records read back from pending/ (Scheduling/PendingBacklog.swift): when the engine
// asks (`loadParked`, on the backlog queue) and before a control request applies to one.
import Foundation

extension Daemon {
    /// Reads the records of parked jobs `ids` from pending/ and hands them to the engine.
    func loadParked(_ ids: [JobID]) {
        var records: [JobRecord] = []
        var missing: [JobID] = []
        records.reserveCapacity(ids.count)
        for id in ids {
            do {
                if let r = try store.read(id, in: .pending) {
                    records.append(r)
                } else {
                    log.warning("job \(id): pending/\(id).json is gone (removed by hand?); nothing to run")
                    missing.append(id)
                }
            } catch {
                log.error("job \(id): pending/\(id).json is unreadable (\(error)); leaving it for an operator")
                missing.append(id)
            }
        }
        send(.parkedLoaded(records, missing: missing))
    }
}
