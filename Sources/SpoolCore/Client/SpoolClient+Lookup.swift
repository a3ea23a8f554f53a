// What a client needs to answer a user before it drops anything: whether the spool holds an id
// (a job file still in inbox/ counts, SPEC §5), and whether a daemon holds the spool (SPEC §7).
import Foundation
import SpoolJSON

/// Where the spool holds a job id.
public enum HeldJob: Sendable {
    /// A job file in inbox/ that carries the id and has not been taken yet.
    case inbox(file: String)
    /// A state file in pending/, running/ or done/.
    case record(LocatedRecord)
    /// A state file this user may not read: another user's job, private to its owner and the
    /// administrators (issue 18). Only an administrator or the owner can look at or control it.
    case unreadable(SpoolFolder)

    /// A short account for messages: `done/x.json, succeeded` or `inbox/x.json, not taken yet`.
    public var place: String {
        switch self {
        case .inbox(let file): return "inbox/\(file), not taken yet"
        case .record(let l): return "\(l.folder.rawValue)/\(l.record.id.rawValue).json, \(l.effectiveStatus.rawValue)"
        case .unreadable(let folder): return "in \(folder.rawValue)/, another user's job"
        }
    }

    /// True for a job that has a final record in done/.
    public var isFinished: Bool {
        switch self {
        case .record(let l): return l.folder == .done
        case .unreadable(let folder): return folder == .done
        case .inbox: return false
        }
    }

    /// For another user's job: the sentence that says so (`what` is the verb refused: "cancel").
    public func notYours(_ id: JobID, _ what: String) -> String? {
        guard case .unreadable = self else { return nil }
        return "job \(id) belongs to another user (its record is readable only by its owner and the administrators); only they can \(what) it"
    }
}

/// Whether a daemon holds the spool's lock.
public enum DaemonPresence: Sendable, Equatable {
    case running(pid: String?)
    case stopped
    /// The lock file exists but cannot be read by this user (it is 0640 under the service):
    /// whether a daemon runs cannot be told, so nobody is told that none does.
    case unknown
}

extension SpoolClient {
    /// Where the spool holds `id`: in pending/, running/ or done/, else as the explicit id of a job
    /// file waiting in inbox/. Folders are looked at in the order a job moves through them (the
    /// inbox file named `<id>.json` first, any other inbox file last, as reading them all is the
    /// slow part), and the whole look is repeated (`attempts` in all) when nothing is found, so a
    /// job moving meanwhile is not missed.
    public func held(_ id: JobID, attempts: Int = 3, maxInboxFileBytes: Int = 1 << 20) -> HeldJob? {
        let named = FileName(JobFiles.record(id))
        for attempt in 0..<attempts {
            if carries(named, id, maxInboxFileBytes) { return .inbox(file: named.description) }
            for folder in [SpoolFolder.pending, .running, .done] {
                do {
                    if let r = try store.read(id, in: folder) { return .record(LocatedRecord(record: r, folder: folder)) }
                } catch let e as SystemError where e.errno == EACCES {
                    return .unreadable(folder)
                } catch {}
            }
            if let file = inboxFile(carrying: id, maxBytes: maxInboxFileBytes) { return .inbox(file: file) }
            if attempt < attempts - 1 { usleep(20_000) }
        }
        return nil
    }

    /// The name of a job file in inbox/ whose `id` field is `id`. The file named `<id>.json`
    /// (how `spoolctl submit` names its files) is read first; then every other one.
    public func inboxFile(carrying id: JobID, maxBytes: Int = 1 << 20) -> String? {
        let preferred = FileName(JobFiles.record(id))
        if carries(preferred, id, maxBytes) { return preferred.description }
        var found: String?
        InboxReader.scan(layout.fd(.inbox), suffix: ".json", chunk: 512) { names in
            guard found == nil else { return }
            for name in names where name != preferred && carries(name, id, maxBytes) {
                found = name.description
                return
            }
        }
        return found
    }

    private func carries(_ name: FileName, _ id: JobID, _ maxBytes: Int) -> Bool {
        guard case .file(let content) = InboxReader.read(name, in: layout.fd(.inbox), limit: maxBytes), !content.tooLarge,
              case .object(let o)? = try? JSONParser().parse(content.bytes), case .string(let s)? = o["id"]
        else { return false }
        return s == id.rawValue
    }

    /// Whether a daemon holds the spool: a non-blocking shared flock on `spoold.lock`, released at
    /// once. The file is opened read-only and never created, so a spool no daemon ever ran on is
    /// left as it is; a daemon starting meanwhile waits half a second for the lock (SpoolLock), far
    /// longer than this look takes. Daemons started with `--lock-file` lock another file and are not seen.
    public func daemonPresence() -> DaemonPresence {
        let fd = openat(layout.rootFD, "spoold.lock", O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY)
        guard fd >= 0 else { return errno == ENOENT ? .stopped : .unknown }
        defer { close(fd) }
        if flock(fd, LOCK_SH | LOCK_NB) == 0 {
            flock(fd, LOCK_UN)
            return .stopped
        }
        guard errno == EWOULDBLOCK else { return .stopped }
        var buf = [UInt8](repeating: 0, count: 32)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
        let pid = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : ""
        return .running(pid: pid.isEmpty ? nil : pid)
    }
}
