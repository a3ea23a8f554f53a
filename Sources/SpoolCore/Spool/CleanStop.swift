// The mark of a clean stop: `spoold.clean` in the spool root, made durable by a daemon that
// stopped with status 0 after one syncfs of the spool, and taken away (durably) by the next one
// before it changes anything. With it, nothing can have been cut short by a power loss since
// every record was made durable, and the start-up skips reading every record in pending/ and
// done/ for torn ones (StateStore.removeTornRecords): with a million records that read took
// 48 s from the page cache and over two minutes from a cold disk, before READY=1. Without it
// (a crash, SIGKILL, a failed sync, a power loss) the scan runs as before. Not used on a spool
// shared with other daemons (--lock-file: their writes are not ours to vouch for) or without
// fsync (--no-fsync: nothing was made durable).
// The mark also names the spares the stop left in tmp/ (the run tokens in their names, SparePool):
// only those are taken back, so that spares another daemon left there (an older spoold that knew
// no mark, started between two of ours and killed) are never trusted as a clean stop's.
import Foundation

enum CleanStop {
    static let name = "spoold.clean"
    /// Room for a full pool's tokens (512 spares, each of another run at most), one per line; a
    /// longer mark names none.
    static let limit = 16 << 10

    /// What the last daemon's mark says.
    struct Mark {
        /// The run tokens in the names of the spares it left in tmp/ (`spoold.spare.<token>.<n>`):
        /// its own, and those of spares it took back and did not reuse. Empty if it names none (an
        /// empty mark, as an older spoold wrote).
        var sparesTokens: Set<String>
    }

    /// Whether a daemon can vouch for its own stop: it alone writes the spool and it fsyncs.
    static func isVouched(lockFile: String?, durable: Bool) -> Bool { lockFile == nil && durable }

    /// Makes everything written so far durable, then the mark, naming the spares' tokens. Call once
    /// nothing writes records any more and the spare pool is sealed (`SparePool.seal`).
    static func mark(_ layout: SpoolLayout, sparesTokens: [String]) {
        Durability.sync(layout.rootFD, .syncfs, "the spool (clean stop)")
        let fd = openat(layout.rootFD, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { return }  // no mark: the next start scans, as after a crash
        // A mark that cannot say whose spares they are is not left at all.
        guard Array(sparesTokens.map { "\($0)\n" }.joined().utf8).withUnsafeBytes({ writeAll(fd, $0) }) == nil else {
            close(fd)
            unlinkat(layout.rootFD, name, 0)
            return
        }
        Durability.sync(fd, .file, name, orElse: { e in unlinkat(layout.rootFD, name, 0); Durability.failed(e) })
        close(fd)
        Durability.sync(layout.rootFD, .folder, "the spool root (\(name))")
    }

    /// The mark, if the last daemon stopped cleanly. It is removed durably first, so that a crash
    /// of this daemon is never taken for a clean stop.
    static func take(_ layout: SpoolLayout) -> Mark? {
        var tokens: Set<String> = []
        var st = stat()
        // Only a regular file is opened (only root can put anything else in the spool root).
        if fstatat(layout.rootFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0, st.st_mode & S_IFMT == S_IFREG {
            let fd = openat(layout.rootFD, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)
            if fd >= 0 {
                if let r = readUpTo(fd, limit: limit), !r.tooLarge {
                    let lines = String(decoding: r.bytes, as: UTF8.self).split(separator: "\n").map(String.init)
                    tokens = lines.allSatisfy(SparePool.isRunToken) ? Set(lines) : []
                }
                close(fd)
            }
        }
        guard unlinkat(layout.rootFD, name, 0) == 0 else { return nil }
        Durability.sync(layout.rootFD, .folder, "the spool root (\(name) removed)")
        return Mark(sparesTokens: tokens)
    }
}
