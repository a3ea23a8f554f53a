// Who may read a job's files (issue 18): when spoold runs as root, a job's state file (pending/,
// running/, done/), its outputs and its batch journal are readable by the job's owner and the
// administrators only, not by every member of the spool's group. Each such file belongs to the
// daemon's user and the admin group (or the daemon's group), mode 0640, with a POSIX ACL entry
// that lets the owner read it (`user:<owner>:r--`); the owner does not own the file, so cannot
// rewrite or chmod it (a record says whom its retry runs as). `shared_results` in config.json
// keeps the old way: 0644, readable by every member. When the daemon is not root, nothing here
// applies (records have no owner; the folders' group and mode are the access control).
import Foundation
import CSpoolShim

public struct ResultPrivacy: Sendable, Equatable, Codable {
    /// Files are protected (the daemon is root and results are not shared).
    public var isPrivate: Bool
    /// The group that reads every job's files: the admin group, or the daemon's own group.
    public var groupID: UInt32

    public static let shared = ResultPrivacy(isPrivate: false, groupID: 0)

    public init(isPrivate: Bool, groupID: UInt32) {
        self.isPrivate = isPrivate
        self.groupID = groupID
    }

    /// The privacy a policy asks for, for a daemon running as the current user.
    public init(access: AccessPolicy) {
        self.init(isPrivate: AccessPolicy.runsAsOwner && !access.sharedResults, groupID: access.adminGID ?? getegid())
    }

    static let aclName = "system.posix_acl_access"

    /// Gives the open file `fd` of a job owned by `owner` its mode, group and ACL. Without an
    /// owner, or with shared results, or when the daemon is not root, the file is 0644 with no ACL
    /// (a recycled file may have had one, and a spare is 0600: SparePool).
    /// Returns false if the ACL could not be set (the file is then 0640: the owner cannot read it).
    @discardableResult
    public func apply(_ fd: Int32, owner: JobOwner?) -> Bool {
        guard AccessPolicy.runsAsOwner else {
            fchmod(fd, 0o644)
            return true
        }
        guard isPrivate, let owner else {
            _ = Self.aclName.withCString { cshim_fremovexattr(fd, $0) }
            fchmod(fd, 0o644)
            return true
        }
        fchown(fd, AccessPolicy.daemonUID, groupID)
        fchmod(fd, 0o640)
        if owner.uid == AccessPolicy.daemonUID {  // the daemon's own user (root): no entry needed
            _ = Self.aclName.withCString { cshim_fremovexattr(fd, $0) }
            return true
        }
        let acl = Self.acl(reader: owner.uid)
        return acl.withUnsafeBytes { buf in Self.aclName.withCString { cshim_fsetxattr(fd, $0, buf.baseAddress, buf.count) } } == 0
    }

    /// The binary form of `user::rw- user:<reader>:r-- group::r-- mask::r-- other::---` as the
    /// kernel takes it (posix_acl_xattr: version 2, then tag/perm/id entries sorted by tag).
    static func acl(reader: UInt32) -> [UInt8] {
        var out: [UInt8] = []
        func u16(_ v: UInt16) { out += [UInt8(v & 0xff), UInt8(v >> 8)] }
        func u32(_ v: UInt32) { out += [UInt8(v & 0xff), UInt8((v >> 8) & 0xff), UInt8((v >> 16) & 0xff), UInt8(v >> 24)] }
        let undefined = UInt32.max
        u32(2)
        for (tag, perm, id): (UInt16, UInt16, UInt32) in [(0x01, 6, undefined), (0x02, 4, reader), (0x04, 4, undefined),
                                                        (0x10, 4, undefined), (0x20, 0, undefined)] {
            u16(tag)
            u16(perm)
            u32(id)
        }
        return out
    }

    /// Whether the spool's file system takes ACLs: tried on a scratch file in tmp/ (at start).
    public static func aclsWork(tmpFD: Int32) -> Bool {
        // Named like the daemon's other temporaries, so that one a crash kept goes at the next start.
        let name = "spoold.acl-probe.\(getpid()).tmp"
        let fd = openat(tmpFD, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0o600)
        guard fd >= 0 else { return false }
        defer {
            close(fd)
            unlinkat(tmpFD, name, 0)
        }
        let acl = Self.acl(reader: 65534)
        return acl.withUnsafeBytes { buf in aclName.withCString { cshim_fsetxattr(fd, $0, buf.baseAddress, buf.count) } } == 0
    }
}
