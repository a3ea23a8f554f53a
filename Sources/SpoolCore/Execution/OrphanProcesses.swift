// Processes of jobs that outlived a daemon killed without a chance to stop them. They are found
// by their environment (SPOOL_ROOT and SPOOL_JOB_ID, which every job gets), not by a recorded
// pid, so a reused pid can never make us kill a stranger.
import Foundation

enum OrphanProcesses {
    /// A process of a job of this spool: its job's id, and for a batch operation its index in the
    /// job file (SPOOL_OPERATION_INDEX).
    struct Orphan: Sendable {
        var pid: pid_t
        var id: String
        var operation: Int?
    }

    /// Every process of this spool's jobs.
    static func list(spoolRoot: String) -> [Orphan] {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
        let rootVar = Array("SPOOL_ROOT=\(spoolRoot)".utf8)
        let idPrefix = Array("SPOOL_JOB_ID=".utf8)
        let operationPrefix = Array("SPOOL_OPERATION_INDEX=".utf8)
        var out: [Orphan] = []
        let me = getpid()
        for e in entries {
            guard let pid = pid_t(e), pid != me else { continue }
            guard let data = FileManager.default.contents(atPath: "/proc/\(e)/environ") else { continue }
            let vars = data.split(separator: 0, omittingEmptySubsequences: true)
            guard vars.contains(where: { Array($0) == rootVar }) else { continue }
            guard let idVar = vars.first(where: { $0.starts(with: idPrefix) }) else { continue }
            let id = String(decoding: idVar.dropFirst(idPrefix.count), as: UTF8.self)
            let operation = vars.first(where: { $0.starts(with: operationPrefix) })
                .flatMap { Int(String(decoding: $0.dropFirst(operationPrefix.count), as: UTF8.self)) }
            out.append(Orphan(pid: pid, id: id, operation: operation))
        }
        return out
    }

    /// SIGKILL to the process's group and the process, then waits (up to 2 s) until it is gone.
    static func kill(group pid: pid_t) {
        let pgid = getpgid(pid)
        if pgid > 1 { Glibc.kill(-pgid, SIGKILL) }
        Glibc.kill(pid, SIGKILL)
        for _ in 0..<200 {
            if isGone(pid) { return }
            usleep(10_000)
        }
    }

    /// Gone, or a zombie (dead; reaping it is its new parent's business, which may be slow in a container).
    static func isGone(_ pid: pid_t) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")")
        else { return true }
        let state = stat[stat.index(after: close)...].trimmingCharacters(in: .whitespaces).first
        return state == "Z" || state == "X"
    }
}
