// The second half of intake: a claimed file becomes a record, and only then is the claim
// removed. Also used at start (and after a full disk) for claims a crash left in tmp/:
// `mayExist` makes that idempotent, because a claim's token is written into its record.
import Foundation

extension Intake {
    /// `alsoSync`: folders made durable with the records, before any claim is removed (the inbox,
    /// whose names the claims came from). `handOn`: where accepted jobs that may start before their
    /// records' folder is fsynced go (`startsEarly`); nil at recovery, which hands on nothing early.
    func finish(_ claims: [Claimed], now: Timestamp, result: inout IntakeResult, alsoSync: [SpoolLayout.Folder] = [],
                handOn: ((IntakeResult) -> Void)? = nil) {
        var sync = DirectorySync(writes: claims.count)
        for folder in alsoSync { sync.add(folder) }
        var written: [(claim: Claimed, record: JobRecord, folder: SpoolFolder)] = []
        var finishedClaims: [Claimed] = []
        for c in claims {
            do {
                if c.mayExist, let existing = existingRecord(intake: c.token.rawValue, candidates: candidateIDs(c)) {
                    log.info("intake: claim \(c.token) already became job \(existing.id) (recovered after a crash)")
                    if case .reject(_, _, let isDir, _) = c.outcome, isDir, let original = existing.original {
                        placeDirectoryOriginal(token: c.token, original: original)
                    } else if existing.original != nil, !store.exists(JobFiles.original(existing.id), in: .done) {
                        // Written with the record in one group commit, whose syncfs a power cut came before.
                        try keepOriginal(token: c.token, id: existing.id, sync: &sync)
                    }
                    finishedClaims.append(c)
                    continue
                }
                let (record, folder) = try makeRecord(c, now: now)
                do {
                    // Decided by the record: a valid file whose id is held becomes a rejection there.
                    if folder == .done, record.original != nil, !c.outcomeIsDirectory {
                        try keepOriginal(token: c.token, id: record.id, sync: &sync)
                    }
                    beforePlacement.withLock { $0 }?.body(FileName(c.source))
                    try store.write(record, to: folder, isNew: true, sync: &sync)
                    if folder == .pending, case .accept(let spec) = c.outcome, spec.id != nil,
                       store.exists(JobFiles.record(record.id), in: .running) || store.exists(JobFiles.record(record.id), in: .done) {
                        // Another daemon sharing the spool took this id after it was found free, and its
                        // job left pending/ (started, even finished) before ours was placed there, so the
                        // no-replace placement could not see it. Looked at in the order a record moves
                        // (running/, then done/, where it is written before it leaves running/), so a
                        // record on its way is not missed. Ours goes; the claim is decided again.
                        store.remove(JobFiles.record(record.id), from: .pending)
                        throw SystemError("rename", "tmp/\(c.token).claim -> pending/\(record.id).json", errno: EEXIST)
                    }
                } catch {
                    index.remove(record.id)  // the claim is retried and must find its id free
                    throw error
                }
                if folder == .done { FaultInjection.hit(.afterRejectRecord) }
                written.append((c, record, folder))
            } catch let e as SystemError where e.errno == EEXIST && e.call == "rename" {
                // A lost race, not a fault: another daemon sharing the spool (--lock-file) placed a
                // record of this id since it was found free. The claim stays ours and is decided again
                // at the next scan, where the id is held: a duplicate_id rejection.
                log.notice("intake: the id of tmp/\(c.token).claim (from inbox/\(c.source)) was taken meanwhile by another daemon; deciding it again at the next scan")
            } catch let e as SystemError {
                log.error("intake: cannot record claim tmp/\(c.token).claim (from inbox/\(c.source)): \(e); will retry")
                if e.isDiskFull { result.diskFull = e }
            } catch {
                log.error("intake: cannot record claim tmp/\(c.token).claim: \(error); will retry")
            }
        }
        let handedOn = handOnEarly(written, grouped: sync.isGrouped, to: handOn)
        store.commit(&sync)
        FaultInjection.hit(.beforeClaimRemoved)
        claimSources.withLock { m in for w in written { m[w.claim.token.rawValue] = nil } }
        for w in written {
            if case .reject(_, _, let isDir, _) = w.claim.outcome, isDir, let original = w.record.original {
                placeDirectoryOriginal(token: w.claim.token, original: original)
            } else {
                store.retire("\(w.claim.token.rawValue).claim", from: .tmp)
            }
            if w.folder == .pending {
                guard !handedOn.contains(w.record.id) else { continue }
                result.accepted.append(w.record)
                log.info("job \(w.record.id): accepted from inbox/\(w.claim.source)")
            } else {
                result.rejected.append(w.record)
                log.warning("job \(w.record.id): rejected: \(w.record.error?.description ?? "")")
            }
        }
        for c in finishedClaims where !(c.outcomeIsDirectory) {
            store.retire("\(c.token.rawValue).claim", from: .tmp)
        }
    }

    /// Hands on the accepted jobs that may start before their records' folder is fsynced, and
    /// returns their ids. Their claims are durable and stay in tmp/ until that fsync: a power cut
    /// before it makes such a job again from its claim (or finds its record wherever it got to),
    /// and it runs again, as an `on_interrupt: requeue` job does after any power cut. Only when each
    /// record was fsynced before its rename (not a group commit): running/ never gets a torn record.
    /// Only the leading run of such jobs in the part's order (priority, then arrival): a job handed
    /// on early must not take a worker ahead of a better one of the same part that waits for the
    /// fsync. On an idle queue that fsync no longer comes before the start (docs/design.md, Intake).
    private func handOnEarly(_ written: [(claim: Claimed, record: JobRecord, folder: SpoolFolder)], grouped: Bool,
                             to handOn: ((IntakeResult) -> Void)?) -> Set<JobID> {
        guard let handOn, !grouped, let rule = startsEarly.withLock({ $0 }) else { return [] }
        var early = IntakeResult()
        for w in written where w.folder == .pending {
            guard case .accept(let spec) = w.claim.outcome, rule.body(spec) else { break }
            early.accepted.append(w.record)
            log.info("job \(w.record.id): accepted from inbox/\(w.claim.source)")
        }
        guard !early.accepted.isEmpty else { return [] }
        handOn(early)
        return Set(early.accepted.map(\.id))
    }

    /// Builds the record a claim becomes, reserving its id.
    private func makeRecord(_ c: Claimed, now: Timestamp) throws -> (JobRecord, SpoolFolder) {
        switch c.outcome {
        case .accept(let spec):
            let id = spec.id ?? c.token
            // An explicit id is checked in the folders, the truth: they show another daemon's jobs on a
            // shared spool, and an id whose record was removed (by hand, `spoolctl prune`) is free
            // again although the index still remembers it. Records are written as each claim is
            // decided, so a second file with the same id in this batch finds the first one's.
            let free: Bool
            if spec.id != nil {
                free = !store.holds(id)
                if free { _ = index.insert(id) }  // whatever the index remembered of a removed record
            } else {
                free = index.insert(id)
            }
            guard free else {
                let dup = SpoolError(.duplicateID, "inbox/\(c.source): id \"\(id)\" is already held by the spool; the job with that id was left untouched")
                return try makeRecord(Claimed(token: c.token, source: c.source, stem: c.stem,
                                              outcome: .reject(dup, explicitID: nil, isDirectory: false, hasBytes: true)), now: now)
            }
            var record = JobRecord(id: id, name: spec.name ?? c.stem, status: .pending, spec: spec, source: c.source,
                                   submittedAt: now, sequence: sequence.next())
            record.intake = c.token.rawValue
            record.owner = c.owner
            record.progress = Progress(total: spec.operations?.count ?? 1)
            if let nb = spec.notBefore, nb > now {
                record.runAfter = nb
                record.waitReason = "not_before \(nb.rfc3339)"
            }
            return (record, .pending)
        case .reject(let error, let explicitID, _, let hasBytes):
            var id = c.token
            if let e = explicitID, error.code != .duplicateID, !store.holds(e) {
                _ = index.insert(e)
                id = e
            } else {
                _ = index.insert(c.token)
            }
            var record = JobRecord(id: id, name: c.stem, status: .rejected, spec: nil, source: c.source,
                                   submittedAt: now, sequence: sequence.next())
            record.error = error
            record.finishedAt = now
            record.intake = c.token.rawValue
            record.progress = Progress(total: 1, skipped: 1, percent: 0)  // nothing ran
            if hasBytes || c.outcomeIsDirectory { record.original = "done/\(JobFiles.original(id))" }
            return (record, .done)
        }
    }

    private func candidateIDs(_ c: Claimed) -> [JobID] {
        switch c.outcome {
        case .accept(let spec): return [spec.id, c.token].compactMap { $0 }
        case .reject(_, let explicitID, _, _): return [explicitID, c.token].compactMap { $0 }
        }
    }

    /// The record, in any folder, that a claim already produced.
    private func existingRecord(intake: String, candidates: [JobID]) -> JobRecord? {
        for id in candidates {
            for folder in SpoolFolder.allCases {
                if let r = try? store.read(id, in: folder), r.intake == intake { return r }
            }
        }
        return nil
    }

    /// Keeps the claimed bytes as done/<id>.original before the record names it: a copy (durable,
    /// like a record), so that a writer still holding the inbox file open cannot change what was
    /// kept. A file over the size limit is hard-linked instead, since only its head was read.
    private func keepOriginal(token: JobID, id: JobID, sync: inout DirectorySync) throws {
        let claim = "\(token.rawValue).claim"
        if case .file(let content) = InboxReader.read(FileName(claim), in: layout.fd(.tmp), folder: "tmp", limit: config.maxJobBytes),
           !content.tooLarge {
            try store.writeFile(bytes: content.bytes, name: JobFiles.original(id), folder: .done, sync: &sync)
            return
        }
        if linkat(layout.fd(.tmp), claim, layout.fd(.done), JobFiles.original(id), 0) != 0, errno != EEXIST {
            throw SystemError("link", "tmp/\(claim) -> done/\(JobFiles.original(id))")
        }
        sync.add(.done)
    }

    /// A directory cannot be hard-linked: it is renamed after its record exists.
    private func placeDirectoryOriginal(token: JobID, original: String) {
        let name = String(original.dropFirst("done/".count))
        if renameat(layout.fd(.tmp), "\(token.rawValue).claim", layout.fd(.done), name) != 0, errno != ENOENT {
            log.error("intake: cannot move directory tmp/\(token).claim to \(original): \(SystemError("rename", original))")
        }
    }

    /// Finishes claims left in tmp/ by a crash or a full disk. Returns records newly written.
    /// `all`: every claim in tmp/ (at start, when no other process can be working on one); otherwise
    /// only this process's own claims and claims it has seen there for a minute (another daemon
    /// sharing the spool may be in the middle of its own; `foreignClaims`).
    public func recoverClaims(now: Timestamp, all: Bool = false) -> IntakeResult {
        var result = IntakeResult()
        var claims: [Claimed] = []
        var twins = DirectorySync()
        let own = claimSources.withLock { Set($0.keys) }
        let seenBefore = foreignClaims.withLock { $0 }
        var seen: [String: Double] = [:]
        InboxReader.scan(layout.fd(.tmp), suffix: ".claim") { names in
            for name in names {
                guard let s = name.string, let token = JobID(String(s.dropLast(".claim".count))) else { continue }
                // The token is "<stem>-<17 hex digits>": the stem is the inbox name without ".json".
                let stem = String(token.rawValue.dropLast(18))
                // This run's claims know their inbox name; after a crash only the id stem is left.
                let source = claimSources.withLock { $0[token.rawValue] } ?? "\(stem).json"
                if !all && !own.contains(token.rawValue) {
                    let first = seenBefore[s] ?? now.seconds
                    seen[s] = first
                    guard now.seconds - first > 60 else {
                        // Another daemon's claim is taken over only after a minute, but an inbox name
                        // a power cut kept beside it must go now, or the next scan takes it as a job.
                        var st = stat()
                        if fstatat(layout.fd(.tmp), s, &st, AT_SYMLINK_NOFOLLOW) == 0,
                           dropInboxTwin(source, device: UInt64(st.st_dev), inode: UInt64(st.st_ino)) {
                            twins.add(.inbox)
                        }
                        continue
                    }
                }
                FaultInjection.hit(.duringRecovery)
                let file = "inbox/\(source)"
                let outcome: Claimed.Outcome
                var owner: JobOwner? = nil
                switch InboxReader.read(name, in: layout.fd(.tmp), folder: "tmp", limit: config.maxJobBytes) {
                case .gone, .changing, .unreadable:
                    continue
                case .notRegular(let kind, let isDir):
                    outcome = Self.notRegular(kind, isDirectory: isDir, file: file)
                case .file(let content):
                    if dropInboxTwin(source, device: content.device, inode: content.inode) { twins.add(.inbox) }
                    if AccessPolicy.runsAsOwner { owner = JobOwner(uid: content.uid, gid: content.gid) }
                    outcome = Self.judge(content, file: file, config: config)
                }
                var c = Claimed(token: token, source: source, stem: stem, outcome: outcome)
                c.mayExist = true
                c.owner = owner
                claims.append(c)
            }
        }
        if !all { foreignClaims.withLock { $0 = seen } }  // claims gone since are forgotten
        // Durably gone before the claims are finished and removed, or a second power cut brings them back.
        store.commit(&twins)
        if !claims.isEmpty { finish(claims, now: now, result: &result) }
        return result
    }

    /// A power cut can keep an inbox file's name beside the claim it was renamed to (on a
    /// filesystem without a journal, each folder's change reaches the disk on its own; for a name
    /// its id stem gives back, the inbox's fsync comes with the records, after the claim's: see
    /// `inboxSyncedWithClaim`): both names then name one file. That inbox name is the claim itself,
    /// not a second job (which would be rejected as a duplicate of the first, or run twice), so it
    /// is removed. Only the name the claim came from is looked at: a user's own second link to a
    /// job file elsewhere in the inbox stays a job. A file counted with one link is left alone: a
    /// claim seen through a network filesystem's stale cache, or a count fsck has not mended after
    /// the cut (unlinking one of two names of a file counted once would free it under the other).
    private func dropInboxTwin(_ source: String, device: UInt64, inode: UInt64) -> Bool {
        var st = stat()
        guard fstatat(layout.fd(.inbox), source, &st, AT_SYMLINK_NOFOLLOW) == 0,
              UInt64(st.st_ino) == inode, UInt64(st.st_dev) == device, st.st_nlink >= 2,
              unlinkat(layout.fd(.inbox), source, 0) == 0 else { return false }
        log.notice("intake: inbox/\(source) was still there beside its claim (a power cut kept both names); removed it")
        return true
    }
}

extension Intake.Claimed {
    var outcomeIsDirectory: Bool {
        if case .reject(_, _, let isDir, _) = outcome { return isDir }
        return false
    }
}
