// A page of jobs newest first from the history index and the live work (spoolctl list).
import Foundation

/// One page of `spoolctl list`: the newest matching jobs after `offset`, and how many match in all.
public struct HistoryPage: Sendable {
    public var jobs: [LocatedRecord]
    public var total: Int

    /// Reads the index newest first. Every line before one written at time T belongs to a job
    /// submitted at or before T (a line is written after its job's submission, and lines are
    /// written in time order), so once the page is full of jobs submitted after T, nothing older
    /// can enter it and the reading stops: a page costs the same with ten records or a million.
    /// The total then comes from the summary's counts when the filters allow (`cheapTotal`), else
    /// the rest is counted (`exactTotal`), which does read the whole index.
    public static func collect(_ view: HistoryView?, active: [LocatedRecord], offset: Int, limit: Int?, client: SpoolClient,
                        exactTotal: Bool, cheapTotal: Int?, matches: (HistoryEntry) -> Bool) -> HistoryPage {
        enum Item { case record(LocatedRecord), entry(HistoryEntry) }
        func key(_ i: Item) -> (Double, Int64) {
            switch i {
            case .record(let l): return (l.record.submittedAt.seconds, l.record.sequence)
            case .entry(let e): return (e.submittedAt, e.sequence)
            }
        }
        let need = limit.map { offset + $0 }
        // Newest first; with a limit, at most `need` long, kept sorted as items come.
        var top: [Item] = active.map { .record($0) }.sorted { key($0) > key($1) }
        if let need, top.count > need { top.removeLast(top.count - need) }
        var matched = 0
        var complete = false
        view?.held { e in
            if let need, top.count >= need, need == 0 || e.indexedAt < key(top[need - 1]).0 {
                complete = true
                return false
            }
            guard matches(e) else { return true }
            matched += 1
            if let need {
                let k = key(.entry(e))
                var lo = 0, hi = top.count
                while lo < hi {
                    let mid = (lo + hi) / 2
                    if key(top[mid]) > k { lo = mid + 1 } else { hi = mid }
                }
                top.insert(.entry(e), at: lo)
                if top.count > need { top.removeLast() }
            } else {
                top.append(.entry(e))
            }
            return true
        }
        if need == nil { top.sort { key($0) > key($1) } }
        var total = active.count + matched
        if complete {
            if let cheapTotal {
                total = active.count + cheapTotal
            } else if exactTotal {
                // Count the rest: every held line that matches.
                var all = 0
                view?.held { e in
                    if matches(e) { all += 1 }
                    return true
                }
                total = active.count + all
            }
        }
        var jobs: [LocatedRecord] = []
        for item in top.dropFirst(offset) {
            switch item {
            case .record(let l): jobs.append(l)
            case .entry(let e):
                // The record is the truth; one removed since the index was read is left out.
                if let id = JobID(e.id), let l = client.finishedRecord(id) { jobs.append(l) }
            }
        }
        return HistoryPage(jobs: jobs, total: total)
    }
}
