// How spoolctl talks: results on stdout, `spoolctl: error: ...` on stderr, exit codes
// 0 (ok), 1 (a job failed, or was not found), 64 (usage).
import Foundation
import SpoolCore
import SpoolJSON

enum Exit {
    static let ok: Int32 = 0
    static let failure: Int32 = 1
    static let usage: Int32 = 64
}

struct CommandFailure: Error {
    var message: String
    var code: Int32 = Exit.failure
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("spoolctl: error: \(message)\n".utf8))
}

var isTerminal: Bool { isatty(1) == 1 }

/// Seconds as a short human duration ("0.012s", "3m05s").
func humanDuration(_ s: Double?) -> String {
    guard let s else { return "-" }
    if s < 60 { return String(format: "%.3fs", s) }
    if s < 3600 { return String(format: "%dm%02ds", Int(s) / 60, Int(s) % 60) }
    return String(format: "%dh%02dm", Int(s) / 3600, (Int(s) % 3600) / 60)
}

/// Left-aligned columns separated by two spaces.
func table(_ header: [String], _ rows: [[String]]) -> String {
    var widths = header.map(\.count)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    func line(_ cells: [String]) -> String {
        cells.enumerated().map { i, c in i == cells.count - 1 ? c : c.padding(toLength: widths[i], withPad: " ", startingAt: 0) }
            .joined(separator: "  ")
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n")
}

func jsonText<T: Encodable>(_ value: T) -> String {
    orderedJSONText(value)  // records' key order: params as in the job file, not sorted
}

func jobID(_ text: String) throws(UsageError) -> JobID {
    guard let id = JobID(text) else { throw UsageError(message: "\"\(text)\" is not a valid job id") }
    return id
}

/// Prints a JSON value: pretty by default, one line for NDJSON streams.
func printJSON(_ value: JSONValue, pretty: Bool = true) {
    print(value.serialized(pretty: pretty))
    if !pretty { fflush(nil) }
}

/// Any Encodable (a record) as a JSONValue, so that fields can be added to it: in the record's
/// key order (params as in the job file), without a detour through text and its depth limit.
func jsonValue<T: Encodable>(_ value: T) -> JSONValue {
    do {
        return try JSONValueEncoder().encode(value)
    } catch {
        // Our own records always encode; say so loudly rather than print null.
        printError("cannot encode \(T.self) as JSON: \(error)")
        exit(Exit.failure)
    }
}

extension JSONValue {
    static func str(_ s: String?) -> JSONValue { s.map { .string($0) } ?? .null }
    static func num(_ d: Double?) -> JSONValue { d.map { .number($0) } ?? .null }

    /// An object with one more member (values other than objects are returned unchanged).
    func adding(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var o) = self else { return self }
        o[key] = value
        return .object(o)
    }
}

/// The daemon's presence, and the stderr line of SPEC §7 when none holds the spool.
func daemonRunning(_ client: SpoolClient, quiet: Bool) -> Bool {
    switch client.daemonPresence() {
    case .running, .unknown: return true  // unknown: the lock is not readable by this user; no false alarm
    case .stopped: break
    }
    if !quiet { printNote(noDaemonSentence(client)) }
    return false
}

func noDaemonSentence(_ client: SpoolClient) -> String {
    "no daemon is running on spool \(client.layout.root) (start it with: spoold --spool \(client.layout.root))"
}

/// A notice on stderr that is not an error: `spoolctl: ...`.
func printNote(_ message: String) {
    FileHandle.standardError.write(Data("spoolctl: \(message)\n".utf8))
}
