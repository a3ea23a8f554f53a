// Starting a job's process with posix_spawn (never Foundation.Process, see notes/swift-linux.md):
// its own process group (so teardown is kill(-pgid)), an empty signal mask and default
// dispositions (Dispatch threads block TERM/INT/HUP/CHLD and the daemon ignores PIPE), stdin
// from /dev/null, stdout/stderr to the given fds, nothing else inherited (closefrom 3), and the
// working directory set in the child. Errors are checked before the call where posix_spawn
// would only say ENOENT, so the record can say which of program, cwd or output is wrong.
import Foundation
import CSpoolShim

/// Everything needed to start one process.
public struct SpawnRequest: Sendable {
    public var executable: String
    public var arguments: [String]
    public var environment: [String]
    public var workingDirectory: String
    public var stdoutFD: Int32
    public var stderrFD: Int32
}

public enum Spawn {
    /// Starts the process; returns its pid (also its process group id).
    public static func start(_ req: SpawnRequest) -> Result<pid_t, SpoolError> {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }

        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, req.stdoutFD, 1)
        posix_spawn_file_actions_adddup2(&actions, req.stderrFD, 2)
        cshim_spawn_addchdir(&actions, req.workingDirectory)
        cshim_spawn_addclosefrom(&actions, 3)

        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attr, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attr, &all)
        posix_spawnattr_setpgroup(&attr, 0)
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        let argv = req.arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = req.environment.map { strdup($0) } + [nil]
        defer { envp.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, req.executable, &actions, &attr, argv, envp)
        guard rc == 0 else {
            return .failure(SpoolError(.spawnFailed, "cannot start \"\(req.executable)\": \(String(cString: strerror(rc))) (errno \(rc))"))
        }
        return .success(pid)
    }
}

/// Finding the program of a `command` job before spawning, for clear errors.
public enum ExecutableLookup {
    /// The path to run for `name`: itself if it has a '/', else the first executable match in `searchPath`.
    public static func resolve(_ name: String, searchPath: String, cwd: String) -> Result<String, SpoolError> {
        if name.utf8.contains(UInt8(ascii: "/")) {  // not Foundation's contains: a CFString search per start
            let full = name.hasPrefix("/") ? name : "\(cwd)/\(name)"
            return isExecutableFile(full)
                ? .success(full)
                : .failure(SpoolError(.spawnFailed, "program \"\(name)\" does not exist or is not an executable file"))
        }
        for dir in searchPath.split(separator: ":", omittingEmptySubsequences: false) {
            let base = dir.isEmpty ? "." : String(dir)
            let candidate = base.hasPrefix("/") ? "\(base)/\(name)" : "\(cwd)/\(base)/\(name)"
            if isExecutableFile(candidate) { return .success(candidate) }
        }
        return .failure(SpoolError(.spawnFailed, "program \"\(name)\" was not found in PATH (\(searchPath))"))
    }

    static func isExecutableFile(_ path: String) -> Bool {
        var st = stat()
        guard stat(path, &st) == 0, st.st_mode & S_IFMT == S_IFREG else { return false }
        return access(path, X_OK) == 0
    }
}
