// fsync and syncfs failures are failures (PostgreSQL, 2018: "fsyncgate"). When writeback of a
// dirty page fails, Linux reports the error once and may then mark the page clean: a second
// fsync succeeds although the data never reached the disk. So a failed sync is never retried
// and never logged-and-ignored: whatever it was to make durable may be lost, and nothing the
// daemon would do next (start a job, remove a claim, report a result) may rest on it. The
// daemon logs the failure at error level and exits at once with EX_IOERR (74), so that its
// supervisor (systemd: Restart=on-failure) starts it again into recovery, which works only from
// what is on disk. Every fsync, fdatasync and syncfs of the daemon's state goes through here.
import Foundation
import CSpoolShim

/// What a sync covers; the names are those of SPOOLD_FAIL_FSYNC (FaultInjection).
public enum SyncKind: String, CaseIterable, Sendable {
    /// fsync of a state file or output before its name is made durable.
    case file
    /// fsync of a spool folder (its entries).
    case folder
    /// syncfs of the whole filesystem (a group commit).
    case syncfs
    /// fdatasync of a batch's operation journal.
    case journal
    /// fsync of a live-restore supervisor's result (how its attempt ended) and of running/ after
    /// its rename: made by `spoold supervise`, never by the daemon.
    case supervisor
}

public enum Durability {
    /// The exit status after a failed sync (EX_IOERR from sysexits.h).
    public static let exitStatus: Int32 = 74

    /// fsync (fdatasync for a journal, syncfs for `.syncfs`) of `fd`; on failure, never returns:
    /// `fail` (by default `failed`, the daemon's exit) gets the error.
    public static func sync(_ fd: Int32, _ kind: SyncKind, _ what: @autoclosure () -> String,
                            orElse fail: (SystemError) -> Never = { failed($0) }) {
        var rc: Int32
        if FaultInjection.failsSync(kind) {
            errno = EIO
            rc = -1
        } else {
            repeat {
                switch kind {
                case .file, .folder, .supervisor: rc = fsync(fd)
                case .journal: rc = fdatasync(fd)
                case .syncfs: rc = cshim_syncfs(fd)
                }
            } while rc != 0 && errno == EINTR
        }
        if rc != 0 { fail(SystemError(kind == .syncfs ? "syncfs" : (kind == .journal ? "fdatasync" : "fsync"), what())) }
    }

    /// Logs the failed sync at error level and exits: nothing may be acted on that rests on it.
    /// `who` names the process in the log line, `then` says what happens after the exit.
    public static func failed(_ error: SystemError, who: String = "spoold",
                              then: String = "so that a restart recovers from what is on disk") -> Never {
        Log().error("\(who): \(error): what it was to make durable may not be on disk, and retrying cannot tell "
                    + "(the kernel may have dropped the failed pages); exiting (status \(exitStatus)) \(then)")
        _exit(exitStatus)
    }
}
