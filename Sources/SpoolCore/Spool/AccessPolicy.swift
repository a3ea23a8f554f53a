// Who may run what. Anyone who can write the inbox can run commands: the inbox's group and mode
// are the access control. When spoold runs as root, each job runs as the owner of the file that
// was dropped (uid and gid from the opened file descriptor, never from the path), never as root
// unless allowed, and only for users and groups in the configured lists. docs/operations.md
// describes the model.
import Foundation

public struct AccessPolicy: Sendable, Equatable {
    /// Names or uids whose files may run jobs; nil: anyone (but root, see `allowRoot`).
    public var allowedUsers: [String]?
    /// Names or gids a dropped file's group must be one of; nil: any.
    public var allowedGroups: [String]?
    /// Files owned by root may run jobs as root.
    public var allowRoot = false
    /// A group (name or gid) whose members are administrators: they may control every job and
    /// read every record; root and the daemon's own user always are. nil: root and the daemon only.
    public var adminGroup: String?
    /// Records and outputs readable by every member of the spool's group (as before issue 18),
    /// instead of by their owner and the administrators only.
    public var sharedResults = false

    public init() {}

    /// The daemon's effective uid: it never changes, and it was asked about 20 times per job.
    public static let daemonUID = geteuid()

    /// Whether jobs run as their file's owner (the daemon is root).
    public static var runsAsOwner: Bool { daemonUID == 0 }

    /// nil if a file owned by uid:gid may become a job; else the `forbidden` error. The password
    /// database is read only for a list of users (a read of /etc/passwd per job file, else).
    public func check(uid: UInt32, gid: UInt32, file: String) -> SpoolError? {
        guard Self.runsAsOwner else { return nil }
        if uid == 0 && !allowRoot {
            return SpoolError(.forbidden, "\(file) is owned by root; jobs never run as root unless allow_root_jobs is set in the configuration")
        }
        if let allowed = allowedUsers, !allowed.contains(String(uid)) {
            let user = Self.userName(uid)
            if !(user.map(allowed.contains) ?? false) {
                return SpoolError(.forbidden, "\(file) is owned by \(user ?? "uid \(uid)"), who is not in allowed_users (\(allowed.joined(separator: ", ")))")
            }
        }
        if let allowed = allowedGroups {
            let group = Self.groupName(gid)
            if !allowed.contains(String(gid)), !(group.map(allowed.contains) ?? false) {
                return SpoolError(.forbidden, "\(file) belongs to group \(group ?? "gid \(gid)"), which is not in allowed_groups (\(allowed.joined(separator: ", ")))")
            }
        }
        return nil
    }

    /// The gid of `adminGroup` (a name or a numeric gid); nil if none is set or it does not exist.
    public var adminGID: UInt32? {
        guard let adminGroup else { return nil }
        if let gid = UInt32(adminGroup) { return gid }
        return Self.groupID(adminGroup)
    }

    /// Whether uid is an administrator: root, the daemon's own user, or a member of `adminGroup`
    /// (as its primary group or listed in the group database).
    public func isAdmin(uid: UInt32) -> Bool {
        if uid == 0 || uid == Self.daemonUID { return true }
        guard let gid = adminGID else { return false }
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &pw, &buf, buf.count, &result) == 0, result != nil else { return false }
        if pw.pw_gid == gid { return true }
        let name = String(cString: pw.pw_name)
        return Self.groupMembers(gid).contains(name)
    }

    /// The requester of a control file owned by uid, for the engine's decision.
    func requester(uid: UInt32) -> Requester {
        Requester(uid: uid, isAdmin: isAdmin(uid: uid), shown: Self.userName(uid).map { "\($0) (uid \(uid))" } ?? "uid \(uid)")
    }

    static func groupID(_ name: String) -> UInt32? {
        var gr = group()
        var result: UnsafeMutablePointer<group>?
        var buf = [CChar](repeating: 0, count: 16384)
        guard getgrnam_r(name, &gr, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return gr.gr_gid
    }

    static func groupMembers(_ gid: UInt32) -> [String] {
        var gr = group()
        var result: UnsafeMutablePointer<group>?
        var buf = [CChar](repeating: 0, count: 65536)
        guard getgrgid_r(gid, &gr, &buf, buf.count, &result) == 0, result != nil, var p = gr.gr_mem else { return [] }
        var out: [String] = []
        while let m = p.pointee {
            out.append(String(cString: m))
            p += 1
        }
        return out
    }

    static func userName(_ uid: UInt32) -> String? {
        user(uid)?.name
    }

    /// A user's name and home folder from the password database.
    static func user(_ uid: UInt32) -> (name: String, home: String)? {
        var pw = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buf = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &pw, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return (String(cString: pw.pw_name), pw.pw_dir.map { String(cString: $0) } ?? "/")
    }

    static func groupName(_ gid: UInt32) -> String? {
        var gr = group()
        var result: UnsafeMutablePointer<group>?
        var buf = [CChar](repeating: 0, count: 4096)
        guard getgrgid_r(gid, &gr, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return String(cString: gr.gr_name)
    }
}
