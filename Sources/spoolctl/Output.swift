// How spoolctl talks: results on stdout, `spoolctl: error: ...` on stderr, exit codes
// 0 (ok), 1 (a job failed, or was not found), 64 (usage).
import Foundation
import SpoolCore

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
