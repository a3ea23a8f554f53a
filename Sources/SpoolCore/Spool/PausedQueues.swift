// Queues held by `spoolctl pause --queue Q`: a file `paused.queue.Q` in the spool root while
// held. Looking is one fstat of the root per pick; the names are listed only when it changed.
import Foundation

public enum PausedQueues {
    public static let prefix = "paused.queue."
    /// Who made a pause file (PauseFiles decides whether it counts).
    struct FileOwner: Sendable, Equatable {
        var uid: UInt32
        var inode: UInt64
    }
    /// Which root folder, as it was when listed.
    private struct Listed: Equatable {
        var device: UInt64, inode: UInt64, seconds: Int, nanoseconds: Int
    }
    /// How long after a change of the root a listing of it is not kept, in seconds.
    static let racyWindow = 0.05
    /// The last listing, by the root folder and its mtime.
    private static let cache = LockedBox((listed: Listed?.none, queues: [String: FileOwner]()))

    public static func path(root: String, queue: String) -> String { "\(root)/\(prefix)\(queue)" }

    /// The queues held right now, with their files' owners. Everything goes through `rootFD`, the
    /// root's descriptor (its fstat spares the walk of the path at every look), so the listing is
    /// of the folder whose mtime was read, even if the path now names another one.
    static func current(rootFD: Int32) -> [String: FileOwner] {
        var st = stat()
        guard fstat(rootFD, &st) == 0 else { return [:] }
        let listed = Listed(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), seconds: st.st_mtim.tv_sec, nanoseconds: st.st_mtim.tv_nsec)
        if let hit = cache.withLock({ c -> [String: FileOwner]? in c.listed == listed ? c.queues : nil }) { return hit }
        var queues: [String: FileOwner] = [:]
        InboxReader.scan(rootFD, suffix: "") { names in
            for file in names {
                guard let name = file.string, name.hasPrefix(prefix) else { continue }
                var fst = stat()
                guard fstatat(rootFD, name, &fst, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
                queues[String(name.dropFirst(prefix.count))] = FileOwner(uid: fst.st_uid, inode: UInt64(fst.st_ino))
            }
        }
        // A folder's mtime moves in clock ticks (milliseconds apart), so a listing made in the tick
        // of the last change may miss a file added later in that tick without the mtime changing:
        // such a listing is not kept (git's "racy" index entries, the same problem).
        let modified = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        cache.withLock { $0 = Timestamp.now().seconds - modified > racyWindow ? (listed, queues) : (nil, [:]) }
        return queues
    }
}
