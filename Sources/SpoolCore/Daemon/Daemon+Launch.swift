// Building a job's process: program lookup in PATH, working directory, environment with the
// SPOOL_* variables, and output files in running/. Each check runs before posix_spawn so that a
// failure names what is wrong (posix_spawn itself says only ENOENT for all of them).
import Foundation

extension Daemon {
    func launch(_ record: JobRecord) -> Result<pid_t, SpoolError> {
        guard let spec = record.spec else {
            return .failure(SpoolError(.spawnFailed, "job \(record.id): its state file has no spec"))
        }
        let id = record.id
        var env = environment
        for (k, v) in spec.env ?? [:] { env[k] = v }
        env["SPOOL_JOB_ID"] = id.rawValue
        env["SPOOL_ATTEMPT"] = String(record.attempts)
        env["SPOOL_ROOT"] = layout.root
        env["SPOOL_PROGRESS"] = "\(layout.path(.running))/\(JobFiles.progress(id))"

        let cwd: String
        if let c = spec.cwd { cwd = c.hasPrefix("/") ? c : "\(layout.root)/\(c)" } else { cwd = layout.root }
        var st = stat()
        guard stat(cwd, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            return .failure(SpoolError(.spawnFailed, "job \(id): working directory \"\(cwd)\" (cwd) does not exist or is not a directory"))
        }

        let executable: String
        let argv: [String]
        switch spec.action {
        case .command(let command):
            switch ExecutableLookup.resolve(command[0], searchPath: env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", cwd: cwd) {
            case .success(let path): executable = path
            case .failure(let e): return .failure(SpoolError(e.code, "job \(id): \(e.message)"))
            }
            argv = command
        case .shell(let line):
            executable = "/bin/sh"
            argv = ["sh", "-c", line]
        }

        let out: Int32, err: Int32
        do {
            out = try store.createFile(JobFiles.stdout(id), in: .running)
        } catch {
            return .failure(SpoolError(.spawnFailed, "job \(id): cannot create its output file: \(error)"))
        }
        defer { close(out) }
        do {
            err = try store.createFile(JobFiles.stderr(id), in: .running)
        } catch {
            return .failure(SpoolError(.spawnFailed, "job \(id): cannot create its output file: \(error)"))
        }
        defer { close(err) }
        let request = SpawnRequest(executable: executable, arguments: argv, environment: env.map { "\($0.key)=\($0.value)" },
                                   workingDirectory: cwd, stdoutFD: out, stderrFD: err)
        return Spawn.start(request).mapError { SpoolError($0.code, "job \(id): \($0.message)") }
    }
}
