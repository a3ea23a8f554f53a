// Peak memory of a job, told apart from the peak it inherits. On Linux a process's maxrss (which
// wait4 reports) takes, at exec, the high-water mark of the address space it leaves: for a
// posix_spawn child that is the spawning process's own (they share it until the exec). So every
// job's ru_maxrss was at least the daemon's peak (33 MiB for `echo` under a debug build; a
// daemon that loaded a million pending jobs has 200 MiB). A figure above that peak is the job's
// own; one at or under it says only "at most that", and the record says null
// (docs/records.md, `usage`).
import Foundation

enum InheritedPeak {
    /// The spawning process's peak (VmHWM) as last read, in KiB. It only grows, so a figure at or
    /// under any reading of it is inherited without reading it again.
    private static let lastRead = LockedBox<Int64>(0)

    /// The job's own peak in bytes, from wait4's `ru_maxrss` (KiB), or nil when it may be this
    /// process's. Called after the reap: a reading now is at least the mark the child took at its exec.
    static func jobPeakBytes(maxRSSKiB: Int64) -> Int64? {
        let known = lastRead.withLock { $0 }
        guard maxRSSKiB > known else { return nil }
        guard let now = ownPeakKiB() else { return nil }
        lastRead.withLock { $0 = max($0, now) }
        return jobPeakBytes(maxRSSKiB: maxRSSKiB, spawnerPeakKiB: now)
    }

    /// The rule: above the spawner's peak, the job's own; else unknown.
    static func jobPeakBytes(maxRSSKiB: Int64, spawnerPeakKiB: Int64) -> Int64? {
        maxRSSKiB > spawnerPeakKiB ? maxRSSKiB * 1024 : nil
    }

    /// VmHWM of /proc/self/status, in KiB; nil where it cannot be read. Read into a buffer of its
    /// own (about 6 µs; while the daemon's peak grows, as it loads a large backlog, most reaps read it).
    static func ownPeakKiB() -> Int64? {
        let fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        var count = 0
        while count < bytes.count {
            let n = bytes.withUnsafeMutableBytes { read(fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { break }
            count += n
        }
        return parseVmHWM(String(decoding: bytes[..<count], as: UTF8.self))
    }

    static func parseVmHWM(_ status: String) -> Int64? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return nil }
        return Int64(line.dropFirst("VmHWM:".count).trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? "")
    }
}
