// A command job may report its own progress by writing `N/M` or
// `{"done": N, "total": M, "message": "..."}` to the file named by SPOOL_PROGRESS. The running
// writer reads it (only when its mtime moved) and folds it into the record's `progress`.
import Foundation
import SpoolJSON

extension Daemon {
    func readProgressFiles() {
        let candidates = core.withLock { c in c.engine.runningCommandJobs.map { ($0, c.progressSeen[$0] ?? 0) } }
        for (id, seen) in candidates {
            var st = stat()
            guard fstatat(layout.fd(.running), JobFiles.progress(id), &st, 0) == 0 else { continue }
            let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
            guard mtime != seen, let bytes = try? store.readSmallFile(JobFiles.progress(id), in: .running, limit: 4096),
                  let reported = ReportedProgress(bytes)
            else { continue }
            core.withLock { $0.progressSeen[id] = mtime }
            send(.progressReported(id, reported))
        }
    }
}

/// What a job wrote to its progress file.
public struct ReportedProgress: Sendable, Equatable {
    public var done: Double
    public var total: Double
    public var message: String?

    /// Parses `N/M` or `{"done": N, "total": M, "message": "..."}`; nil for anything else.
    public init?(_ bytes: [UInt8]) {
        let text = String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        if let slash = text.firstIndex(of: "/"), let d = Double(text[..<slash].trimmingCharacters(in: .whitespaces)),
           let t = Double(text[text.index(after: slash)...].trimmingCharacters(in: .whitespaces)) {
            done = d
            total = t
        } else if case .object(let o)? = try? JSONParser().parse(text), let d = o["done"]?.doubleValue, let t = o["total"]?.doubleValue {
            done = d
            total = t
            message = o["message"]?.stringValue
        } else {
            return nil
        }
        // A job's numbers are not trusted: bounded so that nothing overflows or becomes infinite.
        guard done.isFinite, total.isFinite, done >= 0, total >= 1, total <= 1e12, done <= 1e12 else { return nil }
    }

    /// As a record's progress: percent from done/total, ETA from the rate so far.
    public func progress(startedAt: Timestamp?, now: Timestamp) -> Progress {
        let fraction = min(1, done / total)
        var eta: Double? = nil
        if let s = startedAt, fraction > 0 {
            let elapsed = max(0, now.seconds - s.seconds)
            let e = elapsed / fraction - elapsed
            eta = e.isFinite && e < 1e9 ? e : nil
        }
        return Progress(total: Int(total), succeeded: Int(min(done, total)), running: 1,
                        percent: Progress.percent(done, of: total), etaSeconds: eta, message: message)
    }
}
