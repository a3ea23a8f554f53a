// spoolctl as a new user meets it (issue 10): delete, unknown and duplicate ids answered, --json
// on every command, a stopped daemon made visible, readable generated ids, the spool's limits,
// per-operation logs, full usage on errors. Real spoold and spoolctl on temporary spools.
import Foundation
import Testing

@Suite("spoolctl first use", .serialized)
struct SpoolctlFirstUseTests {
    func ctl(_ spool: TempSpool, _ args: [String]) -> CommandResult {
        runCommand(Binaries.spoolctl, ["--spool", spool.root] + args)
    }

    func object(_ text: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)",
                     sourceLocation: sourceLocation)
    }

    func lastWord(_ text: String) -> String {
        text.split(whereSeparator: \.isWhitespace).last.map(String.init) ?? ""
    }

    // MARK: 1. delete

    @Test("delete: an unknown id exits 1 and drops nothing; without a daemon the request is written and waits")
    func deleteClientSide() throws {
        let spool = try TempSpool()
        try spool.drop("d.json", #"{"id": "d1", "command": ["true"]}"#)
        drain(spool)
        let unknown = ctl(spool, ["delete", "nosuch"])
        #expect(unknown.status == 1)
        #expect(unknown.stderr == "spoolctl: error: no job \"nosuch\" in inbox/, pending/, running/ or done/ of \(spool.root)\n")
        let mixed = ctl(spool, ["delete", "d1", "nosuch"])
        #expect(mixed.status == 1)
        #expect(mixed.stderr.contains("no request was dropped"))
        #expect(spool.names("control").isEmpty)
        #expect(spool.record("d1") != nil)

        let r = ctl(spool, ["delete", "d1"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout == "delete requested for d1\n")
        #expect(r.stderr.contains("no daemon is running on spool \(spool.root)"))
        #expect(r.stderr.contains("waits in control/"))
        let files = spool.names("control")
        try #require(files.count == 1)
        let request = try object(spool.read("control/\(files[0])") ?? "")
        #expect(request as NSDictionary == ["action": "delete", "id": "d1"] as NSDictionary)
        #expect(spool.record("d1") != nil, "the record stays until a daemon applies the request")

        let json = ctl(spool, ["delete", "--json", "d1"])
        let o = try object(json.stdout)
        #expect(o["daemon_running"] as? Bool == false)
        #expect(o["ids"] as? [String] == ["d1"])
        #expect(o["deleted"] as? [String] == [])
    }

    @Test("delete with a daemon removes the record and prints `deleted ID`")
    func deleteWithDaemon() throws {
        let spool = try TempSpool()
        try spool.drop("d.json", #"{"id": "d2", "shell": "echo out"}"#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 10, "finished") { spool.record("d2") != nil }
        let r = ctl(spool, ["delete", "d2"])
        #expect(r.status == 0, "\(r.stderr)\n\(d.log)")
        #expect(r.stdout == "deleted d2\n")
        #expect(spool.record("d2") == nil)
        #expect(!spool.exists("done/d2.stdout"))
        poll(timeout: 10, "request removed") { spool.names("control").isEmpty }
    }

    // MARK: 2. unknown and duplicate ids

    @Test("submit of an id the spool holds exits 1 naming it and drops nothing (done/, and inbox/ not taken yet)")
    func duplicateSubmit() throws {
        let spool = try TempSpool()
        let file = spool.path("dup1.json")
        try Data(#"{"id": "dup1", "command": ["true"]}"#.utf8).write(to: URL(fileURLWithPath: file))
        #expect(ctl(spool, ["submit", file]).status == 0)
        // Still in inbox/ under another name: a second file with the same id is refused.
        try FileManager.default.moveItem(atPath: spool.path("inbox/dup1.json"), toPath: spool.path("inbox/other.json"))
        let waiting = ctl(spool, ["submit", file])
        #expect(waiting.status == 1)
        #expect(waiting.stderr == "spoolctl: error: job id \"dup1\" is already held by the spool (inbox/other.json, not taken yet); nothing was submitted\n")
        #expect(spool.names("inbox") == ["other.json"])
        drain(spool)
        #expect(spool.record("dup1")?.status == "succeeded")
        let again = ctl(spool, ["submit", file])
        #expect(again.status == 1)
        #expect(again.stderr == "spoolctl: error: job id \"dup1\" is already held by the spool (done/dup1.json, succeeded); nothing was submitted\n")
        #expect(spool.names("inbox").isEmpty)
        #expect(ctl(spool, ["submit", "--id", "dup1", "--", "true"]).status == 1)
        #expect(spool.names("inbox").isEmpty)
        #expect(spool.recordNames("done") == ["dup1.json"])
    }

    @Test("cancel, pause and resume of an unknown or finished job exit 1 with a sentence and drop nothing; an inbox job counts as known")
    func unknownControl() throws {
        let spool = try TempSpool()
        try spool.drop("f.json", #"{"id": "fin", "command": ["true"]}"#)
        drain(spool)
        for verb in ["cancel", "pause", "resume"] {
            let r = ctl(spool, [verb, "nosuch"])
            #expect(r.status == 1, "\(verb)")
            #expect(r.stderr == "spoolctl: error: no job \"nosuch\" in inbox/, pending/, running/ or done/ of \(spool.root)\n", "\(verb)")
            let f = ctl(spool, [verb, "fin"])
            #expect(f.status == 1, "\(verb)")
            #expect(f.stderr == "spoolctl: error: job fin has already ended (done/fin.json, succeeded); nothing to \(verb)\n", "\(verb)")
        }
        #expect(spool.names("control").isEmpty)
        try spool.drop("w.json", #"{"id": "waiting", "command": ["true"]}"#)
        let c = ctl(spool, ["cancel", "waiting"])
        #expect(c.status == 0, "\(c.stderr)")
        #expect(c.stdout == "cancel requested for waiting\n")
        #expect(spool.names("control").count == 1)
        let p = ctl(spool, ["pause", "waiting"])
        #expect(p.status == 1)
        #expect(p.stderr.contains("job waiting is not running (inbox/w.json, not taken yet); only a running job can be paused"))
        drain(spool)
        #expect(spool.record("waiting")?.status == "cancelled")
    }

    // MARK: 3. --json everywhere, list --count, repeated filters

    @Test("--json anywhere after the command on every command; estimate has the same keys without history")
    func jsonEverywhere() throws {
        let spool = try TempSpool()
        try spool.drop("a.json", #"{"id": "a", "name": "n", "command": ["true"]}"#)
        try spool.drop("b.json", #"{"id": "b", "shell": "exit 3"}"#)
        try spool.drop("c.json", #"{"id": "c", "operations": [{"command": ["true"]}, {"command": ["false"]}]}"#)
        drain(spool)
        let sub = ctl(spool, ["submit", "--json", "--id", "s1", "--", "true"])
        #expect(try object(sub.stdout)["id"] as? String == "s1")
        let file = spool.path("job.json")
        try Data(#"{"name": "never-ran", "command": ["true"]}"#.utf8).write(to: URL(fileURLWithPath: file))
        let v = try object(ctl(spool, ["validate", file, "--json"]).stdout)
        #expect(v["ok"] as? Bool == true)
        #expect((v["problems"] as? [Any])?.isEmpty == true)
        let est = ctl(spool, ["estimate", "--json", file])
        #expect(est.status == 0)
        let e = try object(est.stdout)
        for key in ["name", "samples", "expected_duration_seconds", "ahead_seconds", "expected_start_at", "expected_finish_at", "workers", "history"] {
            #expect(e.keys.contains(key), "estimate --json lacks \(key): \(est.stdout)")
        }
        #expect(e["expected_duration_seconds"] is NSNull)
        #expect(e["expected_finish_at"] is NSNull)
        let known = spool.path("n.json")
        try Data(#"{"name": "n", "command": ["true"]}"#.utf8).write(to: URL(fileURLWithPath: known))
        let withHistory = try object(ctl(spool, ["estimate", known, "--json"]).stdout)
        #expect(Set(withHistory.keys) == Set(e.keys))
        #expect(withHistory["expected_duration_seconds"] is Double)

        #expect(try object(ctl(spool, ["status", "--json", "a"]).stdout)["status"] as? String == "succeeded")
        let wait = try object(ctl(spool, ["wait", "a", "b", "--json"]).stdout)
        #expect(wait["all_succeeded"] as? Bool == false)
        #expect((wait["jobs"] as? [[String: Any]])?.count == 2)
        #expect(try object(ctl(spool, ["stats", "--json"]).stdout)["by_status"] != nil)
        let retry = ctl(spool, ["retry", "--json", "b"])
        #expect(try object(retry.stdout)["retry_of"] as? String == "b")
        let prune = try object(ctl(spool, ["prune", "--json", "--older-than", "1h"]).stdout)
        #expect(prune["removed"] as? Int == 0)
        let cancel = try object(ctl(spool, ["cancel", "--json", "s1"]).stdout)
        #expect(cancel["ids"] as? [String] == ["s1"])
        #expect(try object(ctl(spool, ["pause", "--json"]).stdout)["target"] as? String == "spool")
        #expect(try object(ctl(spool, ["resume", "--json"]).stdout)["target"] as? String == "spool")
        let logs = ctl(spool, ["logs", "--json", "c"])
        #expect((try object(logs.stdout)["operations"] as? [Any])?.count == 2)
        let watch = ctl(spool, ["watch", "--once", "--json"])
        let frames = watch.stdout.split(separator: "\n")
        #expect(frames.count == 1)
        #expect(try object(String(frames[0]))["daemon_running"] as? Bool == false)
        #expect(!watch.stderr.contains("no daemon"), "with --json the field replaces the stderr line")

        // list: the wrapped shape, --count, OR of a repeated filter, a flag given twice.
        let list = try object(ctl(spool, ["list", "--json", "--limit", "1"]).stdout)
        #expect(list["total"] as? Int == 3, "a, b, c; s1 is still in inbox/")
        #expect((list["jobs"] as? [Any])?.count == 1)
        #expect(ctl(spool, ["list", "--count", "--status", "succeeded"]).stdout == "1\n")
        let either = try object(ctl(spool, ["list", "--count", "--json", "--status", "failed", "--status", "partial"]).stdout)
        #expect(either["count"] as? Int == 2)
        let ids = (try object(ctl(spool, ["list", "--json", "--status", "failed", "--status", "partial"]).stdout)["jobs"] as? [[String: Any]])?
            .compactMap { $0["id"] as? String }.sorted()
        #expect(ids == ["b", "c"])
        let twice = ctl(spool, ["list", "--limit", "1", "--limit", "2"])
        #expect(twice.status == 64)
        #expect(twice.stderr.hasPrefix("spoolctl: error: --limit given twice\n"))
        #expect(ctl(spool, ["list", "--json", "--json"]).stderr.hasPrefix("spoolctl: error: --json given twice\n"))
    }

    // MARK: 4. a stopped daemon is visible

    @Test("with no daemon, status/list/watch say so; a job left in running/ shows it will be recovered, without an ETA")
    func stoppedDaemonVisible() throws {
        let spool = try TempSpool()
        try spool.drop("r.json", #"{"id": "left", "shell": "echo 1/4 > $SPOOL_PROGRESS; exec sleep 30"}"#)
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        poll(timeout: 10, "progress written") {
            ((spool.record("left", in: "running")?["progress"] as? [String: Any])?["percent"] as? Double) == 25
        }
        let live = ctl(spool, ["status", "left"])
        #expect(live.stdout.contains("status     running\n"), "\(live.stdout)")
        #expect(!live.stderr.contains("no daemon"))
        #expect(try object(ctl(spool, ["list", "--json"]).stdout)["daemon_running"] as? Bool == true)
        let pid = spool.record("left", in: "running")?["pid"] as? Int
        d.crash()
        defer { if let pid { kill(-Int32(pid), SIGKILL) } }
        let notice = "spoolctl: no daemon is running on spool \(spool.root) (start it with: spoold --spool \(spool.root))\n"
        let status = ctl(spool, ["status", "left"])
        #expect(status.status == 0)
        #expect(status.stderr == notice)
        #expect(status.stdout.contains("status     running (no daemon: will be recovered at the next start)\n"), "\(status.stdout)")
        #expect(!status.stdout.contains("eta"), "\(status.stdout)")
        #expect(try object(ctl(spool, ["status", "left", "--json"]).stdout)["daemon_running"] as? Bool == false)
        let list = ctl(spool, ["list"])
        #expect(list.stderr == notice)
        #expect(list.stdout.contains("left"))
        let lj = ctl(spool, ["list", "--json"])
        #expect(lj.stderr.isEmpty)
        #expect(try object(lj.stdout)["daemon_running"] as? Bool == false)
        let watch = ctl(spool, ["watch", "--once"])
        #expect(watch.stderr == notice)
        #expect(watch.stdout.contains("no daemon is running"))
    }

    @Test("looking for the daemon creates no file in a spool no daemon ever ran on")
    func presenceCreatesNothing() throws {
        let spool = try TempSpool()
        let before = spool.names("")
        #expect(ctl(spool, ["list"]).stderr.contains("no daemon is running"))
        #expect(spool.names("") == before)
    }

    // MARK: 5. readable generated ids

    @Test("ids from submit -- CMD: --name, else the program's base name, else for shell lines the first word or `shell`")
    func generatedIDs() throws {
        let spool = try TempSpool()
        func id(_ args: [String]) -> String { lastWord(ctl(spool, ["submit"] + args).stdout) }
        #expect(id(["--", "/bin/echo", "hello world"]).hasPrefix("echo-"))
        #expect(id(["--name", "greet", "--", "echo", "hi"]).hasPrefix("greet-"))
        #expect(id(["--", "sh", "-c", "echo hi; echo there"]).hasPrefix("echo-"))
        let loop = id(["--shell", "--", "for i in 1 2 3; do echo $i; done"])
        #expect(loop.hasPrefix("shell-"), "\(loop)")
        #expect(loop.count < 30, "\(loop)")
        #expect(id(["--shell", "--", "/usr/bin/env", "true"]).hasPrefix("env-"))
        drain(spool)
        #expect(spool.doneRecords().allSatisfy { $0.status == "succeeded" })
    }

    // MARK: 6. the spool's limits

    @Test("config.json max_operations: validate and submit refuse a bigger batch naming the limit and the field; the daemon too")
    func configuredLimits() throws {
        let spool = try TempSpool()
        try spool.write("config.json", #"{"max_operations": 3, "max_job_bytes": 400}"#)
        let file = spool.path("four.json")
        try Data(#"{"id": "four", "operations": [{"command": ["true"]}, {"command": ["true"]}, {"command": ["true"]}, {"command": ["true"]}]}"#.utf8)
            .write(to: URL(fileURLWithPath: file))
        let v = ctl(spool, ["validate", file])
        #expect(v.status == 1)
        #expect(v.stdout.contains("field \"operations\" has 4 operations; the limit is 3 (max_operations in \(spool.root)/config.json"), "\(v.stdout)")
        let s = ctl(spool, ["submit", file])
        #expect(s.status == 1)
        #expect(s.stderr.contains("the limit is 3"))
        #expect(spool.names("inbox").isEmpty)
        let big = spool.path("big.json")
        try Data((#"{"shell": "echo "# + String(repeating: "x", count: 500) + #""}"#).utf8).write(to: URL(fileURLWithPath: big))
        let b = ctl(spool, ["validate", big])
        #expect(b.status == 1)
        #expect(b.stdout.contains("the limit is 400 bytes (max_job_bytes"), "\(b.stdout)")
        // Without the file, the defaults apply.
        let other = try TempSpool()
        #expect(ctl(other, ["validate", file]).status == 0)
        // --config FILE applies that file; one that cannot be read is an error, not the defaults.
        #expect(ctl(other, ["validate", file, "--config", spool.path("config.json")]).status == 1)
        let missing = ctl(other, ["validate", file, "--config", other.path("nope.json")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("nope.json: cannot read the configuration file"), "\(missing.stderr)")
        #expect(missing.stdout.isEmpty)
        // A broken spool config.json is reported, and the defaults are used.
        try other.write("config.json", #"{"max_operations": 0}"#)
        let broken = ctl(other, ["validate", file])
        #expect(broken.status == 0)
        #expect(broken.stderr.contains("field \"max_operations\" must be an integer >= 1"), "\(broken.stderr)")
        // The daemon's intake uses the configured limit.
        try spool.drop("four.json", String(decoding: FileManager.default.contents(atPath: file)!, as: UTF8.self))
        drain(spool)
        #expect(spool.record("four")?.status == "rejected")
        #expect(spool.record("four")?.errorMessage?.contains("the limit is 3") == true)
    }

    // MARK: 7. logs of operations, status of batches and cancelled jobs

    @Test("logs --op N shows one operation's output; logs of a batch without --op says what to do; status summarises results")
    func operationLogsAndStatus() throws {
        let spool = try TempSpool()
        try spool.drop("b.json", #"""
            {"id": "batch", "operations": [
              {"name": "first", "shell": "echo one"},
              {"name": "second", "shell": "echo two; echo oops >&2"},
              {"name": "stats", "type": "descriptive_stats", "params": {"data": [1, 2, 3, 4]}}]}
            """#)
        drain(spool)
        #expect(ctl(spool, ["logs", "batch", "--op", "1"]).stdout == "two\n")
        #expect(ctl(spool, ["logs", "batch", "--op", "1", "--stderr"]).stdout == "oops\n")
        #expect(ctl(spool, ["logs", "batch", "--op", "0"]).stdout == "one\n")
        let none = ctl(spool, ["logs", "batch"])
        #expect(none.status == 1)
        #expect(none.stdout.isEmpty)
        #expect(none.stderr.contains("spoolctl logs batch --op 0"), "\(none.stderr)")
        #expect(none.stderr.contains("spoolctl logs batch --op 1"))
        #expect(ctl(spool, ["logs", "batch", "--op", "7"]).status == 1)
        let status = ctl(spool, ["status", "batch"]).stdout
        let statsLine = try #require(status.split(separator: "\n").first { $0.contains("descriptive_stats") || $0.contains(" stats ") })
        #expect(statsLine.contains("mean=2.5 "), "\(status)")
        #expect(statsLine.count < 160)

        try spool.write("paused", "")
        try spool.drop("c.json", #"{"id": "cx", "command": ["true"]}"#)
        let d = DaemonProcess(spool: spool)
        poll(timeout: 10, "accepted") { spool.record("cx", in: "pending") != nil }
        #expect(ctl(spool, ["cancel", "cx"]).status == 0)
        poll(timeout: 10, "cancelled") { spool.record("cx")?.status == "cancelled" }
        let c = ctl(spool, ["status", "cx"]).stdout
        #expect(c.contains("status     cancelled"))
        #expect(c.contains("progress   cancelled before it started"), "\(c)")
        #expect(!c.contains("100%"))
        _ = d
    }

    @Test("bad inputs of the new flags are usage errors or one clear sentence, and drop nothing")
    func badInputs() throws {
        let spool = try TempSpool()
        try spool.drop("a.json", #"{"id": "a", "command": ["true"]}"#)
        drain(spool)
        let cases: [([String], Int32, String)] = [
            (["delete"], 64, "give at least one job ID"),
            (["delete", "a", "--timeout", "x"], 64, "--timeout must be a number"),
            (["logs", "a", "--op", "x"], 64, "--op must be an integer >= 0"),
            (["logs", "a", "--op", "0"], 1, "job a is not a batch; use logs without --op"),
            (["list", "--status", "failed", "--status", "bogus"], 64, "--status must be one of"),
            (["list", "--count", "--count"], 64, "--count given twice"),
            (["submit", "x.json", "--", "true"], 64, "give either a job FILE or -- CMD ARGS..., not both"),
            (["pause", "a", "--queue", "q"], 64, "give either job ids or --queue, not both"),
            (["cancel", "../a"], 64, "is not a valid job id"),
        ]
        for (args, code, text) in cases {
            let r = ctl(spool, args)
            #expect(r.status == code, "\(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.hasPrefix("spoolctl: error: ") && r.stderr.contains(text), "\(args): \(r.stderr)")
        }
        #expect(spool.names("control").isEmpty)
        #expect(spool.names("inbox").isEmpty)
        #expect(spool.recordNames("done") == ["a.json"])
    }

    // MARK: 8. usage, help, plurals

    @Test("a usage error shows the command's whole usage; --help lists every command's flags; help COMMAND; singular counts")
    func usageHelpPlurals() throws {
        let spool = try TempSpool()
        let bad = ctl(spool, ["list", "--bogus"])
        #expect(bad.status == 64)
        #expect(bad.stderr.contains("--count"), "the whole usage, not its first line: \(bad.stderr)")
        #expect(bad.stderr.contains("Lists jobs newest first"))
        let help = ctl(spool, ["--help"]).stdout
        for flag in ["--state", "--status", "--queue", "--name", "--label", "--since", "--limit", "--offset", "--count", "--op", "--failed-only",
                     "--older-than", "--dry-run", "--interval", "--workers", "--history", "--not-before", "--env", "--config"] {
            #expect(help.contains(flag), "--help lacks \(flag)")
        }
        for command in ["submit", "status", "list", "wait", "logs", "cancel", "pause", "resume", "retry", "delete", "stats", "prune",
                        "estimate", "watch", "validate"] {
            #expect(help.contains("\n  \(command) "), "--help lacks \(command)")
        }
        let one = ctl(spool, ["help", "logs"])
        #expect(one.status == 0)
        #expect(one.stdout.hasPrefix("Usage: spoolctl logs ID"))
        #expect(ctl(spool, ["help", "nope"]).status == 64)

        try spool.drop("one.json", #"{"id": "one", "name": "single", "command": ["true"]}"#)
        drain(spool)
        #expect(ctl(spool, ["prune", "--older-than", "0s", "--dry-run"]).stdout == "one\nwould remove 1 finished job older than 0s\n")
        let file = spool.path("single.json")
        try Data(#"{"name": "single", "command": ["true"]}"#.utf8).write(to: URL(fileURLWithPath: file))
        let est = ctl(spool, ["estimate", file, "--workers", "1"]).stdout
        #expect(est.contains("(1 recent run)"), "\(est)")
        #expect(est.contains("on 1 worker)"), "\(est)")
        // The daemon removes what prune asks for (so its history index never drifts): without one, the request waits.
        #expect(ctl(spool, ["prune", "--older-than", "0s"]).stdout == "asked to remove 1 finished job older than 0s\n")
        #expect(spool.record("one") != nil)
        drain(spool)
        #expect(spool.record("one") == nil)
    }
}
