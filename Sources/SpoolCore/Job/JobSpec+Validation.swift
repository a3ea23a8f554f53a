// Strict decoding of a job file (SPEC §3) from parsed JSON. Every problem is collected, so that
// `spoolctl validate` can print them all; the daemon rejects with all of them in one message.
// Unknown fields are errors: a typo such as "timeout" must not pass silently.
import SpoolJSON
import SpoolBuiltins

/// The fields that later features will bring; until then a file using them is rejected clearly.
private let notYetSupported: Set<String> = []

extension JobSpec {
    /// Limits applied while validating.
    public struct Limits: Sendable {
        public var maxArguments = 4096
        public var maxStringBytes = 256 * 1024
        /// Operations per batch job (`invalid_job` beyond it).
        public var maxOperations = 10_000
        /// What the spool can give one run, when known (the daemon knows; a client may not):
        /// a job asking for more can never run and is rejected naming the field.
        public var maxCPUs: Int?
        public var gpuCount: Int?
        public var maxMemoryMB: Int?
        /// Queues whose jobs run on a remote engine (Slurm): the cluster, not this host, decides what fits.
        public var remoteQueues: Set<String> = []

        /// Sets what the spool can give one run: its workers, its GPUs and the machine's memory.
        public mutating func offer(workers: Int, gpus: Int, memoryMB: Int?) {
            maxCPUs = workers
            gpuCount = gpus
            maxMemoryMB = memoryMB
        }
        public init() {}
    }

    /// Validates a parsed job file. `file` names it in messages (e.g. "inbox/x.json").
    public static func validate(_ value: JSONValue, file: String, limits: Limits = Limits()) -> Result<JobSpec, JobSpecProblems> {
        var v = Validator(file: file, limits: limits)
        let spec = v.run(value)
        if let spec, v.problems.isEmpty { return .success(spec) }
        return .failure(JobSpecProblems(problems: v.problems))
    }

    /// Parses and validates job file bytes.
    public static func parse(_ bytes: [UInt8], file: String, limits: Limits = Limits()) -> Result<JobSpec, JobSpecProblems> {
        let value: JSONValue
        do {
            value = try JSONParser().parse(bytes)
        } catch {
            return .failure(JobSpecProblems(problems: [SpoolError(.invalidJSON, "\(file): not valid JSON: \(error)")]))
        }
        return validate(value, file: file, limits: limits)
    }
}

/// Everything wrong with a job file, in the order found.
public struct JobSpecProblems: Error, Sendable, Equatable {
    public var problems: [SpoolError]

    /// One error for the record: the first problem's code, the messages joined (at most 20 of them).
    public var combined: SpoolError {
        var text = problems.prefix(20).map(\.message).joined(separator: "; ")
        if problems.count > 20 { text += "; and \(problems.count - 20) more problems" }
        return SpoolError(problems.first?.code ?? .invalidJob, text)
    }
}

private struct Validator {
    let file: String
    let limits: JobSpec.Limits
    var problems: [SpoolError] = []
    /// How many on_complete levels deep this validator is.
    var depth = 0

    init(file: String, limits: JobSpec.Limits) {
        self.file = file
        self.limits = limits
    }

    mutating func problem(_ field: String, _ expected: String, _ got: JSONValue?) {
        problems.append(.invalidJob(file: file, field: field, expected: expected, got: got.map(describe)))
    }

    /// A key or name as it may appear in a message: hostile files have megabyte-long keys.
    func short(_ s: String) -> String {
        s.count > 64 ? String(s.prefix(64)) + "...(\(s.utf8.count) bytes)" : s
    }

    func describe(_ v: JSONValue) -> String {
        switch v {
        case .string(let s):
            let shown = s.count > 40 ? String(s.prefix(40)) + "..." : s
            return "\"\(shown)\""
        case .number(let n): return n.integer.map(String.init) ?? "\(n.double)"
        case .bool(let b): return b ? "true" : "false"
        default: return v.typeDescription
        }
    }

    mutating func run(_ value: JSONValue) -> JobSpec? {
        guard case .object(let obj) = value else {
            problems.append(SpoolError(.invalidJob, "\(file): a job file must be a JSON object, got \(value.typeDescription)"))
            return nil
        }
        let known = Set(JobSpec.CodingKeys.allCases.map(\.rawValue))
        let unknown = obj.keys.filter { !known.contains($0) && !notYetSupported.contains($0) }
        for key in obj.keys where notYetSupported.contains(key) {
            problems.append(SpoolError(.invalidJob, "\(file): field \"\(short(key))\" is not supported yet by this spoold"))
        }
        if !unknown.isEmpty {
            // One message for all of them: a hostile file may have a million.
            let shown = unknown.prefix(5).map { "\"\(short($0))\"" }.joined(separator: ", ")
            let more = unknown.count > 5 ? " and \(unknown.count - 5) more" : ""
            problems.append(SpoolError(.invalidJob, "\(file): unknown field\(unknown.count == 1 ? "" : "s") \(shown)\(more) (allowed: \(JobSpec.CodingKeys.allCases.map(\.rawValue).joined(separator: ", ")))"))
        }
        let command = obj["command"].flatMap { stringArray("command", $0, nonEmpty: true) }
        let shell = obj["shell"].flatMap { string("shell", $0, nonEmpty: true) }
        let operations = obj["operations"].flatMap { operationList($0) }
        let given = ["command", "shell", "operations"].filter { obj[$0] != nil }
        if given.isEmpty {
            problems.append(SpoolError(.invalidJob, "\(file): one of the fields \"command\", \"shell\" or \"operations\" is required"))
        } else if given.count > 1 {
            problems.append(SpoolError(.invalidJob, "\(file): fields \(given.map { "\"\($0)\"" }.joined(separator: " and ")) are exclusive: give only one"))
        }
        var spec: JobSpec
        if let operations {
            spec = JobSpec(operations: operations)
        } else {
            spec = JobSpec(action: command.map(JobAction.command) ?? .shell(shell ?? ""))
        }
        for key in ["max_parallel", "stop_on_error"] where obj[key] != nil && obj["operations"] == nil {
            problems.append(SpoolError(.invalidJob, "\(file): field \"\(key)\" is only for batches (jobs with \"operations\")"))
        }
        spec.after = obj["after"].flatMap { v -> [JobID]? in
            guard case .array(let items) = v, !items.isEmpty, items.count <= 1000 else {
                problem("after", "a non-empty array of at most 1000 job ids", v)
                return nil
            }
            var ids: [JobID] = []
            for (i, item) in items.enumerated() {
                guard case .string(let s) = item, let id = JobID(s) else {
                    problem("after[\(i)]", "a job id", item)
                    return nil
                }
                if !ids.contains(id) { ids.append(id) }
            }
            if let own = obj["id"]?.stringValue, ids.contains(where: { $0.rawValue == own }) {
                problems.append(SpoolError(.invalidJob, "\(file): field \"after\" names the job itself (\"\(short(own))\"): a job cannot wait for itself"))
                return nil
            }
            return ids
        }
        if let follow = obj["on_complete"] {
            if depth >= 8 {
                problems.append(SpoolError(.invalidJob, "\(file): field \"on_complete\" is nested more than 8 levels deep"))
            } else {
                var inner = Validator(file: "\(file) field \"on_complete\"", limits: limits)
                inner.depth = depth + 1
                _ = inner.run(follow)
                if inner.problems.isEmpty { spec.onComplete = follow } else { problems += inner.problems }
            }
        }
        spec.maxParallel = obj["max_parallel"].flatMap { integer("max_parallel", $0, range: 1...10_000, rule: "an integer from 1 to 10000") }
        spec.stopOnError = obj["stop_on_error"].flatMap { v in
            guard case .bool(let b) = v else { problem("stop_on_error", "true or false", v); return nil }
            return b
        }
        if let v = obj["id"] {
            if case .string(let s) = v, let id = JobID(s) {
                spec.id = id
            } else {
                problem("id", "a string of 1 to 128 characters from [A-Za-z0-9._-] starting with a letter or digit", v)
            }
        }
        spec.name = obj["name"].flatMap { string("name", $0, nonEmpty: true) }
        spec.cwd = obj["cwd"].flatMap { string("cwd", $0, nonEmpty: true) }  // relative paths start at the spool root
        spec.env = obj["env"].flatMap { stringMap("env", $0, keyCheck: { !$0.isEmpty && !$0.contains("=") }, keyRule: "non-empty names without '='") }
        spec.labels = obj["labels"].flatMap { stringMap("labels", $0, keyCheck: { !$0.isEmpty }, keyRule: "non-empty names") }
        spec.timeoutSeconds = obj["timeout_seconds"].flatMap { positiveNumber("timeout_seconds", $0, allowZero: false) }
        spec.retryDelaySeconds = obj["retry_delay_seconds"].flatMap { positiveNumber("retry_delay_seconds", $0, allowZero: true) }
        spec.ttlSeconds = obj["ttl_seconds"].flatMap { positiveNumber("ttl_seconds", $0, allowZero: false) }
        let remote = obj["queue"].map { limits.remoteQueues.contains($0.stringValue ?? "") } ?? limits.remoteQueues.contains("default")
        spec.resources = obj["resources"].flatMap { resources($0, remote: remote) }
        spec.retries = obj["retries"].flatMap { integer("retries", $0, range: 0...1000, rule: "an integer from 0 to 1000") }
        spec.priority = obj["priority"].flatMap {
            integer("priority", $0, range: -1_000_000...1_000_000, rule: "an integer from -1000000 to 1000000")
        }
        spec.queue = obj["queue"].flatMap { v in
            guard let s = string("queue", v, nonEmpty: true) else { return nil }
            guard JobID.isValid(s) else {
                problem("queue", "a name from [A-Za-z0-9._-] starting with a letter or digit", v)
                return nil
            }
            return s
        }
        spec.notBefore = obj["not_before"].flatMap { v in
            guard case .string(let s) = v, let t = Timestamp(rfc3339: s) else {
                problem("not_before", "an RFC 3339 time such as \"2026-11-23T10:00:00Z\"", v)
                return nil
            }
            // Records print years with four digits: keep times inside what they can say. Any time
            // before 1970 means "now" just as well, so it is kept as 1970-01-01.
            guard t.seconds < 253_402_300_800 else {
                problem("not_before", "a time before 10000-01-01", v)
                return nil
            }
            return t.seconds < 0 ? Timestamp(seconds: 0) : t
        }
        spec.onInterrupt = obj["on_interrupt"].flatMap { v in
            guard case .string(let s) = v, let p = InterruptPolicy(rawValue: s) else {
                problem("on_interrupt", "\"requeue\" or \"fail\"", v)
                return nil
            }
            return p
        }
        return spec
    }

    /// The `operations` array of a batch.
    mutating func operationList(_ v: JSONValue) -> [OperationSpec]? {
        guard case .array(let items) = v, !items.isEmpty else {
            problem("operations", "a non-empty array of operation objects", v)
            return nil
        }
        guard items.count <= limits.maxOperations else {
            problems.append(SpoolError(.invalidJob, "\(file): field \"operations\" has \(items.count) operations; the limit is \(limits.maxOperations) (max_operations in config.json, or --max-operations)"))
            return nil
        }
        var out: [OperationSpec] = []
        out.reserveCapacity(items.count)
        for (i, item) in items.enumerated() {
            if let op = operation("operations[\(i)]", item) { out.append(op) }
            if problems.count >= 20 { break }  // a 10,000-item mistake needs no 10,000 messages
        }
        return out.count == items.count ? out : nil
    }

    mutating func operation(_ field: String, _ v: JSONValue) -> OperationSpec? {
        guard case .object(let obj) = v else {
            problem(field, "an operation object", v)
            return nil
        }
        let allowed = OperationSpec.CodingKeys.allCases.map(\.rawValue)
        var ok = true
        for key in obj.keys where !allowed.contains(key) {
            problems.append(SpoolError(.invalidJob, "\(file): unknown field \"\(field).\(short(key))\" (allowed: \(allowed.joined(separator: ", ")))"))
            ok = false
        }
        var op = OperationSpec()
        let given = ["command", "shell", "type"].filter { obj[$0] != nil }
        if given.count != 1 {
            problems.append(SpoolError(.invalidJob, "\(file): \(field) must have exactly one of \"command\", \"shell\" or \"type\""))
            ok = false
        }
        op.name = obj["name"].flatMap { string("\(field).name", $0, nonEmpty: true) }
        op.command = obj["command"].flatMap { stringArray("\(field).command", $0, nonEmpty: true) }
        op.shell = obj["shell"].flatMap { string("\(field).shell", $0, nonEmpty: true) }
        if let t = obj["type"] {
            if case .string(let name) = t, let builtin = BuiltinRegistry.operation(named: name) {
                op.type = name
                // The type's own static checks of its params (a non-object params is reported below).
                if given == ["type"], obj["params"].map({ $0.objectValue != nil }) ?? true {
                    for p in builtin.validate(params: obj["params"] ?? .null) {
                        let path = "\(field).params" + (p.param.map { ".\(short($0))" } ?? "")
                        problems.append(SpoolError(.invalidJob, "\(file): field \"\(path)\": \(p.message)"))
                        ok = false
                    }
                }
            } else {
                problem("\(field).type", "one of \(BuiltinRegistry.all.keys.sorted().joined(separator: ", "))", t)
                ok = false
            }
        }
        if let p = obj["params"] {
            guard obj["type"] != nil else {
                problems.append(SpoolError(.invalidJob, "\(file): field \"\(field).params\" is only for built-in operations (with \"type\")"))
                return nil
            }
            guard case .object = p else { problem("\(field).params", "an object", p); return nil }
            op.params = p
        }
        if obj["type"] != nil {
            for key in ["cwd", "env"] where obj[key] != nil {
                problems.append(SpoolError(.invalidJob, "\(file): field \"\(field).\(key)\" is only for command and shell operations"))
                ok = false
            }
        }
        op.cwd = obj["cwd"].flatMap { string("\(field).cwd", $0, nonEmpty: true) }
        op.env = obj["env"].flatMap { stringMap("\(field).env", $0, keyCheck: { !$0.isEmpty && !$0.contains("=") }, keyRule: "non-empty names without '='") }
        op.timeoutSeconds = obj["timeout_seconds"].flatMap { positiveNumber("\(field).timeout_seconds", $0, allowZero: false) }
        op.retries = obj["retries"].flatMap { integer("\(field).retries", $0, range: 0...1000, rule: "an integer from 0 to 1000") }
        return ok && (op.command != nil || op.shell != nil || op.type != nil) ? op : nil
    }

    mutating func string(_ field: String, _ v: JSONValue, nonEmpty: Bool) -> String? {
        guard case .string(let s) = v else {
            problem(field, nonEmpty ? "a non-empty string" : "a string", v)
            return nil
        }
        if nonEmpty && s.isEmpty { problem(field, "a non-empty string", v); return nil }
        if s.utf8.count > limits.maxStringBytes {
            problem(field, "at most \(limits.maxStringBytes) bytes long", .string("(\(s.utf8.count) bytes)"))
            return nil
        }
        if s.utf8.contains(0) { problem(field, "a string without NUL characters", nil); return nil }
        return s
    }

    mutating func stringArray(_ field: String, _ v: JSONValue, nonEmpty: Bool) -> [String]? {
        guard case .array(let items) = v else {
            problem(field, "a non-empty array of strings", v)
            return nil
        }
        if nonEmpty && items.isEmpty { problem(field, "a non-empty array of strings", .string("[]")); return nil }
        if items.count > limits.maxArguments {
            problem(field, "an array of at most \(limits.maxArguments) strings", .string("\(items.count) items"))
            return nil
        }
        var out: [String] = []
        for (i, item) in items.enumerated() {
            guard let s = string("\(field)[\(i)]", item, nonEmpty: i == 0) else { return nil }
            out.append(s)
        }
        return out
    }

    /// `resources`: known keys only, each an integer in range, and within what the spool can give.
    /// `remote`: the job's queue runs on a remote engine, whose own limits apply (sbatch says).
    mutating func resources(_ v: JSONValue, remote: Bool) -> Resources? {
        guard case .object(let obj) = v else {
            problem("resources", "an object such as {\"cpus\": 2, \"memory_mb\": 4096, \"gpus\": 1}", v)
            return nil
        }
        let allowed = Resources.CodingKeys.allCases.map(\.rawValue)
        for key in obj.keys where !allowed.contains(key) {
            problems.append(SpoolError(.invalidJob, "\(file): unknown field \"resources.\(short(key))\" (allowed: \(allowed.joined(separator: ", ")))"))
        }
        var r = Resources()
        r.cpus = obj["cpus"].flatMap { integer("resources.cpus", $0, range: 1...100_000, rule: "an integer from 1 to 100000") }
        r.memoryMB = obj["memory_mb"].flatMap { integer("resources.memory_mb", $0, range: 1...1_000_000_000, rule: "an integer >= 1 (MiB)") }
        r.gpus = obj["gpus"].flatMap { integer("resources.gpus", $0, range: 0...10_000, rule: "an integer >= 0") }
        if remote { return r }
        if let cpus = r.cpus, let most = limits.maxCPUs, cpus > most {
            problems.append(SpoolError(.invalidJob, "\(file): field \"resources.cpus\" asks for \(cpus) worker slots; this spool runs \(most) at most (workers), so the job could never start"))
        }
        if let gpus = r.gpus, gpus > 0, let have = limits.gpuCount, gpus > have {
            let offer = have == 0 ? "this spool has no GPUs configured (\"gpus\" in config.json)" : "this spool has \(have) (\"gpus\" in config.json)"
            problems.append(SpoolError(.invalidJob, "\(file): field \"resources.gpus\" asks for \(gpus) GPUs; \(offer), so the job could never start"))
        }
        if let mb = r.memoryMB, let most = limits.maxMemoryMB, mb > most {
            problems.append(SpoolError(.invalidJob, "\(file): field \"resources.memory_mb\" asks for \(mb) MiB; this machine has \(most) MiB, so the job could never start"))
        }
        return r
    }

    mutating func stringMap(_ field: String, _ v: JSONValue, keyCheck: (String) -> Bool, keyRule: String) -> [String: String]? {
        guard case .object(let obj) = v else {
            problem(field, "an object of string values", v)
            return nil
        }
        var out: [String: String] = [:]
        for m in obj.members {
            guard keyCheck(m.key), !m.key.utf8.contains(0) else {
                problems.append(SpoolError(.invalidJob, "\(file): field \"\(field)\" must have \(keyRule), got key \"\(short(m.key))\""))
                return nil
            }
            guard let s = string("\(field).\(short(m.key))", m.value, nonEmpty: false) else { return nil }
            out[m.key] = s
        }
        return out
    }

    mutating func positiveNumber(_ field: String, _ v: JSONValue, allowZero: Bool) -> Double? {
        let rule = allowZero ? "a number >= 0" : "a number > 0"
        guard case .number(let n) = v, n.double.isFinite else { problem(field, rule, v); return nil }
        guard allowZero ? n.double >= 0 : n.double > 0 else { problem(field, rule, v); return nil }
        guard n.double <= 365 * 86400 * 100 else { problem(field, "at most 100 years in seconds", v); return nil }
        return n.double
    }

    mutating func integer(_ field: String, _ v: JSONValue, range: ClosedRange<Int>, rule: String) -> Int? {
        guard case .number(let n) = v, let i = n.integer, range.contains(Int(i)) else {
            problem(field, rule, v)
            return nil
        }
        return Int(i)
    }
}
