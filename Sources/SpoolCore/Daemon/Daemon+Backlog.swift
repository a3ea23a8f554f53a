// Parked jobs' records read back from pending/ (Scheduling/PendingBacklog.swift): when the engine
// asks (`loadParked`, on the backlog queue) and before a control request applies to one.
import Foundation

extension Daemon {
    static let parkedReadAttempts = 4

    /// Reads the records of parked jobs `ids` from pending/ and hands them to the engine.
    func loadParked(_ ids: [JobID]) {
        var records: [JobRecord] = []
        var missing: [JobID] = []
        records.reserveCapacity(ids.count)
        for id in ids {
            // A failed open or read (EIO, EMFILE) is tried again a few times before the job is let
            // go; a record that does not decode is not.
            for attempt in 1...Self.parkedReadAttempts {
                do {
                    if let r = try store.read(id, in: .pending), r.id == id {
                        records.append(r)
                    } else if store.exists(JobFiles.record(id), in: .pending) {
                        log.error("job \(id): pending/\(id).json holds another job's record; left in pending/ for an operator")
                        missing.append(id)
                    } else {
                        log.warning("job \(id): pending/\(id).json is gone (removed by hand?); nothing to run")
                        missing.append(id)
                    }
                } catch let e as SystemError where e.call != "decode" && attempt < Self.parkedReadAttempts {
                    usleep(UInt32(200_000 * attempt))
                    continue
                } catch {
                    log.error("job \(id): pending/\(id).json is unreadable (\(error)); left in pending/ for an operator (the next start loads it again)")
                    missing.append(id)
                }
                break
            }
        }
        send(.parkedLoaded(records, missing: missing))
    }
}
