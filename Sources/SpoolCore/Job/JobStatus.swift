// The status values of SPEC §4, as written in records.

/// A job's status on the wire.
public enum JobStatus: String, Codable, Sendable, CaseIterable {
    case pending, running, paused
    case succeeded, failed, partial, cancelled, rejected

    public var isTerminal: Bool {
        switch self {
        case .pending, .running, .paused: return false
        default: return true
        }
    }
}

/// The spool folder that holds a job's state file.
public enum SpoolFolder: String, Sendable, CaseIterable {
    case pending, running, done
}
