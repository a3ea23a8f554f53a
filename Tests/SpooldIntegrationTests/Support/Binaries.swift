// The built spoold and spoolctl. `swift test` builds every product, so they sit in the same
// build folder as the test bundle; if one is missing the test fails and says so.
import Foundation
import TestTools

enum Binaries {
    static let directory: String = {
        var candidates: [String] = []
        let arg0 = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        candidates.append(arg0.path)
        candidates.append(arg0.deletingLastPathComponent().path)
        // Package root from this file: Tests/SpooldIntegrationTests/Support/Binaries.swift
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug").path)
        for c in candidates where FileManager.default.isExecutableFile(atPath: "\(c)/spoold") { return c }
        return candidates[0]
    }()

    static var spoold: String { "\(directory)/spoold" }
    static var spoolctl: String { "\(directory)/spoolctl" }
}

/// The result of running a command to completion.
struct CommandResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a program to completion with posix_spawn, capturing its output through files.
func runCommand(_ path: String, _ args: [String], environment: [String: String]? = nil, timeout: Double = 60) -> CommandResult {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-cmd-\(UUID().uuidString)")
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let out = dir.appendingPathComponent("out").path
    let err = dir.appendingPathComponent("err").path
    let pid = spawnProcess(path, args, stdout: out, stderr: err, environment: environment)
    let status = waitForExit(pid, timeout: timeout)
    return CommandResult(status: status,
                         stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                         stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
}

/// Starts a program (TestTools.spawn: empty signal mask, stdin /dev/null); a crash point set in
/// the test's own environment is never passed on.
func spawnProcess(_ path: String, _ args: [String], stdout: String, stderr: String, environment: [String: String]? = nil) -> pid_t {
    switch TestTools.spawn(path, args, stdout: stdout, stderr: stderr, appendStderr: true, environment: environment ?? [:],
                           unset: environment?["SPOOLD_CRASH_AT"] == nil ? ["SPOOLD_CRASH_AT"] : []) {
    case .success(let pid): return pid
    case .failure(let e): preconditionFailure(e.reason)
    }
}

/// Waits for a child; returns its exit status, or 128+signal. Kills it after `timeout`.
func waitForExit(_ pid: pid_t, timeout: Double) -> Int32 {
    TestTools.waitForExit(pid, timeout: timeout)
}
