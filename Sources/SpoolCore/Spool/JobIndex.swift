// Every id the spool holds (pending/, running/, done/, and claims in flight), kept in memory so
// that a duplicate `id` is found without touching the disk. Loaded from directory listings at
// start; the state machine never lists a directory to pick a job.

/// The set of ids the spool holds.
public final class JobIndex: Sendable {
    private let ids = LockedBox(Set<String>())

    public init() {}

    /// Adds `id`; false if it was already held.
    public func insert(_ id: JobID) -> Bool {
        ids.withLock { $0.insert(id.rawValue).inserted }
    }

    public func contains(_ id: JobID) -> Bool {
        ids.withLock { $0.contains(id.rawValue) }
    }

    public func remove(_ id: JobID) {
        ids.withLock { _ = $0.remove(id.rawValue) }
    }

    public var count: Int { ids.withLock { $0.count } }

    /// `id` as the index keeps it: its text shared rather than held twice (a million parked jobs'
    /// ids are 80 MB a copy).
    public func member(_ id: JobID) -> JobID? {
        ids.withLock { set in set.firstIndex(of: id.rawValue).map { JobID(unchecked: set[$0]) } }
    }

    /// Loads the ids of every `<id>.json` in the folders.
    public func load(from layout: SpoolLayout) {
        for folder in [SpoolLayout.Folder.pending, .running, .done] {
            InboxReader.scan(layout.fd(folder), suffix: ".json", chunk: 4096) { names in
                ids.withLock { set in
                    for n in names {
                        if let s = n.string { set.insert(String(s.dropLast(5))) }
                    }
                }
            }
        }
    }
}

/// Arrival order that survives restarts: microseconds since 1970, strictly increasing.
public final class SequenceClock: Sendable {
    private let last = LockedBox<Int64>(0)
    public init() {}

    public func next() -> Int64 {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let now = Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec / 1000)
        return last.withLock { last in
            last = max(last + 1, now)
            return last
        }
    }

    /// Makes sure later values are above `value` (a sequence found in a loaded record).
    public func observe(_ value: Int64) {
        last.withLock { $0 = max($0, value) }
    }
}

import Foundation
