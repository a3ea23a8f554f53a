// A job's peak memory as wait4 reports it includes the spawning process's own peak (Linux folds
// the address space left at exec into the child's maxrss): only a figure above that is the job's.
import Foundation
import Testing
@testable import SpoolCore

@Suite("inherited peak memory")
struct InheritedPeakTests {
    @Test("the rule as a table: ru_maxrss and the spawner's peak read at the spawn (KiB) → the job's own peak in bytes, or nil")
    func rule() {
        let margin = InheritedPeak.marginKiB
        let table: [(maxRSS: Int64, spawner: Int64?, want: Int64?)] = [
            (1_200, 34_000, nil),                                  // `true` under a 34 MiB daemon: the daemon's figure
            (34_000, 34_000, nil),                                 // exactly the daemon's: still the daemon's
            (34_000 + margin, 34_000, nil),                        // within the margin of the approximate counters
            (34_000 + margin + 1, 34_000, (34_000 + margin + 1) * 1024),  // above it: the job's own
            (70_000, 34_000, 70_000 * 1024),
            (70_000, 200_000, nil),                                // a daemon that loaded a million jobs hides a 70 MiB job
            (70_000, nil, nil),                                    // the spawner's peak was not read: unknown
        ]
        for row in table {
            #expect(InheritedPeak.jobPeakBytes(maxRSSKiB: row.maxRSS, spawnerPeakKiB: row.spawner) == row.want, "\(row)")
        }
    }

    @Test("as used at a reap: a figure under this process's peak is not the job's, one far above it is")
    func atTheReap() throws {
        #expect(InheritedPeak.jobPeakBytes(maxRSSKiB: 1) == nil)
        let own = try #require(InheritedPeak.ownPeakKiB())
        #expect(InheritedPeak.jobPeakBytes(maxRSSKiB: own) == nil)
        let big = own + (1 << 20)  // 1 GiB more: tests running beside this one may raise the peak meanwhile
        #expect(InheritedPeak.jobPeakBytes(maxRSSKiB: big) == big * 1024)
    }

    @Test("VmHWM is read from /proc/self/status (KiB), and this process's own is found")
    func readsVmHWM() throws {
        #expect(InheritedPeak.parseVmHWM(ArraySlice("Name:\tx\nVmPeak:\t  900 kB\nVmHWM:\t   33980 kB\nVmRSS:\t 100 kB\n".utf8)) == 33_980)
        #expect(InheritedPeak.parseVmHWM(ArraySlice("Name:\tx\n".utf8)) == nil)
        let own = try #require(InheritedPeak.ownPeakKiB())
        #expect(own > 1_000, "a Swift test process peaks above 1 MiB: \(own) KiB")
        // A Groups: line of a user in hundreds of groups puts VmHWM past the first 4 KiB read.
        let long = FileManager.default.temporaryDirectory.appendingPathComponent("status-\(getpid())").path
        let groups = (1...3000).map(String.init).joined(separator: " ")
        try "Name:\tx\nGroups:\t\(groups)\nVmHWM:\t   77777 kB\n".write(toFile: long, atomically: true, encoding: .utf8)
        defer { unlink(long) }
        #expect(InheritedPeak.ownPeakKiB(statusFile: long) == 77_777)
    }

    @Test("a spawned child's figure is the spawner's peak, not its own: the kernel behaviour the rule rests on")
    func childInheritsPeak() throws {
        // Touch 96 MiB here first, so this process's peak is far above what `true` needs.
        let ballast = [UInt8](repeating: 1, count: 96 << 20)  // every page written
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
        withExtendedLifetime(ballast) {}
    }
}
