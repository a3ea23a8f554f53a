// What kind of filesystem the spool is on, found at start (fstatfs's f_type, and the type's name
// from /proc/self/mountinfo), because three things the daemon leans on are local to one machine
// on a network or FUSE filesystem: inotify sees only this machine's changes (other hosts' drops
// are found by the periodic rescan), flock may not keep out a daemon on another host, and write
// leases and link counts (the spare pool's test that nobody else can write a recycled file) see
// only this machine's opens. The daemon says so in one warning and stops recycling files there.
import Foundation
import CSpoolShim

/// The spool's filesystem, as far as the daemon's guarantees are concerned.
public struct SpoolFilesystem: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// A local disk filesystem (ext4, xfs, btrfs, tmpfs, ...): everything holds.
        case local
        /// NFS: flock becomes an NFS lock, exclusive across clients only where NFS locking works.
        case nfs
        /// SMB/CIFS.
        case smb
        /// FUSE (sshfs, virtiofs, ...): the kernel's locks stay on this machine.
        case fuse
        /// Another filesystem shared between machines (Ceph, AFS, 9p, GFS2, OCFS2, Lustre, GPFS, ...).
        case otherNetwork
    }

    public var kind: Kind
    /// The type's name as the mount table says it (`nfs4`, `fuse.sshfs`), or the magic number in hex.
    public var name: String

    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }

    /// True where other machines may change the spool behind this one's back.
    public var isShared: Bool { kind != .local }

    /// The kind of a filesystem by its statfs magic number (linux/magic.h).
    public static func kind(magic: UInt64) -> Kind {
        switch magic {
        case 0x6969: return .nfs
        case 0x517B, 0xFF53_4D42, 0xFE53_4D42: return .smb                    // smbfs, cifs, smb2
        case 0x6573_5546: return .fuse
        case 0x00C3_6400, 0x5346_414F, 0x6B41_4653, 0x0102_1997, 0x7375_7245,   // ceph, afs (2), 9p, coda
             0x0116_1970, 0x7461_636F, 0x0BD0_0BD0, 0x4750_4653, 0x2003_0528:   // gfs2, ocfs2, lustre, gpfs, orangefs
            return .otherNetwork
        default: return .local
        }
    }

    /// The filesystem type named in a /proc/self/mountinfo text for the device `major:minor`
    /// (the field after " - "), or nil.
    public static func typeName(mountinfo: String, major: UInt32, minor: UInt32) -> String? {
        let device = "\(major):\(minor)"
        var found: String?
        for line in mountinfo.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count > 2, fields[2] == device, let dash = fields.firstIndex(of: "-"),
                  dash + 1 < fields.count else { continue }
            found = String(fields[dash + 1])  // the last mount of the device wins, as it hides the earlier ones
        }
        return found
    }

    /// The filesystem of the open directory `fd` (the spool root).
    public static func of(fd: Int32) -> SpoolFilesystem {
        var raw: UInt64 = 0
        guard cshim_fs_magic(fd, &raw) == 0 else { return SpoolFilesystem(kind: .local, name: "unknown") }
        let magic = raw & 0xFFFF_FFFF  // f_type is a signed long: CIFS's 0xFF534D42 comes sign-extended
        var st = stat()
        var name: String?
        if fstat(fd, &st) == 0, let text = try? String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8) {
            let dev = UInt64(st.st_dev)  // glibc's encoding (sys/sysmacros.h)
            let major = UInt32(truncatingIfNeeded: ((dev >> 8) & 0xFFF) | ((dev >> 32) & ~UInt64(0xFFF)))
            let minor = UInt32(truncatingIfNeeded: (dev & 0xFF) | ((dev >> 12) & ~UInt64(0xFF)))
            name = typeName(mountinfo: text, major: major, minor: minor)
        }
        return SpoolFilesystem(kind: kind(magic: magic), name: name ?? "0x" + String(magic, radix: 16))
    }

    /// What does not hold on this filesystem, for the warning at start; nil on a local one.
    public func warning(rescanSeconds: Double, lockFile: String?) -> String? {
        let lock: String
        switch kind {
        case .local: return nil
        case .nfs:
            lock = "the lock (\(lockFile ?? "spoold.lock")) keeps out a daemon on another host only where NFS locking works (not with the nolock or local_lock mount options)"
        case .smb:
            lock = "the lock (\(lockFile ?? "spoold.lock")) keeps out a daemon on another host only where the server honours byte-range locks (not with the nobrl mount option)"
        case .fuse, .otherNetwork:
            lock = "the lock (\(lockFile ?? "spoold.lock")) is held on this machine only and does not keep out a daemon on another host"
        }
        let seconds = rescanSeconds == rescanSeconds.rounded() ? String(Int(rescanSeconds)) : String(rescanSeconds)
        return "spoold: the spool is on \(name), a network or FUSE filesystem: \(lock); "
            + "files other hosts drop are not seen by inotify and are found by the rescan every \(seconds) s (--rescan, rescan_seconds); "
            + "inodes are not recycled; see \"Spools on network filesystems\" in docs/operations.md"
    }
}
