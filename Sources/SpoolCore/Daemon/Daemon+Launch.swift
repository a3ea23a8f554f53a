// Building a process for a job or a batch operation: program lookup in PATH, working directory,
// environment with the SPOOL_* variables, and output files in running/. Each check runs before
// posix_spawn so that a failure names what is wrong (posix_spawn itself says only ENOENT).
import Foundation

/// What to start, and where its output goes.
struct ProcessPlan {
    var id: JobID
    var action: JobAction
    var cwd: String?
    var env: [String: String]
    var attempt: Int
    var stdoutName: String
    var stderrName: String
    /// Extra variables (SPOOL_OPERATION_INDEX for operations).
    var extraEnv: [String: String] = [:]
    /// "job X" or "job X operations[3]", for messages.
    var label: String
    /// Run as this user and group (spoold as root); nil: as the daemon.
    var owner: JobOwner? = nil
}

extension Daemon {
    /// The plan for a single command or shell job.
    func plan(for record: JobRecord) -> ProcessPlan? {
        guard let spec = record.spec, !spec.isBatch else { return nil }
        return ProcessPlan(id: record.id, action: spec.action, cwd: spec.cwd, env: spec.env ?? [:], attempt: record.attempts,
                           stdoutName: JobFiles.stdout(record.id), stderrName: JobFiles.stderr(record.id), label: "job \(record.id)",
                           owner: record.owner)
    }

    func launch(_ plan: ProcessPlan) -> Result<pid_t, SpoolError> {
        let id = plan.id
        var env = environment
        for (k, v) in plan.env { env[k] = v }
        env["SPOOL_JOB_ID"] = id.rawValue
        env["SPOOL_ATTEMPT"] = String(plan.attempt)
        env["SPOOL_ROOT"] = layout.root
        env["SPOOL_PROGRESS"] = "\(layout.path(.running))/\(JobFiles.progress(id))"
        for (k, v) in plan.extraEnv { env[k] = v }

        let cwd: String
        if let c = plan.cwd { cwd = c.hasPrefix("/") ? c : "\(layout.root)/\(c)" } else { cwd = layout.root }
        var st = stat()
        guard stat(cwd, &st) == 0, st.st_mode & S_IFMT == S_IFDIR else {
            return .failure(SpoolError(.spawnFailed, "\(plan.label): working directory \"\(cwd)\" (cwd) does not exist or is not a directory"))
        }

        var executable: String
        var argv: [String]
        switch plan.action {
        case .command(let command):
            switch ExecutableLookup.resolve(command[0], searchPath: env["PATH"] ?? "/usr/local/bin:/usr/bin:/bin", cwd: cwd) {
            case .success(let path): executable = path
            case .failure(let e): return .failure(SpoolError(e.code, "\(plan.label): \(e.message)"))
            }
            argv = command
        case .shell(let line):
            executable = "/bin/sh"
            argv = ["sh", "-c", line]
        }

        if let owner = plan.owner, owner.uid != geteuid() || owner.gid != getegid() {
            // posix_spawn cannot change users: setpriv (util-linux) drops to the owner, then execs the job.
            guard ExecutableLookup.isExecutableFile("/usr/bin/setpriv") else {
                return .failure(SpoolError(.spawnFailed, "\(plan.label): cannot run as uid \(owner.uid): /usr/bin/setpriv (util-linux) is missing"))
            }
            let name = AccessPolicy.userName(owner.uid)
            argv = ["setpriv", "--reuid=\(owner.uid)", "--regid=\(owner.gid)", name == nil ? "--clear-groups" : "--init-groups",
                    "--", executable] + argv.dropFirst()
            executable = "/usr/bin/setpriv"
            if let name {
                env["USER"] = name
                env["LOGNAME"] = name
            }
        }
        let out: Int32, err: Int32
        do {
            out = try store.createFile(plan.stdoutName, in: .running)
        } catch {
            return .failure(SpoolError(.spawnFailed, "\(plan.label): cannot create its output file: \(error)"))
        }
        defer { close(out) }
        do {
            err = try store.createFile(plan.stderrName, in: .running)
        } catch {
            return .failure(SpoolError(.spawnFailed, "\(plan.label): cannot create its output file: \(error)"))
        }
        defer { close(err) }
        let request = SpawnRequest(executable: executable, arguments: argv, environment: env.map { "\($0.key)=\($0.value)" },
                                   workingDirectory: cwd, stdoutFD: out, stderrFD: err)
        return Spawn.start(request).mapError { SpoolError($0.code, "\(plan.label): \($0.message)") }
    }
}
