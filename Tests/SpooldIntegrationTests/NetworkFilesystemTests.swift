// Spools on network filesystems (issue 13, point 4), on sshfs over loopback (LoopbackSshfs): the
// real spoold on a spool it sees through a FUSE mount that refuses renameat2(RENAME_NOREPLACE),
// as the Linux NFS client does. Jobs dropped through the mount (by rename, by plain write, by
// spoolctl) are claimed, run and recorded; a file another client drops (written in the exported
// folder itself, which no inotify watch on the mount sees) is found by the periodic rescan; two
// daemons on two mounts of one spool, each with its own --lock-file, never both take a file.
// Needs /dev/fuse; sshfs and sshd are installed by TestTools when missing.
import Foundation
import Testing
import TestTools

@Suite("spools on network filesystems (sshfs)", .serialized)
struct NetworkFilesystemTests {
    /// A command that appends the job's id to `ran` (a local file, outside the spool).
    private static func job(ran: String) -> String {
        #"{"command": ["/bin/sh", "-c", "echo $SPOOL_JOB_ID >> \#(ran); echo out-$SPOOL_JOB_ID"]}"#
    }

    @Test("on sshfs, jobs dropped through the mount are claimed without RENAME_NOREPLACE, run once and recorded; the filesystem is named in a warning")
    func claimsThroughTheMount() throws {
        let net = try LoopbackSshfs(tools: TestTools.sshfs.orSkip())
        defer { net.stop() }
        let mount = try net.mount("a")
        let spool = try TempSpool(root: "\(mount)/spool")
        let ran = net.dir + "/ran"
        let daemon = DaemonProcess(spool: spool, extra: ["--rescan", "0.5"])
        daemon.waitReady()
        #expect(daemon.log.contains("the spool is on fuse.sshfs, a network or FUSE filesystem"), "\(daemon.log)")
        #expect(daemon.log.contains("the lock (spoold.lock) is held on this machine only"))
        #expect(daemon.log.contains("found by the rescan every 0.5 s"))
        #expect(daemon.log.contains("fuse.sshfs refuses renameat2(RENAME_NOREPLACE) (Invalid argument, errno 22)"), "\(daemon.log)")

        let count = 20
        for i in 0..<count { try spool.drop("r\(i).json", Self.job(ran: ran)) }              // tmp/ + rename
        try spool.write("inbox/plain.json", Self.job(ran: ran))                               // a plain write
        try spool.write("inbox/bad.json", #"{"command": "not an array"}"#)                     // rejected
        let submit = TestTools.run(Binaries.spoolctl, ["--spool", spool.root, "submit", "--id", "viactl", "--",
                                                       "/bin/sh", "-c", "echo $SPOOL_JOB_ID >> \(ran)"])
        #expect(submit.status == 0, "spoolctl submit: \(submit.stderr)")                      // link() + unlink() in the client
        // The same explicit id again: refused by the client, the spool untouched.
        let again = TestTools.run(Binaries.spoolctl, ["--spool", spool.root, "submit", "--id", "viactl", "--", "/bin/true"])
        #expect(again.status == 1 && again.stderr.contains("viactl"), "\(again.status): \(again.stderr)")

        let total = count + 3
        poll(timeout: 120, "\(total) records on sshfs\n\(daemon.log)") { spool.recordNames("done").count >= total }
        let records = spool.doneRecords()
        #expect(records.count == total)
        #expect(records.filter { $0.status == "succeeded" }.count == total - 1)
        let bad = try #require(spool.recordFor(source: "bad.json"))
        #expect(bad.status == "rejected" && bad.errorCode == "invalid_job")
        #expect(spool.exists("done/\(bad.id ?? "?").original"), "the rejected file's bytes are kept")
        let one = try #require(spool.recordFor(source: "r7.json"))
        #expect(spool.read("done/\(one.id ?? "?").stdout") == "out-\(one.id ?? "?")\n")
        let runs = (try? String(contentsOfFile: ran, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        #expect(runs.count == total - 1 && Set(runs).count == total - 1, "each job ran once: \(runs.count) runs")
        #expect(spool.names("inbox").isEmpty && spool.names("pending").isEmpty && spool.names("running").isEmpty)
        #expect(spool.names("tmp").filter { $0.hasSuffix(".claim") }.isEmpty, "no claim left in tmp/")
        #expect(!daemon.log.contains("cannot claim"), "\(daemon.log)")
        daemon.signal(SIGTERM)
        #expect(daemon.waitExit(timeout: 30) == 0)
    }

    @Test("a file another client drops (in the exported folder, unseen by inotify on the mount) is found by the rescan, at the period config.json sets")
    func rescanFindsOtherClientsFiles() throws {
        let net = try LoopbackSshfs(tools: TestTools.sshfs.orSkip())
        defer { net.stop() }
        let mount = try net.mount("a")
        let spool = try TempSpool(root: "\(mount)/spool")
        try spool.write("config.json", #"{"rescan_seconds": 0.3}"#)
        let daemon = DaemonProcess(spool: spool)
        daemon.waitReady()
        #expect(daemon.log.contains("found by the rescan every 0.3 s (--rescan, rescan_seconds)"), "\(daemon.log)")
        // The other client: writes in tmp/ and renames into the inbox, on the server's side.
        let server = "\(net.export)/spool"
        for name in ["other1.json", "other2.json"] {
            try Data(#"{"command": ["/bin/true"]}"#.utf8).write(to: URL(fileURLWithPath: "\(server)/tmp/.\(name)"))
            #expect(rename("\(server)/tmp/.\(name)", "\(server)/inbox/\(name)") == 0)
        }
        poll(timeout: 60, "the other client's jobs\n\(daemon.log)") { spool.recordFor(source: "other2.json") != nil && spool.recordFor(source: "other1.json") != nil }
        #expect(spool.recordFor(source: "other1.json")?.status == "succeeded")
        #expect(spool.recordFor(source: "other2.json")?.status == "succeeded")

        // A reload changes the period of the running timer, and the rescan goes on finding files.
        try spool.write("config.json", #"{"rescan_seconds": 0.2}"#)
        daemon.signal(SIGHUP)
        poll(timeout: 30, "the reload\n\(daemon.log)") { daemon.log.contains("applied: rescan_seconds") }
        try Data(#"{"command": ["/bin/true"]}"#.utf8).write(to: URL(fileURLWithPath: "\(server)/tmp/.other3.json"))
        #expect(rename("\(server)/tmp/.other3.json", "\(server)/inbox/other3.json") == 0)
        poll(timeout: 60, "the job dropped after the reload\n\(daemon.log)") { spool.recordFor(source: "other3.json") != nil }
        #expect(spool.recordFor(source: "other3.json")?.status == "succeeded")
        daemon.signal(SIGTERM)
        #expect(daemon.waitExit(timeout: 30) == 0)
    }

    @Test("a rescan period that is not a number >= 0.1 (flag or config.json) stops the start with the reason; the spool is left as it was")
    func badRescanPeriods() throws {
        let spool = try TempSpool()
        try spool.drop("waiting.json", #"{"command": ["/bin/true"]}"#)
        for (value, shown) in [("0", #""0""#), ("0.05", #""0.05""#), ("-1", #""-1""#), ("soon", #""soon""#), ("nan", #""nan""#)] {
            let r = runCommand(Binaries.spoold, ["--spool", spool.root, "--rescan", value], timeout: 10)
            #expect(r.status == 64, "--rescan \(value): exit \(r.status)")
            #expect(r.stderr.hasPrefix("spoold: error: --rescan must be a number >= 0.1, got \(shown)\n"), "\(r.stderr)")
        }
        let missing = runCommand(Binaries.spoold, ["--spool", spool.root, "--rescan"], timeout: 10)
        #expect(missing.status == 64 && missing.stderr.hasPrefix("spoold: error: --rescan needs a value\n"), "\(missing.stderr)")
        for (json, shown) in [("0.05", "0.05"), (#""10s""#, #""10s""#), ("null", "null")] {
            try spool.write("config.json", #"{"rescan_seconds": \#(json)}"#)
            let r = runCommand(Binaries.spoold, ["--spool", spool.root], timeout: 10)
            #expect(r.status == 78, "rescan_seconds \(json): exit \(r.status)")
            #expect(r.stderr == "spoold: error: bad configuration: \(spool.root)/config.json: field \"rescan_seconds\" must be a number >= 0.1, got \(shown)\n",
                    "\(r.stderr)")
        }
        #expect(spool.names("inbox") == ["waiting.json"], "the job waits in the inbox, untouched")
        #expect(spool.recordNames("pending").isEmpty && spool.recordNames("done").isEmpty)
    }

    @Test("two daemons on two sshfs mounts of one spool, each with its own --lock-file: every job is claimed once and has one record")
    func twoClients() throws {
        let net = try LoopbackSshfs(tools: TestTools.sshfs.orSkip())
        defer { net.stop() }
        let mountA = try net.mount("a"), mountB = try net.mount("b")
        let spoolA = try TempSpool(root: "\(mountA)/spool")
        let spoolB = try TempSpool(root: "\(mountB)/spool")
        let ran = net.dir + "/ran"
        let a = DaemonProcess(spool: spoolA, extra: ["--lock-file", net.dir + "/a.lock", "--rescan", "0.5"])
        let b = DaemonProcess(spool: spoolB, extra: ["--lock-file", net.dir + "/b.lock", "--rescan", "0.5"])
        a.waitReady()
        b.waitReady()
        #expect(a.log.contains("the lock (\(net.dir)/a.lock) is held on this machine only"), "\(a.log)")
        let total = 200, pairs = 20
        for i in 0..<total {
            // Through both clients, half of them with explicit ids.
            let id = i % 2 == 0 ? #""id": "j\#(i)", "# : ""
            let body = #"{\#(id)"command": ["/bin/sh", "-c", "echo $SPOOL_JOB_ID >> \#(ran)"]}"#
            try (i % 2 == 0 ? spoolA : spoolB).drop("j\(i).json", body)
            if i < pairs {
                // One id dropped through both clients at once: whichever daemon places its record
                // first (a link the server refuses to the other) runs it; the other file is a
                // duplicate_id rejection.
                let dup = #"{"id": "dup\#(i)", "command": ["/bin/sh", "-c", "echo $SPOOL_JOB_ID >> \#(ran)"]}"#
                try spoolA.drop("dup\(i)-a.json", dup)
                try spoolB.drop("dup\(i)-b.json", dup)
            }
        }
        let files = total + 2 * pairs
        poll(timeout: 300, "\(files) records\n\(a.log)\n\(b.log)") { spoolA.recordNames("done").count >= files }
        a.signal(SIGTERM)
        b.signal(SIGTERM)
        #expect(a.waitExit(timeout: 30) == 0)
        #expect(b.waitExit(timeout: 30) == 0)
        let records = spoolA.doneRecords()
        #expect(records.count == files, "\(records.count) records for \(files) files")
        #expect(Set(records.compactMap { $0["source"] as? String }).count == files, "one record per dropped file")
        #expect(records.filter { $0.status == "succeeded" }.count == total + pairs)
        for i in 0..<pairs {
            let both = records.filter { ($0["source"] as? String)?.hasPrefix("dup\(i)-") ?? false }
            #expect(both.filter { $0.status == "succeeded" && $0.id == "dup\(i)" }.count == 1, "dup\(i): one job")
            #expect(both.filter { $0.status == "rejected" && $0.errorCode == "duplicate_id" }.count == 1, "dup\(i): one duplicate_id rejection")
        }
        let runs = (try? String(contentsOfFile: ran, encoding: .utf8))?.split(separator: "\n").map(String.init) ?? []
        #expect(runs.count == total + pairs && Set(runs).count == total + pairs,
                "\(runs.count) runs, \(Set(runs).count) distinct, for \(total + pairs) jobs")
        #expect(spoolA.names("inbox").isEmpty && spoolA.names("tmp").filter { $0.hasSuffix(".claim") }.isEmpty)
        let taken = { (log: String) in log.components(separatedBy: "accepted from inbox/").count - 1 + log.components(separatedBy: ": rejected: ").count - 1 }
        let races = a.log.components(separatedBy: "was taken meanwhile by another daemon").count - 1
            + b.log.components(separatedBy: "was taken meanwhile by another daemon").count - 1
        TestTools.say("sshfs two clients: daemon a recorded \(taken(a.log)), daemon b \(taken(b.log)) of \(files) files; \(races) ids lost to the other daemon after being found free")
        #expect(taken(a.log) + taken(b.log) == files, "each file recorded by exactly one daemon")
    }
}
