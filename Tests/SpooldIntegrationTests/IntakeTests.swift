// Dropping files: every file in the inbox ends as exactly one record; bad ones are rejected with
// the SPEC's error code, a message naming the file and field, and their bytes kept.
import Foundation
import Testing

@Suite("intake", .serialized)
struct IntakeTests {
    @Test("a command job and a shell job succeed with their output captured")
    func runsCommandAndShell() throws {
        let spool = try TempSpool()
        try spool.drop("hello.json", #"{"command": ["echo", "hello", "world"]}"#)
        try spool.drop("sh.json", #"{"shell": "echo from-shell; echo oops >&2"}"#)
        drain(spool)
        let hello = try #require(spool.recordFor(source: "hello.json"))
        #expect(hello.status == "succeeded")
        #expect(hello["exit_code"] as? Int == 0)
        #expect((hello.id ?? "").hasPrefix("hello-"))
        #expect(hello["name"] as? String == "hello")
        let out = try #require(hello["stdout"] as? String)
        #expect(spool.read(out) == "hello world\n")
        let sh = try #require(spool.recordFor(source: "sh.json"))
        #expect(sh.status == "succeeded")
        #expect(spool.read(sh["stdout"] as! String) == "from-shell\n")
        #expect(spool.read(sh["stderr"] as! String) == "oops\n")
        for key in ["id", "name", "status", "spec", "source", "submitted_at", "started_at", "finished_at", "attempts",
                    "exit_code", "signal", "error", "stdout", "stderr", "progress"] {
            #expect(sh.keys.contains(key), "record lacks \(key)")
        }
        #expect(spool.names("inbox").isEmpty && spool.names("pending").isEmpty && spool.names("running").isEmpty)
    }

    /// Bad job files: (file name, content, error code, fragment of the message).
    static let badFiles: [(String, String, String, String)] = [
        ("malformed.json", #"{"command": ["true"]"#, "invalid_json", "not valid JSON"),
        ("empty.json", "", "invalid_json", "empty file"),
        ("array.json", #"["true"]"#, "invalid_job", "must be a JSON object"),
        ("unknown.json", #"{"command": ["true"], "timeout": 5}"#, "invalid_job", "unknown field \"timeout\""),
        ("nocommand.json", #"{"name": "x"}"#, "invalid_job", "one of the fields \"command\", \"shell\" or \"operations\" is required"),
        ("both.json", #"{"command": ["true"], "shell": "true"}"#, "invalid_job", "exclusive"),
        ("emptycmd.json", #"{"command": []}"#, "invalid_job", "field \"command\" must be a non-empty array"),
        ("cmdtype.json", #"{"command": "true"}"#, "invalid_job", "field \"command\" must be a non-empty array of strings, got \"true\""),
        ("argtype.json", #"{"command": ["echo", 3]}"#, "invalid_job", "field \"command[1]\" must be a string"),
        ("emptyshell.json", #"{"shell": ""}"#, "invalid_job", "field \"shell\" must be a non-empty string"),
        ("badid.json", #"{"id": "../x", "command": ["true"]}"#, "invalid_job", "field \"id\""),
        ("dotid.json", #"{"id": ".x", "command": ["true"]}"#, "invalid_job", "field \"id\""),
        ("longid.json", "{\"id\": \"\(String(repeating: "a", count: 129))\", \"command\": [\"true\"]}", "invalid_job", "field \"id\""),
        ("negretries.json", #"{"command": ["true"], "retries": -1}"#, "invalid_job", "field \"retries\" must be an integer from 0 to 1000, got -1"),
        ("fracretries.json", #"{"command": ["true"], "retries": 1.5}"#, "invalid_job", "field \"retries\""),
        ("fracprio.json", #"{"command": ["true"], "priority": 2.5}"#, "invalid_job", "field \"priority\""),
        ("zerotimeout.json", #"{"command": ["true"], "timeout_seconds": 0}"#, "invalid_job", "field \"timeout_seconds\" must be a number > 0"),
        ("badtime.json", #"{"command": ["true"], "not_before": "tomorrow"}"#, "invalid_job", "field \"not_before\" must be an RFC 3339 time"),
        ("badenv.json", #"{"command": ["true"], "env": {"A": 1}}"#, "invalid_job", "field \"env.A\" must be a string"),
        ("badpolicy.json", #"{"command": ["true"], "on_interrupt": "retry"}"#, "invalid_job", "field \"on_interrupt\""),
        ("dupkey.json", #"{"command": ["true"], "command": ["false"]}"#, "invalid_json", "duplicate key"),
        ("batch.json", #"{"operations": []}"#, "invalid_job", "field \"operations\" must be a non-empty array of operation objects"),
        ("badop.json", #"{"operations": [{"type": "nope"}]}"#, "invalid_job", "field \"operations[0].type\" must be one of"),
        ("after.json", #"{"command": ["true"], "after": "x"}"#, "invalid_job", "field \"after\" must be a non-empty array of at most 1000 job ids"),
    ]

    @Test("each bad job file is rejected with its code, a message naming file and field, and its bytes kept")
    func rejectsBadFiles() throws {
        let spool = try TempSpool()
        for (name, content, _, _) in Self.badFiles { try spool.drop(name, content) }
        drain(spool, extra: ["--settle", "0"])
        for (name, content, code, fragment) in Self.badFiles {
            let r = try #require(spool.recordFor(source: name), "no record for \(name)")
            #expect(r.status == "rejected", "\(name)")
            #expect(r.errorCode == code, "\(name): \(r.errorMessage ?? "")")
            #expect(r.errorMessage?.contains(fragment) == true, "\(name): \(r.errorMessage ?? "")")
            #expect(r.errorMessage?.contains("inbox/\(name)") == true, "\(name): message does not name the file")
            let original = try #require(r["original"] as? String, "\(name) has no original")
            #expect(spool.read(original) == content, "\(name): original bytes not kept")
        }
        #expect(spool.recordNames("done").count == Self.badFiles.count)
        #expect(spool.names("inbox").isEmpty)
    }

    @Test("symlinks, FIFOs and directories are rejected without being followed and removed from the inbox")
    func rejectsSpecialFiles() throws {
        let spool = try TempSpool()
        let secret = spool.path("secret.txt")
        try Data(#"{"command": ["touch", "/tmp/never"]}"#.utf8).write(to: URL(fileURLWithPath: secret))
        #expect(symlink(secret, spool.path("inbox/link.json")) == 0)
        #expect(mkfifo(spool.path("inbox/fifo.json"), 0o644) == 0)
        try FileManager.default.createDirectory(atPath: spool.path("inbox/dir.json"), withIntermediateDirectories: true)
        drain(spool)
        for (name, kind) in [("link.json", "symbolic link"), ("fifo.json", "FIFO"), ("dir.json", "directory")] {
            let r = try #require(spool.recordFor(source: name), "no record for \(name)")
            #expect(r.status == "rejected")
            #expect(r.errorCode == "not_a_regular_file")
            #expect(r.errorMessage?.contains(kind) == true, "\(r.errorMessage ?? "")")
        }
        #expect(spool.names("inbox").isEmpty)
        #expect(FileManager.default.fileExists(atPath: secret), "the symlink's target must be untouched")
    }

    @Test("a file over the size limit is rejected as too_large")
    func rejectsTooLarge() throws {
        let spool = try TempSpool()
        try spool.drop("big.json", "{\"shell\": \"\(String(repeating: "x", count: 5000))\"}")
        drain(spool, extra: ["--max-job-size", "1000"])
        let r = try #require(spool.recordFor(source: "big.json"))
        #expect(r.errorCode == "too_large")
        #expect(r.errorMessage?.contains("limit is 1000 bytes") == true)
    }

    @Test("an explicit id is an idempotency key: a second file with it is duplicate_id and the first is untouched")
    func duplicateID() throws {
        let spool = try TempSpool()
        try spool.drop("a.json", #"{"id": "report-1", "shell": "echo first"}"#)
        drain(spool)
        let before = try #require(spool.read("done/report-1.json"))
        try spool.drop("b.json", #"{"id": "report-1", "shell": "echo second"}"#)
        drain(spool)
        #expect(spool.read("done/report-1.json") == before)
        let dup = try #require(spool.recordFor(source: "b.json"))
        #expect(dup.errorCode == "duplicate_id")
        #expect(dup.id != "report-1")
        #expect(dup.errorMessage?.contains("report-1") == true)
    }

    @Test("a slow writer's half-written file is not rejected; a file that stays broken is, after the settle period")
    func settleRule() throws {
        let spool = try TempSpool()
        let daemon = DaemonProcess(spool: spool, extra: ["--settle", "1.5"])
        daemon.waitReady()
        // Two-step shell write: the first close leaves invalid JSON behind.
        try spool.write("inbox/slow.json", #"{"command": ["echo", "#)
        try spool.write("inbox/broken.json", #"{"command": ["#)
        usleep(600_000)
        #expect(spool.recordFor(source: "slow.json") == nil)
        let handle = try #require(FileHandle(forWritingAtPath: spool.path("inbox/slow.json")))
        handle.seekToEndOfFile()
        handle.write(Data(#""done"]}"#.utf8))
        handle.closeFile()
        poll(timeout: 20, "slow.json record") { spool.recordFor(source: "slow.json")?.status == "succeeded" }
        poll(timeout: 20, "broken.json rejection") { spool.recordFor(source: "broken.json")?.status == "rejected" }
        let broken = try #require(spool.recordFor(source: "broken.json"))
        #expect(broken.errorCode == "invalid_json")
        #expect(spool.recordNames("done").count == 2)
    }

    @Test("dotfiles and names not ending in .json are left alone")
    func ignoresOtherNames() throws {
        let spool = try TempSpool()
        try spool.write("inbox/.hidden.json", #"{"command": ["true"]}"#)
        try spool.write("inbox/notes.txt", "hello")
        try spool.write("inbox/job.json.tmp", #"{"command": ["true"]}"#)
        drain(spool)
        #expect(spool.names("inbox") == ["job.json.tmp", "notes.txt"])
        #expect(spool.exists("inbox/.hidden.json"))
        #expect(spool.recordNames("done").isEmpty)
    }
}
