// Which pause files count (issue 18): `paused` (the whole spool) and `paused.queue.Q` (one queue)
// hold jobs of every user, so when spoold runs as root only files owned by an administrator (root,
// the daemon's user, a member of admin_group) count. Another member's file is ignored, with one
// log line per file, and `spoolctl pause` refuses to make one for a non-administrator. When the
// daemon is not root, every pause file counts, as before (the spool's group is the access control).
import Foundation

final class PauseFiles: Sendable {
    private struct State {
        var admins: [UInt32: Bool] = [:]
        var adminGroup: String?
        /// "path inode uid" of files already logged as ignored.
        var logged: Set<String> = []
    }
    private let state = LockedBox(State())

    /// Whether a pause file owned by `uid` counts; logs (once per file) when it does not.
    func counts(_ path: String, uid: UInt32, inode: UInt64, access: AccessPolicy, log: Log) -> Bool {
        guard AccessPolicy.runsAsOwner else { return true }
        let known = state.withLock { s -> Bool? in
            if s.adminGroup != access.adminGroup { s = State(adminGroup: access.adminGroup) }
            return s.admins[uid]
        }
        let isAdmin = known ?? access.isAdmin(uid: uid)
        if known == nil { state.withLock { $0.admins[uid] = isAdmin } }
        if !isAdmin {
            let key = "\(path) \(inode) \(uid)"
            if state.withLock({ $0.logged.insert(key).inserted }) {
                let who = AccessPolicy.userName(uid).map { "\($0) (uid \(uid))" } ?? "uid \(uid)"
                log.warning("spoold: \(path) is owned by \(who), who is not an administrator (root, the daemon's user or a member of admin_group); ignored, jobs keep starting")
            }
        }
        return isAdmin
    }

    /// The spool's `paused` file counts: it exists and is an administrator's (when root).
    /// Looked up from the root's descriptor: asked at every start and every built-in operation's
    /// end, and the walk of the absolute path was most of the cost of asking (perf, a batch of
    /// 10,000 built-ins).
    func spoolPaused(_ layout: SpoolLayout, access: AccessPolicy, log: Log) -> Bool {
        var st = stat()
        guard fstatat(layout.rootFD, SpoolLayout.pausedName, &st, AT_SYMLINK_NOFOLLOW) == 0 else { return false }
        return counts(layout.pausedPath, uid: st.st_uid, inode: UInt64(st.st_ino), access: access, log: log)
    }

    /// The held queues whose pause files count.
    func pausedQueues(_ layout: SpoolLayout, access: AccessPolicy, log: Log) -> Set<String> {
        let found = PausedQueues.current(rootFD: layout.rootFD)
        guard AccessPolicy.runsAsOwner else { return Set(found.keys) }
        return Set(found.filter { queue, owner in
            counts(PausedQueues.path(root: layout.root, queue: queue), uid: owner.uid, inode: owner.inode, access: access, log: log)
        }.keys)
    }
}
