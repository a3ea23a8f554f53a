// Who may run what: a world-writable inbox without the sticky bit stops the daemon at start; as
// root, each job runs as the owner of the file dropped (from the fd), never as root unless
// allowed, and only for users in allowed_users. Uses real users made for the test (skipped, with
// the reason, where that is not possible).
import Foundation
import Testing

/// A system user created for a test and removed after it.
final class TestUser: @unchecked Sendable {
    let name: String
    let uid: UInt32
    let gid: UInt32

    init?() {
        guard geteuid() == 0 else { return nil }
        name = "spt\(UInt32.random(in: 10000...99999))"
        guard runCommand("/usr/sbin/useradd", ["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name]).status == 0,
              let pw = getpwnam(name)
        else { return nil }
        uid = pw.pointee.pw_uid
        gid = pw.pointee.pw_gid
    }

    deinit { _ = runCommand("/usr/sbin/userdel", [name]) }
}

@Suite("access", .serialized)
struct AccessTests {
    @Test("a world-writable inbox without the sticky bit stops spoold at start unless allowed")
    func worldWritableInbox() throws {
        let spool = try TempSpool()
        chmod(spool.path("inbox"), 0o777)
        let refused = runCommand(Binaries.spoold, ["--spool", spool.root, "--drain"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("is world-writable without the sticky bit"), "\(refused.stderr)")
        #expect(runCommand(Binaries.spoold, ["--spool", spool.root, "--drain", "--allow-world-writable-inbox"]).status == 0)
        chmod(spool.path("inbox"), 0o1777)
        #expect(runCommand(Binaries.spoold, ["--spool", spool.root, "--drain"]).status == 0)
    }

    static var canMakeUsers: Bool { geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/useradd") }

    @Test("as root, a job runs as its file's owner; root-owned and unlisted users' files are forbidden",
          .enabled(if: canMakeUsers, "needs root and useradd to create test users"))
    func runsAsOwner() throws {
        let spool = try TempSpool()
        guard let user = TestUser(), let other = TestUser() else {
            Issue.record("useradd failed although running as root")
            return
        }
        // Jobs write their `id` into the spool root's work dir, which the test users may write.
        let work = spool.path("work")
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        chmod(work, 0o1777)
        try spool.write("config.json", #"{"allowed_users": ["\#(user.name)"]}"#)
        func drop(_ name: String, owner: TestUser?) throws {
            let tmp = spool.path("tmp/.\(name)")
            try Data(#"{"id": "\#(name)", "cwd": "work", "shell": "id -u > \#(name).uid; id -g >> \#(name).uid; echo \"$HOME\" >> \#(name).uid"}"#.utf8)
                .write(to: URL(fileURLWithPath: tmp))
            if let owner { chown(tmp, owner.uid, owner.gid) }
            rename(tmp, spool.path("inbox/\(name).json"))
        }
        try drop("mine", owner: user)
        try drop("rootjob", owner: nil)
        try drop("theirs", owner: other)
        drain(spool, allowRoot: false)
        let mine = try #require(spool.record("mine"))
        #expect(mine.status == "succeeded", "\(mine.errorMessage ?? "")")
        // It runs with its owner's HOME, not the daemon's.
        let home = try #require(getpwuid(user.uid).map { String(cString: $0.pointee.pw_dir) })
        #expect(spool.read("work/mine.uid") == "\(user.uid)\n\(user.gid)\n\(home)\n")
        // A forbidden file's content is not trusted, not even its id: find the record by its source.
        let rootjob = try #require(spool.recordFor(source: "rootjob.json"))
        #expect(rootjob.errorCode == "forbidden")
        #expect(rootjob.errorMessage?.contains("owned by root") == true)
        let theirs = try #require(spool.recordFor(source: "theirs.json"))
        #expect(theirs.errorCode == "forbidden")
        #expect(theirs.errorMessage?.contains("not in allowed_users") == true)
        #expect(!spool.exists("work/rootjob.uid") && !spool.exists("work/theirs.uid"))
    }

    @Test("a job running as another user cannot write into pending/, running/ or done/",
          .enabled(if: canMakeUsers, "needs root and useradd to create test users"))
    func jobsCannotTouchState() throws {
        let spool = try TempSpool()
        guard let user = TestUser() else {
            Issue.record("useradd failed although running as root")
            return
        }
        let tmp = spool.path("tmp/.j")
        try Data(#"{"id": "j", "cwd": "/", "shell": "touch \#(spool.root)/done/forged.json || echo refused; mv \#(spool.root)/running/j.json /tmp/x 2>/dev/null || echo kept"}"#.utf8)
            .write(to: URL(fileURLWithPath: tmp))
        chown(tmp, user.uid, user.gid)
        rename(tmp, spool.path("inbox/j.json"))
        drain(spool, allowRoot: false)
        let r = try #require(spool.record("j"))
        #expect(spool.read(r["stdout"] as? String ?? "") == "refused\nkept\n")
        #expect(!spool.exists("done/forged.json"))
    }
}
