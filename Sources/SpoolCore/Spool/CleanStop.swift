// The mark of a clean stop: `spoold.clean` in the spool root, made durable by a daemon that
// stopped with status 0 after one syncfs of the spool, and taken away (durably) by the next one
// before it changes anything. With it, nothing can have been cut short by a power loss since
// every record was made durable, and the start-up skips reading every record in pending/ and
// done/ for torn ones (StateStore.removeTornRecords): with a million records that read took
// 48 s from the page cache and over two minutes from a cold disk, before READY=1. Without it
// (a crash, SIGKILL, a failed sync, a power loss) the scan runs as before. Not used on a spool
// shared with other daemons (--lock-file: their writes are not ours to vouch for) or without
// fsync (--no-fsync: nothing was made durable).
import Foundation

enum CleanStop {
    static let name = "spoold.clean"

    /// Whether a daemon can vouch for its own stop: it alone writes the spool and it fsyncs.
    static func isVouched(lockFile: String?, durable: Bool) -> Bool { lockFile == nil && durable }

    /// Makes everything written so far durable, then the mark. Call once nothing writes records any more.
    static func mark(_ layout: SpoolLayout) {
        Durability.sync(layout.rootFD, .syncfs, "the spool (clean stop)")
        let fd = openat(layout.rootFD, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { return }  // no mark: the next start scans, as after a crash
        close(fd)
        Durability.sync(layout.rootFD, .folder, "the spool root (\(name))")
    }

    /// True if the last daemon stopped cleanly; the mark is removed durably first, so that a crash
    /// of this daemon is never taken for a clean stop.
    static func take(_ layout: SpoolLayout) -> Bool {
        guard unlinkat(layout.rootFD, name, 0) == 0 else { return false }
        Durability.sync(layout.rootFD, .folder, "the spool root (\(name) removed)")
        return true
    }
}
