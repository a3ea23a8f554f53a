// Tools from outside the Swift toolchain that some tests use (python3's prometheus_client,
// systemd-analyze), provided by the tests themselves so that `swift test` alone passes on a fresh
// machine. Each tool is looked for, and installed when missing, once per test process (a static
// let) under a file lock in .build/test-tools, so two test processes never install at once and
// the second finds the first one's work. Where it cannot be had, `orSkip()` cancels the test with
// the reason and prints a SKIPPED-NEEDS-TOOL line, which .ci/run turns into a failure in CI.
import Foundation
import Testing

/// Why a tool a test needs could not be found or installed.
public struct ToolUnavailable: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

extension Result where Failure == ToolUnavailable {
    /// The tool; or, when it is unavailable, the current test is cancelled (reported as skipped) with
    /// the reason, after printing `SKIPPED-NEEDS-TOOL: <test>: <reason>` for .ci/run to find.
    public func orSkip() throws -> Success {
        switch self {
        case .success(let tool):
            return tool
        case .failure(let unavailable):
            let test = Test.current.map { $0.displayName ?? $0.name } ?? "?"
            TestTools.say("SKIPPED-NEEDS-TOOL: \(test): \(unavailable)")
            try Test.cancel(Comment(rawValue: unavailable.description))
        }
    }
}

public enum TestTools {
    /// The package root: this file is Tests/TestTools/TestTools.swift.
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    /// Where the tests install what they fetch: inside the build folder, so nothing outside the clone changes
    /// (Debian packages excepted, which only root installs).
    static let directory = root + "/.build/test-tools"

    /// Prints a line at once (stdout is a pipe under .ci/run, and a crash must not swallow it).
    public static func say(_ line: String) {
        print(line)
        fflush(nil)  // every C stream: Swift 6 will not name the global `stdout`
    }

    /// The first executable `name` in PATH, then in the usual system folders.
    public static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin"]
        return dirs.lazy.map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `body` holding an exclusive flock on .build/test-tools/<name>.lock, which other test processes share.
    static func withInstallLock<T>(_ name: String, _ body: () -> T) -> T {
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let fd = open("\(directory)/\(name).lock", O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        if fd >= 0 {
            while flock(fd, LOCK_EX) != 0 && errno == EINTR {}
        }
        defer { if fd >= 0 { close(fd) } }
        return body()
    }

    /// The result of a command run to completion.
    public struct Outcome: Sendable {
        /// Exit status, 128+signal, or -1 when it could not start and -2 when it was killed at the timeout.
        public var status: Int32
        public var stdout: String
        public var stderr: String
        public init(status: Int32, stdout: String, stderr: String) {
            self.status = status
            self.stdout = stdout
            self.stderr = stderr
        }
        /// The last line of stderr (or stdout), for a short reason.
        var lastLine: String {
            let text = stderr.isEmpty ? stdout : stderr
            return text.split(separator: "\n").last.map(String.init) ?? "(no output)"
        }
    }

    /// Why a program could not be started.
    public struct SpawnFailure: Error, Sendable {
        public var reason: String
    }

    /// Starts `path` with posix_spawn, an empty signal mask and default dispositions (test threads
    /// block signals): stdin, stdout and stderr from and to files, `environment` over ours, without
    /// the keys in `unset`.
    public static func spawn(_ path: String, _ args: [String], stdin: String = "/dev/null", stdout: String, stderr: String,
                             appendStderr: Bool = false, environment: [String: String] = [:], unset: [String] = []) -> Result<pid_t, SpawnFailure> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, stdin, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdout, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderr, O_WRONLY | O_CREAT | (appendStderr ? O_APPEND : O_TRUNC), 0o644)
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
        var env = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        for key in unset { env.removeValue(forKey: key) }
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, &attr, argv, envp)
        guard rc == 0 else { return .failure(SpawnFailure(reason: "cannot run \(path): \(String(cString: strerror(rc)))")) }
        return .success(pid)
    }

    /// Waits for a child; its exit status, 128+signal, -1 if it cannot be waited for, or -2 after
    /// killing it at the timeout.
    public static func waitForExit(_ pid: pid_t, timeout: Double) -> Int32 {
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let rc = waitpid(pid, &status, WNOHANG)
            if rc == pid { break }
            if rc < 0 && errno != EINTR { return -1 }
            if Date() > deadline {
                kill(pid, SIGKILL)
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                return -2
            }
            usleep(5_000)
        }
        return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    /// Runs `path` with `args` (posix_spawn, empty signal mask), `environment` added to ours, `stdin` as its input.
    public static func run(_ path: String, _ args: [String], environment: [String: String] = [:], stdin: String = "",
                           timeout: Double = 60) -> Outcome {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-tool-\(UUID().uuidString)").path
        try? FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (input, output, errors) = ("\(dir)/in", "\(dir)/out", "\(dir)/err")
        _ = FileManager.default.createFile(atPath: input, contents: Data(stdin.utf8))

        let pid: pid_t
        switch spawn(path, args, stdin: input, stdout: output, stderr: errors, environment: environment) {
        case .failure(let e): return Outcome(status: -1, stdout: "", stderr: e.reason)
        case .success(let p): pid = p
        }
        let status = waitForExit(pid, timeout: timeout)
        return Outcome(status: status, stdout: (try? String(contentsOfFile: output, encoding: .utf8)) ?? "",
                       stderr: (try? String(contentsOfFile: errors, encoding: .utf8)) ?? "")
    }

    /// Installs Debian packages with apt-get (after one `apt-get update` per process); nil, or why it failed.
    /// Only root can; apt's own lock is waited for, since other processes on the machine may be using it.
    static func aptInstall(_ packages: [String]) -> String? {
        guard geteuid() == 0 else { return "not root, so apt-get install \(packages.joined(separator: " ")) is not possible" }
        guard let apt = which("apt-get") else { return "no apt-get to install \(packages.joined(separator: " ")) with" }
        let env = ["DEBIAN_FRONTEND": "noninteractive"]
        let wait = ["-o", "DPkg::Lock::Timeout=300"]
        return withInstallLock("apt") {
            if !aptUpdated.withLock({ $0 }) {
                say("test-tools: apt-get update")
                let update = run(apt, ["-qq"] + wait + ["update"], environment: env, timeout: 600)
                guard update.status == 0 else { return "apt-get update failed (exit \(update.status)): \(update.lastLine)" }
                aptUpdated.withLock { $0 = true }
            }
            say("test-tools: apt-get install -y \(packages.joined(separator: " "))")
            let install = run(apt, ["-qq", "-y", "--no-install-recommends"] + wait + ["install"] + packages,
                              environment: env, timeout: 900)
            guard install.status == 0 else {
                return "apt-get install \(packages.joined(separator: " ")) failed (exit \(install.status)): \(install.lastLine)"
            }
            return nil
        }
    }

    private static let aptUpdated = LockedValue(false)
}

/// A value behind a lock (the test tools' only shared mutable state).
final class LockedValue<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    init(_ value: Value) { self.value = value }
    func withLock<T>(_ body: (inout Value) -> T) -> T {
        lock.lock()
        defer { lock.unlock() }
        return body(&value)
    }
}
