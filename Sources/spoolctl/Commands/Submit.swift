// spoolctl submit: drop a job file, or build one from flags and `-- CMD ARGS...`. The job gets
// an explicit id (generated here when none is given) so that the id can be printed at once.
import Foundation
import SpoolCore
import SpoolJSON

enum Submit: Command {
    static let name = "submit"
    static let usage = """
        Usage: spoolctl submit FILE
               spoolctl submit [--id ID] [--name NAME] [--timeout SECONDS] [--retries N] [--priority N]
                               [--not-before TIME] [--queue Q] [--cwd DIR] [--env K=V]... [--shell] -- CMD ARGS...

        Drops a job into the inbox (write to tmp/, then rename) and prints its id.
        With --shell, the words after -- are joined into one /bin/sh -c line.
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let idFlag = try args.value("--id")
        let nameFlag = try args.value("--name")
        let timeout = try args.double("--timeout", min: 0)
        let retries = try args.int("--retries", min: 0)
        let priority = try args.int("--priority")
        let notBefore = try args.value("--not-before")
        let queue = try args.value("--queue")
        let cwd = try args.value("--cwd")
        let envs = try args.values("--env")
        let asShell = args.flag("--shell")
        var object: JSONObject
        var stem: String
        var file = "the job"
        if let trailing = args.trailing {
            guard !trailing.isEmpty else { throw UsageError(message: "nothing to run after --") }
            _ = try args.positionals()
            object = JSONObject()
            if asShell {
                object["shell"] = .string(trailing.joined(separator: " "))
            } else {
                object["command"] = .array(trailing.map { .string($0) })
            }
            stem = URL(fileURLWithPath: trailing[0]).lastPathComponent
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
        if let v = idFlag { object["id"] = .string(v) }
        if let v = nameFlag { object["name"] = .string(v) }
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
        switch object["id"] {
        case .string(let given)?: id = given
        case nil:
            id = JobIDGenerator().next(stem: JobID.stem(of: FileName(stem + ".json"))).rawValue
            object["id"] = .string(id)
        case let other?:
            throw CommandFailure(message: "\(file): field \"id\" must be a string, got \(other.typeDescription)")
        }
        let bytes = Array(JSONValue.object(object).serialized(pretty: true).utf8) + [0x0A]
        if case .failure(let problems) = JobSpec.parse(bytes, file: file) {
            throw CommandFailure(message: problems.problems.map(\.message).joined(separator: "; "))
        }
        let client = try openSpool(spool, create: true)
        do {
            _ = try client.drop(bytes, name: id)
        } catch let e as SystemError where e.errno == EEXIST {
            throw CommandFailure(message: "a job file for id \(id) is already waiting in \(client.layout.path(.inbox)); not replaced")
        }
        print("submitted \(id)")
        return Exit.ok
    }
}
