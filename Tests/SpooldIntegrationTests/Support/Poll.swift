// Waiting for a condition with a deadline instead of sleeping and hoping (pueue's wait helpers).
import Foundation
import Testing

/// Polls `condition` every 20 ms until it holds or `timeout` seconds pass; records an issue on timeout.
@discardableResult
func poll(timeout: Double = 30, _ what: String = "condition", sourceLocation: SourceLocation = #_sourceLocation,
          _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if try condition() { return true }
        usleep(20_000)
    }
    if try condition() { return true }
    Issue.record("timed out after \(timeout) s waiting for \(what)", sourceLocation: sourceLocation)
    return false
}
