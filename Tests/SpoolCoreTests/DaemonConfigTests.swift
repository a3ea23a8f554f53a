// The configuration file: a full valid file, the exact message for every bad field, loading
// from disk (missing, unreadable, not a file), applying to DaemonOptions and SIGHUP's diff.
import Foundation
import Testing
@testable import SpoolCore

@Suite("daemon configuration file")
struct DaemonConfigTests {
    func problems(_ json: String) -> [String] {
        do {
            _ = try DaemonConfig.parse(Array(json.utf8), file: "config.json")
            return []
        } catch {
            return error.problems
        }
    }

    @Test("a full valid file sets every field")
    func validFile() throws {
        let json = #"""
            {"workers": 4, "queues": {"default": {"max_running": 3}, "reports": {"max_running": 1}},
             "kill_grace_seconds": 2.5, "shutdown_grace_seconds": 20, "max_job_bytes": 65536,
             "settle_seconds": 0, "rescan_seconds": 0.5,
             "retention": {"done_max_age_seconds": 604800, "statuses": ["succeeded", "rejected", "succeeded"]},
             "min_free_bytes": 104857600, "max_output_bytes": 1048576, "durable": false,
             "log_level": "debug", "metrics_interval_seconds": 15}
            """#
        let c = try DaemonConfig.parse(Array(json.utf8), file: "config.json")
        #expect(c.workers == 4)
        #expect(c.queues == ["default": .init(maxRunning: 3), "reports": .init(maxRunning: 1)])
        #expect(c.killGraceSeconds == 2.5 && c.shutdownGraceSeconds == 20)
        #expect(c.maxJobBytes == 65536 && c.settleSeconds == 0 && c.rescanSeconds == 0.5)
        #expect(c.retention == .init(doneMaxAgeSeconds: 604800, statuses: [.succeeded, .rejected]))
        #expect(c.minFreeBytes == 104_857_600 && c.maxOutputBytes == 1_048_576)
        #expect(c.durable == false && c.logLevel == .debug && c.metricsIntervalSeconds == 15)
    }

    @Test("an empty object sets nothing")
    func emptyFile() throws {
        #expect(try DaemonConfig.parse(Array("{}".utf8), file: "config.json") == DaemonConfig())
        #expect(try DaemonConfig.parse(Array(#"{"retention": {}}"#.utf8), file: "c").retention == .init())
    }

    @Test("a Slurm queue needs no max_running, and its sbatch arguments reach the options")
    func slurmQueue() throws {
        let c = try DaemonConfig.parse(Array(#"{"queues": {"hpc": {"executor": "slurm", "sbatch_args": ["--partition=batch"]}, "l": {"max_running": 2, "executor": "local"}}}"#.utf8), file: "c")
        #expect(c.queues?["hpc"] == .init(maxRunning: nil, executor: .slurm, sbatchArgs: ["--partition=batch"]))
        var options = DaemonOptions()
        c.apply(to: &options)
        #expect(options.queueLimits == ["l": 2])
        #expect(options.remoteQueues == ["hpc": RemoteQueue(executor: .slurm, sbatchArgs: ["--partition=batch"])])
    }

    @Test("each bad field is named with what was expected", arguments: [
        (#"{"workers": 0}"#, #"config.json: field "workers" must be an integer >= 1, got 0"#),
        (#"{"workers": 2.0}"#, #"config.json: field "workers" must be an integer >= 1, got 2.0"#),
        (#"{"workers": "4"}"#, #"config.json: field "workers" must be an integer >= 1, got "4""#),
        (#"{"workers": 10001}"#, #"config.json: field "workers" must be an integer <= 10000, got 10001"#),
        (#"{"workers": null}"#, #"config.json: field "workers" must be an integer >= 1, got null"#),
        (#"{"queues": []}"#, #"config.json: field "queues" must be an object of queue names to {"max_running": N}, got an array"#),
        (#"{"queues": {"a b": {"max_running": 1}}}"#,
         #"config.json: field "queues" must have queue names from [A-Za-z0-9._-] starting with a letter or digit, got "a b""#),
        (#"{"queues": {"q": 2}}"#, #"config.json: field "queues.q" must be an object such as {"max_running": 2}, got 2"#),
        (#"{"queues": {"q": {}}}"#, #"config.json: field "queues.q.max_running" is required (an integer >= 1) unless "executor" is "slurm""#),
        (#"{"queues": {"q": {"max_running": 0}}}"#, #"config.json: field "queues.q.max_running" must be an integer >= 1, got 0"#),
        (#"{"kill_grace_seconds": -1}"#, #"config.json: field "kill_grace_seconds" must be a number >= 0, got -1"#),
        (#"{"kill_grace_seconds": "5s"}"#, #"config.json: field "kill_grace_seconds" must be a number >= 0, got "5s""#),
        (#"{"shutdown_grace_seconds": 1e9}"#,
         #"config.json: field "shutdown_grace_seconds" must be at most 31536000 (one year), got 1000000000.0"#),
        (#"{"max_job_bytes": 10}"#, #"config.json: field "max_job_bytes" must be an integer >= 64, got 10"#),
        (#"{"max_job_bytes": 2147483648}"#, #"config.json: field "max_job_bytes" must be an integer <= 1073741824, got 2147483648"#),
        (#"{"settle_seconds": true}"#, #"config.json: field "settle_seconds" must be a number >= 0, got true"#),
        (#"{"rescan_seconds": 0}"#, #"config.json: field "rescan_seconds" must be a number >= 0.1, got 0"#),
        (#"{"retention": 7}"#, #"config.json: field "retention" must be an object such as {"done_max_age_seconds": 604800}, got 7"#),
        (#"{"retention": {"done_max_age_seconds": 0}}"#,
         #"config.json: field "retention.done_max_age_seconds" must be a number > 0, got 0"#),
        (#"{"retention": {"done_max_age_seconds": 60, "statuses": []}}"#,
         #"config.json: field "retention.statuses" must be a non-empty array of statuses from "succeeded", "failed", "partial", "cancelled", "rejected", got an array"#),
        (#"{"retention": {"done_max_age_seconds": 60, "statuses": ["succeeded", "running"]}}"#,
         #"config.json: field "retention.statuses[1]" must be one of "succeeded", "failed", "partial", "cancelled", "rejected", got "running""#),
        (#"{"retention": {"statuses": ["failed"]}}"#,
         #"config.json: field "retention.statuses" has no effect without "retention.done_max_age_seconds""#),
        (#"{"retention": {"max_age": 60}}"#,
         #"config.json: unknown field "retention.max_age" (allowed: done_max_age_seconds, statuses)"#),
        (#"{"min_free_bytes": -1}"#, #"config.json: field "min_free_bytes" must be an integer >= 0, got -1"#),
        (#"{"max_output_bytes": 0}"#, #"config.json: field "max_output_bytes" must be an integer >= 1, got 0"#),
        (#"{"durable": "yes"}"#, #"config.json: field "durable" must be true or false, got "yes""#),
        (#"{"live_restore": 1}"#, #"config.json: field "live_restore" must be true or false, got 1"#),
        (#"{"log_level": "loud"}"#,
         #"config.json: field "log_level" must be one of "trace", "debug", "info", "notice", "warning", "error", "critical", got "loud""#),
        (#"{"log_level": 3}"#,
         #"config.json: field "log_level" must be one of "trace", "debug", "info", "notice", "warning", "error", "critical", got 3"#),
        (#"{"metrics_interval_seconds": 0.01}"#, #"config.json: field "metrics_interval_seconds" must be a number >= 0.1, got 0.01"#),
        (#"{"queues": {"q": {"max_running": 1, "max": 2}}}"#, #"config.json: unknown field "queues.q.max" (allowed: max_running, executor, sbatch_args)"#),
        (#"{"queues": {"q": {"executor": "pbs"}}}"#, #"config.json: field "queues.q.executor" must be "local" or "slurm", got "pbs""#),
        (#"{"queues": {"q": {"executor": "slurm", "sbatch_args": "--partition=x"}}}"#,
         #"config.json: field "queues.q.sbatch_args" must be an array of strings such as ["--partition=batch"], got "--partition=x""#),
        (#"{"queues": {"q": {"executor": "slurm", "sbatch_args": [""]}}}"#,
         #"config.json: field "queues.q.sbatch_args[0]" must be a non-empty string (one argument each, such as "--partition=batch" or "-p", "batch"), got """#),
        (#"{"queues": {"q": {"executor": "slurm", "sbatch_args": ["-p", "x", "--job-name=mine"]}}}"#,
         #"config.json: field "queues.q.sbatch_args[2]" must not set --job-name: spoold sets it itself (the job's name is how a restart finds it, its output is the wrapper's, and only spoold reruns an attempt)"#),
        (#"{"queues": {"q": {"max_running": 2, "sbatch_args": ["-p", "x"]}}}"#,
         #"config.json: field "queues.q.sbatch_args" needs "executor": "slurm" in the same queue"#),
        (#"{"gpus": "0,1"}"#, #"config.json: field "gpus" must be an array of device names such as ["0", "1"], got "0,1""#),
        (#"{"gpus": ["0", "0"]}"#, #"config.json: field "gpus[1]" must be a device not listed before, got "0""#),
        (#"{"gpus": ["0,1"]}"#, #"config.json: field "gpus[0]" must be a device name without commas or spaces, such as "0", got "0,1""#),
        (#"{"admin_group": "no-such-group-xq"}"#, #"config.json: field "admin_group" must be the name of a group that exists on this system, got "no-such-group-xq""#),
        (#"{"admin_group": ""}"#, #"config.json: field "admin_group" must be a group name or a numeric gid, got """#),
        (#"{"admin_group": ["wheel"]}"#, #"config.json: field "admin_group" must be a group name or a numeric gid, got an array"#),
        (#"{"admin_group": -1}"#, #"config.json: field "admin_group" must be a group name or a numeric gid, got -1"#),
        (#"{"shared_results": "yes"}"#, #"config.json: field "shared_results" must be true or false, got "yes""#),
    ])
    func badField(json: String, message: String) {
        #expect(problems(json) == [message])
    }

    @Test("unknown fields are rejected with the allowed list, and every problem is reported")
    func unknownAndSeveral() {
        let allowed = "workers, queues, kill_grace_seconds, shutdown_grace_seconds, max_job_bytes, max_operations, settle_seconds, "
            + "rescan_seconds, retention, min_free_bytes, max_output_bytes, gpus, durable, log_level, metrics_interval_seconds, "
            + "allowed_users, allowed_groups, allow_root_jobs, allow_world_writable_inbox, live_restore, admin_group, shared_results"
        #expect(problems(#"{"worker": 2, "durable": 1}"#) == [
            #"config.json: unknown field "worker" (allowed: \#(allowed))"#,
            #"config.json: field "durable" must be true or false, got 1"#,
        ])
    }

    @Test("a file that is not a JSON object says so", arguments: [
        ("[]", "config.json: a configuration file must be a JSON object, got an array"),
        (#"{"workers": 2, "workers": 3}"#, "config.json: not valid JSON: "),
        ("", "config.json: not valid JSON: "),
        (#"{"workers": 2,}"#, "config.json: not valid JSON: "),
    ])
    func notAnObject(json: String, prefix: String) {
        let found = problems(json)
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix(prefix) == true, "\(found)")
    }

    @Test("loading: a missing default file is no configuration, other failures are errors")
    func loading() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let path = dir + "/config.json"
        #expect(try DaemonConfig.loadIfPresent(path: path) == nil)
        #expect(throws: ConfigError(["\(path): cannot read the configuration file: No such file or directory"])) {
            try DaemonConfig.load(path: path)
        }
        try Data(#"{"workers": 3}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(try DaemonConfig.load(path: path).workers == 3)
        try Data(#"{"workers": 0}"#.utf8).write(to: URL(fileURLWithPath: path))
        #expect(throws: ConfigError([#"\#(path): field "workers" must be an integer >= 1, got 0"#])) {
            try DaemonConfig.loadIfPresent(path: path)
        }
        #expect(throws: ConfigError(["\(dir): cannot read the configuration file: not a regular file"])) {
            try DaemonConfig.loadIfPresent(path: dir)
        }
        let fifo = dir + "/fifo.json"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: ConfigError(["\(fifo): cannot read the configuration file: not a regular file"])) {
            try DaemonConfig.load(path: fifo)
        }
    }

    @Test("apply sets the options the file names and leaves the rest")
    func apply() throws {
        var options = DaemonOptions()
        options.workers = 7
        options.rescanSeconds = 3
        let c = try DaemonConfig.parse(Array(#"""
            {"workers": 2, "kill_grace_seconds": 1, "shutdown_grace_seconds": 4, "max_job_bytes": 100,
             "queues": {"reports": {"max_running": 1}},
             "settle_seconds": 0.5, "durable": false, "log_level": "warning", "min_free_bytes": 1}
            """#.utf8), file: "c")
        c.apply(to: &options)
        #expect(options.workers == 2 && options.killGraceSeconds == 1 && options.shutdownGraceSeconds == 4)
        #expect(options.intake.maxJobBytes == 100 && options.intake.settleSeconds == 0.5)
        #expect(options.rescanSeconds == 3)
        #expect(options.durable == false && options.logLevel == .warning)
        #expect(options.queueLimits == ["reports": 1])
    }

    @Test("SIGHUP applies every changed field live except durable")
    func liveChanges() throws {
        func parse(_ s: String) throws -> DaemonConfig { try DaemonConfig.parse(Array(s.utf8), file: "c") }
        let old = try parse(#"{"workers": 2, "durable": true, "queues": {"a": {"max_running": 1}}, "log_level": "info"}"#)
        #expect(old.liveChanges(from: old) == ([], []))
        let new = try parse(#"""
            {"workers": 3, "durable": false, "queues": {"a": {"max_running": 2}}, "log_level": "info",
             "retention": {"done_max_age_seconds": 60}, "metrics_interval_seconds": 5}
            """#)
        let diff = new.liveChanges(from: old)
        #expect(diff.applied == ["workers", "queues", "retention", "metrics_interval_seconds"])
        #expect(diff.needsRestart == ["durable"])
        // A field removed from the file returns to its default: that is a change too.
        #expect(DaemonConfig().liveChanges(from: old) == (["workers", "queues", "log_level"], ["durable"]))
    }
}
