// What a client (spoolctl, a script) does with a spool without the daemon: find a job's state
// file in pending/, running/ or done/, list records, and drop a job atomically (tmp/ then rename
// into inbox/), never needing the daemon to be up.
import Foundation
import CSpoolShim

/// A job's state file and where it was found.
public struct LocatedRecord: Sendable {
    public var record: JobRecord
    public var folder: SpoolFolder

    /// The status a person should see: a file in running/ is running even before its first rewrite.
    public var effectiveStatus: JobStatus {
        if folder == .running && record.status == .pending { return .running }
        return record.status
    }
}

public final class SpoolClient: Sendable {
    public let layout: SpoolLayout
    let store: StateStore

    /// Opens the spool; `create` makes missing folders (for commands that drop files).
    public init(spoolPath: String, create: Bool = false) throws {
        layout = try SpoolLayout(path: spoolPath, create: create)
        store = StateStore(layout: layout)
    }

    /// The job's current state file, looking in done/ last-to-first so a move in between is not missed.
    public func find(_ id: JobID) -> LocatedRecord? {
        for _ in 0..<3 {
            for folder in [SpoolFolder.done, .running, .pending] {
                if let r = try? store.read(id, in: folder) { return LocatedRecord(record: r, folder: folder) }
            }
        }
        return nil
    }

    /// True when the spool holds a state file of `id` (pending/, running/ or done/).
    public func holds(_ id: JobID) -> Bool { store.holds(id) }

    /// The ids that retry requests still waiting in control/ give their new jobs, so that a
    /// second retry asked for before the daemon took the first picks another one.
    public func requestedRetryIDs() -> Set<JobID> {
        var out = Set<JobID>()
        InboxReader.scan(layout.fd(.control), suffix: ".json") { names in
            for n in names {
                guard let s = n.string, s.hasPrefix("retry-"),
                      let bytes = try? store.readSmallFile(s, in: .control, limit: 64 * 1024),
                      case .success(let r) = ControlRequest.parse(bytes, file: s), let id = r.newID
                else { continue }
                out.insert(id)
            }
        }
        return out
    }

    /// Every record in the given folders (unreadable files are skipped). Decoding is the cost on a
    /// big spool, so the files are read and decoded on every core.
    public func records(in folders: [SpoolFolder] = SpoolFolder.allCases) -> [LocatedRecord] {
        var found: [(String, SpoolFolder)] = []
        for folder in folders {
            InboxReader.scan(layout.fd(for: folder), suffix: ".json", chunk: 4096) { batch in
                found += batch.compactMap { $0.string.map { ($0, folder) } }
            }
        }
        let names = found
        let chunks = max(1, min(64, names.count / 256))
        let results = LockedBox([[LocatedRecord]](repeating: [], count: chunks))
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            var part: [LocatedRecord] = []
            var i = c
            while i < names.count {
                let (name, folder) = names[i]
                if let r = try? store.readRecord(named: name, in: .init(folder)) { part.append(LocatedRecord(record: r, folder: folder)) }
                i += chunks
            }
            results.withLock { $0[c] = part }
        }
        return results.withLock { $0.flatMap { $0 } }
    }

    /// Drops a control request into control/ (tmp/ then rename); returns its path.
    public func dropControl(_ request: ControlRequest) throws -> String {
        let name = "\(request.action.rawValue)-\(request.id.rawValue)-\(UInt32.random(in: 0...UInt32.max))"
        return try drop(request.encoded(), name: name, folder: .control)
    }

    /// Drops a retry request under the name `retry-as-<new id>`: the rename never replaces, so two
    /// clients that picked the same new id at once cannot both drop it (EEXIST: pick another).
    public func dropRetry(_ request: ControlRequest) throws -> String {
        guard request.action == .retry, let newID = request.newID else { return try dropControl(request) }
        return try drop(request.encoded(), name: "retry-as-\(newID.rawValue)", folder: .control)
    }

    /// Writes `bytes` to tmp/ and renames it to <folder>/<name>.json; returns the path.
    public func drop(_ bytes: [UInt8], name: String, folder: SpoolLayout.Folder = .inbox) throws -> String {
        let tmpName = "submit.\(getpid()).\(UInt32.random(in: 0...UInt32.max)).json.part"
        let fd = openat(layout.fd(.tmp), tmpName, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw SystemError("create", "\(layout.path(.tmp))/\(tmpName)") }
        fchmod(fd, 0o644)  // readable by the daemon whatever the submitter's umask
        let failure: Int32? = bytes.withUnsafeBytes { writeAll(fd, $0) } ?? (fsync(fd) == 0 ? nil : errno)
        close(fd)
        if let failure {
            unlinkat(layout.fd(.tmp), tmpName, 0)
            throw SystemError("write", "\(layout.path(.tmp))/\(tmpName)", errno: failure)
        }
        let target = "\(name).json"
        // Never over a file already waiting there: that job would be lost without a trace.
        if let failure = layout.exclusiveRename.rename(layout.fd(.tmp), tmpName, layout.fd(folder), target) {
            let e = SystemError("rename", "\(layout.path(folder))/\(target)", errno: failure)
            unlinkat(layout.fd(.tmp), tmpName, 0)
            throw e
        }
        fsync(layout.fd(folder))
        return "\(layout.path(folder))/\(target)"
    }

    /// Removes a finished job's record and the files it names (see `JobFiles.removeFinished`).
    public func removeFinished(_ record: JobRecord) {
        JobFiles.removeFinished(record, layout: layout)
    }

    /// Reads a file of the spool by its path relative to the root (as records name outputs).
    public func readRelative(_ path: String) -> Data? {
        FileManager.default.contents(atPath: "\(layout.root)/\(path)")
    }
}
