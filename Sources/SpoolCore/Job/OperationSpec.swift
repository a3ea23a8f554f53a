// One operation of a batch (SPEC §3): a command, a shell line, or a built-in `type` with
// `params`, and an optional `name`. Command operations inherit the job's `cwd`, `env`,
// `timeout_seconds` and `retries` unless they set their own.
import SpoolJSON

/// A validated batch operation.
public struct OperationSpec: Sendable, Equatable, Codable {
    public var name: String?
    public var command: [String]?
    public var shell: String?
    public var type: String?
    public var params: JSONValue?
    public var cwd: String?
    public var env: [String: String]?
    public var timeoutSeconds: Double?
    public var retries: Int?

    enum CodingKeys: String, CodingKey, CaseIterable {
        case name, command, shell, type, params, cwd, env
        case timeoutSeconds = "timeout_seconds"
        case retries
    }

    public init() {}

    /// What the operation does.
    public enum Kind: Sendable, Equatable {
        case process(JobAction)
        case builtin(type: String, params: JSONValue)
    }

    public var kind: Kind {
        if let type { return .builtin(type: type, params: params ?? .null) }
        if let command { return .process(.command(command)) }
        return .process(.shell(shell ?? ""))
    }
}
