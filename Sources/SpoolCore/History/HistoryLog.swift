// The files of the history index, beside done/:
//
//   history/000000000001.ndjson   lines 1..., append-only (HistoryEntry, one per line)
//   history/000000065537.ndjson   the next segment, named by its first line number
//   history/summary.json          the fold of the lines up to a position (HistorySummary)
//
// Only the daemon writes here. A segment is closed at `maxSegmentBytes`. Readers take the
// summary, then fold the lines written after the position it names, or read lines newest first
// from the end (list, recent runs) without touching the rest.
import Foundation

public enum HistoryFiles {
    public static let folder = "history"
    public static let summary = "summary.json"
    public static let suffix = ".ndjson"
    public static let maxSegmentBytes = 16 << 20

    static func segmentName(_ first: Int64) -> String { String(format: "%012lld", first) + suffix }

    /// Segment first-line numbers, oldest first.
    static func segments(_ dirFD: Int32) -> [Int64] {
        var out: [Int64] = []
        InboxReader.scan(dirFD, suffix: suffix) { names in
            for n in names {
                guard let s = n.string, let v = Int64(s.dropLast(suffix.count)) else { continue }
                out.append(v)
            }
        }
        return out.sorted()
    }

    static func size(_ dirFD: Int32, _ name: String) -> Int? {
        var st = stat()
        guard fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return nil }
        return Int(st.st_size)
    }

    /// Reads `[from, to)` of a file (to: its end).
    static func read(_ dirFD: Int32, _ name: String, from: Int = 0, to: Int? = nil) -> [UInt8]? {
        let fd = openat(dirFD, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return nil }
        let end = min(Int(st.st_size), to ?? Int(st.st_size))
        guard end > from else { return [] }
        var out = [UInt8](repeating: 0, count: end - from)
        var got = 0
        while got < out.count {
            let n = out.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + got, $0.count - got, off_t(from + got)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            got += n
        }
        return got == out.count ? out : Array(out[0..<got])
    }

    /// Calls `body` with each complete line after `position`, oldest first, and its end position.
    /// A last line without its newline (being written, or cut by a crash) is not passed.
    /// Returns false if the position is beyond the index (the index lost lines the summary has).
    static func forEachLine(_ dirFD: Int32, after position: HistorySummary.Position,
                            _ body: (ArraySlice<UInt8>, HistorySummary.Position) -> Bool) -> Bool {
        let all = segments(dirFD)
        if all.isEmpty { return position.offset == 0 }
        guard all.contains(position.segment) else { return false }
        for seg in all where seg >= position.segment {
            let from = seg == position.segment ? position.offset : 0
            let name = segmentName(seg)
            guard let size = size(dirFD, name) else { continue }
            if seg == position.segment && size < from { return false }
            var at = from
            // Big tails are read in pieces so that a reader's memory stays small.
            while at < size {
                guard let chunk = read(dirFD, name, from: at, to: min(size, at + (4 << 20))), !chunk.isEmpty else { break }
                var start = 0
                var any = false
                for i in 0..<chunk.count where chunk[i] == 0x0A {
                    if !body(chunk[start..<i], HistorySummary.Position(segment: seg, offset: at + i + 1)) { return true }
                    start = i + 1
                    any = true
                }
                if !any { break }  // a line longer than a piece, or a torn end: nothing more to pass
                at += start
            }
        }
        return true
    }

    /// Calls `body` with each complete line, newest first, until it returns false.
    static func forEachLineBackward(_ dirFD: Int32, _ body: (ArraySlice<UInt8>) -> Bool) {
        for seg in segments(dirFD).reversed() {
            let name = segmentName(seg)
            let fd = openat(dirFD, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var st = stat()
            guard fstat(fd, &st) == 0 else { continue }
            var end = Int(st.st_size)
            var carry: [UInt8] = []  // the beginning of a line whose end was read already
            var first = true
            let piece = 64 << 10
            while end > 0 {
                let start = max(0, end - piece)
                var buf = [UInt8](repeating: 0, count: end - start)
                let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(start)) }
                guard n == buf.count else { return }
                buf += carry
                var lineEnd = buf.count
                if first {
                    // A torn last line (no newline) is not a line.
                    if let last = buf.lastIndex(of: 0x0A) {
                        lineEnd = last
                        first = false
                    } else {
                        lineEnd = 0
                    }
                }
                var i = lineEnd - 1
                while i >= 0 {
                    if buf[i] == 0x0A {
                        if i + 1 < lineEnd, !body(buf[(i + 1)..<lineEnd]) { return }
                        lineEnd = i
                    }
                    i -= 1
                }
                carry = Array(buf[0..<lineEnd])
                end = start
            }
            if !carry.isEmpty, !body(carry[...]) { return }
        }
    }
}
