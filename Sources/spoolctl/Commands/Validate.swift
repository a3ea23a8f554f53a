// spoolctl validate FILE: runs the daemon's own validation on a job file and prints every problem.
import Foundation
import SpoolCore

enum Validate: Command {
    static let name = "validate"
    static let usage = """
        Usage: spoolctl validate FILE

        Checks a job file as the daemon would. Prints "ok" or every problem (one per line); exit 1 if any.
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let files = try args.positionals()
        guard files.count == 1 else { throw UsageError(message: "give one FILE") }
        guard let data = FileManager.default.contents(atPath: files[0]) else {
            throw CommandFailure(message: "cannot read \(files[0])")
        }
        switch JobSpec.parse([UInt8](data), file: files[0]) {
        case .success:
            print("\(files[0]): ok")
            return Exit.ok
        case .failure(let problems):
            for p in problems.problems { print("\(p.code.rawValue): \(p.message)") }
            return Exit.failure
        }
    }
}
