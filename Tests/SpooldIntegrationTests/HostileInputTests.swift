// Hostile inbox input against the real daemon: a corpus of bad files and special entries (see
// HostileFixtures.swift), files that change or vanish under the daemon, hard links, device nodes,
// inodes that other processes still hold, and a flood of empty files with a memory bound.
// Each must end as exactly one record in done/, with the daemon still up and the inbox empty.
import Foundation
import Testing

@Suite("hostile input", .serialized)
struct HostileInputTests {
    /// A directory outside the spool, removed at the end of the test.
    final class Outside: @unchecked Sendable {
        let root: String
        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-outside-\(UUID().uuidString.prefix(8))").path
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        }
        deinit { try? FileManager.default.removeItem(atPath: root) }
        func path(_ name: String) -> String { "\(root)/\(name)" }
        func write(_ name: String, _ text: String) throws {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path(name)))
        }
    }

    /// Messages name the file, field and what was expected; anything this long is an echo of the input.
    static let messageLimit = 64 * 1024

    @Test("every entry of the hostile corpus ends as exactly one record with its code and message, originals kept, daemon up")
    func corpus() throws {
        let spool = try TempSpool()
        let outside = try Outside()
        try outside.write("secret.json", #"{"shell": "touch /tmp/spoold-hostile-never"}"#)
        try FileManager.default.createDirectory(atPath: outside.path("dir"), withIntermediateDirectories: true)
        try outside.write("dir/inner.json", #"{"shell": "true"}"#)
        let secretBefore = RawFS.Snapshot(outside.path("secret.json"))

        let entries = HostileCorpus.entries(outside: outside.path("secret.json"), outsideDir: outside.path("dir"))
        #expect(entries.count >= 40)
        #expect(Set(entries.map(\.source)).count == entries.count, "sources must be unique to find records")
        for e in entries {
            if let c = e.content, e.code != "too_large" { #expect(c.count <= HostileCorpus.mib, "\(e.source) is over the size limit") }
        }

        let daemon = DaemonProcess(spool: spool, extra: ["--settle", "0"])
        daemon.waitReady()
        for e in entries { try create(e, in: spool) }

        poll(timeout: 60, "a record for each of \(entries.count) entries\n\(daemon.log.suffix(3000))") {
            spool.recordNames("done").count >= entries.count || daemon.hasExited
        }
        poll(timeout: 10, "an empty inbox") { spool.rawNames("inbox").isEmpty }
        usleep(300_000)  // a second record for anything would show up now
        #expect(!daemon.hasExited, "spoold died:\n\(daemon.log.suffix(3000))")

        let bySource = spool.recordsBySource()
        for e in entries {
            let found = bySource[e.source] ?? []
            #expect(found.count == 1, "\(e.source): \(found.count) records (\(found.map(\.file)))")
            guard let r = found.first?.record else { continue }
            if let code = e.code {
                guard r.status == "rejected" else {
                    Issue.record("\(e.source): expected a rejection (\(code): \(e.fragment)), got status \(r.status ?? "nil")")
                    continue
                }
                #expect(r.errorCode == code, "\(e.source): expected \(code), got \(r.errorCode ?? "nil"): \(r.errorMessage?.prefix(300) ?? "")")
                #expect(r.errorMessage?.contains(e.fragment) == true, "\(e.source): message lacks \"\(e.fragment)\": \(r.errorMessage?.prefix(300) ?? "")")
                #expect(r.errorMessage?.contains("inbox/\(e.source)") == true, "\(e.source): message does not name the file: \(r.errorMessage?.prefix(300) ?? "")")
                #expect((r.errorMessage?.utf8.count ?? 0) <= Self.messageLimit,
                        "\(e.source): error message is \(r.errorMessage?.utf8.count ?? 0) bytes (record \(found[0].file))")
            } else {
                #expect(r.status == "succeeded", "\(e.source): \(r.status ?? "nil") \(r.errorMessage?.prefix(300) ?? "")")
            }
            switch e.kind {
            case .bytes(let bytes) where e.code != nil:
                guard let original = r["original"] as? String else {
                    Issue.record("\(e.source): no original kept")
                    continue
                }
                let kept = FileManager.default.contents(atPath: spool.path(original)).map { [UInt8]($0) }
                #expect(kept == bytes, "\(e.source): original bytes not kept (\(kept?.count ?? -1) of \(bytes.count) bytes)")
            case .sparse(let size):
                // Kept as it is (a link or a copy of the same size), never read whole by the test.
                guard let original = r["original"] as? String else {
                    Issue.record("\(e.source): no original kept")
                    continue
                }
                var st = stat()
                #expect(stat(spool.path(original), &st) == 0 && Int(st.st_size) == size, "\(e.source): original is \(st.st_size) bytes")
            case .directory(let withFile):
                guard let original = r["original"] as? String else {
                    Issue.record("\(e.source): no original kept")
                    continue
                }
                var isDir: ObjCBool = false
                #expect(FileManager.default.fileExists(atPath: spool.path(original), isDirectory: &isDir) && isDir.boolValue)
                if withFile { #expect(spool.read("\(original)/inner.json") == "{}") }
            default: break
            }
        }
        #expect(spool.recordNames("done").count == entries.count, "extra records: \(spool.recordNames("done").count) for \(entries.count) entries")
        #expect(spool.tornRecords().isEmpty)
        #expect(spool.names("tmp").filter { $0.hasSuffix(".claim") }.isEmpty, "claims left in tmp/: \(spool.names("tmp"))")
        #expect(spool.record("a..b")?.status == "succeeded", "the job with id a..b is not done/a..b.json")
        // Nothing behind a symlink was followed, run or changed.
        #expect(RawFS.Snapshot(outside.path("secret.json")) == secretBefore)
        #expect(FileManager.default.fileExists(atPath: outside.path("dir/inner.json")))
        #expect(!FileManager.default.fileExists(atPath: "/tmp/spoold-hostile-never"))

        daemon.signal(SIGTERM)
        #expect(daemon.waitExit(timeout: 30) == 0, "spoold did not stop cleanly:\n\(daemon.log.suffix(2000))")
    }

    private func create(_ e: HostileEntry, in spool: TempSpool) throws {
        let inbox = spool.path("inbox")
        let target = RawFS.path(inbox, e.name)
        switch e.kind {
        case .bytes(let bytes):
            try RawFS.drop(spool, name: e.name, bytes: bytes)
        case .symlink(let to):
            #expect(symlink(to, target) == 0, "symlink \(e.source): \(String(cString: strerror(errno)))")
        case .fifo:
            #expect(mkfifo(target, 0o644) == 0, "mkfifo \(e.source): \(String(cString: strerror(errno)))")
        case .socket:
            let rc = RawFS.bindSocket("\(inbox)/\(e.source)")
            #expect(rc == 0, "bind \(e.source): \(String(cString: strerror(rc)))")
        case .sparse(let size):
            let staging = spool.path("tmp/.sparse-\(UUID().uuidString)")
            let fd = open(staging, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            #expect(fd >= 0 && ftruncate(fd, off_t(size)) == 0, "sparse \(e.source): \(String(cString: strerror(errno)))")
            close(fd)
            #expect(rename(staging, target) == 0)
        case .directory(let withFile):
            // Built in tmp/ and renamed in, so that the daemon sees it complete.
            let staging = spool.path("tmp/.dir-\(UUID().uuidString)")
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: true)
            if withFile { try Data("{}".utf8).write(to: URL(fileURLWithPath: "\(staging)/inner.json")) }
            #expect(rename(staging, target) == 0, "rename directory \(e.source): \(String(cString: strerror(errno)))")
        }
    }

    @Test("device nodes in the inbox are rejected as not_a_regular_file without being opened")
    func deviceNodes() throws {
        let spool = try TempSpool()
        // /dev/null's numbers (1, 3) as a character device, loop0's (7, 0) as a block device.
        let nodes: [(String, mode_t, dev_t, String)] = [
            ("chardev.json", S_IFCHR, RawFS.device(major: 1, minor: 3), "is a character device"),
            ("blockdev.json", S_IFBLK, RawFS.device(major: 7, minor: 0), "is a block device"),
        ]
        for (name, type, dev, _) in nodes where mknod(spool.path("tmp/\(name)"), type | 0o644, dev) != 0 {
            let e = errno
            if e == EPERM || e == EACCES { try Test.cancel("mknod needs CAP_MKNOD (\(String(cString: strerror(e)))); device nodes not tested") }
            Issue.record("mknod \(name): \(String(cString: strerror(e)))")
            return
        }
        let daemon = DaemonProcess(spool: spool, extra: ["--settle", "0"])
        daemon.waitReady()
        for (name, _, _, _) in nodes { #expect(rename(spool.path("tmp/\(name)"), spool.path("inbox/\(name)")) == 0) }
        poll(timeout: 20, "device node records") { spool.recordNames("done").count >= nodes.count }
        for (name, _, _, fragment) in nodes {
            let r = try #require(spool.recordFor(source: name), "no record for \(name)")
            #expect(r.status == "rejected" && r.errorCode == "not_a_regular_file")
            #expect(r.errorMessage?.contains(fragment) == true, "\(r.errorMessage ?? "")")
        }
        #expect(spool.rawNames("inbox").isEmpty)
        #expect(!daemon.hasExited)
    }

    @Test("a file that a writer keeps appending to is taken whole once it is closed, never half-written")
    func growingFile() throws {
        let spool = try TempSpool()
        let daemon = DaemonProcess(spool: spool, extra: ["--settle", "1", "--rescan", "0.2"])
        daemon.waitReady()
        let fd = open(spool.path("inbox/grow.json"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(fd >= 0)
        #expect(RawFS.writeAllBytes(fd, Array(#"{"id": "grow", "shell": "true", "labels": {"pad": ""#.utf8)) == 0)
        // 1.5 s of appends, each a few ms apart: never still for the settle period, often mid-read.
        var written = 0
        let until = Date().addingTimeInterval(1.5)
        while Date() < until {
            let chunk = [UInt8](repeating: UInt8(ascii: "g"), count: 512)
            #expect(RawFS.writeAllBytes(fd, chunk) == 0)
            written += chunk.count
            usleep(3_000)
        }
        #expect(RawFS.writeAllBytes(fd, Array(#""}}"#.utf8)) == 0)
        close(fd)
        poll(timeout: 20, "grow.json's record") { spool.record("grow")?.status.map { ["succeeded", "failed", "rejected"].contains($0) } ?? false }
        let r = try #require(spool.record("grow"))
        #expect(r.status == "succeeded", "\(r.errorMessage ?? "")")
        let labels = (r["spec"] as? [String: Any])?["labels"] as? [String: String]
        #expect(labels?["pad"]?.count == written, "took \(labels?["pad"]?.count ?? -1) of \(written) bytes")
        #expect(spool.recordNames("done").count == 1, "\(spool.recordNames("done"))")
        #expect(spool.rawNames("inbox").isEmpty)
        #expect(!daemon.hasExited)
    }

    @Test("files removed between their event and the open leave no record; files the daemon took leave exactly one")
    func vanishingFiles() throws {
        let spool = try TempSpool()
        let daemon = DaemonProcess(spool: spool, extra: ["--settle", "0"])
        daemon.waitReady()
        var taken: [String] = []  // unlink found the name gone: the daemon had claimed it
        var removed = 0
        for i in 0..<500 {
            let name = "vanish-\(i).json"
            let path = spool.path("inbox/\(name)")
            let rc = RawFS.create(RawFS.path(spool.path("inbox"), Array(name.utf8)), Array(#"{"shell": "#.utf8))
            #expect(rc == 0)
            if i % 3 == 0 { usleep(UInt32(i % 7) * 100) }
            if unlink(path) == 0 { removed += 1 } else { taken.append(name) }
        }
        poll(timeout: 30, "\(taken.count) records for taken files") { spool.recordNames("done").count >= taken.count }
        usleep(500_000)
        let bySource = spool.recordsBySource()
        for name in taken { #expect(bySource[name]?.count == 1, "\(name): \(bySource[name]?.count ?? 0) records") }
        #expect(spool.recordNames("done").count == taken.count, "records for removed files: \(spool.recordNames("done").count - taken.count)")
        for (_, rs) in bySource { for r in rs { #expect(r.record.errorCode == "invalid_json") } }
        #expect(!daemon.hasExited, "\(daemon.log.suffix(2000))")
        #expect(spool.rawNames("inbox").isEmpty)
        // Vanished files are not errors worth a record, but must not wedge intake either.
        try spool.drop("after.json", #"{"shell": "true"}"#)
        poll(timeout: 20, "a job after the race") { spool.recordFor(source: "after.json")?.status == "succeeded" }
        print("vanishingFiles: \(removed) removed before the daemon took them, \(taken.count) taken")
    }

    @Test("a hard link to a file outside the spool is run or rejected, and the outside file is never modified, even as inodes are recycled")
    func hardLinks() throws {
        let spool = try TempSpool()
        let outside = try Outside()
        try outside.write("job.json", #"{"id": "linked", "shell": "echo linked"}"#)
        try outside.write("bad.json", #"{"shell": "#)
        try outside.write("quiet.json", #"{"id": "quiet", "shell": "true"}"#)
        let names = ["job.json", "bad.json", "quiet.json"]
        var before: [String: RawFS.Snapshot] = [:]
        for n in names { before[n] = RawFS.Snapshot(outside.path(n)) }
        var st = stat()
        stat(outside.root, &st)
        let outsideDevice = st.st_dev
        stat(spool.root, &st)
        guard st.st_dev == outsideDevice else {
            try Test.cancel("the temporary directory spans file systems; hard links are not possible here")
        }

        let daemon = DaemonProcess(spool: spool, extra: ["--settle", "0"])
        daemon.waitReady()
        let linkedAt = Date()
        for n in names { #expect(link(outside.path(n), spool.path("inbox/link-\(n)")) == 0, "link \(n): \(String(cString: strerror(errno)))") }
        poll(timeout: 30, "records for the hard-linked files") { spool.recordNames("done").count >= names.count }
        let pickup = Date().timeIntervalSince(linkedAt)
        // Then many short jobs, with empty and non-empty output, so that every freed inode is reused.
        for i in 0..<40 { try spool.drop("churn-\(i).json", i % 2 == 0 ? #"{"shell": "true"}"# : #"{"shell": "echo churn \#(i); echo e >&2"}"#) }
        poll(timeout: 30, "churn jobs") { spool.recordNames("done").count >= names.count + 40 }

        #expect(spool.record("linked")?.status == "succeeded")
        #expect(spool.read(spool.record("linked")?["stdout"] as? String ?? "-") == "linked\n")
        #expect(spool.record("quiet")?.status == "succeeded")
        #expect(spool.recordFor(source: "link-bad.json")?.errorCode == "invalid_json")
        for n in names {
            #expect(RawFS.Snapshot(outside.path(n)) == before[n], "\(n) was changed: \(RawFS.Snapshot(outside.path(n))?.description ?? "gone")")
        }
        // The accepted ones are no longer linked from the spool; the rejected one is kept as its original.
        #expect(RawFS.linkCount(outside.path("job.json")) == 1)
        #expect(RawFS.linkCount(outside.path("quiet.json")) == 1)
        #expect(spool.tornRecords().isEmpty)
        #expect(!daemon.hasExited)
        // link(2) makes IN_CREATE and no IN_CLOSE_WRITE: the file is complete at once and should be taken at once.
        #expect(pickup < 3, "hard-linked files were picked up only after \(String(format: "%.1f", pickup)) s (the periodic rescan?)")
    }

    @Test("a job's background child that outlives it never writes into another job's record or output (recycled inodes)")
    func lingeringWriters() throws {
        let spool = try TempSpool()
        let daemon = DaemonProcess(spool: spool, extra: ["--settle", "0"])
        daemon.waitReady()
        // The leader exits at once with empty output; its child writes to the inherited stdout and
        // stderr 1 s later. (The quotes keep the marker "LATE-" out of the job's own record.)
        try spool.drop("leaver.json", #"{"id": "leaver", "shell": "(sleep 1; echo LATE''-WRITE; echo LATE''-ERR >&2) & exit 0"}"#)
        poll(timeout: 20, "leaver's record") { spool.exists("done/leaver.json") }
        // Meanwhile other jobs come and go and take the freed inodes.
        for i in 0..<30 { try spool.drop("after-\(i).json", #"{"id": "after-\#(i)", "shell": "echo out-\#(i)"}"#) }
        poll(timeout: 30, "the jobs after it") { (0..<30).allSatisfy { spool.exists("done/after-\($0).json") } }
        usleep(1_500_000)  // the late write has happened by now

        #expect(spool.tornRecords().isEmpty, "torn records: \(spool.tornRecords())")
        let torn = Set(spool.tornRecords())
        for i in 0..<30 where !torn.contains("after-\(i).json") {
            let r = spool.record("after-\(i)")
            #expect(r?.status == "succeeded")
            let out = spool.read(r?["stdout"] as? String ?? "-")
            #expect(out == "out-\(i)\n", "after-\(i) stdout is \(String(describing: out))")
        }
        var polluted: [String] = []
        for folder in ["done", "pending", "running"] {
            for n in spool.names(folder) where spool.read("\(folder)/\(n)")?.contains("LATE-") == true { polluted.append("\(folder)/\(n)") }
        }
        #expect(polluted.isEmpty, "a late write landed in \(polluted)")
        #expect(!daemon.hasExited)
    }

    @Test("a writer that keeps its inbox file open never gets its later bytes into the spool's other files")
    func writerKeepsFileOpen() throws {
        let spool = try TempSpool()
        let daemon = DaemonProcess(spool: spool, extra: ["--settle", "0", "--rescan", "0.2"])
        daemon.waitReady()
        // A complete job, written without closing. The daemon may take it now (the rescan sees valid
        // JSON) or wait for the close; either way the writer's next bytes may only ever reach that
        // file, never an inode the daemon reuses for other records or outputs.
        let fd = open(spool.path("inbox/open.json"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        try #require(fd >= 0)
        #expect(RawFS.writeAllBytes(fd, Array(#"{"id": "open", "shell": "true"}"#.utf8)) == 0)
        usleep(500_000)  // a few rescans
        for i in 0..<20 { try spool.drop("next-\(i).json", #"{"id": "next-\#(i)", "shell": "echo next-\#(i)"}"#) }
        for _ in 0..<20 {
            #expect(RawFS.writeAllBytes(fd, [UInt8](repeating: UInt8(ascii: "Z"), count: 16)) == 0)
            usleep(50_000)
        }
        close(fd)
        poll(timeout: 30, "the jobs after it and a record for open.json") {
            (0..<20).allSatisfy { spool.exists("done/next-\($0).json") } && spool.rawNames("inbox").isEmpty
                && spool.names("pending").isEmpty && spool.names("running").isEmpty
        }
        let torn = Set(spool.tornRecords())
        #expect(torn.isEmpty, "torn records: \(torn.sorted())")
        for i in 0..<20 where !torn.contains("next-\(i).json") {
            let out = spool.read(spool.record("next-\(i)")?["stdout"] as? String ?? "-")
            #expect(out == "next-\(i)\n", "next-\(i) stdout is \(String(describing: out))")
        }
        let own = spool.recordsBySource()["open.json"] ?? []
        #expect(own.count == 1, "open.json: \(own.count) records")
        let ownOriginal = (own.first?.record["original"] as? String).map { String($0.dropFirst("done/".count)) }
        var polluted: [String] = []
        for folder in ["done", "pending", "running", "tmp"] {
            for n in spool.names(folder) where n != ownOriginal && spool.read("\(folder)/\(n)")?.contains("ZZZZ") == true {
                polluted.append("\(folder)/\(n)")
            }
        }
        #expect(polluted.isEmpty, "the writer's bytes landed in \(polluted)")
        #expect(!daemon.hasExited)
    }

    @Test("a job whose not_before is centuries away waits in pending/ and the daemon stays up, also after a restart")
    func farFutureNotBefore() throws {
        let spool = try TempSpool()
        // 2300 is past what a 64-bit count of nanoseconds since 1970 can hold (year 2262).
        try spool.drop("far.json", #"{"id": "far", "shell": "true", "not_before": "2300-01-01T00:00:00Z"}"#)
        for run in 1...2 {
            let daemon = DaemonProcess(spool: spool, extra: ["--settle", "0"])
            daemon.waitReady()
            poll(timeout: 10, "far pending") { spool.exists("pending/far.json") || daemon.hasExited }
            usleep(500_000)
            #expect(!daemon.hasExited, "run \(run): spoold died with a far not_before:\n\(daemon.log.suffix(1500))")
            #expect(spool.record("far", in: "pending")?["wait_reason"] as? String != nil)
            daemon.signal(SIGTERM)
            #expect(daemon.waitExit(timeout: 30) == 0, "run \(run)")
        }
    }

    @Test("an accepted not_before at the edge of the calendar leaves records that the daemon and spoolctl read back")
    func calendarEdges() throws {
        let spool = try TempSpool()
        // Valid RFC 3339, but year -1 in UTC: the job may run at once, and its record must be readable.
        try spool.drop("early.json", #"{"id": "early", "shell": "true", "not_before": "0000-01-01T00:00:00+01:00"}"#)
        let daemon = DaemonProcess(spool: spool, extra: ["--settle", "0"])
        daemon.waitReady()
        poll(timeout: 5, "early done\n\(daemon.log.suffix(1500))") { spool.exists("done/early.json") }
        #expect(spool.record("early")?.status == "succeeded")
        let status = runCommand(Binaries.spoolctl, ["--spool", spool.root, "status", "early"])
        #expect(status.status == 0, "spoolctl status early: \(status.stderr)")
        #expect(!daemon.log.contains("cannot read"), "\(daemon.log.suffix(1500))")
    }

    /// How many empty files the flood test drops: 20,000 by default so that `swift test` stays
    /// fast (about 10 s); set SPOOLD_HOSTILE_EMPTY_FILES=1000000 for the full million (many minutes).
    static let emptyFileCount = Int(ProcessInfo.processInfo.environment["SPOOLD_HOSTILE_EMPTY_FILES"] ?? "") ?? 20_000

    /// Up to 100,000 files the flood runs on a tmpfs when one can be mounted: 20,000 fsynced records
    /// take 20 s on this disk and 4 s there, and what is tested (one record each, memory, staying up)
    /// does not depend on the disk. Beyond that (~8 KiB of RAM per file), or with
    /// SPOOLD_HOSTILE_FLOOD_ON_DISK=1, it runs in the temporary directory.
    static func floodSpool(files: Int) throws -> (TempSpool, FullDiskTests.TmpfsSpool?) {
        if files <= 100_000, ProcessInfo.processInfo.environment["SPOOLD_HOSTILE_FLOOD_ON_DISK"] == nil,
           case let (t?, _) = try FullDiskTests.TmpfsSpool.attempt(sizeMiB: max(256, files * 8 / 1024 + 64)) {
            return (t.spool, t)
        }
        return (try TempSpool(), nil)
    }

    /// The memory the daemon may use: a 128 MiB base plus 160 bytes per file. The base: it idles at
    /// ~30 MB (runtime, Foundation, Dispatch), and today one intake batch is whatever one inotify
    /// read returns, up to the kernel's queue of 16,384 events (~8,000 files), at several KB each in
    /// flight; measured peaks for 20,000 files ranged from 37 to 107 MB with that batch (and 46-48 MB
    /// for 60,000 and 100,000 files: it does not grow with the flood). Per file: the one thing that
    /// must grow, the index of ids held in done/ (duplicate_id needs it; ~100 bytes per id in a
    /// Set<String>). 20,000 files: 131 MB; a million: 284 MB.
    static func rssBoundKB(files: Int) -> Int { 128 * 1024 + files * 160 / 1024 }

    @Test("a flood of empty *.json files ends as one invalid_json record each, with the daemon up and its memory bounded")
    func emptyFileFlood() throws {
        let n = Self.emptyFileCount
        let (spool, tmpfs) = try Self.floodSpool(files: n)
        defer { tmpfs?.unmount() }
        let daemon = DaemonProcess(spool: spool, extra: ["--settle", "0"])
        defer { if !daemon.hasExited { daemon.crash() } }
        daemon.waitReady()
        let started = Date()
        // Created while it runs: more events than inotify queues (16,384), so overflow rescans too.
        let inbox = spool.path("inbox")
        for i in 0..<n {
            let fd = open(RawFS.path(inbox, Array("empty-\(i).json".utf8)), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
            if fd < 0 { Issue.record("create empty-\(i).json: \(String(cString: strerror(errno)))"); return }
            close(fd)
        }
        var peak = 0
        poll(timeout: max(60, Double(n) / 200), "\(n) records") {
            if let m = RawFS.memory(of: daemon.pid) { peak = max(peak, m.peakKB) }
            return (try? FileManager.default.contentsOfDirectory(atPath: spool.path("done")).count) ?? 0 >= 2 * n || daemon.hasExited
        }
        poll(timeout: 20, "an empty inbox") { spool.rawNames("inbox").isEmpty }
        if let m = RawFS.memory(of: daemon.pid) { peak = max(peak, m.peakKB) }
        let took = Date().timeIntervalSince(started)
        #expect(!daemon.hasExited, "spoold died:\n\(daemon.log.suffix(3000))")

        // Exactly one record per file, each invalid_json with its (empty) original kept.
        var seen = [Int](repeating: 0, count: n)
        var wrong: [String] = []
        let done = spool.path("done")
        for name in spool.recordNames("done") {
            guard let data = FileManager.default.contents(atPath: "\(done)/\(name)"),
                  let r = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
                wrong.append("\(name): torn")
                continue
            }
            guard let source = r["source"] as? String, source.hasPrefix("empty-"), source.hasSuffix(".json"),
                  let i = Int(source.dropFirst(6).dropLast(5)), i >= 0, i < n else {
                wrong.append("\(name): source \(String(describing: r["source"]))")
                continue
            }
            seen[i] += 1
            if r.errorCode != "invalid_json" || r.errorMessage?.contains("empty file") != true { wrong.append("\(name): \(r.errorMessage ?? "")") }
            if let o = r["original"] as? String {
                var st = stat()
                if stat(spool.path(o), &st) != 0 || st.st_size != 0 { wrong.append("\(name): original \(o) missing or not empty") }
            } else {
                wrong.append("\(name): no original")
            }
        }
        let missing = seen.indices.filter { seen[$0] == 0 }
        let doubled = seen.indices.filter { seen[$0] > 1 }
        #expect(missing.isEmpty, "\(missing.count) files without a record, e.g. \(missing.prefix(5))")
        #expect(doubled.isEmpty, "\(doubled.count) files with several records, e.g. \(doubled.prefix(5))")
        #expect(wrong.isEmpty, "\(wrong.count) bad records, e.g. \(wrong.prefix(5))")

        let bound = Self.rssBoundKB(files: n)
        print("emptyFileFlood: \(n) files on \(tmpfs == nil ? "disk" : "tmpfs") in \(String(format: "%.1f", took)) s; peak RSS (VmHWM) \(peak / 1024) MB, bound \(bound / 1024) MB")
        #expect(peak > 0, "could not read /proc/\(daemon.pid)/status")
        #expect(peak <= bound, "peak RSS \(peak) kB over the bound \(bound) kB for \(n) files")
        // Still answering: a real job after the flood.
        try spool.drop("after-flood.json", #"{"id": "after-flood", "shell": "echo ok"}"#)
        poll(timeout: 30, "a job after the flood") { spool.record("after-flood")?.status == "succeeded" }
    }
}
