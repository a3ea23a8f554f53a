// Issue 18 (point 1) and issue 14 (point 3) on a real systemd: the shipped unit runs the daemon as
// root with a few capabilities and each job as the user who dropped it, so a job of alice's runs
// as alice and can write neither the spool's state folders nor bob's outputs, nor signal bob's
// job, and a root-owned job file is refused; and with live restore (the drop-in and
// "live_restore": true) `systemctl restart`, `stop` + `start` and a package upgrade keep a running
// job, which ends once with its real exit code. In the serialized nspawn suite: one container at a time.
import Foundation
import Testing
import TestTools

extension NspawnServiceTests {
    /// Copies a job file (made with JSONSerialization: no shell quoting) into the container as /srv/jobs/NAME.json,
    /// mode 0644 (not /tmp: the booted container mounts a fresh tmpfs there).
    static func jobFile(_ c: Container, _ name: String, _ job: [String: Any]) throws -> String {
        let host = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-job-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: host) }
        try JSONSerialization.data(withJSONObject: job, options: [.sortedKeys]).write(to: URL(fileURLWithPath: host))
        try c.copy(host, to: "/srv/jobs/\(name).json")
        c.must("chmod 0755 /srv/jobs && chmod 0644 /srv/jobs/\(name).json")
        return "/srv/jobs/\(name).json"
    }

    /// The pid of the process in the container running `program` with arguments `args` (its command line ends
    /// with them: a job started through setpriv has the program's full path as argv[0]); no procps there.
    static func pid(_ c: Container, program: String, args: String) -> String {
        c.must("""
            for p in /proc/[0-9]*; do
                [ "$(cat $p/comm 2>/dev/null)" = "\(program)" ] || continue
                case "$(tr '\\0' ' ' < $p/cmdline 2>/dev/null)" in *"\(program) \(args) ") echo ${p#/proc/} ;; esac
            done; true
            """).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    @Test("under the unit each job runs as its submitter: it cannot write the state folders or another user's outputs, nor signal another user's job; root's job files are refused",
          .timeLimit(.minutes(10)))
    func jobsRunAsTheirSubmitter() throws {
        let clock = StepClock("nspawn owners")
        let c = try bootedContainer("spoold-own", clock: clock)
        defer { c.destroy() }
        let spool = Self.spool
        c.must("/root/spoold/scripts/install.sh --no-build --bin-dir /root/spoold/bin")
        // The state folders belong to root (the daemon), not to any user a job can run as.
        #expect(c.must("stat -c '%a %U %G' \(spool) \(spool)/inbox \(spool)/control \(spool)/tmp \(spool)/pending \(spool)/running \(spool)/done")
                == "3771 root spool\n3770 root spool\n3770 root spool\n3770 root spool\n2750 root spool\n2750 root spool\n2750 root spool\n")
        #expect(c.sh("getent passwd spoold").status != 0, "a service user spoold was created; nothing runs as it any more")
        c.must("systemctl enable --now spoold")
        c.waitFor("STATUS= from spoold", timeout: 20, "systemctl show -p StatusText --value spoold | grep -q 'running'")
        c.must("useradd -m -s /bin/sh alice && useradd -m -s /bin/sh bob && usermod -aG spool alice && usermod -aG spool bob")
        let (aliceUID, bobUID) = (c.must("id -u alice").trimmingCharacters(in: .whitespacesAndNewlines),
                                  c.must("id -u bob").trimmingCharacters(in: .whitespacesAndNewlines))
        // The daemon: root, with exactly the bounding set of the unit (CAP_SETUID, CAP_SETGID, CAP_KILL, CAP_CHOWN, CAP_SYS_NICE).
        let main = c.must("systemctl show -p MainPID --value spoold").trimmingCharacters(in: .whitespacesAndNewlines)
        let status = c.must("cat /proc/\(main)/status")
        #expect(status.contains("\nUid:\t0\t0\t0\t0\n") && status.contains("\nCapBnd:\t00000000008000e1\n"), "\(status)")
        clock.step("install, enable --now, alice and bob in group spool")

        // bob: a finished job with outputs, and a long one still running.
        c.must(Self.as_("bob", "submit --id bobdone -- sh -c 'echo secret-of-bob'"))
        c.must(Self.as_("bob", "wait bobdone --timeout 30"))
        c.must(Self.as_("bob", "submit --id bobsleep -- sleep 300"))
        c.waitFor("bob's long job to run", timeout: 20, "test -e \(spool)/running/bobsleep.json && grep -qx sleep /proc/[0-9]*/comm")
        let bobPID = Self.pid(c, program: "sleep", args: "300")
        try #require(Int(bobPID) ?? 0 > 1, "no pid for bob's job: \(bobPID)")
        #expect(c.must("stat -c %u /proc/\(bobPID)").trimmingCharacters(in: .whitespacesAndNewlines) == bobUID)

        // alice's job tries what it must not do, and says what happened.
        let probe = """
            echo "uid=$(id -u) euid=$(id -un)"
            for d in pending running done; do
                if (echo forged > "$SPOOL_ROOT/$d/forged.json") 2>/dev/null; then echo "wrote $d"; else echo "cannot write $d"; fi
            done
            if (echo x >> "$SPOOL_ROOT/done/bobdone.stdout") 2>/dev/null; then echo "wrote bob's output"; else echo "cannot write bob's output"; fi
            if cat "$SPOOL_ROOT/done/bobdone.stdout" >/dev/null 2>&1; then echo "read bob's output"; else echo "cannot read bob's output"; fi
            if (echo '{"done": 1, "total": 2}' > "$SPOOL_PROGRESS") 2>/dev/null; then echo "progress written"; else echo "cannot write progress"; fi
            kill -TERM \(bobPID); echo "kill=$?"
            kill -0 \(main); echo "kill daemon=$?"
            grep -E '^Cap(Eff|Prm)' /proc/$$/status
            """
        let file = try Self.jobFile(c, "probe", ["id": "probe", "shell": probe])
        c.must(Self.as_("alice", "submit \(file)"))
        c.must(Self.as_("alice", "wait probe --timeout 30"))
        let out = c.must(Self.as_("alice", "logs probe"))
        let err = c.must(Self.as_("alice", "logs probe --stderr"))
        #expect(out.contains("uid=\(aliceUID) euid=alice\n"), "\(out)")
        for d in ["pending", "running", "done"] { #expect(out.contains("cannot write \(d)\n"), "\(out)") }
        #expect(out.contains("cannot write bob's output\n") && out.contains("cannot read bob's output\n"), "\(out)")
        #expect(out.contains("progress written\n"), "\(out)")
        #expect(out.contains("kill=1\n") && out.contains("kill daemon=1\n") && err.contains("Operation not permitted"), "\(out)\(err)")
        #expect(out.contains("CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\n"), "\(out)")
        c.must("grep -qx sleep /proc/\(bobPID)/comm && test -e \(spool)/running/bobsleep.json")
        c.must("test -z \"$(find \(spool)/pending \(spool)/running \(spool)/done -name forged.json)\"")
        #expect(c.must("cat \(spool)/done/bobdone.stdout") == "secret-of-bob\n")
        clock.step("alice's job: runs as alice, writes no state, cannot touch bob's files or job")

        // The record says whose job it was; bob cannot read it.
        c.must("grep -q '\"uid\" *: *\(aliceUID)' \(spool)/done/probe.json")
        #expect(c.sh("runuser -u bob -- cat \(spool)/done/probe.json").status != 0, "bob read alice's record")

        // A job file owned by root is refused (forbidden), unless allow_root_jobs is configured. The file is not
        // read as a job, so its record gets an id made from the file's name, not the id inside.
        c.must("spoolctl --spool \(spool) submit --id rootjob -- id -u")
        c.waitFor("root's job to be refused", timeout: 30, "grep -l '\"code\" *: *\"forbidden\"' \(spool)/done/*.json")
        let refusal = c.must("cat $(grep -l '\"code\" *: *\"forbidden\"' \(spool)/done/*.json)")
        #expect(refusal.range(of: #""status"\s*:\s*"rejected""#, options: .regularExpression) != nil
                && refusal.contains("is owned by root; jobs never run as root unless allow_root_jobs"), "\(refusal)")
        #expect(refusal.range(of: #""started_at"\s*:\s*null"#, options: .regularExpression) != nil, "root's job ran: \(refusal)")
        clock.step("root's job file refused as forbidden")

        // alice may create files in the spool root (`paused`), but a config.json of hers naming her group the
        // administrators is refused at reload, and she still cannot cancel bob's job.
        let evil = try Self.jobFile(c, "evil", ["admin_group": "spool", "shared_results": true])
        c.must("runuser -u alice -- cp \(evil) \(spool)/config.json && systemctl reload spoold")
        c.waitFor("the reload to refuse alice's config.json", timeout: 20,
                  "journalctl -u spoold -o cat | grep -q 'config.json: cannot read the configuration file: it is owned by uid \(aliceUID)'")
        #expect(c.sh(Self.as_("alice", "cancel bobsleep")).status != 0, "alice cancelled bob's job")
        #expect(c.sh(Self.as_("alice", "delete bobdone")).status != 0 && c.sh(Self.as_("alice", "retry bobdone")).status != 0,
                "alice deleted or retried bob's job")
        c.must("test -e \(spool)/done/bobdone.json && [ -z \"$(find \(spool)/inbox \(spool)/pending -type f)\" ]")
        c.must("rm \(spool)/config.json && grep -qx sleep /proc/\(bobPID)/comm")

        // bob cancels his own job (the daemon signals another user's process group: CAP_KILL).
        c.must(Self.as_("bob", "cancel bobsleep"))
        c.waitFor("bob's job cancelled", timeout: 20, "grep -q '\"status\" *: *\"cancelled\"' \(spool)/done/bobsleep.json")
        #expect(c.sh("test -d /proc/\(bobPID)").status != 0, "bob's job outlived its cancel")

        // Nothing in the journal about missing permissions, and no libdispatch priority message (CAP_SYS_NICE).
        let journal = c.must("journalctl -u spoold -o cat")
        #expect(!journal.contains("Failed to set thread priority"), "\(journal)")
        #expect(!journal.contains("Operation not permitted") && !journal.contains("Permission denied"), "\(journal)")

        let security = c.must("systemd-analyze security --no-pager spoold")
        let line = security.split(separator: "\n").first { $0.contains("Overall exposure level") }.map(String.init) ?? ""
        TestTools.say("nspawn owners: live \(line.trimmingCharacters(in: .whitespaces))")
        let score = line.components(separatedBy: ".service: ").last?.split(separator: " ").first.flatMap { Double($0) }
        #expect(score != nil && score! <= 2.6 && line.contains(" OK"), "\(security)")
        clock.step("cancel, journal, live exposure score")
        try c.powerOff()
        clock.step("poweroff")
    }

    @Test("live restore under systemd: restart, stop and start, and a package upgrade keep a running job, which ends once with its real exit code",
          .timeLimit(.minutes(10)))
    func liveRestoreUnderSystemd() throws {
        let clock = StepClock("nspawn live restore")
        let c = try bootedContainer("spoold-live", clock: clock)
        defer { c.destroy() }
        try Self.copyTwoPackages(into: c)
        let spool = Self.spool
        c.must("dpkg -i /root/debs/first.deb >/dev/null 2>&1")
        // The operator's two steps (docs/operations.md, "Live restore"): the drop-in the package ships, and the configuration.
        c.must("""
            install -D -m 0644 /usr/share/doc/spoold/live-restore.conf /etc/systemd/system/spoold.service.d/live-restore.conf
            printf '{"live_restore": true, "shutdown_grace_seconds": 1, "kill_grace_seconds": 1}\\n' > \(spool)/config.json
            systemctl daemon-reload && systemctl enable --now spoold
            """)
        #expect(c.must("systemctl show -p KillMode --value spoold") == "process\n")
        c.must("useradd -m -s /bin/sh alice && usermod -aG spool alice")
        clock.step("package, drop-in, live_restore, enable --now")

        // It also keeps a file in /tmp (the service's PrivateTmp) across the restarts.
        c.must(Self.as_("alice", "submit --id lr -- sh -c 'echo kept > /tmp/lr-marker; sleep 45; cat /tmp/lr-marker; echo slept; exit 7'"))
        c.waitFor("the job to run", timeout: 20, "test -e \(spool)/running/lr.json && grep -qx sleep /proc/[0-9]*/comm")
        let job = Self.pid(c, program: "sleep", args: "45")
        try #require(Int(job) ?? 0 > 1, "no pid for the job: \(job)")
        func daemonPID() -> String { c.must("systemctl show -p MainPID --value spoold").trimmingCharacters(in: .whitespacesAndNewlines) }
        func jobStillRuns(_ step: String) {
            #expect(c.sh("grep -qx sleep /proc/\(job)/comm").status == 0, "the job did not survive \(step)")
            #expect(c.sh("test -e \(spool)/running/lr.json && test ! -e \(spool)/done/lr.json").status == 0, "the job's record moved at \(step)")
        }

        // restart: systemd signals spoold alone; the supervisor and its job stay, the next spoold adopts them.
        let first = daemonPID()
        c.must("systemctl restart spoold", timeout: 40)
        #expect(daemonPID() != first)
        jobStillRuns("systemctl restart")
        clock.step("restart keeps the job")

        // stop: what docs/operations.md says under KillMode=process: the job keeps running without a daemon.
        c.must("systemctl stop spoold", timeout: 40)
        #expect(c.sh("systemctl is-active -q spoold").status != 0)
        jobStillRuns("systemctl stop")
        c.must("systemctl start spoold")
        jobStillRuns("systemctl start")
        clock.step("stop leaves it running, start adopts it")

        // An upgrade of the package, then the restart that switches to the new binary.
        let upgraded = c.must("dpkg -i /root/debs/second.deb 2>&1")
        #expect(upgraded.contains("spoold.service still runs the previous version"), "\(upgraded)")
        let old = daemonPID()
        c.must("systemctl restart spoold", timeout: 40)
        #expect(daemonPID() != old && !c.must("readlink /proc/\(daemonPID())/exe").contains("(deleted)"))
        jobStillRuns("the upgrade and its restart")
        clock.step("upgrade and restart keep it")

        // It ends once, with its own exit code and output, in one record; it was started once.
        c.waitFor("the job to end", timeout: 90, "test -e \(spool)/done/lr.json")
        let record = c.must("cat \(spool)/done/lr.json")
        #expect(record.range(of: #""exit_code"\s*:\s*7"#, options: .regularExpression) != nil
                && record.range(of: #""status"\s*:\s*"failed""#, options: .regularExpression) != nil
                && record.range(of: #""attempts"\s*:\s*1\b"#, options: .regularExpression) != nil, "\(record)")
        #expect(c.must(Self.as_("alice", "logs lr")) == "kept\nslept\n")
        let events = c.must(Self.as_("alice", "events --id lr --json"))
        let kinds = events.split(separator: "\n").compactMap { line in
            (try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])?["event"] as? String
        }
        #expect(kinds.filter { $0 == "started" }.count == 1 && kinds.filter { $0 == "finished" }.count == 1, "\(events)")
        #expect(c.sh("ls \(spool)/pending \(spool)/running | grep -q '^lr\\.'").status != 0)
        // What systemd says about the processes KillMode=process leaves in the unit's cgroup (docs/operations.md).
        for line in c.must("journalctl -u spoold -o cat | grep -E 'left-over|remains running' | sort | uniq -c").split(separator: "\n") {
            TestTools.say("nspawn live restore: journal: \(line)")
        }
        let security = c.must("systemd-analyze security --no-pager spoold")
        let line = security.split(separator: "\n").first { $0.contains("Overall exposure level") }.map(String.init) ?? ""
        TestTools.say("nspawn live restore: live, with the drop-in: \(line.trimmingCharacters(in: .whitespaces))")
        let score = line.components(separatedBy: ".service: ").last?.split(separator: " ").first.flatMap { Double($0) }
        #expect(score != nil && score! <= 2.8 && line.contains(" OK"), "\(security)")
        clock.step("one record, exit code 7, started once")
        try c.powerOff()
        clock.step("poweroff")
    }
}
