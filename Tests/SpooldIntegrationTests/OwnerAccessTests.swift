// Who may do what (issue 18), with real users made by the test: alice and bob submit, carol is an
// administrator (admin_group). The daemon runs as root, so each job runs as its file's owner and
// is recorded as theirs. Bob's cancel, pause, delete and retry of alice's jobs are refused (by
// spoolctl, and by the daemon for a request file he drops himself) and change nothing; bob cannot
// read alice's record or outputs; alice and carol can do all of it. Needs root and useradd: where
// they are missing the tests say SKIPPED-NEEDS-TOOL (a failure in CI, which runs as root).
import Foundation
import Testing

/// Cancels the current test, saying why in the line .ci/run looks for, unless users can be made.
func requireUsers() throws {
    guard !AccessTests.canMakeUsers else { return }
    let test = Test.current.map { $0.displayName ?? $0.name } ?? "?"
    let why = geteuid() != 0 ? "needs root to create test users and run jobs as them" : "needs /usr/sbin/useradd"
    print("SKIPPED-NEEDS-TOOL: \(test): \(why)")
    fflush(nil)
    try Test.cancel(Comment(rawValue: why))
}

/// Runs a program as `user` (setpriv, with the user's groups).
func runAs(_ user: TestUser, _ path: String, _ args: [String]) -> CommandResult {
    runCommand("/usr/bin/setpriv", ["--reuid=\(user.uid)", "--regid=\(user.gid)", "--init-groups", "--", path] + args)
}

/// A spool that alice, bob and carol may use (inbox/, control/ and tmp/ writable by them, as the
/// service's group would make them), with `config` as config.json, and a daemon running as root.
final class SharedSpool: @unchecked Sendable {
    let spool: TempSpool
    let alice: TestUser, bob: TestUser, carol: TestUser
    var daemon: DaemonProcess!

    init(config: (TestUser) -> String) throws {
        spool = try TempSpool()
        guard let a = TestUser(), let b = TestUser(), let c = TestUser() else { throw POSIXError(.EPERM) }
        alice = a
        bob = b
        carol = c
        for d in ["inbox", "control", "tmp"] { chmod(spool.path(d), 0o1777) }
        try spool.write("config.json", config(carol))
        daemon = DaemonProcess(spool: spool, workers: 4)
        daemon.waitReady()
    }

    func ctl(_ user: TestUser, _ args: [String]) -> CommandResult {
        runAs(user, Binaries.spoolctl, ["--spool", spool.root] + args)
    }

    /// `user` drops a raw request into control/ (not through spoolctl), owned by them.
    func request(_ user: TestUser, _ name: String, _ json: String) {
        let r = runAs(user, "/bin/sh", ["-c", "printf '%s' '\(json)' > \(spool.path("tmp/.\(name)")) && mv \(spool.path("tmp/.\(name)")) \(spool.path("control/\(name).json"))"])
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// Waits for the daemon's answer to a raw request; returns its JSON object (nil: none came).
    func answer(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any]? {
        let path = "control/.\(name).refused"
        guard poll(timeout: 20, "the daemon's answer \(path)\n\(daemon.log)", sourceLocation: sourceLocation, { spool.exists(path) && !spool.exists("control/\(name).json") })
        else { return nil }
        return try? JSONSerialization.jsonObject(with: Data((spool.read(path) ?? "").utf8)) as? [String: Any]
    }

    /// The ids `spoolctl list --json` shows `user`.
    func listed(_ user: TestUser) -> Set<String> {
        let r = ctl(user, ["list", "--json"])
        guard let o = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any],
              let jobs = o["jobs"] as? [[String: Any]] else {
            Issue.record("list --json as \(user.name): \(r.stdout)\(r.stderr)")
            return []
        }
        return Set(jobs.compactMap { $0["id"] as? String })
    }

    func status(_ id: String) -> String? {
        for folder in ["done", "running", "pending"] {
            if let r = spool.record(id, in: folder) { return r.status }
        }
        return nil
    }
}

@Suite("access: owners and administrators", .serialized)
struct OwnerAccessTests {
    @Test("bob cannot cancel, pause, delete, retry or read alice's jobs; alice and an admin can")
    func ownersAndAdmins() throws {
        try requireUsers()
        let s = try SharedSpool { carol in #"{"admin_group": \#(carol.gid)}"# }
        let (alice, bob, carol, spool) = (s.alice, s.bob, s.carol, s.spool)

        #expect(s.ctl(alice, ["submit", "--id", "a-long", "--", "sleep", "60"]).status == 0)
        #expect(s.ctl(alice, ["submit", "--id", "a-done", "--shell", "--", "echo secret-alice; echo alice-err >&2; exit 3"]).status == 0)
        #expect(s.ctl(bob, ["submit", "--id", "b-long", "--", "sleep", "60"]).status == 0)
        poll(timeout: 30, "jobs started and ended\n\(s.daemon.log)") {
            s.status("a-long") == "running" && s.status("b-long") == "running" && s.status("a-done") == "failed"
        }
        let done = try #require(spool.record("a-done"))
        #expect((done["owner"] as? [String: Any])?["uid"] as? Int == Int(alice.uid))
        let doneBytes = try #require(spool.read("done/a-done.json"))
        let stdoutPath = try #require(done["stdout"] as? String)
        let stderrPath = try #require(done["stderr"] as? String)

        // spoolctl refuses bob before dropping anything: he cannot even read alice's records.
        for (args, verb) in [(["cancel", "a-long"], "cancel"), (["pause", "a-long"], "pause"), (["resume", "a-long"], "resume"),
                             (["delete", "a-done"], "delete"), (["retry", "a-done"], "retry"),
                             (["status", "a-done"], "see its status"), (["logs", "a-done"], "read its output"),
                             (["wait", "a-done"], "wait for")] {
            let r = s.ctl(bob, args)
            #expect(r.status == 1, "\(args): \(r.stdout)\(r.stderr)")
            #expect(r.stderr.contains("job \(args[1]) belongs to another user") && r.stderr.contains("only they can \(verb) it"), "\(args): \(r.stderr)")
        }
        #expect(spool.names("control").isEmpty, "no request was dropped")

        // Request files bob drops himself: the daemon refuses each, answers him, and logs it.
        for (name, json) in [("bc", #"{"action": "cancel", "id": "a-long"}"#), ("bp", #"{"action": "pause", "id": "a-long"}"#),
                             ("bd", #"{"action": "delete", "id": "a-done"}"#), ("br", #"{"action": "retry", "id": "a-done"}"#)] {
            s.request(bob, name, json)
            let answer = try #require(s.answer(name))
            let action = String(json.split(separator: "\"")[3])
            let id = String(json.split(separator: "\"")[7])
            #expect(answer["refused"] as? Bool == true)
            #expect(answer["message"] as? String
                == "\(action) job \(id) refused: it belongs to \(alice.name) (uid \(alice.uid)), and \(bob.name) (uid \(bob.uid)) is neither its owner nor an administrator (root or a member of admin_group)",
                   "\(answer)")
            var st = stat()
            #expect(stat(spool.path("control/.\(name).refused"), &st) == 0 && st.st_uid == bob.uid && st.st_mode & 0o777 == 0o600)
            #expect(s.daemon.log.contains("control: control/\(name).json: \(action) job \(id) refused"), "\(s.daemon.log)")
        }
        // Nothing changed: alice's job runs on (not paused), her record is the same, no retry appeared.
        #expect(s.status("a-long") == "running")
        #expect(spool.read("done/a-done.json") == doneBytes)
        #expect(spool.recordNames("pending").isEmpty && spool.recordNames("done") == ["a-done.json"])

        // Bob can read none of alice's files, and his list shows only his own job.
        for path in ["done/a-done.json", "running/a-long.json", stdoutPath, stderrPath] {
            let r = runAs(bob, "/bin/cat", [spool.path(path)])
            #expect(r.status != 0 && r.stderr.contains("Permission denied"), "\(path): \(r.stdout)")
        }
        // Nor can a job of his (it runs as bob).
        #expect(s.ctl(bob, ["submit", "--id", "b-snoop", "--shell", "--", "cat done/a-done.json \(stdoutPath) running/a-long.json; echo end"]).status == 0)
        poll(timeout: 20, "b-snoop ended") { s.status("b-snoop") == "succeeded" }
        let snoop = try #require(spool.record("b-snoop"))
        #expect(spool.read(snoop["stdout"] as? String ?? "") == "end\n")
        #expect(spool.read(snoop["stderr"] as? String ?? "")?.components(separatedBy: "Permission denied").count == 4)
        #expect(s.listed(bob) == ["b-long", "b-snoop"])

        // Alice reads her own; her list shows her jobs, not bob's.
        #expect(runAs(alice, "/bin/cat", [spool.path(stdoutPath)]).stdout == "secret-alice\n")
        let aliceLogs = s.ctl(alice, ["logs", "a-done"])
        #expect(aliceLogs.status == 0 && aliceLogs.stdout == "secret-alice\n", "\(aliceLogs)")
        #expect(s.ctl(alice, ["status", "a-long"]).status == 0)
        #expect(s.listed(alice) == ["a-long", "a-done"])

        // Bob may control his own job.
        #expect(s.ctl(bob, ["cancel", "b-long"]).status == 0)
        poll(timeout: 20, "b-long cancelled") { s.status("b-long") == "cancelled" }

        // Carol, an administrator (admin_group), reads and controls alice's jobs.
        #expect(runAs(carol, "/bin/cat", [spool.path(stderrPath)]).stdout == "alice-err\n")
        #expect(s.listed(carol) == ["a-long", "a-done", "b-long", "b-snoop"])
        let pause = s.ctl(carol, ["pause", "a-long"])
        #expect(pause.status == 0, "\(pause.stderr)")
        poll(timeout: 20, "a-long paused") { s.status("a-long") == "paused" }
        let cancel = s.ctl(carol, ["cancel", "a-long"])
        #expect(cancel.status == 0, "\(cancel.stderr)")
        poll(timeout: 20, "a-long cancelled\n\(s.daemon.log)") { s.status("a-long") == "cancelled" }
        let retry = s.ctl(carol, ["retry", "a-done"])
        #expect(retry.status == 0, "\(retry.stderr)")
        let newID = try #require(retry.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        poll(timeout: 20, "retry \(newID) ended") { s.status(newID) == "failed" }
        // The retry runs as alice (the job's owner), not as carol who asked.
        #expect((spool.record(newID)?["owner"] as? [String: Any])?["uid"] as? Int == Int(alice.uid))
        let delete = s.ctl(carol, ["delete", "a-done"])
        #expect(delete.status == 0 && delete.stdout.contains("deleted a-done"), "\(delete.stderr)")
        #expect(!spool.exists("done/a-done.json") && !spool.exists(stdoutPath))
        // And alice deletes her own.
        #expect(s.ctl(alice, ["delete", newID]).status == 0)
        #expect(!spool.exists("done/\(newID).json"))
    }

    @Test("shared_results: members read each other's records, yet the daemon refuses bob's control and spoolctl says so")
    func sharedResults() throws {
        try requireUsers()
        let s = try SharedSpool { _ in #"{"shared_results": true}"# }
        let (alice, bob, spool) = (s.alice, s.bob, s.spool)
        #expect(s.ctl(alice, ["submit", "--id", "a-long", "--", "sleep", "60"]).status == 0)
        #expect(s.ctl(alice, ["submit", "--id", "a-done", "--", "echo", "shared"]).status == 0)
        poll(timeout: 30, "jobs started and ended") { s.status("a-long") == "running" && s.status("a-done") == "succeeded" }
        let doneBytes = try #require(spool.read("done/a-done.json"))
        // Readable by bob (0644 and no ACL).
        #expect(s.ctl(bob, ["logs", "a-done"]).stdout == "shared\n")
        #expect(s.ctl(bob, ["status", "a-long"]).status == 0)
        // spoolctl lets bob's requests through (it can read the records); the daemon refuses them,
        // and spoolctl learns it from the answer file: exit 1 with the daemon's sentence.
        for args in [["cancel", "a-long"], ["pause", "a-long"], ["delete", "a-done"], ["retry", "a-done"]] {
            let r = s.ctl(bob, args)
            #expect(r.status == 1, "\(args): \(r.stdout)")
            #expect(r.stderr.contains("\(args[0]) job \(args[1]) refused: it belongs to ") && r.stderr.contains("\(bob.name) (uid \(bob.uid)) is neither its owner nor an administrator"), "\(args): \(r.stderr)")
        }
        #expect(spool.names("control").isEmpty)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: spool.path("control"))) ?? []).isEmpty, "spoolctl removed the answers it read")
        #expect(s.status("a-long") == "running")
        #expect(spool.read("done/a-done.json") == doneBytes)
        #expect(spool.recordNames("pending").isEmpty && spool.recordNames("done") == ["a-done.json"])
        // With --json the refusal is a field too.
        let j = s.ctl(bob, ["cancel", "a-long", "--json"])
        #expect(j.status == 1 && j.stdout.contains("\"refused\"") && j.stdout.contains("cancel job a-long refused"), "\(j.stdout)")
        // Alice can.
        #expect(s.ctl(alice, ["cancel", "a-long"]).status == 0)
        poll(timeout: 20, "a-long cancelled") { s.status("a-long") == "cancelled" }
        // An answer bob plants for alice's next request (retry names are predictable) is not believed:
        // only the daemon's (given to the requester) or root's counts.
        let forged = "control/.retry-as-a-done.r1.refused"
        #expect(runAs(bob, "/bin/sh", ["-c", #"echo '{"refused": true, "message": "forged by bob"}' > "# + spool.path(forged)]).status == 0)
        let retry = s.ctl(alice, ["retry", "a-done"])
        #expect(retry.status == 0 && retry.stdout.hasSuffix("a-done.r1\n") && !retry.stderr.contains("forged"), "\(retry.stdout)\(retry.stderr)")
        poll(timeout: 20, "a-done.r1 ran") { s.status("a-done.r1") == "succeeded" }
    }
}

@Suite("access: live restore", .serialized)
struct LiveRestoreAccessTests {
    @Test("live_restore: outputs written under a job's supervisor are private to its owner too")
    func supervisedOutputs() throws {
        try requireUsers()
        let s = try SharedSpool { _ in #"{"live_restore": true}"# }
        let (alice, bob, spool) = (s.alice, s.bob, s.spool)
        #expect(s.ctl(alice, ["submit", "--id", "a-sup", "--shell", "--", "echo secret-sup; echo err-sup >&2"]).status == 0)
        poll(timeout: 30, "a-sup ran\n\(s.daemon.log)") { s.status("a-sup") == "succeeded" }
        let r = try #require(spool.record("a-sup"))
        #expect(r["executor"] != nil)
        for key in ["stdout", "stderr"] {
            let path = try #require(r[key] as? String)
            #expect(runAs(bob, "/bin/cat", [spool.path(path)]).stderr.contains("Permission denied"), "\(path)")
            #expect(runAs(alice, "/bin/cat", [spool.path(path)]).stdout == (key == "stdout" ? "secret-sup\n" : "err-sup\n"))
        }
        #expect(runAs(bob, "/bin/cat", [spool.path("done/a-sup.json")]).status != 0)
    }
}

@Suite("access: pause files", .serialized)
struct PauseFileAccessTests {
    @Test("as root, only an administrator's pause files hold jobs; another member's are ignored and logged, and spoolctl refuses to make one")
    func pauseFiles() throws {
        try requireUsers()
        let s = try SharedSpool { carol in #"{"admin_group": \#(carol.gid)}"# }
        let (alice, bob, carol, spool) = (s.alice, s.bob, s.carol, s.spool)
        chmod(spool.root, 0o1777)  // members may create pause files in the root, as under the service (3771)

        for args in [["pause"], ["pause", "--queue", "default"]] {
            let r = s.ctl(bob, args)
            #expect(r.status == 1, "\(args): \(r.stdout)")
            #expect(r.stderr.contains("only an administrator (root or a member of group \(carol.gid)) may pause"), "\(r.stderr)")
        }
        #expect(!spool.exists("paused") && !spool.exists("paused.queue.default"))

        // Bob makes the files by hand: the daemon ignores them, says so, and alice's job runs.
        for name in ["paused", "paused.queue.default"] {
            #expect(runAs(bob, "/usr/bin/touch", [spool.path(name)]).status == 0)
            #expect(s.ctl(alice, ["submit", "--id", "a-\(name.count)", "--", "true"]).status == 0)
            poll(timeout: 20, "a-\(name.count) ran despite bob's \(name)\n\(s.daemon.log)") { s.status("a-\(name.count)") == "succeeded" }
            poll(timeout: 10, "the log says \(name) is ignored") {
                s.daemon.log.contains("spoold: \(spool.path(name)) is owned by \(bob.name) (uid \(bob.uid)), who is not an administrator")
            }
            #expect(runAs(bob, "/bin/rm", [spool.path(name)]).status == 0)
        }

        // Carol (admin_group) pauses the spool: alice's job waits until she resumes it.
        let pause = s.ctl(carol, ["pause"])
        #expect(pause.status == 0, "\(pause.stderr)")
        #expect(s.ctl(alice, ["submit", "--id", "held", "--", "true"]).status == 0)
        poll(timeout: 20, "held accepted") { spool.exists("pending/held.json") }
        // While the pause holds, the job stays pending (watched for a while: the start would take milliseconds).
        let deadline = Date().addingTimeInterval(1.5)
        while Date() < deadline {
            #expect(s.status("held") == "pending")
            usleep(50_000)
        }
        #expect(s.ctl(carol, ["resume"]).status == 0)
        poll(timeout: 20, "held ran after resume") { s.status("held") == "succeeded" }
    }
}
