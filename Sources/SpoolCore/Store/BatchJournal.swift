// A batch's checkpoint: one JSON line per finished operation attempt, appended to
// running/<id>.journal as it happens (a write(2), so a killed daemon loses nothing that
// finished) and fsynced at most every half second with the coalesced state write (so a power
// cut loses at most that much). The state file itself is rewritten only a few times a second,
// so a 10,000-operation batch does not rewrite it 10,000 times. Recovery folds the journal into
// the record; a torn last line (a crash mid-append) is ignored.
import Foundation

final class BatchJournal: Sendable {
    private let fd: Int32
    private let name: String
    private let state = LockedBox((unsynced: false, closed: false))

    /// Opens (creating) `<id>.journal` in `dirFD` for appending.
    /// `privacy` and `owner`: who may read it (its operations' results), as the job's record.
    init(name: String, dirFD: Int32, privacy: ResultPrivacy = .shared, owner: JobOwner? = nil) throws {
        let fd = openat(dirFD, name, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw SystemError("open", "running/\(name)") }
        privacy.apply(fd, owner: owner)
        self.fd = fd
        self.name = name
    }

    deinit { close() }

    func append(_ op: OperationRecord) {
        var line = JSONEncoderBox.compact(op)
        line.append(0x0A)
        state.withLock { s in
            guard !s.closed else { return }
            _ = line.withUnsafeBytes { writeAll(fd, $0) }
            s.unsynced = true
        }
    }

    /// fsyncs if anything was appended since the last sync.
    func sync() {
        state.withLock { s in
            guard s.unsynced, !s.closed else { return }
            Durability.sync(fd, .journal, "running/\(name)")
            s.unsynced = false
        }
    }

    func close() {
        state.withLock { s in
            guard !s.closed else { return }
            s.closed = true
            Glibc.close(fd)
        }
    }

    /// The operation records in a journal, in order; unparsable lines are skipped.
    static func read(_ bytes: [UInt8]) -> [OperationRecord] {
        bytes.split(separator: 0x0A).compactMap { try? JSONDecoderBox.decode(OperationRecord.self, from: Array($0)) }
    }
}
