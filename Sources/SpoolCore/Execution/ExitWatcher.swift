// Threads of their own that wait for job processes to exit, each blocked in epoll_wait on one
// epoll set of pidfds (a pidfd becomes readable when its process exits), and that handle the exit
// on the thread that woke. With a Dispatch read source per pidfd, an exit woke libdispatch's
// manager thread, which then woke a worker to run the handler: two wake-ups of an idle core
// before the next job could start, against one here (docs/design.md, "Execution").
//
// Every pidfd is registered one-shot: its one event goes to exactly one thread (epoll_wait wakes
// one waiter per event), which takes the handler, closes the fd and runs the handler. Several
// threads, so that one exit's bookkeeping (the next start's claim and its fsync, the spawn) does
// not hold back another's.
import Foundation
import CSpoolShim

final class ExitWatcher: @unchecked Sendable {
    /// The daemon's one set; its threads start at the first watch.
    static let shared = ExitWatcher(threads: 4)

    private let threads: Int
    private let epoll: Int32
    /// What to run when each watched fd becomes readable, by fd.
    private let handlers = LockedBox<[Int32: @Sendable () -> Void]>([:])
    private let started = LockedBox(false)

    init(threads: Int) {
        self.threads = threads
        epoll = cshim_epoll_create()
    }

    /// Runs `handler` (on one of the watcher's threads) once `fd` is readable, then closes `fd`.
    /// False if it cannot be watched (the caller keeps `fd`).
    func watch(_ fd: Int32, _ handler: @escaping @Sendable () -> Void) -> Bool {
        guard epoll >= 0 else { return false }
        startThreads()
        handlers.withLock { $0[fd] = handler }
        guard cshim_epoll_add_oneshot(epoll, fd) == 0 else {
            handlers.withLock { $0[fd] = nil }
            return false
        }
        return true
    }

    private func startThreads() {
        let first = started.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        guard first else { return }
        for _ in 0..<threads {
            Thread { [self] in
                cshim_name_thread("spoold.exits")
                waitLoop()
            }.start()
        }
    }

    private func waitLoop() {
        while true {
            let fd = cshim_epoll_wait_one(epoll)
            if fd < 0 {
                if errno == EINTR { continue }
                fatalError("epoll_wait on the exit watcher's set failed: errno \(errno)")
            }
            // Taken before the close: a pidfd opened after it may get the same number.
            let handler = handlers.withLock { $0.removeValue(forKey: fd) }
            cshim_epoll_remove(epoll, fd)
            close(fd)
            handler?()
        }
    }
}
