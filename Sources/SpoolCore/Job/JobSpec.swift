import SpoolJSON

// The accepted job: the fields of SPEC §3 after validation, written back into every state file
// as `spec`. Optional fields that were absent stay absent; defaults are applied by readers.

/// What to run.
public enum JobAction: Sendable, Equatable {
    case command([String])
    case shell(String)
}

/// What happens to a running job when the daemon dies or stops.
public enum InterruptPolicy: String, Codable, Sendable {
    case requeue, fail
}

/// A validated job file.
public struct JobSpec: Sendable, Equatable, Codable {
    public var id: JobID?
    public var name: String?
    public var command: [String]?
    public var shell: String?
    public var cwd: String?
    public var env: [String: String]?
    public var timeoutSeconds: Double?
    public var retries: Int?
    public var retryDelaySeconds: Double?
    public var priority: Int?
    public var queue: String?
    public var notBefore: Timestamp?
    public var onInterrupt: InterruptPolicy?
    public var labels: [String: String]?
    /// A batch: operations run under one job, each with its own result.
    public var operations: [OperationSpec]?
    public var maxParallel: Int?
    public var stopOnError: Bool?
    /// Jobs that must succeed before this one starts.
    public var after: [JobID]?
    /// A follow-up job object, dropped into the inbox when this job ends.
    public var onComplete: JSONValue?
    /// The record and outputs are removed this long after the job ended (overrides retention).
    public var ttlSeconds: Double?
    /// What one run of the job (or of each of its operations) needs.
    public var resources: Resources?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case id, name, command, shell, cwd, env
        case timeoutSeconds = "timeout_seconds"
        case retries
        case retryDelaySeconds = "retry_delay_seconds"
        case priority, queue
        case notBefore = "not_before"
        case onInterrupt = "on_interrupt"
        case labels, operations
        case maxParallel = "max_parallel"
        case stopOnError = "stop_on_error"
        case after
        case onComplete = "on_complete"
        case ttlSeconds = "ttl_seconds"
        case resources
    }

    public init(action: JobAction) {
        switch action {
        case .command(let argv): command = argv
        case .shell(let line): shell = line
        }
    }

    public init(operations: [OperationSpec]) {
        self.operations = operations
    }

    public var isBatch: Bool { operations != nil }

    public var action: JobAction {
        if let command { return .command(command) }
        return .shell(shell ?? "")
    }

    public var effectiveRetries: Int { retries ?? 0 }
    public var effectiveRetryDelay: Double { retryDelaySeconds ?? 1 }
    public var effectivePriority: Int { priority ?? 0 }
    public var effectiveQueue: String { queue ?? "default" }
    public var effectiveOnInterrupt: InterruptPolicy { onInterrupt ?? .requeue }
    public var effectiveMaxParallel: Int { maxParallel ?? 1 }
    public var effectiveStopOnError: Bool { stopOnError ?? false }
    /// Worker slots one run takes (`resources.cpus`, default 1).
    public var effectiveCPUs: Int { resources?.cpus ?? 1 }
    /// GPUs one run is given (`resources.gpus`, default 0).
    public var effectiveGPUs: Int { resources?.gpus ?? 0 }
}

/// SPEC §3 `resources`: what one run needs. Locally `cpus` takes that many `--workers` slots and
/// `gpus` that many devices from the spool's configured list; remote executors pass them on.
public struct Resources: Sendable, Equatable, Codable {
    public var cpus: Int?
    public var memoryMB: Int?
    public var gpus: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case cpus
        case memoryMB = "memory_mb"
        case gpus
    }

    public init(cpus: Int? = nil, memoryMB: Int? = nil, gpus: Int? = nil) {
        self.cpus = cpus
        self.memoryMB = memoryMB
        self.gpus = gpus
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encodeIfPresent(cpus, forKey: .cpus)
        try c.encodeIfPresent(memoryMB, forKey: .memoryMB)
        try c.encodeIfPresent(gpus, forKey: .gpus)
    }
}
