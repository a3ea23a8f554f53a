// inotify on a spool folder, read by a thread of its own that hands each batch of events to the
// intake queue with `sync`, so that the handler runs on that thread (serialized with the rest of
// the queue's work). Not a Dispatch read source: a drop woke libdispatch's manager thread, which
// then woke a worker to run the handler, two wake-ups of an idle core on the way from the rename
// to the job's start, against one here (docs/design.md, "Intake"). It reports names that were
// renamed in (IN_MOVED_TO) or closed after writing (IN_CLOSE_WRITE); IN_CREATE is reported too,
// for entries that never get a close (symlinks, FIFOs, directories). When the kernel's queue
// overflows (IN_Q_OVERFLOW, events lost) it asks for a full rescan instead.
import Foundation
import CSpoolShim

/// Watches one directory.
final class InboxWatcher: Sendable {
    enum Event: Sendable {
        case names([FileName], created: [FileName])
        case overflow
    }

    /// The write end of a pipe the thread polls; `cancel` closes it, which wakes the thread to end.
    private let wakeFD: Int32
    private let cancelled = LockedBox(false)

    /// Starts watching `path`; `handler` runs on `queue` (with `sync`, from the watcher's thread)
    /// once per batch of events read, never after `cancel` has returned on `queue`.
    init(path: String, queue: DispatchQueue, handler: @escaping @Sendable (Event) -> Void) throws {
        let fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        guard fd >= 0 else { throw SystemError("inotify_init1", path) }
        let mask = UInt32(IN_MOVED_TO | IN_CLOSE_WRITE | IN_CREATE | IN_ONLYDIR)
        guard inotify_add_watch(fd, path, mask) >= 0 else {
            let e = SystemError("inotify_add_watch", path)
            close(fd)
            throw e
        }
        var pipeFDs: [Int32] = [-1, -1]
        guard cshim_pipe_cloexec(&pipeFDs) == 0 else {
            let e = SystemError("pipe", "the watcher of \(path)")
            close(fd)
            throw e
        }
        wakeFD = pipeFDs[1]
        let readEnd = pipeFDs[0]
        let cancelled = self.cancelled
        let thread = Thread {
            cshim_name_thread("spoold.inotify")
            var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: readEnd, events: Int16(POLLIN), revents: 0)]
            while true {
                let n = poll(&fds, 2, -1)
                if n < 0 && errno == EINTR { continue }
                if n < 0 {
                    Log().error("intake: \(SystemError("poll", path)); no more inotify events from it, relying on rescans")
                    break
                }
                if fds[1].revents != 0 { break }
                guard fds[0].revents != 0 else { continue }
                queue.sync {
                    guard !cancelled.withLock({ $0 }) else { return }
                    InboxWatcher.drain(fd: fd, handler: handler)
                }
            }
            // Here, not on the queue: closing an inotify descriptor waits for the kernel to free its
            // watches (an RCU grace period: one close took 12 ms under strace), and the daemon's exit
            // waits for the intake queue after cancelling its watchers.
            close(fd)
            close(readEnd)
        }
        thread.start()
    }

    /// No handler runs after this, once the queue has finished the one under way (if any).
    func cancel() {
        let first = cancelled.withLock { c -> Bool in
            defer { c = true }
            return !c
        }
        if first { close(wakeFD) }
    }

    private static func drain(fd: Int32, handler: (Event) -> Void) {
        var names: [FileName] = []
        var created: [FileName] = []
        var overflow = false
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        let header = MemoryLayout<inotify_event>.size
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            buf.withUnsafeBytes { raw in
                var off = 0
                while off + header <= n {
                    let mask = raw.load(fromByteOffset: off + 4, as: UInt32.self)
                    let len = Int(raw.load(fromByteOffset: off + 12, as: UInt32.self))
                    if mask & UInt32(IN_Q_OVERFLOW) != 0 {
                        overflow = true
                    } else if len > 0 {
                        let bytes = Array(raw[(off + header)..<(off + header + len)].prefix { $0 != 0 })
                        if mask & UInt32(IN_CREATE) != 0 {
                            created.append(FileName(bytes: bytes))
                        } else {
                            names.append(FileName(bytes: bytes))
                        }
                    }
                    off += header + len
                }
            }
        }
        if overflow { handler(.overflow) }
        if !names.isEmpty || !created.isEmpty { handler(.names(names, created: created)) }
    }
}
