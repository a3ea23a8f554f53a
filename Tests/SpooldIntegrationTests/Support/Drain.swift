// Runs `spoold --drain` on a spool to completion.
import Foundation
import Testing

/// Runs spoold with --drain until it exits; returns (exit status, log).
@discardableResult
func drain(_ spool: TempSpool, workers: Int = 2, extra: [String] = [], environment: [String: String]? = nil, timeout: Double = 120,
           allowRoot: Bool = true, sourceLocation: SourceLocation = #_sourceLocation) -> (status: Int32?, log: String) {
    let d = DaemonProcess(spool: spool, workers: workers, extra: ["--drain"] + extra, environment: environment, allowRoot: allowRoot)
    let status = d.waitExit(timeout: timeout)
    #expect(status == 0, "spoold --drain exited with \(String(describing: status))\n\(d.log)", sourceLocation: sourceLocation)
    return (status, d.log)
}
