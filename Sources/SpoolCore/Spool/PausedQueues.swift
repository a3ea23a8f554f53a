// Queues held by `spoolctl pause --queue Q`: a file `paused.queue.Q` in the spool root while
// held. Looking is one stat of the root per pick; the names are listed only when it changed.
import Foundation

public enum PausedQueues {
    public static let prefix = "paused.queue."
    /// Who made a pause file (PauseFiles decides whether it counts).
    struct FileOwner: Sendable, Equatable {
        var uid: UInt32
        var inode: UInt64
    }
    private static let cache = LockedBox((mtime: -1.0, root: "", queues: [String: FileOwner]()))

    public static func path(root: String, queue: String) -> String { "\(root)/\(prefix)\(queue)" }

    /// The queues held right now, with their files' owners. `rootFD`: the root's descriptor, whose
    /// fstat spares the walk of the path at every look.
    static func current(root: String, rootFD: Int32) -> [String: FileOwner] {
        var st = stat()
        guard fstat(rootFD, &st) == 0 else { return [:] }
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        if let hit = cache.withLock({ c -> [String: FileOwner]? in c.mtime == mtime && c.root == root ? c.queues : nil }) { return hit }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        var queues: [String: FileOwner] = [:]
        for name in names where name.hasPrefix(prefix) {
            var fst = stat()
            guard lstat("\(root)/\(name)", &fst) == 0 else { continue }
            queues[String(name.dropFirst(prefix.count))] = FileOwner(uid: fst.st_uid, inode: UInt64(fst.st_ino))
        }
        cache.withLock { $0 = (mtime, root, queues) }
        return queues
    }
}
