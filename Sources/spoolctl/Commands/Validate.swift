// spoolctl validate FILE: runs the daemon's own validation on a job file, with the limits of the
// spool's configuration, and prints every problem.
import Foundation
import SpoolCore
import SpoolJSON

enum Validate: Command {
    static let name = "validate"
    static let summary = "check a job file as the daemon would; print every problem"
    static let usage = """
        Usage: spoolctl validate FILE [--config FILE] [--json]

        Checks a job file as the daemon would, with the limits (max_job_bytes, max_operations) of the
        spool's config.json or --config FILE. Prints "FILE: ok" or every problem (one per line,
        `code: message`); exit 1 if any.
        --json: {"file": FILE, "ok": bool, "problems": [{"code": CODE, "message": TEXT}]}
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let configPath = try args.value("--config")
        let files = try args.positionals()
        guard files.count == 1 else { throw UsageError(message: "give one FILE") }
        guard let data = FileManager.default.contents(atPath: files[0]) else {
            throw CommandFailure(message: "cannot read \(files[0])")
        }
        let limits = try JobLimits.load(spool: spool, config: configPath)
        let problems = limits.problems([UInt8](data), file: files[0])
        if json {
            printJSON(["file": .string(files[0]), "ok": .bool(problems.isEmpty),
                       "problems": .array(problems.map { ["code": .string($0.code.rawValue), "message": .string($0.message)] })])
        } else if problems.isEmpty {
            print("\(files[0]): ok")
        } else {
            for p in problems { print("\(p.code.rawValue): \(p.message)") }
        }
        return problems.isEmpty ? Exit.ok : Exit.failure
    }
}
