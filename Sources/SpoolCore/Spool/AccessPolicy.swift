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

    public init() {}

    /// Whether jobs run as their file's owner (the daemon is root).
    public static var runsAsOwner: Bool { geteuid() == 0 }

    /// nil if a file owned by uid:gid may become a job; else the `forbidden` error.
    public func check(uid: UInt32, gid: UInt32, file: String) -> SpoolError? {
        guard Self.runsAsOwner else { return nil }
        let user = Self.userName(uid)
        if uid == 0 && !allowRoot {
            return SpoolError(.forbidden, "\(file) is owned by root; jobs never run as root unless allow_root_jobs is set in the configuration")
        }
        if let allowed = allowedUsers, !allowed.contains(String(uid)), !(user.map(allowed.contains) ?? false) {
            return SpoolError(.forbidden, "\(file) is owned by \(user ?? "uid \(uid)"), who is not in allowed_users (\(allowed.joined(separator: ", ")))")
        }
        if let allowed = allowedGroups {
            let group = Self.groupName(gid)
            if !allowed.contains(String(gid)), !(group.map(allowed.contains) ?? false) {
                return SpoolError(.forbidden, "\(file) belongs to group \(group ?? "gid \(gid)"), which is not in allowed_groups (\(allowed.joined(separator: ", ")))")
            }
        }
        return nil
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
