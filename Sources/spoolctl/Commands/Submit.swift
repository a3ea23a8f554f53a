// spoolctl submit: drop a job file, or build one from flags and `-- CMD ARGS...`. The job gets
// an explicit id (generated here when none is given) so that the id can be printed at once.
import Foundation
import SpoolCore
import SpoolJSON

enum Submit: Command {
    static let name = "submit"
    static let summary = "drop a job file, or one built from flags and a command; prints its id"
    static let usage = """
        Usage: spoolctl submit FILE [--id ID] [--name NAME] [--config FILE] [--json]
               spoolctl submit [--id ID] [--name NAME] [--timeout SECONDS] [--retries N] [--priority N]
                               [--not-before TIME] [--queue Q] [--cwd DIR] [--env K=V]... [--shell]
                               [--config FILE] [--json] -- CMD ARGS...

        Drops a job into the inbox (write to tmp/, then rename) and prints its id as the last word.
        With --shell, the words after -- are joined into one /bin/sh -c line. Without --id the id is
        made from --name, else the program's base name (for --shell and `sh -c` lines the first
        word's, or `shell`), else the file's name, plus a unique time-ordered suffix.
        The job is checked as the daemon would, with the limits of the spool's config.json (or
        --config FILE); exit 1, dropping nothing, if it is invalid or its id is already held by the
        spool (in inbox/, pending/, running/ or done/).
        --json: {"id": ID, "path": PATH, "daemon_running": bool}
        """

    /// Words that start a shell construct rather than name a program.
    static let shellKeywords: Set<String> = ["for", "while", "until", "if", "case", "select", "function", "{", "(", "((", "[[", "!",
                                             "do", "then", "exec", "time", "eval", "set", "export", "cd", "true", ":"]

    /// The id stem of `--shell` or `sh -c` line: its first word's base name, or "shell".
    static func shellStem(_ line: String) -> String {
        let words = line.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init)
        // Leading assignments (`A=1 prog`) are skipped.
        guard var word = words.first(where: { !($0.contains("=") && !$0.hasPrefix("=")) }) else { return "shell" }
        while word.hasSuffix(";") || word.hasSuffix("&") { word.removeLast() }
        if shellKeywords.contains(word) || word.isEmpty { return "shell" }
        if word.contains(where: { "$`'\"()<>|&;*?[]{}\\".contains($0) }) { return "shell" }
        let base = URL(fileURLWithPath: word).lastPathComponent
        return base.isEmpty || base == "/" ? "shell" : base
    }

    /// The id stem of a command: the program's base name, or for `sh -c LINE` the line's.
    static func commandStem(_ argv: [String], shell: Bool) -> String {
        if shell { return shellStem(argv.joined(separator: " ")) }
        let program = URL(fileURLWithPath: argv[0]).lastPathComponent
        let shells: Set<String> = ["sh", "bash", "dash", "zsh", "ksh", "ash"]
        if shells.contains(program), argv.count >= 3, argv[1] == "-c" { return shellStem(argv[2]) }
        return program.isEmpty ? "job" : program
    }

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let configPath = try args.value("--config")
        let idFlag = try args.value("--id")
        let nameFlag = try args.value("--name")
        let timeout = try args.double("--timeout", min: 0)
        let retries = try args.int("--retries", min: 0)
        let priority = try args.int("--priority")
        let notBefore = try args.value("--not-before")
        let queue = try args.value("--queue")
        let cwd = try args.value("--cwd")
        let envs = try args.values("--env")
        let asShell = try args.flag("--shell")
        var object: JSONObject
        var stem: String
        var file = "the job"
        if let trailing = args.trailing {
            guard !trailing.isEmpty else { throw UsageError(message: "nothing to run after --") }
            guard try args.positionals().isEmpty else { throw UsageError(message: "give either a job FILE or -- CMD ARGS..., not both") }
            object = JSONObject()
            if asShell {
                object["shell"] = .string(trailing.joined(separator: " "))
            } else {
                object["command"] = .array(trailing.map { .string($0) })
            }
            stem = commandStem(trailing, shell: asShell)
        } else {
            let files = try args.positionals()
            guard files.count == 1 else { throw UsageError(message: "give one job FILE, or -- CMD ARGS...") }
            file = files[0]
            guard let data = FileManager.default.contents(atPath: file) else {
                throw CommandFailure(message: "cannot read \(file)")
            }
            guard case .object(let o) = try? JSONParser().parse([UInt8](data)) else {
                throw CommandFailure(message: "\(file) is not a JSON object; run `spoolctl validate \(file)` for details")
            }
            object = o
            stem = URL(fileURLWithPath: file).deletingPathExtension().lastPathComponent
        }
        if let v = nameFlag {
            object["name"] = .string(v)
            stem = v
        }
        if let v = idFlag { object["id"] = .string(v) }
        if let v = timeout { object["timeout_seconds"] = .number(v) }
        if let v = retries { object["retries"] = .integer(v) }
        if let v = priority { object["priority"] = .integer(v) }
        if let v = notBefore { object["not_before"] = .string(v) }
        if let v = queue { object["queue"] = .string(v) }
        if let v = cwd { object["cwd"] = .string(v) }
        if !envs.isEmpty {
            var env = object["env"]?.objectValue ?? JSONObject()
            for e in envs {
                guard let eq = e.firstIndex(of: "="), eq != e.startIndex else { throw UsageError(message: "--env must be NAME=VALUE, got \"\(e)\"") }
                env[String(e[..<eq])] = .string(String(e[e.index(after: eq)...]))
            }
            object["env"] = .object(env)
        }
        if object["name"] == nil { object["name"] = .string(stem) }  // the inbox file is named after the id

        // Validate here too, so the user sees mistakes at once rather than as a rejection record.
        let id: String
        var explicit = true
        switch object["id"] {
        case .string(let given)?: id = given
        case nil:
            id = JobIDGenerator().next(stem: JobID.stem(of: FileName(stem + ".json"))).rawValue
            object["id"] = .string(id)
            explicit = false
        case let other?:
            throw CommandFailure(message: "\(file): field \"id\" must be a string, got \(other.typeDescription)")
        }
        let bytes = Array(JSONValue.object(object).serialized(pretty: true).utf8) + [0x0A]
        let limits = try JobLimits.load(spool: spool, config: configPath)
        let problems = limits.problems(bytes, file: file)
        if !problems.isEmpty { throw CommandFailure(message: problems.map(\.message).joined(separator: "; ")) }
        let client = try openSpool(spool, create: true)
        if explicit, let jid = JobID(id), let held = client.held(jid, maxInboxFileBytes: limits.maxJobBytes) {
            throw CommandFailure(message: "job id \"\(id)\" is already held by the spool (\(held.place)); nothing was submitted")
        }
        let path: String
        do {
            path = try client.drop(bytes, name: id)
        } catch let e as SystemError where e.errno == EEXIST {
            throw CommandFailure(message: "a job file for id \(id) is already waiting in \(client.layout.path(.inbox)); not replaced")
        }
        let running = daemonRunning(client, quiet: true)
        if json {
            printJSON(["id": .string(id), "path": .string(path), "daemon_running": .bool(running)])
        } else {
            if !running { printNote(noDaemonSentence(client) + "; the job waits in inbox/ until it starts") }
            print("submitted \(id)")
        }
        return Exit.ok
    }
}
