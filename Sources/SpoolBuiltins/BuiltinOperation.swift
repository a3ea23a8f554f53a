// The contract of a built-in batch operation: a pure function from its `params` to a `result`.
// Bad params throw a BuiltinError naming the param; nothing here may crash the daemon.
import SpoolJSON

/// Why a built-in operation failed: a sentence naming the param and what was expected.
public struct BuiltinError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// One built-in operation type, such as `descriptive_stats`. A new type is one new file plus a line in `BuiltinRegistry`.
public protocol BuiltinOperation: Sendable {
    /// The `type` string of the operation object.
    static var typeName: String { get }
    /// Runs the operation. `params` is the operation's `params` value (an object, or null when absent).
    func run(params: JSONValue) throws(BuiltinError) -> JSONValue
}
