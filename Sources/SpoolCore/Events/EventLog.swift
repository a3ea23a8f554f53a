// The event log (SPEC §8): one JSON line per change of a job, appended to segments in events/
// named by the first seq they hold (`00000000000000000001.ndjson`), so that a program can follow
// a batch without polling records and resume where it stopped. `seq` grows by one per event and
// survives restarts (read back from the newest segment at start). A segment is closed at
// `maxSegmentBytes`; the oldest are removed beyond `maxSegments`, and (with the spool's retention,
// `maxAgeSeconds`) those whose last event is older than that. Appends are buffered and
// written in order by one serial queue, one write for everything that came meanwhile (a busy
// daemon does not pay a syscall per event), and not fsynced: events report what the records say
// durably; a power loss may cost the last few lines, never a record.
import Foundation
import SpoolJSON

public final class EventLog: @unchecked Sendable {
    public static let folder = "events"
    public static let suffix = ".ndjson"

    private let dirFD: Int32
    private let queue = DispatchQueue(label: "spoold.events")
    private let maxSegmentBytes: Int
    private let maxSegments: Int
    private let maxAgeSeconds: Double?
    /// Told of every event as it is appended (the history index takes paused time from it).
    private let observer = LockedBox<Observer?>(nil)

    /// The observer, in a struct: a bare closure in a LockedBox is reabstracted at every
    /// `withLock` and written back wrapped in one more thunk, so each event made the next call one
    /// level deeper (16,000 events: 1.3 s of calls; perf showed the thunks at 17 % of a drain, and
    /// enough events would overflow the stack). A struct's closure field is never reabstracted.
    private struct Observer {
        let body: @Sendable (JobID, String, Double) -> Void
    }
    /// Events appended and not yet written; the first one in schedules the write.
    private let buffer = LockedBox([(time: Timestamp, id: JobID, event: String, status: JobStatus, extra: [(key: String, value: JSONValue)])]())
    // Touched only on `queue`.
    private var seq: Int64 = 0
    private var fd: Int32 = -1
    private var size = 0

    /// Opens (and creates) `<root>/events`; the next event follows the last one written there.
    public init(root: String, maxSegmentBytes: Int = 4 << 20, maxSegments: Int = 16, maxAgeSeconds: Double? = nil) throws {
        let path = "\(root)/\(Self.folder)"
        if mkdir(path, 0o755) != 0 && errno != EEXIST { throw SystemError("mkdir", path) }
        dirFD = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { throw SystemError("open", path) }
        self.maxSegmentBytes = maxSegmentBytes
        self.maxSegments = maxSegments
        self.maxAgeSeconds = maxAgeSeconds
        if let newest = Self.segments(dirFD).last {
            fd = openat(dirFD, newest, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW)
            var st = stat()
            if fd >= 0, fstat(fd, &st) == 0 { size = Int(st.st_size) }
            let bytes = Self.readAll(dirFD, newest)
            seq = Self.lastSeq(bytes) ?? (Int64(newest.dropLast(Self.suffix.count)).map { $0 - 1 } ?? 0)
            // A line cut by a crash is ended, so that the next event starts a line of its own.
            if let last = bytes.last, last != 0x0A, fd >= 0 { _ = write(fd, "\n", 1) }
        }
    }

    deinit {
        if fd >= 0 { close(fd) }
        close(dirFD)
    }

    /// Appends an event for job `id`: `{"seq", "time", "id", "event", "status", ...extra}`.
    public func append(_ id: JobID, _ event: String, status: JobStatus, extra: [(key: String, value: JSONValue)] = []) {
        let now = Timestamp.now()
        let first = buffer.withLock { b -> Bool in
            b.append((now, id, event, status, extra))
            return b.count == 1
        }
        if first { queue.async { [self] in writeBuffered() } }
        observer.withLock { $0 }?.body(id, event, now.seconds)
    }

    /// Calls `body` with each event (job, event, time) as it is appended.
    public func observe(_ body: @escaping @Sendable (JobID, String, Double) -> Void) {
        observer.withLock { $0 = Observer(body: body) }
    }

    /// Writes what was appended, in order, with one write per segment.
    private func writeBuffered() {
        let events = buffer.withLock { b in
            defer { b.removeAll() }
            return b
        }
        var pending: [UInt8] = []
        func write() {
            guard !pending.isEmpty, fd >= 0 else { return }
            if pending.withUnsafeBytes({ writeAll(fd, $0) }) == nil { size += pending.count }
            pending.removeAll(keepingCapacity: true)
        }
        for e in events {
            seq += 1
            var members: [(key: String, value: JSONValue)] = [("seq", .integer(Int(seq))), ("time", .string(e.time.rfc3339)),
                                                             ("id", .string(e.id.rawValue)), ("event", .string(e.event)),
                                                             ("status", .string(e.status.rawValue))]
            members += e.extra
            let line = JSONValue.object(JSONObject(members)).serializedBytes() + [0x0A]
            if fd < 0 || size + pending.count + line.count > maxSegmentBytes && size + pending.count > 0 {
                write()
                rotate()
            }
            pending += line
        }
        write()
    }

    /// Waits until every event appended so far is written.
    public func flush() {
        queue.sync {}
    }

    /// The seq of the last event written.
    public var lastSeq: Int64 { queue.sync { seq } }

    /// Starts a segment named by the next seq; removes the oldest beyond `maxSegments`, and those
    /// last written before the retention age.
    private func rotate() {
        if fd >= 0 { close(fd) }
        let name = String(format: "%020lld", seq) + Self.suffix
        fd = openat(dirFD, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644)
        size = 0
        let all = Self.segments(dirFD)
        for old in all.dropLast(maxSegments) { unlinkat(dirFD, old, 0) }
        if let maxAgeSeconds {
            let cutoff = Timestamp.now().seconds - maxAgeSeconds
            for old in all.suffix(maxSegments).dropLast() where old != name {
                var st = stat()
                guard fstatat(dirFD, old, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                if Double(st.st_mtim.tv_sec) < cutoff { unlinkat(dirFD, old, 0) } else { break }
            }
        }
    }

    /// Segment names, oldest first.
    static func segments(_ dirFD: Int32) -> [String] {
        var names: [String] = []
        InboxReader.scan(dirFD, suffix: suffix) { batch in names += batch.compactMap(\.string) }
        return names.filter { Int64($0.dropLast(suffix.count)) != nil }.sorted()
    }

    static func readAll(_ dirFD: Int32, _ name: String) -> [UInt8] {
        let fd = openat(dirFD, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return [] }
        defer { close(fd) }
        return readUpTo(fd, limit: 1 << 30)?.bytes ?? []
    }

    /// The seq of the last complete line.
    static func lastSeq(_ bytes: [UInt8]) -> Int64? {
        for line in bytes.split(separator: 0x0A).reversed() {
            if case .object(let o)? = try? JSONParser().parse(Array(line)), case .number(let n)? = o["seq"], let s = n.integer {
                return s
            }
        }
        return nil
    }
}

/// Reading the log, for clients: the events after a seq, oldest first.
public struct EventReader {
    public let root: String

    public init(root: String) { self.root = root }

    /// Every event line with seq > `since` (and of job `id` if given), each as its object and text.
    public func events(since: Int64 = 0, id: JobID? = nil) -> [(seq: Int64, object: JSONObject, line: String)] {
        let dirFD = open("\(root)/\(EventLog.folder)", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard dirFD >= 0 else { return [] }
        defer { close(dirFD) }
        let names = EventLog.segments(dirFD)
        // Segments before the one that holds `since + 1` cannot hold anything later.
        let firsts = names.map { Int64($0.dropLast(EventLog.suffix.count)) ?? 0 }
        let start = firsts.lastIndex { $0 <= since + 1 } ?? 0
        var out: [(seq: Int64, object: JSONObject, line: String)] = []
        for name in names[start...] {
            for line in EventLog.readAll(dirFD, name).split(separator: 0x0A) {
                guard case .object(let o)? = try? JSONParser().parse(Array(line)), case .number(let n)? = o["seq"],
                      let s = n.integer, s > since
                else { continue }
                if let id, o["id"]?.stringValue != id.rawValue { continue }
                out.append((s, o, String(decoding: line, as: UTF8.self)))
            }
        }
        return out
    }
}
