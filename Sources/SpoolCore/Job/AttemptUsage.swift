// What an attempt used and where it ran (SPEC §4 `usage` and `executor`), for a command job's
// record and each command operation's entry: CPU times and peak memory from the kernel's
// accounting of the reaped process group leader and its waited-for children (wait4's rusage).
// Peak memory is null when it was not above that of the process that started the attempt
// (InheritedPeak.swift).

import SpoolJSON

/// Resources a finished attempt used.
public struct ResourceUsage: Sendable, Equatable, Codable, JSONObjectEncodable {
    public var cpuUserSeconds: Double
    public var cpuSystemSeconds: Double
    /// Nil when the attempt's peak was not above the spawning process's own: not measurable.
    public var maxRSSBytes: Int64?

    enum CodingKeys: String, CodingKey {
        case cpuUserSeconds = "cpu_user_seconds"
        case cpuSystemSeconds = "cpu_system_seconds"
        case maxRSSBytes = "max_rss_bytes"
    }

    public init(cpuUserSeconds: Double, cpuSystemSeconds: Double, maxRSSBytes: Int64?) {
        self.cpuUserSeconds = cpuUserSeconds
        self.cpuSystemSeconds = cpuSystemSeconds
        self.maxRSSBytes = maxRSSBytes
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(cpuUserSeconds, forKey: .cpuUserSeconds)
        try c.encode(cpuSystemSeconds, forKey: .cpuSystemSeconds)
        try c.encode(maxRSSBytes, forKey: .maxRSSBytes)  // null, not left out: the field is always there
    }

    /// `encode(to:)`'s members, straight to bytes inside a record.
    public func writeMembers(_ m: inout JSONMembers) throws {
        try m.write(CodingKeys.cpuUserSeconds.stringValue, cpuUserSeconds)
        try m.write(CodingKeys.cpuSystemSeconds.stringValue, cpuSystemSeconds)
        try m.write(CodingKeys.maxRSSBytes.stringValue, maxRSSBytes)
    }
}

/// Where an attempt ran: `{"type": "local"}` here; remote engines add their own id and host.
public struct ExecutorInfo: Sendable, Equatable, Codable, JSONObjectEncodable {
    public var type: String
    public var jobID: String?
    public var host: String?

    enum CodingKeys: String, CodingKey {
        case type
        case jobID = "job_id"
        case host
    }

    public static let local = ExecutorInfo(type: "local")

    public init(type: String, jobID: String? = nil, host: String? = nil) {
        self.type = type
        self.jobID = jobID
        self.host = host
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encodeIfPresent(jobID, forKey: .jobID)
        try c.encodeIfPresent(host, forKey: .host)
    }

    /// `encode(to:)`'s members, straight to bytes inside a record.
    public func writeMembers(_ m: inout JSONMembers) throws {
        try m.write(CodingKeys.type.stringValue, type)
        m.writeIfPresent(CodingKeys.jobID.stringValue, jobID)
        m.writeIfPresent(CodingKeys.host.stringValue, host)
    }
}
