// Every failure a user can see in a record: one of the SPEC §4 codes and a sentence that names
// the file, the field and what was expected.

/// A job-level error as stored in records: `{"code": ..., "message": ...}`.
public struct SpoolError: Error, Sendable, Equatable, Codable, CustomStringConvertible {
    public enum Code: String, Codable, Sendable, CaseIterable {
        case invalidJSON = "invalid_json"
        case invalidJob = "invalid_job"
        case duplicateID = "duplicate_id"
        case tooLarge = "too_large"
        case notARegularFile = "not_a_regular_file"
        case spawnFailed = "spawn_failed"
        case exitNonzero = "exit_nonzero"
        case killedBySignal = "killed_by_signal"
        case timeout = "timeout"
        case cancelled = "cancelled"
        case interrupted = "interrupted"
        case dependencyFailed = "dependency_failed"
        case operationFailed = "operation_failed"
        case forbidden = "forbidden"
        case outputFailed = "output_failed"
    }

    public var code: Code
    public var message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code.rawValue): \(message)" }

    static func invalidJob(file: String, field: String, expected: String, got: String? = nil) -> SpoolError {
        let tail = got.map { ", got \($0)" } ?? ""
        return SpoolError(.invalidJob, "\(file): field \"\(field)\" must be \(expected)\(tail)")
    }
}
