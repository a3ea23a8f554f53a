// One daemon per spool: an exclusive flock on `<spool>/spoold.lock`, held for the daemon's life.
// The fd is close-on-exec, so a job can never inherit it and keep the lock after the daemon dies.
// The holder's pid is written into the file for the "who holds it" message.
import Foundation

/// The spool's lock file, held.
public final class SpoolLock: Sendable {
    public let fd: Int32

    public enum Failure: Error, CustomStringConvertible {
        case held(path: String, pid: String)
        case system(SystemError)

        public var description: String {
            switch self {
            case .held(let path, let pid):
                return "another spoold (pid \(pid)) holds \(path); stop it or use another --spool"
            case .system(let e):
                return "cannot lock the spool: \(e)"
            }
        }
    }

    /// Takes the lock or fails at once.
    /// `path`: another lock file than `<spool>/spoold.lock` (for daemons on several hosts sharing a spool).
    public init(layout: SpoolLayout, path custom: String? = nil) throws(Failure) {
        let name = "spoold.lock"
        let path = custom ?? "\(layout.root)/\(name)"
        let fd = custom.map { open($0, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644) }
            ?? openat(layout.rootFD, name, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw .system(SystemError("open", path)) }
        // A daemon that was just killed may hold the lock a moment longer through a child it was
        // spawning (between clone and exec the child still has the fd): look for half a second.
        var rc = flock(fd, LOCK_EX | LOCK_NB)
        var attempts = 0
        while rc != 0, errno == EWOULDBLOCK, attempts < 10 {
            attempts += 1
            usleep(50_000)
            rc = flock(fd, LOCK_EX | LOCK_NB)
        }
        if rc != 0 {
            let e = errno
            var buf = [UInt8](repeating: 0, count: 32)
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 31, 0) }
            close(fd)
            if e == EWOULDBLOCK {
                let pid = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "unknown"
                throw .held(path: path, pid: pid.isEmpty ? "unknown" : pid)
            }
            throw .system(SystemError("flock", path, errno: e))
        }
        let text = Array("\(getpid())\n".utf8)
        ftruncate(fd, 0)
        _ = text.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
        self.fd = fd
    }

    deinit { close(fd) }
}
