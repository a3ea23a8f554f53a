// A spool on a 2 MiB tmpfs that fills up while jobs flow: the daemon must not crash, must say in
// its log that the disk is full, must never leave a torn record, and once space is back every
// dropped file must end as exactly one record. Needs mount(2) (root); skipped with a reason if not.
import Foundation
import Testing

@Suite("full disk", .serialized)
struct FullDiskTests {
    /// A tmpfs mounted over a TempSpool's root; unmounted (lazily, so it cannot be busy) by `unmount()`.
    final class TmpfsSpool: @unchecked Sendable {
        let spool: TempSpool
        private var mounted = false
        /// Logs live outside the small file system, so that a full disk cannot silence them.
        let logDir: String

        /// Mounts the tmpfs, or cancels the test (a skip, not a pass) when mounting is not permitted.
        static func make(sizeMiB: Int) throws -> TmpfsSpool {
            let (t, rc) = try attempt(sizeMiB: sizeMiB)
            if let t { return t }
            try Test.cancel("cannot mount a tmpfs (\(String(cString: strerror(rc)))): the full-disk tests need root or CAP_SYS_ADMIN")
        }

        /// Mounts the tmpfs; nil (with errno) when mounting is not permitted, throws on other failures.
        static func attempt(sizeMiB: Int) throws -> (TmpfsSpool?, Int32) {
            let t = try TmpfsSpool()
            let rc = t.mount(sizeMiB: sizeMiB)
            if rc == EPERM || rc == EACCES { return (nil, rc) }
            guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
            return (t, 0)
        }

        private init() throws {
            spool = try TempSpool()
            logDir = spool.root + "-logs"
            try FileManager.default.createDirectory(atPath: logDir, withIntermediateDirectories: true)
        }

        /// mount(2) over the spool root; returns errno or 0.
        private func mount(sizeMiB: Int) -> Int32 {
            guard Glibc.mount("tmpfs", spool.root, "tmpfs", 0, "size=\(sizeMiB)m,mode=0755") == 0 else { return errno }
            mounted = true
            for d in ["inbox", "pending", "running", "done", "control", "tmp"] { mkdir(spool.path(d), 0o755) }
            return 0
        }

        func unmount() {
            guard mounted else { return }
            mounted = false
            if umount2(spool.root, Int32(MNT_DETACH)) != 0 {
                Issue.record("umount \(spool.root): \(String(cString: strerror(errno)))")
            }
        }

        deinit {
            unmount()
            try? FileManager.default.removeItem(atPath: logDir)
        }

        /// Bytes free on the tmpfs.
        var freeBytes: Int {
            var s = statvfs()
            guard statvfs(spool.root, &s) == 0 else { return -1 }
            return Int(s.f_bavail) * Int(s.f_frsize)
        }

        /// Writes `root/filler` until the file system refuses; returns the bytes written.
        @discardableResult
        func fill() -> Int {
            let fd = open(spool.path("filler"), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
            guard fd >= 0 else { return 0 }
            defer { close(fd) }
            var total = 0
            for size in [65536, 4096, 512, 1] {
                let chunk = [UInt8](repeating: 0x46, count: size)
                while true {
                    let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, size) }
                    if n <= 0 { break }
                    total += n
                }
            }
            return total
        }

        func removeFiller() { unlink(spool.path("filler")) }
    }

    /// spoold with its log outside the spool (DaemonProcess keeps it inside, on the full disk).
    final class DiskDaemon: @unchecked Sendable {
        let pid: pid_t
        let logPath: String
        private var status: Int32?

        init(_ t: TmpfsSpool, extra: [String] = []) {
            logPath = "\(t.logDir)/spoold-\(UUID().uuidString.prefix(6)).log"
            // As DaemonProcess does: the test's files are root's when it runs as root.
            let root = geteuid() == 0 ? ["--allow-root-jobs"] : []
            pid = spawnProcess(Binaries.spoold, ["--spool", t.spool.root, "--workers", "2", "--settle", "0"] + root + extra,
                               stdout: logPath, stderr: logPath)
        }

        deinit { stop(SIGKILL) }

        var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

        var hasExited: Bool {
            if status != nil { return true }
            var st: Int32 = 0
            if waitpid(pid, &st, WNOHANG) == pid {
                status = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
                return true
            }
            return false
        }

        func waitReady() { poll(timeout: 30, "spoold ready\n\(log)") { log.contains("ready on") || hasExited } }

        /// Sends `sig` and waits for the exit; returns the exit status.
        @discardableResult
        func stop(_ sig: Int32 = SIGTERM, timeout: Double = 30) -> Int32? {
            if let status { return status }
            kill(pid, sig)
            let s = waitForExit(pid, timeout: timeout)
            status = s
            return s
        }
    }

    @Test("when the disk fills while jobs flow, spoold stays up, logs that the disk is full, tears no record, and loses no file")
    func diskFillsWhileJobsFlow() throws {
        let t = try TmpfsSpool.make(sizeMiB: 2)
        defer { t.unmount() }
        let spool = t.spool
        // Names with a space and '#': the record's `source` must still be the inbox name.
        let names = (0..<60).map { "job #\($0).json" }
        // Staged in tmp/ as dotfiles while there is room; renamed in (no space needed) later.
        for (i, n) in names.enumerated() {
            try Data(#"{"shell": "echo job \#(i)"}"#.utf8).write(to: URL(fileURLWithPath: spool.path("tmp/.\(n)")))
        }
        let daemon = DiskDaemon(t)
        defer { daemon.stop(SIGKILL) }
        daemon.waitReady()
        for n in names[0..<20] { rename(spool.path("tmp/.\(n)"), spool.path("inbox/\(n)")) }
        usleep(100_000)  // some of them are running or being written now
        let filled = t.fill()
        #expect(t.freeBytes < 8192, "filler wrote \(filled) bytes, \(t.freeBytes) still free")
        for n in names[20...] { rename(spool.path("tmp/.\(n)"), spool.path("inbox/\(n)")) }

        // Full for a while: the daemon must survive it, say so, and not write half records.
        usleep(3_000_000)
        #expect(!daemon.hasExited, "spoold died on a full disk:\n\(daemon.log.suffix(3000))")
        let log = daemon.log
        #expect(log.contains("disk is full") || log.contains("No space left"), "nothing in the log says the disk is full:\n\(log.suffix(3000))")
        #expect(spool.tornRecords().isEmpty, "torn records while full: \(spool.tornRecords())")

        // Space again: everything must come through, each file exactly once.
        t.removeFiller()
        poll(timeout: 30, "\(names.count) records after the disk has room again\n\(daemon.log.suffix(2000))") {
            spool.recordNames("done").count >= names.count && spool.rawNames("inbox").isEmpty
        }
        usleep(500_000)
        #expect(!daemon.hasExited, "spoold died:\n\(daemon.log.suffix(3000))")
        #expect(spool.tornRecords().isEmpty, "torn records: \(spool.tornRecords())")
        let bySource = spool.recordsBySource()
        let notOnce = names.filter { bySource[$0]?.count != 1 }
        #expect(notOnce.isEmpty, "\(notOnce.count) of \(names.count) dropped files do not have exactly one record with their name as source, e.g. \(notOnce.prefix(5))")
        let strangers = bySource.keys.filter { !names.contains($0) }.sorted()
        #expect(strangers.isEmpty, "records whose source is not a dropped name: \(strangers.prefix(10))")
        // A job that ran while the disk was full may fail, but its error must say why.
        let unexplained = spool.doneRecords().filter { r in
            guard r.status != "succeeded" else { return false }
            let m = r.errorMessage ?? ""
            return !(m.contains("No space left") || m.contains("disk is full") || r.errorCode == "output_failed")
        }
        #expect(unexplained.isEmpty, "\(unexplained.count) jobs failed without saying the disk was full, e.g. \(unexplained.prefix(3).map { "\($0.id ?? ""): \($0.errorMessage ?? "")" })")
        #expect(spool.recordNames("done").count == names.count)
        #expect(spool.names("tmp").filter { $0.hasSuffix(".claim") }.isEmpty, "claims left: \(spool.names("tmp"))")
        #expect(daemon.stop() == 0, "spoold did not stop cleanly:\n\(daemon.log.suffix(2000))")
    }

    @Test("a job whose output fills the disk fails with an error that says so, and the daemon goes on with the next job")
    func outputFillsDisk() throws {
        let t = try TmpfsSpool.make(sizeMiB: 2)
        defer { t.unmount() }
        let spool = t.spool
        let daemon = DiskDaemon(t)
        defer { daemon.stop(SIGKILL) }
        daemon.waitReady()
        try spool.drop("big.json", #"{"id": "big", "shell": "head -c 10M /dev/zero"}"#)
        poll(timeout: 15, "big's record\n\(daemon.log.suffix(2000))") { spool.exists("done/big.json") || daemon.hasExited }
        #expect(!daemon.hasExited, "spoold died:\n\(daemon.log.suffix(3000))")
        let big = spool.record("big")
        #expect(big?.status == "failed", "big: \(big?.status ?? "no record")")
        let message = big?.errorMessage ?? ""
        #expect(message.contains("No space left") || message.contains("disk is full") || big?.errorCode == "output_failed",
                "big's error does not say the disk was full: \(big?.errorCode ?? "nil"): \(message)")

        // The next job must run: whatever big left behind may not keep the spool full forever.
        let dropped = (try? spool.drop("after.json", #"{"id": "after", "shell": "echo after"}"#)) != nil
        #expect(dropped, "cannot even drop a job after big: \(t.freeBytes) bytes free")
        poll(timeout: 10, "the job after big\n\(daemon.log.suffix(2000))") { spool.exists("done/after.json") || daemon.hasExited }
        #expect(spool.record("after")?.status == "succeeded")
        #expect(spool.tornRecords().isEmpty)
        #expect(!daemon.hasExited)
        #expect(daemon.stop(timeout: 15) == 0, "spoold did not stop on SIGTERM:\n\(daemon.log.suffix(1500))")
    }
}
