// Strict decoding of the configuration file, in the manner of job files (SPEC §3): unknown
// fields and wrong types are errors, every problem is collected, and each message names the
// file, the field and what was expected: `config.json: field "workers" must be an integer >= 1, got 0`.
import SpoolJSON

extension DaemonConfig {
    /// The top-level field names, in documentation order.
    public static let fieldNames = fields.map(\.name)

    /// Parses and validates configuration bytes; `file` names the file in messages.
    public static func parse(_ bytes: [UInt8], file: String) throws(ConfigError) -> DaemonConfig {
        let value: JSONValue
        do {
            value = try JSONParser().parse(bytes)
        } catch {
            throw ConfigError(["\(file): not valid JSON: \(error)"])
        }
        return try validate(value, file: file)
    }

    /// Validates a parsed configuration file.
    public static func validate(_ value: JSONValue, file: String) throws(ConfigError) -> DaemonConfig {
        var v = ConfigValidator(file: file)
        let config = v.run(value)
        guard v.problems.isEmpty else { throw ConfigError(v.problems) }
        return config
    }
}

/// Longest duration accepted anywhere in the file.
private let maxSeconds = 365.0 * 86400
private let terminalStatuses = JobStatus.allCases.filter(\.isTerminal)
private let levelNames = Log.Level.allCases.map(\.word)

/// sbatch options spoold sets for every submission (SlurmExecutor.sbatchArguments); a queue's
/// `sbatch_args` come last and would win, so they may not name these.
private let reservedSbatchOptions = ["--job-name", "-J", "--output", "-o", "--wrap", "--parsable", "--chdir", "-D", "--open-mode",
                                     "--requeue", "--no-requeue"]

private struct ConfigValidator {
    let file: String
    var problems: [String] = []

    mutating func problem(_ field: String, _ expected: String, _ got: JSONValue?) {
        problems.append("\(file): field \"\(field)\" must be \(expected)" + (got.map { ", got \(describe($0))" } ?? ""))
    }

    func describe(_ v: JSONValue) -> String {
        switch v {
        case .string(let s): return "\"\(s.count > 40 ? String(s.prefix(40)) + "..." : s)\""
        case .number(let n): return n.integer.map(String.init) ?? "\(n.double)"
        case .bool(let b): return b ? "true" : "false"
        default: return v.typeDescription
        }
    }

    mutating func unknownFields(_ obj: JSONObject, prefix: String, allowed: [String]) {
        for key in obj.keys where !allowed.contains(key) {
            problems.append("\(file): unknown field \"\(prefix)\(key)\" (allowed: \(allowed.joined(separator: ", ")))")
        }
    }

    mutating func run(_ value: JSONValue) -> DaemonConfig {
        var c = DaemonConfig()
        guard case .object(let obj) = value else {
            problems.append("\(file): a configuration file must be a JSON object, got \(value.typeDescription)")
            return c
        }
        unknownFields(obj, prefix: "", allowed: DaemonConfig.fieldNames)
        c.workers = obj["workers"].flatMap { integer("workers", $0, min: 1, max: 10_000) }
        c.queues = obj["queues"].flatMap { queues($0) }
        c.killGraceSeconds = obj["kill_grace_seconds"].flatMap { seconds("kill_grace_seconds", $0, min: 0) }
        c.shutdownGraceSeconds = obj["shutdown_grace_seconds"].flatMap { seconds("shutdown_grace_seconds", $0, min: 0) }
        c.maxJobBytes = obj["max_job_bytes"].flatMap { integer("max_job_bytes", $0, min: 64, max: 1 << 30) }
        c.maxOperations = obj["max_operations"].flatMap { integer("max_operations", $0, min: 1, max: 1_000_000) }
        c.settleSeconds = obj["settle_seconds"].flatMap { seconds("settle_seconds", $0, min: 0) }
        c.rescanSeconds = obj["rescan_seconds"].flatMap { seconds("rescan_seconds", $0, min: 0.1) }
        c.retention = obj["retention"].flatMap { retention($0) }
        c.minFreeBytes = obj["min_free_bytes"].flatMap { integer("min_free_bytes", $0, min: 0, max: Int.max) }
        c.maxOutputBytes = obj["max_output_bytes"].flatMap { integer("max_output_bytes", $0, min: 1, max: Int.max) }
        c.gpus = obj["gpus"].flatMap { gpus($0) }
        c.durable = obj["durable"].flatMap { v in
            guard case .bool(let b) = v else { problem("durable", "true or false", v); return nil }
            return b
        }
        c.logLevel = obj["log_level"].flatMap { v in
            guard case .string(let s) = v, let level = Log.Level(name: s) else {
                problem("log_level", "one of " + levelNames.map { "\"\($0)\"" }.joined(separator: ", "), v)
                return nil
            }
            return level
        }
        c.metricsIntervalSeconds = obj["metrics_interval_seconds"].flatMap { seconds("metrics_interval_seconds", $0, min: 0.1) }
        c.allowedUsers = obj["allowed_users"].flatMap { names("allowed_users", $0) }
        c.allowedGroups = obj["allowed_groups"].flatMap { names("allowed_groups", $0) }
        c.allowRootJobs = obj["allow_root_jobs"].flatMap { v in
            guard case .bool(let b) = v else { problem("allow_root_jobs", "true or false", v); return nil }
            return b
        }
        c.allowWorldWritableInbox = obj["allow_world_writable_inbox"].flatMap { v in
            guard case .bool(let b) = v else { problem("allow_world_writable_inbox", "true or false", v); return nil }
            return b
        }
        c.liveRestore = obj["live_restore"].flatMap { v in
            guard case .bool(let b) = v else { problem("live_restore", "true or false", v); return nil }
            return b
        }
        c.adminGroup = obj["admin_group"].flatMap { v in
            var name: String?
            if case .string(let s) = v, !s.isEmpty { name = s }
            if case .number(let n) = v, let id = n.integer, id >= 0, id < Int64(UInt32.max) { name = String(id) }
            guard let name else { problem("admin_group", "a group name or a numeric gid", v); return nil }
            // A typo must not leave a spool without the administrators it was meant to have.
            if UInt32(name) == nil, AccessPolicy.groupID(name) == nil {
                problem("admin_group", "the name of a group that exists on this system", v)
                return nil
            }
            return name
        }
        c.sharedResults = obj["shared_results"].flatMap { v in
            guard case .bool(let b) = v else { problem("shared_results", "true or false", v); return nil }
            return b
        }
        return c
    }

    /// A list of user or group names (or numeric ids).
    /// `gpus`: device names as CUDA_VISIBLE_DEVICES takes them ("0", "1", or "GPU-<uuid>"), each once.
    mutating func gpus(_ v: JSONValue) -> [String]? {
        guard case .array(let items) = v else { problem("gpus", "an array of device names such as [\"0\", \"1\"]", v); return nil }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            var name: String?
            if case .string(let s) = item, !s.isEmpty, !s.contains(","), s.allSatisfy({ !$0.isWhitespace }) { name = s }
            if case .number(let n) = item, let id = n.integer, id >= 0 { name = String(id) }
            guard let name else { problem("gpus[\(i)]", "a device name without commas or spaces, such as \"0\"", item); continue }
            guard !out.contains(name) else { problem("gpus[\(i)]", "a device not listed before", item); continue }
            out.append(name)
        }
        return out
    }

    mutating func names(_ field: String, _ v: JSONValue) -> [String]? {
        guard case .array(let items) = v else { problem(field, "an array of names or numeric ids", v); return nil }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item, !s.isEmpty else {
                if case .number(let n) = item, let id = n.integer, id >= 0 { out.append(String(id)); continue }
                problem("\(field)[\(i)]", "a name or a numeric id", item)
                continue
            }
            out.append(s)
        }
        return out
    }

    mutating func integer(_ field: String, _ v: JSONValue, min: Int, max: Int) -> Int? {
        guard case .number(let n) = v, let i = n.integer, i >= min else {
            problem(field, "an integer >= \(min)", v)
            return nil
        }
        guard i <= max else { problem(field, "an integer <= \(max)", v); return nil }
        return Int(i)
    }

    /// A duration in seconds: at least `min` (more than `min` when `exclusive`), at most one year.
    mutating func seconds(_ field: String, _ v: JSONValue, min: Double, exclusive: Bool = false) -> Double? {
        let rule = "a number \(exclusive ? ">" : ">=") \(format(min))"
        guard case .number(let n) = v, n.double.isFinite, exclusive ? n.double > min : n.double >= min else {
            problem(field, rule, v)
            return nil
        }
        guard n.double <= maxSeconds else { problem(field, "at most \(format(maxSeconds)) (one year)", v); return nil }
        return n.double
    }

    func format(_ d: Double) -> String {
        d == d.rounded() && abs(d) < 1e15 ? String(Int64(d)) : "\(d)"
    }

    mutating func queues(_ v: JSONValue) -> [String: DaemonConfig.Queue]? {
        guard case .object(let obj) = v else {
            problem("queues", "an object of queue names to {\"max_running\": N}", v)
            return nil
        }
        var out: [String: DaemonConfig.Queue] = [:]
        for (name, value) in obj.members {
            guard JobID.isValid(name) else {
                problems.append("\(file): field \"queues\" must have queue names from [A-Za-z0-9._-] starting with a letter or digit, got \"\(name)\"")
                continue
            }
            let field = "queues.\(name)"
            guard case .object(let q) = value else {
                problem(field, "an object such as {\"max_running\": 2}", value)
                continue
            }
            unknownFields(q, prefix: field + ".", allowed: ["max_running", "executor", "sbatch_args"])
            var queue = DaemonConfig.Queue(maxRunning: nil)
            if let limit = q["max_running"] {
                guard let n = integer("\(field).max_running", limit, min: 1, max: 10_000) else { continue }
                queue.maxRunning = n
            }
            if let e = q["executor"] {
                let names = DaemonConfig.QueueExecutor.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: " or ")
                guard case .string(let s) = e, let executor = DaemonConfig.QueueExecutor(rawValue: s) else {
                    problem("\(field).executor", names, e)
                    continue
                }
                queue.executor = executor
            }
            if let a = q["sbatch_args"] {
                guard case .array(let items) = a else {
                    problem("\(field).sbatch_args", "an array of strings such as [\"--partition=batch\"]", a)
                    continue
                }
                var args: [String] = []
                for (i, item) in items.enumerated() {
                    guard case .string(let s) = item, !s.isEmpty, !s.utf8.contains(0) else {
                        problem("\(field).sbatch_args[\(i)]", "a non-empty string (one argument each, such as \"--partition=batch\" or \"-p\", \"batch\")", item)
                        continue
                    }
                    if let own = reservedSbatchOptions.first(where: { s == $0 || s.hasPrefix($0 + (($0.hasPrefix("--")) ? "=" : "")) }) {
                        problems.append("\(file): field \"\(field).sbatch_args[\(i)]\" must not set \(own): spoold sets it itself (the job's name is how a restart finds it, its output is the wrapper's, and only spoold reruns an attempt)")
                        continue
                    }
                    args.append(s)
                }
                guard queue.executor == .slurm else {
                    problems.append("\(file): field \"\(field).sbatch_args\" needs \"executor\": \"slurm\" in the same queue")
                    continue
                }
                queue.sbatchArgs = args
            }
            if queue.maxRunning == nil && queue.executor == .local {
                problems.append("\(file): field \"\(field).max_running\" is required (an integer >= 1) unless \"executor\" is \"slurm\"")
                continue
            }
            out[name] = queue
        }
        return out
    }

    mutating func retention(_ v: JSONValue) -> DaemonConfig.Retention? {
        guard case .object(let obj) = v else {
            problem("retention", "an object such as {\"done_max_age_seconds\": 604800}", v)
            return nil
        }
        unknownFields(obj, prefix: "retention.", allowed: ["done_max_age_seconds", "statuses"])
        var r = DaemonConfig.Retention()
        r.doneMaxAgeSeconds = obj["done_max_age_seconds"].flatMap {
            seconds("retention.done_max_age_seconds", $0, min: 0, exclusive: true)
        }
        if let list = obj["statuses"] {
            r.statuses = statuses(list)
            if obj["done_max_age_seconds"] == nil {
                problems.append("\(file): field \"retention.statuses\" has no effect without \"retention.done_max_age_seconds\"")
            }
        }
        return r
    }

    mutating func statuses(_ v: JSONValue) -> [JobStatus]? {
        let names = terminalStatuses.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
        guard case .array(let items) = v, !items.isEmpty else {
            problem("retention.statuses", "a non-empty array of statuses from \(names)", v)
            return nil
        }
        var out: [JobStatus] = []
        for (i, item) in items.enumerated() {
            guard case .string(let s) = item, let status = JobStatus(rawValue: s), status.isTerminal else {
                problem("retention.statuses[\(i)]", "one of \(names)", item)
                continue
            }
            if !out.contains(status) { out.append(status) }
        }
        return out
    }
}
