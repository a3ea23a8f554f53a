// Queues held by `spoolctl pause --queue Q`: a file `paused.queue.Q` in the spool root while
// held. Looking is one stat of the root per pick; the names are listed only when it changed.
import Foundation

public enum PausedQueues {
    public static let prefix = "paused.queue."
    private static let cache = LockedBox((mtime: -1.0, root: "", queues: Set<String>()))

    public static func path(root: String, queue: String) -> String { "\(root)/\(prefix)\(queue)" }

    /// The queues held right now.
    static func current(root: String) -> Set<String> {
        var st = stat()
        guard stat(root, &st) == 0 else { return [] }
        let mtime = Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        if let hit = cache.withLock({ c -> Set<String>? in c.mtime == mtime && c.root == root ? c.queues : nil }) { return hit }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []
        let queues = Set(names.filter { $0.hasPrefix(prefix) }.map { String($0.dropFirst(prefix.count)) })
        cache.withLock { $0 = (mtime, root, queues) }
        return queues
    }
}
