// When finished records with `ttl_seconds` are due for removal (SPEC §3): a min-heap of
// (time, id), as a pure value. The daemon feeds it as jobs end and from done/ at start, and
// takes what is due from a periodic sweep; the record on disk is checked again before removal.

/// Finished jobs to remove at a given time.
public struct ExpirySchedule: Sendable {
    struct Entry: Comparable, Sendable {
        var at: Timestamp
        var id: JobID
        static func < (a: Entry, b: Entry) -> Bool { a.at != b.at ? a.at < b.at : a.id < b.id }
    }

    private var heap = Heap<Entry>()

    public init() {}

    /// The time `record` expires, or nil when it has no ttl or has not finished.
    public static func expiry(of record: JobRecord) -> Timestamp? {
        guard let ttl = record.spec?.ttlSeconds, let ended = record.finishedAt else { return nil }
        return ended.adding(ttl)
    }

    public mutating func add(_ record: JobRecord) {
        if let at = Self.expiry(of: record) { heap.push(Entry(at: at, id: record.id)) }
    }

    /// Removes and returns the ids due at `now`, earliest first.
    public mutating func takeDue(now: Timestamp) -> [JobID] {
        var due: [JobID] = []
        while let first = heap.min, first.at <= now {
            _ = heap.pop()
            due.append(first.id)
        }
        return due
    }

    public var count: Int { heap.count }
    public var next: Timestamp? { heap.min?.at }
}
