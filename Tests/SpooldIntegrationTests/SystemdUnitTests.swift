// The files in systemd/ checked by systemd's own tools: `systemd-analyze verify` on every unit
// (ExecStart pointed at the built spoold, since verify wants an executable there), the offline
// security score, and sysusers.d + tmpfiles.d applied to a scratch root. The tests install
// systemd themselves when a tool is missing (TestTools, apt-get as root); where they cannot, they
// are skipped with the reason printed, never passed silently.
import Foundation
import Testing
import TestTools

private enum Repo {
    /// The package root: Tests/SpooldIntegrationTests/SystemdUnitTests.swift is three levels down.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let systemd = root + "/systemd"
    static let installedSpoold = "/usr/local/bin/spoold"

    static func units() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: systemd).filter { $0.hasSuffix(".service") }.sorted()
    }
}

/// A scratch folder holding copies of the units with ExecStart pointing at the built spoold.
private func stagedUnits() throws -> (dir: String, units: [String]) {
    #expect(FileManager.default.isExecutableFile(atPath: Binaries.spoold), "spoold is not built at \(Binaries.spoold)")
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-units-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    var units: [String] = []
    for unit in try Repo.units() {
        let text = try String(contentsOfFile: "\(Repo.systemd)/\(unit)", encoding: .utf8)
        #expect(text.contains("ExecStart=\(Repo.installedSpoold) "), "\(unit): ExecStart must run \(Repo.installedSpoold)")
        let staged = text.replacingOccurrences(of: "ExecStart=\(Repo.installedSpoold) ", with: "ExecStart=\(Binaries.spoold) ")
        // A template is checked as itself and as an instance, so that %i is expanded once.
        let names = unit.hasSuffix("@.service") ? [unit, unit.replacingOccurrences(of: "@.", with: "@check.")] : [unit]
        for name in names {
            try Data(staged.utf8).write(to: URL(fileURLWithPath: "\(dir)/\(name)"))
            units.append(name)
        }
    }
    return (dir, units)
}

@Suite("systemd units", .serialized)
struct SystemdUnitTests {
    @Test("systemd/ holds the units, tmpfiles.d and sysusers.d entries")
    func filesPresent() throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Repo.systemd)
        for expected in ["spoold.service", "spoold@.service", "spoold.tmpfiles.conf", "spoold.sysusers.conf"] {
            #expect(names.contains(expected), "systemd/\(expected) is missing")
        }
    }

    @Test("every unit passes systemd-analyze verify without a warning")
    func verify() throws {
        let analyze = try TestTools.systemd.orSkip().analyze
        let (dir, units) = try stagedUnits()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        #expect(units.count >= 3)
        for unit in units {
            let r = runCommand(analyze, ["verify", "--man=no", "\(dir)/\(unit)"], timeout: 60)
            #expect(r.status == 0 && r.stderr.isEmpty && r.stdout.isEmpty,
                    "systemd-analyze verify \(unit): exit \(r.status)\n\(r.stdout)\(r.stderr)")
        }
    }

    // 1.6 while the daemon ran as user spoold; 2.6 since it runs as root with CAP_SETUID, CAP_SETGID,
    // CAP_KILL, CAP_CHOWN and CAP_SYS_NICE so that each job runs as its submitter (issue 18).
    @Test("the sandbox keeps systemd-analyze security's exposure at or below 2.6")
    func securityScore() throws {
        let analyze = try TestTools.systemd.orSkip().analyze
        let (dir, units) = try stagedUnits()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for unit in units where !unit.hasSuffix("@.service") {
            let r = runCommand(analyze, ["security", "--offline=yes", "--no-pager", "\(dir)/\(unit)"], timeout: 60)
            let line = r.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") }
            let score = line.flatMap { $0.split(separator: ":").last?.split(separator: " ").first }.flatMap { Double($0) }
            guard let score else {
                Issue.record("no exposure level from systemd-analyze security \(unit): exit \(r.status)\n\(r.stdout)\(r.stderr)")
                continue
            }
            #expect(score <= 2.6, "\(unit): exposure \(score)")
        }
    }

    @Test("sysusers.d and tmpfiles.d create the group and the folders (root's) with their modes",
          .enabled(if: geteuid() == 0, "systemd-tmpfiles must chown into the scratch root, which needs root"))
    func usersAndFolders() throws {
        let systemd = try TestTools.systemd.orSkip()
        let (sysusers, tmpfiles) = (systemd.sysusers, systemd.tmpfiles)
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-root-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let fm = FileManager.default
        for dir in ["etc", "usr/lib/sysusers.d", "usr/lib/tmpfiles.d"] {
            try fm.createDirectory(atPath: "\(root)/\(dir)", withIntermediateDirectories: true)
        }
        try fm.copyItem(atPath: "\(Repo.systemd)/spoold.sysusers.conf", toPath: "\(root)/usr/lib/sysusers.d/spoold.conf")
        try fm.copyItem(atPath: "\(Repo.systemd)/spoold.tmpfiles.conf", toPath: "\(root)/usr/lib/tmpfiles.d/spoold.conf")

        let users = runCommand(sysusers, ["--root=\(root)", "spoold.conf"])
        #expect(users.status == 0, "systemd-sysusers: \(users.stderr)")
        let passwd = (try? String(contentsOfFile: "\(root)/etc/passwd", encoding: .utf8)) ?? ""
        let group = (try? String(contentsOfFile: "\(root)/etc/group", encoding: .utf8)) ?? ""
        let spool = group.split(separator: "\n").first { $0.hasPrefix("spool:") }?.split(separator: ":", omittingEmptySubsequences: false)
        let gid = try #require(spool.flatMap { UInt32($0[2]) }, "no spool group in \(group)")
        // No service user: the daemon is root (with a few capabilities), each job runs as its submitter.
        #expect(!passwd.split(separator: "\n").contains { $0.hasPrefix("spoold:") }, "a user spoold was created: \(passwd)")

        // Twice: the second run must change nothing and succeed (boot runs it every time).
        for _ in 0..<2 {
            let r = runCommand(tmpfiles, ["--root=\(root)", "--create", "spoold.conf"])
            #expect(r.status == 0, "systemd-tmpfiles: \(r.stderr)")
        }
        let expected: [(String, mode_t)] = [("", 0o3771), ("/inbox", 0o3770), ("/control", 0o3770), ("/tmp", 0o3770),
                                            ("/pending", 0o2750), ("/running", 0o2750), ("/done", 0o2750)]
        for (folder, mode) in expected {
            var st = stat()
            let path = "\(root)/var/spool/spoold\(folder)"
            guard stat(path, &st) == 0 else { Issue.record("\(path) was not created"); continue }
            #expect(st.st_mode & 0o7777 == mode, "\(path): mode \(String(st.st_mode & 0o7777, radix: 8))")
            #expect(st.st_uid == 0 && st.st_gid == gid, "\(path): owner \(st.st_uid):\(st.st_gid)")
        }
    }
}
