// Turns inbox files into pending jobs or rejection records, exactly once per file.
//
// A file is read and validated where it lies, then claimed by a no-replace rename into
// tmp/<token>.claim (so two daemons never both take it, and the inbox name is free again; on a
// filesystem that refuses the flag, a plain rename to that fresh name: ExclusiveRename.swift),
// the claim is made durable, the record is written (pending/<id>.json or done/<id>.json), and
// only then is the claim removed. A crash anywhere leaves either the inbox file (not claimed
// yet) or a claim whose token is also the record's `intake`: recovery finishes it without
// making a second job or a second rejection (after a power cut, the inbox name may also be left
// beside its claim: recovery drops it as the claim's twin, Intake+Claims.swift). Files that do
// not parse are left alone until they have been unchanged for the settle period (SPEC §2), so
// slow writers are never rejected early.
import Foundation
import SpoolJSON
import CSpoolShim

/// Settings for intake.
public struct IntakeConfig: Sendable {
    public var maxJobBytes = 1 << 20
    public var settleSeconds = 2.0
    public var limits = JobSpec.Limits()
    public var access = AccessPolicy()
    public init() {}
}

/// What one intake pass did.
public struct IntakeResult: Sendable {
    public var accepted: [JobRecord] = []
    public var rejected: [JobRecord] = []
    /// When the earliest unsettled file should be looked at again.
    public var recheckAt: Timestamp?
    /// Set when a write failed for lack of space: stop taking files until then.
    public var diskFull: SystemError?
}

public final class Intake: Sendable {
    let store: StateStore
    let index: JobIndex
    let idGenerator: JobIDGenerator
    let sequence: SequenceClock
    private let configBox: LockedBox<IntakeConfig>
    let log: Log

    /// The settings now (a reload may change them).
    var config: IntakeConfig { configBox.withLock { $0 } }

    public func update(config: IntakeConfig) { configBox.withLock { $0 = config } }
    /// The inbox name of each claim of this run: recovery after a full disk names the right file.
    let claimSources = LockedBox([String: String]())
    /// For tests: runs between a file's read and its claim, the window in which a writer may
    /// replace it (IntakeReplacedFileTests). In a struct, as EventLog's observer (see there).
    let beforeClaim = LockedBox<ClaimHook?>(nil)
    /// For tests: runs between the check that a claim's id is free and the placement of its record,
    /// the window in which another daemon sharing the spool may take the id (IntakeSharedIDTests).
    let beforePlacement = LockedBox<ClaimHook?>(nil)
    struct ClaimHook {
        let body: @Sendable (FileName) -> Void
    }
    /// Set by the daemon: which accepted jobs are handed on before their record's folder is fsynced
    /// (`Engine.mayStartBeforeDurable`); none when unset.
    let startsEarly = LockedBox<EarlyRule?>(nil)
    struct EarlyRule {
        let body: @Sendable (JobSpec) -> Bool
    }
    /// Claims in tmp/ of other daemons sharing the spool (--lock-file), by when this one first saw
    /// each: one is taken over only after a minute of this daemon's clock. Not by the file's ctime:
    /// on a network filesystem that is the server's clock (another host's may be minutes off), and
    /// sshfs shows the mtime, which a job file may have had long before it was claimed.
    let foreignClaims = LockedBox([String: Double]())
    /// Inbox files that do not parse yet and are waiting out the settle period.
    private let unsettled = LockedBox(Set<FileName>())

    var layout: SpoolLayout { store.layout }

    public init(store: StateStore, index: JobIndex, idGenerator: JobIDGenerator, sequence: SequenceClock,
                config: IntakeConfig, log: Log) {
        self.store = store
        self.index = index
        self.idGenerator = idGenerator
        self.sequence = sequence
        self.configBox = LockedBox(config)
        self.log = log
    }

    /// Number of inbox files waiting for their writer to finish.
    public var unsettledCount: Int { unsettled.withLock { $0.count } }

    /// One decision about an inbox name, made before anything is changed on disk.
    private struct Decision {
        var name: FileName
        var outcome: Claimed.Outcome
        /// The file as read (for an accepted one: checked again after the claim, and its owner).
        var content: FileContent?
        var modified: Double
        /// The job's priority (a rejection's is 0): the order of a pass's parts.
        var priority: Int {
            if case .accept(let spec) = outcome { return spec.priority ?? 0 }
            return 0
        }
    }

    /// What a file read from the inbox (or from a claim in tmp/, after a crash) becomes: the one
    /// intake decision, for both.
    static func judge(_ content: FileContent, file: String, config: IntakeConfig) -> Claimed.Outcome {
        if let denied = config.access.check(uid: content.uid, gid: content.gid, file: file) {
            return .reject(denied, explicitID: nil, isDirectory: false, hasBytes: true)
        }
        if content.tooLarge {
            return .reject(SpoolError(.tooLarge, "\(file) is \(content.size) bytes; the limit is \(config.maxJobBytes) bytes (max_job_bytes in config.json, or --max-job-size)"),
                           explicitID: nil, isDirectory: false, hasBytes: true)
        }
        switch JobSpec.parse(content.bytes, file: file, limits: config.limits) {
        case .success(let spec): return .accept(spec)
        case .failure(let problems):
            return .reject(problems.combined, explicitID: explicitID(in: content.bytes), isDirectory: false, hasBytes: true)
        }
    }

    /// The rejection of a name that is not a regular file.
    static func notRegular(_ kind: String, isDirectory: Bool, file: String) -> Claimed.Outcome {
        .reject(SpoolError(.notARegularFile, "\(file) is \(kind); job files must be regular files (links are never followed)"),
                explicitID: nil, isDirectory: isDirectory, hasBytes: false)
    }

    /// Processes inbox names (from an event or a scan); every name ends claimed, deferred or skipped.
    /// All parts' results in one (tests; the daemon hands each part on as it comes).
    public func process(_ names: [FileName], now: Timestamp) -> IntakeResult {
        var all = IntakeResult()
        process(names, now: now) { part in
            all.accepted += part.accepted
            all.rejected += part.rejected
            all.recheckAt = [all.recheckAt, part.recheckAt].compactMap { $0 }.min()
            all.diskFull = all.diskFull ?? part.diskFull
        }
        return all
    }

    /// The sizes of the parts a pass claims and records one after the other, each part's result
    /// delivered before the next part begins: the first jobs can start while the rest of a full
    /// inbox is still being recorded. On a daemon's start with 500 files in the inbox, recording all
    /// of them took 190-400 ms before the first could start (creating a record's inode is most of
    /// it on ext4: SparePool.swift), so the first job waited that long. Each part costs two commits
    /// more; the parts grow, and only the first chunk of a scan is split (`inParts`).
    static let partSizes = [8, 32, 128]

    /// Processes inbox names, delivering the result in parts (`partSizes`, or one part when not
    /// `inParts`). Every file is read and judged first, and the parts go highest priority first,
    /// then in order of arrival: a job in a later part never outranks one that may start before it
    /// is accepted. The earliest time to look at unsettled files again comes with the last part.
    /// After a part that found the disk full, the rest stays in the inbox untouched.
    public func process(_ names: [FileName], now: Timestamp, inParts: Bool = true, deliver: (IntakeResult) -> Void) {
        var result = IntakeResult()
        var decisions: [Decision] = []
        for name in names where !name.isHidden && name.hasSuffix(".json") {
            if let d = decide(name, now: now, result: &result) { decisions.append(d) }
        }
        // Priority, then arrival: by modification time, then name (a scan lists names in hash order).
        decisions.sort { a, b in
            if a.priority != b.priority { return a.priority > b.priority }
            return a.modified != b.modified ? a.modified < b.modified : a.name.bytes.lexicographicallyPrecedes(b.name.bytes)
        }
        let recheckAt = result.recheckAt  // delivered with the last part
        result.recheckAt = nil
        var start = 0, part = 0
        while true {
            let size = inParts && part < Self.partSizes.count ? Self.partSizes[part] : decisions.count
            let end = min(decisions.count, start + size)
            claimAndRecord(decisions[start..<end], now: now, result: &result, handOn: deliver)
            if end == decisions.count || result.diskFull != nil {
                result.recheckAt = [result.recheckAt, recheckAt].compactMap { $0 }.min()
                return deliver(result)
            }
            deliver(result)
            result = IntakeResult()
            start = end
            part += 1
        }
    }

    /// Whether the removal of inbox name `name` must be durable with its claim, before its record is
    /// written: when its id stem does not give the name back ("nightly build.json" has the stem
    /// `nightly_build`; names over 80 characters are cut), since after a power cut recovery finds
    /// the name a claim came from by its stem alone, and a name it cannot find would be taken as a
    /// second job.
    static func inboxSyncedWithClaim(_ name: FileName) -> Bool {
        Array((JobID.stem(of: name) + ".json").utf8) != name.bytes
    }

    /// Claims every file by a no-replace rename, makes the claims durable together, and records them.
    /// `handOn` takes accepted jobs that may start before their records are durable.
    private func claimAndRecord(_ decisions: ArraySlice<Decision>, now: Timestamp, result: inout IntakeResult,
                                handOn: (IntakeResult) -> Void) {
        guard !decisions.isEmpty else { return }
        var claims: [(token: JobID, decision: Decision)] = []
        var replaced = false
        var sync = DirectorySync()
        let hook = beforeClaim.withLock { $0 }
        for d in decisions {
            hook?.body(d.name)
            guard let token = claim(d.name) else { continue }
            if case .accept = d.outcome, let content = d.content, !isSameFile(token: token, as: content) {
                // Replaced between the read and the claim: decided again from the claim by recovery below.
                sync.add(.inbox)
                sync.add(.tmp)
                replaced = true
                continue
            }
            claims.append((token, d))
            // Only the claim's new name must be durable before its record is written (else a power
            // cut could keep the record and bring the inbox file back as a second job). The inbox
            // name's removal is made durable with the records, before any claim is removed: a power
            // cut before it may keep that name beside the claim, which recovery drops as the
            // claim's twin (`dropInboxTwin`). One fsync less before a job can start. Recovery
            // knows the inbox name only from the claim's id stem, so a name the stem does not give
            // back keeps the fsync here, as before.
            sync.add(.tmp)
            if Self.inboxSyncedWithClaim(d.name) { sync.add(.inbox) }
        }
        store.commit(&sync)
        FaultInjection.hit(.afterClaim)
        let claimed = claims.map { c in
            let d = c.decision
            var claimed = Claimed(token: c.token, source: d.name.description, stem: FileName.stemDisplay(d.name), outcome: d.outcome)
            if case .accept = d.outcome, AccessPolicy.runsAsOwner, let content = d.content {
                claimed.owner = JobOwner(uid: content.uid, gid: content.gid)
            }
            return claimed
        }
        withoutActuallyEscaping(handOn) { finish(claimed, now: now, result: &result, alsoSync: [.inbox], handOn: $0) }
        if replaced {
            let again = recoverClaims(now: now)
            result.accepted += again.accepted
            result.rejected += again.rejected
        }
    }

    /// A claimed file and what to do with it.
    struct Claimed {
        enum Outcome {
            case accept(JobSpec)
            case reject(SpoolError, explicitID: JobID?, isDirectory: Bool, hasBytes: Bool)
        }
        var token: JobID
        var source: String
        var stem: String
        var outcome: Outcome
        /// Set by recovery: the record may already exist.
        var mayExist = false
        /// When spoold runs as root: who the job runs as.
        var owner: JobOwner?
    }

    private func decide(_ name: FileName, now: Timestamp, result: inout IntakeResult) -> Decision? {
        let file = "inbox/\(name)"
        switch InboxReader.read(name, in: layout.fd(.inbox), limit: config.maxJobBytes) {
        case .gone:
            unsettled.withLock { _ = $0.remove(name) }
            return nil
        case .changing:
            unsettled.withLock { _ = $0.insert(name) }
            deferRecheck(name, at: now.adding(config.settleSeconds), result: &result)
            return nil
        case .unreadable(let e):
            guard e.errno == EACCES || e.errno == EPERM else {
                log.warning("intake: cannot read \(file): \(e); retrying at the next scan")
                return nil
            }
            // It will not become readable by itself (a submitter's umask 077, say): say so in a record.
            let message = "\(file) cannot be read by the daemon (\(String(cString: strerror(e.errno)))); make job files readable by the daemon's user or group (mode 0640 or 0644)"
            return Decision(name: name, outcome: .reject(SpoolError(.forbidden, message), explicitID: nil, isDirectory: false, hasBytes: false),
                            content: nil, modified: now.seconds)
        case .notRegular(let kind, let isDir):
            return Decision(name: name, outcome: Self.notRegular(kind, isDirectory: isDir, file: file), content: nil, modified: now.seconds)
        case .file(let content):
            let outcome = Self.judge(content, file: file, config: config)
            if case .reject(let e, _, _, _) = outcome, e.code == .invalidJSON, now.seconds < content.modified + config.settleSeconds {
                // Maybe a writer is still at work: reject only once the file has been still for the settle period.
                unsettled.withLock { _ = $0.insert(name) }
                deferRecheck(name, at: Timestamp(seconds: content.modified + config.settleSeconds), result: &result)
                return nil
            }
            unsettled.withLock { _ = $0.remove(name) }
            return Decision(name: name, outcome: outcome, content: content, modified: content.modified)
        }
    }

    private func deferRecheck(_ name: FileName, at: Timestamp, result: inout IntakeResult) {
        result.recheckAt = min(result.recheckAt ?? at, at)
    }

    /// The `id` of an invalid job file when it is itself valid: the rejection is then filed under it,
    /// so `spoolctl wait ID` sees the rejection.
    static func explicitID(in bytes: [UInt8]) -> JobID? {
        guard let v = try? JSONParser().parse(bytes), case .object(let o) = v, case .string(let s)? = o["id"] else { return nil }
        return JobID(s)
    }

    private func isSameFile(token: JobID, as content: FileContent) -> Bool {
        var st = stat()
        guard fstatat(layout.fd(.tmp), "\(token.rawValue).claim", &st, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        return UInt64(st.st_ino) == content.inode && UInt64(st.st_dev) == content.device && Int(st.st_size) == content.size
    }

    /// Renames an inbox file to tmp/<token>.claim without replacing anything; nil if it is gone.
    private func claim(_ name: FileName) -> JobID? {
        let stem = JobID.stem(of: name)
        for _ in 0..<8 {
            let token = idGenerator.next(stem: stem)
            let failure = name.withCString { layout.exclusiveRename.rename(layout.fd(.inbox), $0, layout.fd(.tmp), "\(token.rawValue).claim",
                                                                           freshTarget: true) }
            guard let failure else {
                claimSources.withLock { $0[token.rawValue] = name.description }
                return token
            }
            if failure == EEXIST { continue }
            if failure == ENOENT {
                log.warning("intake: inbox/\(name) vanished before it could be claimed (taken by another process?)")
            } else {
                log.error("intake: cannot claim inbox/\(name): \(SystemError("rename", "inbox/\(name)", errno: failure))")
            }
            return nil
        }
        return nil
    }
}

extension FileName {
    /// The name without `.json`, as people should see it (the default job `name`).
    static func stemDisplay(_ name: FileName) -> String {
        var n = name
        if n.hasSuffix(".json") { n.bytes.removeLast(5) }
        return n.description
    }
}
