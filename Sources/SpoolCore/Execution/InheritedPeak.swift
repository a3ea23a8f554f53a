// Peak memory of a job, told apart from the peak it inherits. On Linux a process's maxrss (which
// wait4 reports) takes, at exec, the high-water mark of the address space it leaves: for a
// posix_spawn child that is the spawning process's own (they share it until the exec). So every
// job's ru_maxrss was at least the daemon's peak (33 MiB for `echo` under a debug build; a
// daemon that loaded a million pending jobs has 200 MiB). A figure more than a margin above the
// spawner's peak (VmHWM) is the job's own; one at or under it says only "at most that", and the
// record says null (docs/records.md, `usage`). The spawner is the daemon, a live-restore
// supervisor, or the Slurm wrapper: whichever runs this code.
//
// The peak is read at the reap, and only when a figure passes every reading so far: reading it
// at each spawn cost 49 µs a job (Foundation's handling of /proc/self/status; 5.8 µs as bytes),
// and a build without it ran bench `drained` 3-6 % faster. The reading kept is the largest seen,
// and the mark only grows (hiwater_rss), so a later reading is at least the mark a child took;
// the exception is a mark still above hiwater_rss (the current RSS, not yet recorded by an
// unmap) that falls before the first reading after it: pages of the daemon reclaimed under
// memory pressure. Such a job may then be given the daemon's figure, as every job was before.
import Foundation

enum InheritedPeak {
    /// The kernel's RSS counters are approximate (per-CPU batches): a figure within this of a
    /// reading may still be inherited.
    static let marginKiB: Int64 = 1024

    /// The largest VmHWM read so far, in KiB.
    private static let largestRead = LockedBox<Int64>(0)

    /// The job's own peak in bytes from wait4's `ru_maxrss` (KiB), or nil when it may be this
    /// process's. Reads this process's peak only when the figure is above every reading so far.
    static func jobPeakBytes(maxRSSKiB: Int64) -> Int64? {
        let known = largestRead.withLock { $0 }
        guard jobPeakBytes(maxRSSKiB: maxRSSKiB, spawnerPeakKiB: known) != nil else { return nil }
        guard let now = ownPeakKiB() else { return nil }
        let largest = largestRead.withLock { v -> Int64 in
            v = max(v, now)
            return v
        }
        return jobPeakBytes(maxRSSKiB: maxRSSKiB, spawnerPeakKiB: largest)
    }

    /// The rule: more than the margin above the spawner's peak, the job's own; else unknown.
    static func jobPeakBytes(maxRSSKiB: Int64, spawnerPeakKiB: Int64?) -> Int64? {
        guard let spawnerPeakKiB else { return nil }
        return maxRSSKiB > spawnerPeakKiB + marginKiB ? maxRSSKiB * 1024 : nil
    }

    /// VmHWM of /proc/self/status, in KiB; nil where it cannot be read. Read whole (a `Groups:`
    /// line of a user in hundreds of groups comes before VmHWM) and searched as bytes.
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
        return parseVmHWM(bytes[..<count])
    }

    /// The number of the `VmHWM:` line ("VmHWM:\t   33980 kB").
    static func parseVmHWM(_ status: ArraySlice<UInt8>) -> Int64? {
        let key = Array("\nVmHWM:".utf8)
        guard let at = status.indices.first(where: { i in
            i + key.count <= status.endIndex && status[i..<(i + key.count)].elementsEqual(key)
        }) else { return nil }
        var i = at + key.count
        while i < status.endIndex, status[i] == 0x20 || status[i] == 0x09 { i += 1 }
        var value: Int64 = 0
        var digits = 0
        while i < status.endIndex, (0x30...0x39).contains(status[i]) {
            value = value * 10 + Int64(status[i] - 0x30)
            digits += 1
            i += 1
        }
        return digits > 0 ? value : nil
    }
}
