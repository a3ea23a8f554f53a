// Removing finished records (SPEC §3 `ttl_seconds`, §6 retention): the spool-wide retention
// removes records older than its age (those with a ttl of their own follow that instead), and
// each job's ttl removes its record and outputs that long after it ended. Either way its id is
// free again. Both run on the finish queue, so they never race a final record being written
// (`delete`, in Daemon+Control, runs with the control requests on the intake queue).
import Foundation

extension Daemon {
    /// Removes finished records older than the configured retention, with their files.
    func pruneExpiredRecords() {
        guard let retention = options.retention, let age = retention.doneMaxAgeSeconds else { return }
        let cutoff = Timestamp.now().seconds - age
        let statuses = retention.statuses.map(Set.init)
        var removed = 0
        InboxReader.scan(layout.fd(.done), suffix: ".json", chunk: 1024) { names in
            for n in names {
                // The record's mtime is when it was written, i.e. when the job ended: only old ones are read.
                var st = stat()
                guard n.withCString({ fstatat(layout.fd(.done), $0, &st, AT_SYMLINK_NOFOLLOW) }) == 0,
                      Double(st.st_mtim.tv_sec) < cutoff, let s = n.string,
                      let record = try? store.readRecord(named: s, in: .done)
                else { continue }
                guard (record.finishedAt ?? record.submittedAt).seconds < cutoff else { continue }
                if let statuses, !statuses.contains(record.status) { continue }
                if record.spec?.ttlSeconds != nil { continue }  // its own ttl decides
                JobFiles.removeFinished(record, layout: layout)
                index.remove(record.id)
                history?.recordRemoved(record)
                emit(record, "deleted", [("reason", .string("retention"))])
                removed += 1
            }
        }
        if removed > 0 { log.info("retention: removed \(plural(removed, "finished record")) older than \(Int(age)) s") }
    }

    /// Finds the records in done/ that carry a ttl (at start; later ones are added as jobs end).
    /// Only files that mention `ttl_seconds` are decoded.
    func loadExpiries() {
        let marker = Array("\"ttl_seconds\"".utf8)
        var found: [JobRecord] = []
        InboxReader.scan(layout.fd(.done), suffix: ".json", chunk: 1024) { names in
            for n in names {
                guard let s = n.string, let bytes = try? store.readSmallFile(s, in: .done),
                      bytes.firstRange(of: marker) != nil, let record = try? JobRecord.decode(bytes)
                else { continue }
                found.append(record)
            }
        }
        expiries.withLock { e in for r in found { e.add(r) } }
        if !found.isEmpty { log.info("ttl: \(plural(found.count, "finished record")) with ttl_seconds scheduled for removal") }
    }

    /// Removes the records whose ttl has run out (checked again on disk: a retry or a delete may
    /// have changed things since).
    func removeDueRecords() {
        let now = Timestamp.now()
        for id in expiries.withLock({ $0.takeDue(now: now) }) {
            guard let record = (try? store.read(id, in: .done)) ?? nil,
                  let at = ExpirySchedule.expiry(of: record), at <= now
            else { continue }
            removeFinished(record, why: "ttl_seconds (\(AttemptResult.format(record.spec?.ttlSeconds ?? 0)) s) ran out")
        }
    }
}
