// A rename that never replaces its target, on any filesystem the spool may be on. Local
// filesystems do it in one call, renameat2(RENAME_NOREPLACE). Network and FUSE filesystems refuse
// the flag (NFS and sshfs: EINVAL); there link() gives the same guarantee for the target (EEXIST
// when it exists, decided by the server), and unlink() of the old name then decides a race for
// the source: of two processes that linked the same file, only one unlink succeeds, and the
// loser removes its new name and reports ENOENT, as a lost rename does. That is two calls, not
// one, so it is kept for targets others may take (a new record's id, a dropped file's name),
// where our own source is uncontested. A target that is a fresh unique name (an inbox claim,
// tmp/<token>.claim) is contested at its source instead, and there a plain rename after a look is
// better: the server decides which process moves the file, in one step, whereas link + unlink
// would let a file renamed over the inbox name between the two calls be unlinked unseen, and a
// crash between them leave the inbox name beside the claim. The method is decided once per spool
// (at the daemon's start by a probe in tmp/, or at the first rename) and kept, so a refused flag
// costs one failed call, not one per file.
import Foundation
import CSpoolShim

/// No-replace renames within one spool, by whichever method its filesystem takes.
public final class ExclusiveRename: Sendable {
    public enum Method: String, Sendable, Equatable {
        case renameNoReplace = "renameat2(RENAME_NOREPLACE)"
        case linkUnlink = "link() + unlink()"
    }

    /// What a failed renameat2(RENAME_NOREPLACE) means.
    public enum Refusal: Equatable, Sendable {
        /// The filesystem (or kernel) does not take the flag: use link() + unlink() from now on.
        case useLink
        /// A real answer about these names (EEXIST: the target exists; ENOENT: the source is gone; ...).
        case failed
    }

    /// The one decision: which errno of renameat2(RENAME_NOREPLACE) means "not supported here".
    /// EINVAL is what NFS and FUSE return for an unknown flag; ENOSYS a kernel or seccomp filter
    /// without renameat2; EOPNOTSUPP (ENOTSUP, the same number on Linux) some filesystems' answer.
    public static func refusal(errno e: Int32) -> Refusal {
        switch e {
        case EINVAL, ENOSYS, EOPNOTSUPP: return .useLink
        default: return .failed
        }
    }

    private let known = LockedBox<Method?>(nil)

    public init() {}

    /// A rename whose method is already decided (tests walk the link path on a local filesystem).
    init(method: Method) { known.withLock { $0 = method } }

    /// The method this spool uses; nil until the first rename or the probe.
    public var method: Method? { known.withLock { $0 } }

    /// Renames `from` (in `fromFD`) to `to` (in `toFD`) unless `to` exists. Nil on success, else the
    /// errno: EEXIST when the target exists, ENOENT when the source is gone (also when another
    /// process won the source meanwhile), anything else as the calls gave it.
    /// `freshTarget`: `to` is a unique name nobody else makes (a claim's token); where the flag is
    /// refused, a look and a plain rename then, instead of link + unlink.
    public func rename(_ fromFD: Int32, _ from: UnsafePointer<CChar>, _ toFD: Int32, _ to: UnsafePointer<CChar>, freshTarget: Bool = false) -> Int32? {
        if known.withLock({ $0 }) != .linkUnlink {
            if cshim_rename_noreplace(fromFD, from, toFD, to) == 0 {
                known.withLock { if $0 == nil { $0 = .renameNoReplace } }
                return nil
            }
            let e = errno
            guard Self.refusal(errno: e) == .useLink else { return e }
            known.withLock { $0 = .linkUnlink }
        }
        return freshTarget ? renameToFresh(fromFD, from, toFD, to) : linkThenUnlink(fromFD, from, toFD, to)
    }

    /// Decides the method for the spool whose scratch folder is `tmpFD`, with a file of its own
    /// there, and returns it with the errno that ruled out renameat2 (nil when it works). Nil when
    /// the probe could not be made (tmp/ not writable): the first real rename decides then.
    public func probe(tmpFD: Int32) -> (method: Method, refusedWith: Int32?)? {
        // Named like the daemon's other temporaries, so that one a crash kept goes at the next start.
        // With a random part: daemons on other hosts sharing the spool may have the same pid.
        let stem = "spoold.rename-probe.\(getpid()).\(UInt32.random(in: 0...UInt32.max))"
        let a = "\(stem).a.tmp", b = "\(stem).b.tmp"
        unlinkat(tmpFD, b, 0)
        let fd = openat(tmpFD, a, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return nil }
        close(fd)
        defer {
            unlinkat(tmpFD, a, 0)
            unlinkat(tmpFD, b, 0)
        }
        if cshim_rename_noreplace(tmpFD, a, tmpFD, b) == 0 {
            known.withLock { $0 = .renameNoReplace }
            return (.renameNoReplace, nil)
        }
        let e = errno
        guard Self.refusal(errno: e) == .useLink else { return nil }
        known.withLock { $0 = .linkUnlink }
        return (.linkUnlink, e)
    }

    private func renameToFresh(_ fromFD: Int32, _ from: UnsafePointer<CChar>, _ toFD: Int32, _ to: UnsafePointer<CChar>) -> Int32? {
        guard !Self.exists(toFD, to) else { return EEXIST }
        return renameat(fromFD, from, toFD, to) == 0 ? nil : errno
    }

    private func linkThenUnlink(_ fromFD: Int32, _ from: UnsafePointer<CChar>, _ toFD: Int32, _ to: UnsafePointer<CChar>) -> Int32? {
        if linkat(fromFD, from, toFD, to, 0) != 0 {
            let e = errno
            // A directory cannot be hard-linked (EPERM): a look and a plain rename, the best there is.
            if e == EPERM, Self.isDirectory(fromFD, from) { return renameToFresh(fromFD, from, toFD, to) }
            return e
        }
        if unlinkat(fromFD, from, 0) != 0 {
            // ENOENT: another process unlinked it first and so won it; our new name goes again.
            let e = errno
            unlinkat(toFD, to, 0)
            return e
        }
        return nil
    }

    private static func isDirectory(_ dirFD: Int32, _ name: UnsafePointer<CChar>) -> Bool {
        var st = stat()
        return fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && st.st_mode & S_IFMT == S_IFDIR
    }

    private static func exists(_ dirFD: Int32, _ name: UnsafePointer<CChar>) -> Bool {
        var st = stat()
        return fstatat(dirFD, name, &st, AT_SYMLINK_NOFOLLOW) == 0
    }
}
