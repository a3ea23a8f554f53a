// The contract of a built-in batch operation: a pure function from its `params` to a `result`.
// Bad params throw a BuiltinError naming the param; nothing here may crash the daemon.
import SpoolJSON

/// Why a built-in operation failed: a sentence naming the param and what was expected.
public struct BuiltinError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// What the operation got before it failed, kept in the record's `result` (an http response
    /// with an unexpected status); nil when there is nothing to show.
    public var result: JSONValue?
    public init(_ message: String, result: JSONValue? = nil) {
        self.message = message
        self.result = result
    }
    public var description: String { message }
}

/// One built-in operation type, such as `descriptive_stats`. A new type is one new file plus a line in `BuiltinRegistry`.
public protocol BuiltinOperation: Sendable {
    /// The `type` string of the operation object.
    static var typeName: String { get }
    /// The params it accepts: checked by `validate(params:)` at submit time and again by `run`.
    static var schema: ParamSchema { get }
    /// Runs the operation. `params` is the operation's `params` value (an object, or null when absent).
    func run(params: JSONValue) throws(BuiltinError) -> JSONValue
    /// True when `run` waits on the outside world (http): it then gets a thread of its own.
    static var blocks: Bool { get }
}

extension BuiltinOperation {
    public static var blocks: Bool { false }

    /// Every problem with `params` that can be found without running the operation (unknown,
    /// missing or mistyped params, values out of their set or range, bad combinations); empty when
    /// none. Problems that depend on the data itself (too few values, zero variance) show only in `run`.
    public func validate(params: JSONValue) -> [ParamProblem] {
        Self.schema.problems(params)
    }
}
