// Slurm's client programs (sbatch, squeue, scancel), run with posix_spawn and their output read
// through pipes. Each call blocks its caller: sbatch on the dispatcher thread of remote queues,
// squeue on the poller's thread, scancel on a queue of its own, never under the engine's lock.
// The programs are found in PATH once, at start; a missing one is a clear start-up error.
import Foundation

/// The Slurm client programs spoold uses.
struct SlurmCommands: Sendable {
    var sbatch: String
    var squeue: String
    var scancel: String
    /// The daemon's environment (SLURM_CONF and the like reach the programs).
    var environment: [String]

    /// What a client program said.
    struct Outcome: Sendable {
        var status: Int32
        var stdout: String
        var stderr: String
        /// The last line of stderr (or stdout), for a message.
        var reason: String {
            let text = stderr.isEmpty ? stdout : stderr
            return text.split(separator: "\n").last.map { String($0).trimmingCharacters(in: .whitespaces) } ?? "exit status \(status)"
        }
    }

    /// Finds the programs in `path`; or a sentence saying which one is missing.
    static func find(path: String, environment: [String: String]) -> Result<SlurmCommands, SpoolError> {
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"]
        func which(_ name: String) -> String? {
            dirs.lazy.map { "\($0)/\(name)" }.first { access($0, X_OK) == 0 }
        }
        var found: [String] = []
        for name in ["sbatch", "squeue", "scancel"] {
            guard let p = which(name) else {
                return .failure(SpoolError(.spawnFailed, "a queue has \"executor\": \"slurm\", but \(name) is not in PATH; install Slurm's client programs (Debian: slurm-client) on this host"))
            }
            found.append(p)
        }
        return .success(SlurmCommands(sbatch: found[0], squeue: found[1], scancel: found[2],
                                      environment: environment.map { "\($0.key)=\($0.value)" }))
    }

    /// Runs `program` with `arguments` to its end.
    func run(_ program: String, _ arguments: [String]) -> Outcome {
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        // pipe2 is not exported by Glibc's module; every spawn closes fds from 3 anyway (Spawn.swift).
        guard pipe(&out) == 0 else { return Outcome(status: -1, stdout: "", stderr: "pipe: \(String(cString: strerror(errno)))") }
        guard pipe(&err) == 0 else {
            close(out[0]); close(out[1])
            return Outcome(status: -1, stdout: "", stderr: "pipe: \(String(cString: strerror(errno)))")
        }
        for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        let request = SpawnRequest(executable: program, arguments: [program] + arguments, environment: environment,
                                   workingDirectory: "/", stdoutFD: out[1], stderrFD: err[1])
        let started = Spawn.start(request)
        close(out[1])
        close(err[1])
        defer { close(out[0]); close(err[0]) }
        guard case .success(let pid) = started else {
            if case .failure(let e) = started { return Outcome(status: -1, stdout: "", stderr: e.message) }
            return Outcome(status: -1, stdout: "", stderr: "")
        }
        // Both pipes at once, so that neither can fill up while the other is read.
        var stdout = [UInt8](), stderr = [UInt8]()
        var fds = [pollfd(fd: out[0], events: Int16(POLLIN), revents: 0), pollfd(fd: err[0], events: Int16(POLLIN), revents: 0)]
        var open = 2
        var chunk = [UInt8](repeating: 0, count: 65536)
        while open > 0 {
            if poll(&fds, 2, -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for i in 0..<2 where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = chunk.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress, $0.count) }
                if n < 0 && errno == EINTR { continue }
                if n <= 0 {
                    fds[i].fd = -1
                    open -= 1
                } else if i == 0 {
                    stdout += chunk[0..<n]
                } else {
                    stderr += chunk[0..<n]
                }
            }
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let code = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Outcome(status: code, stdout: String(decoding: stdout, as: UTF8.self), stderr: String(decoding: stderr, as: UTF8.self))
    }

    /// A Slurm job as squeue lists it (finished ones too, for MinJobAge after their end).
    struct Listed: Sendable, Equatable {
        var jobID: String
        var state: String
        var node: String?
    }

    /// The jobs named `tokens` that the controller knows, by name; nil when squeue failed (the
    /// controller is unreachable: nothing can be concluded).
    func list(_ tokens: [String]) -> [String: Listed]? {
        var found: [String: Listed] = [:]
        var start = 0
        while start < tokens.count {
            let chunk = tokens[start..<min(tokens.count, start + 200)]
            start += chunk.count
            let o = run(squeue, ["-h", "-t", "all", "-o", "%j|%i|%T|%N", "--name=" + chunk.joined(separator: ",")])
            guard o.status == 0 else { return nil }
            for line in o.stdout.split(separator: "\n") {
                let f = line.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
                guard f.count >= 4 else { continue }
                let listed = Listed(jobID: f[1], state: f[2], node: f[3].isEmpty ? nil : f[3])
                // A name resubmitted by hand is the newest one (the highest id).
                if let had = found[f[0]], (Int(had.jobID) ?? 0) > (Int(listed.jobID) ?? 0) { continue }
                found[f[0]] = listed
            }
        }
        return found
    }

    /// States in which a Slurm job will not run its wrapper again.
    static let finished: Set<String> = ["COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED",
                                        "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY", "SPECIAL_EXIT", "REVOKED"]
}
