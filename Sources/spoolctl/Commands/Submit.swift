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
        var object: JSONObject
        var stem: String
        if let trailing = args.trailing {
            guard !trailing.isEmpty else { throw UsageError(message: "nothing to run after --") }
            object = JSONObject()
            if args.flag("--shell") {
                object["shell"] = .string(trailing.joined(separator: " "))
            } else {
                object["command"] = .array(trailing.map { .string($0) })
            }
            stem = URL(fileURLWithPath: trailing[0]).lastPathComponent
        } else {
            let files = try args.positionals()
            guard files.count == 1 else { throw UsageError(message: "give one job FILE, or -- CMD ARGS...") }
            guard let data = FileManager.default.contents(atPath: files[0]) else {
                throw CommandFailure(message: "cannot read \(files[0])")
            }
            guard case .object(let o) = try? JSONParser().parse([UInt8](data)) else {
                throw CommandFailure(message: "\(files[0]) is not a JSON object; run `spoolctl validate \(files[0])` for details")
            }
            object = o
            stem = URL(fileURLWithPath: files[0]).deletingPathExtension().lastPathComponent
        }
        if let v = try args.value("--id") { object["id"] = .string(v) }
        if let v = try args.value("--name") { object["name"] = .string(v) }
        if let v = try args.double("--timeout", min: 0) { object["timeout_seconds"] = .number(v) }
        if let v = try args.int("--retries", min: 0) { object["retries"] = .integer(v) }
        if let v = try args.int("--priority") { object["priority"] = .integer(v) }
        if let v = try args.value("--not-before") { object["not_before"] = .string(v) }
        if let v = try args.value("--queue") { object["queue"] = .string(v) }
        if let v = try args.value("--cwd") { object["cwd"] = .string(v) }
        let envs = try args.values("--env")
        if !envs.isEmpty {
            var env = object["env"]?.objectValue ?? JSONObject()
            for e in envs {
                guard let eq = e.firstIndex(of: "="), eq != e.startIndex else { throw UsageError(message: "--env must be NAME=VALUE, got \"\(e)\"") }
                env[String(e[..<eq])] = .string(String(e[e.index(after: eq)...]))
            }
            object["env"] = .object(env)
        }
        if args.trailing != nil { _ = try args.positionals() }
        if object["name"] == nil { object["name"] = .string(stem) }  // the inbox file is named after the id

        // Validate here too, so the user sees mistakes at once rather than as a rejection record.
        let id: String
        if case .string(let given)? = object["id"] {
            id = given
        } else {
            id = JobIDGenerator().next(stem: JobID.stem(of: FileName(stem + ".json"))).rawValue
            object["id"] = .string(id)
        }
        let bytes = Array(JSONValue.object(object).serialized(pretty: true).utf8) + [0x0A]
        if case .failure(let problems) = JobSpec.parse(bytes, file: "the job") {
            throw CommandFailure(message: problems.problems.map(\.message).joined(separator: "; "))
        }
        let client = try openSpool(spool, create: true)
        _ = try client.drop(bytes, name: id)
        print("submitted \(id)")
        return Exit.ok
    }
}
