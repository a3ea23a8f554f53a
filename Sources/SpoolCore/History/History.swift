// The daemon's side of the history index (HistoryLog.swift has the files, HistoryEntry.swift a
// line, HistorySummary.swift the fold). The daemon is the one writer; every change comes in on
// one serial queue, so lines are in the order they were written and the summary is their fold.
//
// Crash reasoning. A record is made durable in done/ first (tmp, fsync, rename, fsync of done/),
// and only then is its line appended (a plain write, not fsynced); a removal unlinks the record,
// then appends a `removed` line. So after any crash the index can only lag the records, never
// lead them by a job that does not exist... except that the last lines may be lost or torn by a
// power cut. Both are caught at start, cheaply: the summary names the position it covers, the
// lines after it are folded in (a torn last line is cut off), and the count and the XOR of the
// id hashes of what the index says done/ holds are compared with a listing of done/ (names only,
// nothing is decoded). Any difference, a summary that covers more than the index holds, an
// unreadable line, or no index at all: the index is rebuilt from the records, in the background
// (jobs run meanwhile; their lines queue behind the rebuild, and clients read the records
// directly until it is done).
import Foundation

public final class History: @unchecked Sendable {
    let layout: SpoolLayout
    let log: Log
    let queue = DispatchQueue(label: "spoold.history")
    /// Paused time of running jobs, from the event log (pause/resume), by id.
    private let pauses = LockedBox([String: (since: Double?, total: Double)]())
    /// What the last `open` found: nil when the index was up to date, else why it was rebuilt.
    public let rebuildReason = LockedBox<String?>(nil)
    private let verifying = LockedBox<LockedBox<Bool>?>(nil)

    // Touched only on `queue`.
    private var dirFD: Int32 = -1
    private var fd: Int32 = -1
    private var segment: Int64 = 1
    private var size = 0
    private var summary = HistorySummary()
    private var summaryScheduled = false
    private var summaryDirty = false
    /// How long after a change the summary is written: `summaryDelay(took:)` of the last write.
    private var summaryWait = History.summaryDelay(took: 0)
    /// Ids the rebuild listed but found gone: a removal line for them is not written.
    private var vanished: Set<String> = []

    /// Several daemons share the spool (--lock-file): none may write the index, as each sees only
    /// its own jobs.
    let shared: Bool

    public init(layout: SpoolLayout, log: Log, shared: Bool = false) {
        self.layout = layout
        self.log = log
        self.shared = shared
    }

    deinit {
        if fd >= 0 { close(fd) }
        if dirFD >= 0 { close(dirFD) }
    }

    var path: String { "\(layout.root)/\(HistoryFiles.folder)" }

    // MARK: start

    /// Loads the index and checks it against done/ (synchronously: a listing of done/ and the
    /// lines written since the summary); starts a rebuild in the background if it does not match.
    public func open(workers: Int, queueLimits: [String: Int]) {
        queue.sync {
            if shared {
                // An index an earlier lone daemon left would go stale: without its summary, clients read the records.
                if unlinkat(layout.rootFD, "\(HistoryFiles.folder)/\(HistoryFiles.summary)", 0) == 0 {
                    log.notice("history: --lock-file: the history index is off (several daemons share the spool); clients read the records")
                }
                return
            }
            let width = HistorySummary.Width(workers: workers, queueLimits: queueLimits)
            let listing = Self.fingerprintDone(layout)
            if let problem = load() {
                rebuildReason.withLock { $0 = problem }
                log.notice("history: \(problem); rebuilding the index from \(plural(listing.count, "record")) in done/ in the background")
                queue.async { [self] in rebuild(width: width) }
                return
            }
            summary.width = width
            if summary.live + summary.unindexed != listing.count
                || summary.fingerprint ^ summary.unindexedFingerprint != listing.fingerprint {
                rebuildReason.withLock { $0 = "done/ and the index differ" }
                log.notice("history: the index holds \(plural(summary.live, "job")) and done/ \(plural(listing.count, "record")) (or other ids); rebuilding the index from the records in the background")
                queue.async { [self] in rebuild(width: width) }
                return
            }
            rebuildReason.withLock { $0 = nil }
            writeSummary()
            log.info("history: index of \(plural(summary.live, "finished job")) is up to date")
            verify(summary)
        }
    }

    /// Reads the lines the summary covers, in the background, and rebuilds the index if they do
    /// not add up to it (a damaged file, not a crash: a crash costs only the end, checked above).
    /// Each line's kind and id are taken from its fixed beginning, without parsing it, so a
    /// million lines take about a second.
    private func verify(_ expected: HistorySummary) {
        let dir = dup(dirFD)
        guard dir >= 0 else { return }
        let verified = LockedBox(false)
        verifying.withLock { $0 = verified }
        DispatchQueue.global(qos: .utility).async { [self] in
            defer { close(dir) }
            var lines: Int64 = 0, live = 0
            var fingerprint: UInt64 = 0
            var end = HistorySummary.Position(segment: 1, offset: 0)
            var sound = true
            _ = HistoryFiles.forEachLine(dir, after: HistorySummary.Position(segment: HistoryFiles.segments(dir).first ?? 1, offset: 0)) { line, position in
                guard position <= expected.covers else { return false }
                guard line.last == UInt8(ascii: "}"), let (kind, id) = HistoryEntry.peek(line) else {
                    sound = false
                    return false
                }
                lines += 1
                live += kind == .finished ? 1 : -1
                fingerprint ^= HistorySummary.hash(id)
                end = position
                return true
            }
            if !sound || end != expected.covers || live != expected.live || fingerprint != expected.fingerprint || lines != expected.lines {
                queue.async { [self] in
                    rebuildReason.withLock { $0 = "the index does not read back as its summary" }
                    log.notice("history: the index does not read back as its summary (a damaged file); rebuilding it from the records in the background")
                    rebuild(width: summary.width ?? HistorySummary.Width(workers: 1, queueLimits: [:]))
                }
            }
            verified.withLock { $0 = true }
        }
    }

    /// Waits for the background check of the last `open` (tests).
    func waitVerified() {
        flush()
        guard let v = verifying.withLock({ $0 }) else { return }
        while !v.withLock({ $0 }) { usleep(2000) }
        flush()  // a rebuild the check asked for
    }

    /// Reads summary.json and folds the lines after it; nil when the index is sound.
    private func load() -> String? {
        if mkdir(path, 0o755) != 0 && errno != EEXIST { return "cannot create \(path): \(String(cString: strerror(errno)))" }
        if dirFD >= 0 { close(dirFD) }
        dirFD = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { return "cannot open \(path)" }
        guard let bytes = HistoryFiles.read(dirFD, HistoryFiles.summary) else { return "no index yet" }
        do {
            summary = try HistorySummary.decode(bytes)
        } catch {
            return "history/summary.json is unreadable"
        }
        var end = summary.covers
        var damaged = false
        var next = summary
        let known = HistoryFiles.forEachLine(dirFD, after: summary.covers) { line, position in
            guard let e = try? HistoryEntry.decode(line) else {
                damaged = true
                return false
            }
            next.apply(e)
            end = position
            return true
        }
        guard known else { return "history/summary.json covers lines the index does not hold" }
        guard !damaged else { return "the index has an unreadable line after \(end.segment):\(end.offset)" }
        next.covers = end
        summary = next
        // Appends go on at the end of the last complete line (a torn one is cut off).
        let newest = HistoryFiles.segments(dirFD).last ?? 1
        segment = newest
        let name = HistoryFiles.segmentName(newest)
        fd = openat(dirFD, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { return "cannot open history/\(name)" }
        let keep = end.segment == newest ? end.offset : 0
        if (HistoryFiles.size(dirFD, name) ?? 0) != keep {
            _ = ftruncate(fd, off_t(keep))
        }
        size = keep
        return nil
    }

    /// How many `*.json` names done/ holds and the XOR of their ids' hashes, straight from
    /// readdir (no name is copied: a million take a fraction of a second).
    static func fingerprintDone(_ layout: SpoolLayout) -> (count: Int, fingerprint: UInt64) {
        let fd = openat(layout.fd(.done), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let dir = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            return (0, 0)
        }
        defer { closedir(dir) }
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        let suffix: [UInt8] = Array(".json".utf8)
        var count = 0
        var fp: UInt64 = 0
        while let entry = readdir(dir) {
            let raw = UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: UInt8.self)
            let len = strlen(UnsafeRawPointer(raw).assumingMemoryBound(to: CChar.self))
            guard len > suffix.count, raw[0] != UInt8(ascii: "."),
                  raw[len - 5] == suffix[0], raw[len - 4] == suffix[1], raw[len - 3] == suffix[2], raw[len - 2] == suffix[3],
                  raw[len - 1] == suffix[4] else { continue }
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for i in 0..<(len - 5) {
                h ^= UInt64(raw[i])
                h = h &* 0x100_0000_01b3
            }
            fp ^= h
            count += 1
        }
        return (count, fp)
    }

    /// Names (ids) of the records in done/, and their fingerprint.
    static func listDone(_ layout: SpoolLayout) -> (names: [String], fingerprint: UInt64) {
        var names: [String] = []
        var fp: UInt64 = 0
        InboxReader.scan(layout.fd(.done), suffix: ".json", chunk: 4096) { batch in
            for n in batch {
                guard !n.isHidden, let s = n.string else { continue }
                let id = s.dropLast(5)
                fp ^= HistorySummary.hash(id)
                names.append(String(id))
            }
        }
        return (names, fp)
    }

    // MARK: rebuild

    /// Builds the index from the records in done/, on `queue` (what comes meanwhile waits): the
    /// listing and the build are one block, so every line appended before it is for a record the
    /// listing sees, and every one after it is appended to the new index.
    private func rebuild(width: HistorySummary.Width) {
        let started = Timestamp.now().seconds
        let ids = Self.listDone(layout).names
        let store = StateStore(layout: layout)
        let chunks = max(1, min(64, ids.count / 512))
        let parts = LockedBox([[HistoryEntry]](repeating: [], count: chunks))
        let gone = LockedBox(Set<String>())
        let unreadable = LockedBox([String]())
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            var part: [HistoryEntry] = []
            part.reserveCapacity(ids.count / chunks + 1)
            var missing: [String] = [], bad: [String] = []
            var i = c
            while i < ids.count {
                defer { i += chunks }
                guard let id = JobID(ids[i]) else {
                    bad.append(ids[i])
                    continue
                }
                do {
                    guard let bytes = try store.readSmallFile(JobFiles.record(id), in: .done) else {
                        missing.append(ids[i])
                        continue
                    }
                    if let e = HistoryEntry(recordBytes: bytes, indexedAt: 0) { part.append(e) } else { bad.append(ids[i]) }
                } catch {
                    bad.append(ids[i])
                }
            }
            parts.withLock { $0[c] = part }
            if !missing.isEmpty { gone.withLock { $0.formUnion(missing) } }
            if !bad.isEmpty { unreadable.withLock { $0 += bad } }
        }
        // One array, filled part by part, each part freed as it is moved: never two copies at once.
        var entries: [HistoryEntry] = []
        entries.reserveCapacity(parts.withLock { $0.reduce(0) { $0 + $1.count } })
        for c in 0..<chunks {
            entries += parts.withLock { p -> [HistoryEntry] in
                defer { p[c] = [] }
                return p[c]
            }
        }
        vanished = gone.withLock { $0 }
        entries.sort { a, b in
            let ka = a.finishedAt ?? a.submittedAt, kb = b.finishedAt ?? b.submittedAt
            return ka != kb ? ka < kb : a.sequence < b.sequence
        }
        let skipped = unreadable.withLock { $0 }
        if !skipped.isEmpty {
            log.warning("history: \(plural(skipped.count, "file")) in done/ \(skipped.count == 1 ? "is" : "are") not a readable record and not indexed: \(skipped.prefix(5).joined(separator: ", "))\(skipped.count > 5 ? ", ..." : "")")
        }
        do {
            try install(entries, unindexed: skipped, width: width)
            log.info("history: index of \(plural(entries.count, "finished job")) built in \(String(format: "%.1f", Timestamp.now().seconds - started)) s")
        } catch {
            log.error("history: cannot build the index: \(error); clients read the records instead")
            summary = HistorySummary()
            fd = -1
        }
    }

    /// Writes `entries` (oldest first) as a new index in history.new/, then puts it in place.
    private func install(_ entries: [HistoryEntry], unindexed: [String], width: HistorySummary.Width) throws {
        let fresh = "\(layout.root)/\(HistoryFiles.folder).new"
        try? FileManager.default.removeItem(atPath: fresh)
        guard mkdir(fresh, 0o755) == 0 else { throw SystemError("mkdir", fresh) }
        let newFD = Glibc.open(fresh, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard newFD >= 0 else { throw SystemError("open", fresh) }
        var s = HistorySummary()
        s.width = width
        s.unindexed = unindexed.count
        s.unindexedFingerprint = unindexed.reduce(0) { $0 ^ HistorySummary.hash($1) }
        var seg: Int64 = 1
        var buffer: [UInt8] = []
        buffer.reserveCapacity(HistoryFiles.maxSegmentBytes + 4096)
        var last = 0.0
        func flushSegment() throws {
            let name = HistoryFiles.segmentName(seg)
            let f = openat(newFD, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
            guard f >= 0 else { throw SystemError("create", "\(fresh)/\(name)") }
            defer { close(f) }
            if let e = buffer.withUnsafeBytes({ writeAll(f, $0) }) { throw SystemError("write", "\(fresh)/\(name)", errno: e) }
            fsync(f)
        }
        for var e in entries {
            e.width = Self.width(of: e, width)
            last = max(last, e.finishedAt ?? e.submittedAt, e.submittedAt)
            e.indexedAt = last
            let line = Array((e.line() + "\n").utf8)
            if buffer.count + line.count > HistoryFiles.maxSegmentBytes && !buffer.isEmpty {
                try flushSegment()
                seg = s.lines + 1
                buffer.removeAll(keepingCapacity: true)
            }
            buffer += line
            s.apply(e)
            s.covers = HistorySummary.Position(segment: seg, offset: buffer.count)
        }
        try flushSegment()
        try writeFile(newFD, HistoryFiles.summary, s.encoded())
        fsync(newFD)
        close(newFD)
        // Swap: the old folder aside, the new one in, the old one removed.
        if dirFD >= 0 { close(dirFD); dirFD = -1 }
        if fd >= 0 { close(fd); fd = -1 }
        let old = "\(layout.root)/\(HistoryFiles.folder).old"
        try? FileManager.default.removeItem(atPath: old)
        if rename(path, old) != 0 && errno != ENOENT { throw SystemError("rename", path) }
        guard rename(fresh, path) == 0 else { throw SystemError("rename", fresh) }
        fsync(layout.rootFD)
        try? FileManager.default.removeItem(atPath: old)
        summary = s
        if let problem = load() { throw SystemError("open", "\(path): \(problem)", errno: EIO) }
    }

    private func writeFile(_ dir: Int32, _ name: String, _ bytes: [UInt8]) throws {
        let tmp = name + ".tmp"
        let f = openat(dir, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard f >= 0 else { throw SystemError("create", "history/\(tmp)") }
        let e = bytes.withUnsafeBytes { writeAll(f, $0) }
        close(f)
        if let e { throw SystemError("write", "history/\(tmp)", errno: e) }
        guard renameat(dir, tmp, dir, name) == 0 else { throw SystemError("rename", "history/\(name)") }
    }

    // MARK: changes

    /// A record has landed in done/ (durably): its line.
    public func recordFinished(_ r: JobRecord) {
        let paused = takePaused(r.id.rawValue, until: r.finishedAt?.seconds)
        queue.async { [self] in
            append(HistoryEntry(record: r, indexedAt: 0, pausedSeconds: paused))
        }
    }

    /// A record has been removed from done/: a removed line (its history stays in the aggregates).
    public func recordRemoved(_ r: JobRecord) {
        queue.async { [self] in
            if vanished.remove(r.id.rawValue) != nil { return }
            var e = HistoryEntry(record: r, indexedAt: 0)
            e.kind = .removed
            append(e)
        }
    }

    /// The width the daemon runs with now (at start, and after a reload).
    public func configure(workers: Int, queueLimits: [String: Int]) {
        queue.async { [self] in
            summary.width = HistorySummary.Width(workers: workers, queueLimits: queueLimits)
            scheduleSummary()
        }
    }

    /// An event of the event log: pauses are taken out of a job's run time.
    public func observe(_ id: JobID, _ event: String, at time: Double) {
        switch event {
        case "started": pauses.withLock { $0[id.rawValue] = (nil, 0) }
        case "paused": pauses.withLock { p in p[id.rawValue] = (time, p[id.rawValue]?.total ?? 0) }
        case "resumed":
            pauses.withLock { p in
                guard let (since, total) = p[id.rawValue], let since else { return }
                p[id.rawValue] = (nil, total + max(0, time - since))
            }
        default: break
        }
    }

    private func takePaused(_ id: String, until end: Double?) -> Double {
        guard let (since, total) = pauses.withLock({ $0.removeValue(forKey: id) }) else { return 0 }
        if let since, let end { return total + max(0, end - since) }
        return total
    }

    private func append(_ entry: HistoryEntry) {
        guard dirFD >= 0 else { return }
        var e = entry
        e.indexedAt = max(summary.lastIndexedAt, Timestamp.now().seconds, e.submittedAt)
        if e.kind == .finished { e.width = Self.width(of: e, summary.width) }
        let line = Array((e.line() + "\n").utf8)
        if fd < 0 || (size > 0 && size + line.count > HistoryFiles.maxSegmentBytes) {
            if fd >= 0 { close(fd) }
            segment = summary.lines + 1
            fd = openat(dirFD, HistoryFiles.segmentName(segment), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644)
            size = 0
            guard fd >= 0 else {
                log.error("history: cannot create history/\(HistoryFiles.segmentName(segment)): \(String(cString: strerror(errno)))")
                return
            }
        }
        if let err = line.withUnsafeBytes({ writeAll(fd, $0) }) {
            // The line may be partly written: cut back, so that the next one starts a line.
            _ = ftruncate(fd, off_t(size))
            log.error("history: cannot append to the index: \(String(cString: strerror(err))); it is rebuilt at the next start")
            return
        }
        size += line.count
        summary.apply(e)
        summary.covers = HistorySummary.Position(segment: segment, offset: size)
        scheduleSummary()
    }

    static func width(of e: HistoryEntry, _ w: HistorySummary.Width?) -> Int? {
        guard let ops = e.operations else { return nil }
        return Estimator.width(maxParallel: e.maxParallel, operations: ops.total, cpus: e.cpus, workers: w?.workers ?? e.maxParallel,
                               queueLimit: w?.queueLimits[e.queue])
    }

    private func scheduleSummary() {
        summaryDirty = true
        guard !summaryScheduled else { return }
        summaryScheduled = true
        queue.asyncAfter(deadline: .now() + summaryWait) { [self] in
            summaryScheduled = false
            if summaryDirty { writeSummary() }
        }
    }

    /// Half a second, or longer when a write of the summary takes long: it is rewritten whole
    /// (up to `HistorySummary.maxNames` names, 170 kB), and readers fold the lines written after
    /// it anyway, so a later write costs them a few more lines, not a wrong answer. At 200 times
    /// its cost it stays under half a percent of a core: with 1,024 names a write took 8-12 ms of
    /// CPU, and every half second that was 1.4 % of the daemon's CPU in a drain of 2,000 uniquely
    /// named jobs (`perf record`).
    static func summaryDelay(took seconds: Double) -> Double { min(10, max(0.5, 200 * seconds)) }

    private func writeSummary() {
        guard dirFD >= 0 else { return }
        summaryDirty = false
        let began = DispatchTime.now().uptimeNanoseconds
        do { try writeFile(dirFD, HistoryFiles.summary, summary.encoded()) } catch {
            log.warning("history: cannot write the summary: \(error)")
        }
        summaryWait = Self.summaryDelay(took: Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9)
    }

    /// Writes what is queued and the summary (at exit; tests).
    public func flush() {
        queue.sync { writeSummary() }
    }
}
