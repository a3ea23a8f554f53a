// The built spoold and spoolctl. `swift test` builds every product, so they sit in the same
// build folder as the test bundle; if one is missing the test fails and says so.
import Foundation

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

/// posix_spawn with an empty signal mask and default dispositions (test threads block signals).
func spawnProcess(_ path: String, _ args: [String], stdout: String, stderr: String, environment: [String: String]? = nil) -> pid_t {
    var fa = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&fa)
    defer { posix_spawn_file_actions_destroy(&fa) }
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&fa, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    posix_spawn_file_actions_addopen(&fa, 2, stderr, O_WRONLY | O_CREAT | O_APPEND, 0o644)
    var attr = posix_spawnattr_t()
    posix_spawnattr_init(&attr)
    defer { posix_spawnattr_destroy(&attr) }
    var none = sigset_t()
    sigemptyset(&none)
    posix_spawnattr_setsigmask(&attr, &none)
    var all = sigset_t()
    sigfillset(&all)
    posix_spawnattr_setsigdefault(&attr, &all)
    posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
    let argv = ([path] + args).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var env = ProcessInfo.processInfo.environment
    env.removeValue(forKey: "SPOOLD_CRASH_AT")
    for (k, v) in environment ?? [:] { env[k] = v }
    let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer { envp.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, path, &fa, &attr, argv, envp)
    precondition(rc == 0, "cannot start \(path): \(String(cString: strerror(rc)))")
    return pid
}

/// Waits for a child; returns its exit status, or 128+signal. Kills it after `timeout`.
func waitForExit(_ pid: pid_t, timeout: Double) -> Int32 {
    let deadline = Date().addingTimeInterval(timeout)
    var status: Int32 = 0
    while true {
        let rc = waitpid(pid, &status, WNOHANG)
        if rc == pid { break }
        if rc < 0 { return -1 }
        if Date() > deadline {
            kill(pid, SIGKILL)
            waitpid(pid, &status, 0)
            return -2
        }
        usleep(5_000)
    }
    if (status & 0x7f) == 0 { return (status >> 8) & 0xff }
    return 128 + (status & 0x7f)
}
