// A job's peak memory as wait4 reports it includes the spawning process's own peak (Linux folds
// the address space left at exec into the child's maxrss): only a figure above that is the job's.
import Foundation
import Testing
@testable import SpoolCore

@Suite("inherited peak memory")
struct InheritedPeakTests {
    @Test("the rule as a table: ru_maxrss (KiB) and the spawner's peak (KiB) → the job's own peak in bytes, or nil")
    func rule() {
        let table: [(maxRSS: Int64, spawner: Int64, want: Int64?)] = [
            (1_200, 34_000, nil),            // `true` under a 34 MiB daemon: the daemon's figure
            (34_000, 34_000, nil),           // exactly the daemon's: still the daemon's
            (34_001, 34_000, 34_001 * 1024), // above it: the job's own
            (70_000, 34_000, 70_000 * 1024),
            (70_000, 200_000, nil),          // a daemon that loaded a million jobs hides a 70 MiB job
        ]
        for row in table {
            #expect(InheritedPeak.jobPeakBytes(maxRSSKiB: row.maxRSS, spawnerPeakKiB: row.spawner) == row.want, "\(row)")
        }
    }

    @Test("VmHWM is read from /proc/self/status (KiB), and this process's own is found")
    func readsVmHWM() throws {
        #expect(InheritedPeak.parseVmHWM("Name:\tx\nVmPeak:\t  900 kB\nVmHWM:\t   33980 kB\nVmRSS:\t 100 kB\n") == 33_980)
        #expect(InheritedPeak.parseVmHWM("Name:\tx\n") == nil)
        let own = try #require(InheritedPeak.ownPeakKiB())
        #expect(own > 1_000, "a Swift test process peaks above 1 MiB: \(own) KiB")
    }

    @Test("a spawned child's figure is the spawner's peak, not its own: the kernel behaviour the rule rests on")
    func childInheritsPeak() throws {
        // Touch 96 MiB here first, so this process's peak is far above what `true` needs.
        var ballast = [UInt8](repeating: 1, count: 96 << 20)
        ballast[ballast.count - 1] = 2
        var pid: pid_t = 0
        let argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/true"), nil]
        defer { for a in argv { free(a) } }
        #expect(posix_spawn(&pid, "/bin/true", nil, nil, argv, nil) == 0)
        var status: Int32 = 0
        var used = rusage()
        #expect(wait4(pid, &status, 0, &used) == pid)
        let own = try #require(InheritedPeak.ownPeakKiB())
        #expect(Int64(used.ru_maxrss) >= 96 << 10, "`true` reported \(used.ru_maxrss) KiB: the spawner's peak is not carried over any more")
        #expect(InheritedPeak.jobPeakBytes(maxRSSKiB: Int64(used.ru_maxrss), spawnerPeakKiB: own) == nil)
        #expect(ballast[ballast.count - 1] == 2)
    }
}
