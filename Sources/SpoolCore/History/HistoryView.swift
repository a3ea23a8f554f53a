// The client's side of the history index: the exact current summary (summary.json plus the
// lines written after it) and the lines newest first, for `list`, `stats`, `watch`, `estimate`,
// `prune` and `report`. Without an index (a spool no daemon of this version has run on, or one
// being rebuilt) the same view is made in memory from the records, which is the old, slow way.
import Foundation

public final class HistoryView: @unchecked Sendable {
    public let summary: HistorySummary
    /// True when read from history/, false when made from the records.
    public let indexed: Bool
    private let dirFD: Int32
    private let memory: [HistoryEntry]

    /// Reads the index of the spool; nil when there is none (or it cannot be read).
    public static func open(_ layout: SpoolLayout) -> HistoryView? {
        let fd = openat(layout.rootFD, HistoryFiles.folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        for _ in 0..<3 {
            guard let bytes = HistoryFiles.read(fd, HistoryFiles.summary), var s = try? HistorySummary.decode(bytes) else { break }
            var ok = true
            let known = HistoryFiles.forEachLine(fd, after: s.covers) { line, position in
                guard let e = try? HistoryEntry.decode(line) else {
                    ok = false
                    return false
                }
                s.apply(e)
                s.covers = position
                return true
            }
            if known && ok { return HistoryView(summary: s, dirFD: fd) }
            usleep(20_000)  // the daemon was writing: look again
        }
        close(fd)
        return nil
    }

    /// The index if there is one, else a view made from the records in done/.
    public static func openOrScan(_ client: SpoolClient) -> HistoryView {
        if let v = open(client.layout) { return v }
        return HistoryView(records: client.records(in: [.done]).map(\.record))
    }

    private init(summary: HistorySummary, dirFD: Int32) {
        self.summary = summary
        self.dirFD = dirFD
        self.indexed = true
        self.memory = []
    }

    /// A view of records in memory (oldest first by finish), with the index's own rules.
    public init(records: [JobRecord]) {
        var entries = records.map { HistoryEntry(record: $0, indexedAt: 0) }
        entries.sort { a, b in
            let ka = a.finishedAt ?? a.submittedAt, kb = b.finishedAt ?? b.submittedAt
            return ka != kb ? ka < kb : a.sequence < b.sequence
        }
        var s = HistorySummary()
        var last = 0.0
        for i in entries.indices {
            last = max(last, entries[i].finishedAt ?? entries[i].submittedAt, entries[i].submittedAt)
            entries[i].indexedAt = last
            s.apply(entries[i])
        }
        summary = s
        memory = entries
        indexed = false
        dirFD = -1
    }

    deinit {
        if dirFD >= 0 { close(dirFD) }
    }

    /// Every line newest first, removed ones included, until `body` returns false.
    public func lines(_ body: (HistoryEntry) -> Bool) {
        if !indexed {
            for e in memory.reversed() where !body(e) { return }
            return
        }
        HistoryFiles.forEachLineBackward(dirFD) { line in
            guard let e = try? HistoryEntry.decode(line) else { return true }
            return body(e)
        }
    }

    /// The entries of jobs still held in done/, newest first, until `body` returns false.
    public func held(_ body: (HistoryEntry) -> Bool) {
        var removed: [String: Int] = [:]
        lines { e in
            switch e.kind {
            case .removed:
                removed[e.id, default: 0] += 1
                return true
            case .finished:
                if let n = removed[e.id] {
                    removed[e.id] = n > 1 ? n - 1 : nil
                    return true
                }
                return body(e)
            }
        }
    }

    /// The finished lines (removed records included: they are history) whose line was written at
    /// or after `since`, newest first.
    public func finished(since: Double, _ body: (HistoryEntry) -> Void) {
        lines { e in
            guard e.indexedAt >= since else { return false }
            if e.kind == .finished { body(e) }
            return true
        }
    }

    /// The fold of the finished lines that match, for statistics of a period, a name or a queue
    /// (removed records included).
    public func fold(since: Double?, names: Set<String>, queues: Set<String>) -> HistorySummary {
        var s = HistorySummary()
        var picked: [HistoryEntry] = []
        lines { e in
            if let since, e.indexedAt < since { return false }
            guard e.kind == .finished else { return true }
            if let since, (e.finishedAt ?? e.indexedAt) < since { return true }
            if !names.isEmpty, !names.contains(e.name) { return true }
            if !queues.isEmpty, !queues.contains(e.queue) { return true }
            picked.append(e)
            return true
        }
        for e in picked.reversed() { s.apply(e) }
        s.width = summary.width
        return s
    }
}
