// Peak memory of a job, told apart from the peak it inherits. On Linux a process's maxrss (which
// wait4 reports) takes, at exec, the high-water mark of the address space it leaves: for a
// posix_spawn child that is the spawning process's own (they share it until the exec). So every
// job's ru_maxrss was at least the daemon's peak (33 MiB for `echo` under a debug build; a
// daemon that loaded a million pending jobs has 200 MiB). The spawner's mark is read as soon as
// posix_spawn returns (CLONE_VFORK: after the child's exec, when the kernel took it), not at the
// reap: the mark can fall meanwhile (pages reclaimed without an unmap leave no high-water record)
// and grow (a daemon taking in a large inbox). A figure more than a margin above that reading is
// the job's own; one at or under it says only "at most that", and the record says null
// (docs/records.md, `usage`). The spawner is the daemon, a live-restore supervisor, or the
// Slurm wrapper: whichever runs this code.
import Foundation

enum InheritedPeak {
    /// The kernel's RSS counters are approximate (per-CPU batches) and the reading comes a few
    /// microseconds after the exec: a figure within this of the reading may still be inherited.
    static let marginKiB: Int64 = 1024

    /// The job's own peak in bytes from wait4's `ru_maxrss` (KiB), given the spawner's VmHWM read
    /// right after the spawn; nil when it may be the spawner's.
    static func jobPeakBytes(maxRSSKiB: Int64, spawnerPeakKiB: Int64?) -> Int64? {
        guard let spawnerPeakKiB else { return nil }
        return maxRSSKiB > spawnerPeakKiB + marginKiB ? maxRSSKiB * 1024 : nil
    }

    /// VmHWM of /proc/self/status, in KiB; nil where it cannot be read. One open and read into a
    /// buffer (about 6 µs in the kernel), grown when the file is longer (a `Groups:` line of a
    /// user in hundreds of groups comes before VmHWM).
    static func ownPeakKiB(statusFile: String = "/proc/self/status") -> Int64? {
        let fd = open(statusFile, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes = [UInt8](repeating: 0, count: 4096)
        var count = 0
        while true {
            if count == bytes.count { bytes += [UInt8](repeating: 0, count: bytes.count) }
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
