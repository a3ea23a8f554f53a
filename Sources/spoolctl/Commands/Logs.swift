// spoolctl logs ID: prints a job's captured stdout (or stderr); --follow streams it while the
// job runs and stops when the job ends.
import Foundation
import SpoolCore

enum Logs: Command {
    static let name = "logs"
    static let usage = """
        Usage: spoolctl logs ID [--stderr] [--follow]

        Prints the job's captured output. With --follow, keeps printing new output until the job ends.
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let useStderr = args.flag("--stderr")
        let follow = args.flag("--follow") || args.flag("-f")
        let ids = try args.positionals()
        guard ids.count == 1 else { throw UsageError(message: "give one job ID") }
        let id = try jobID(ids[0])
        let client = try openSpool(spool)
        let file = useStderr ? JobFiles.stderr(id) : JobFiles.stdout(id)
        var offset: UInt64 = 0
        while true {
            guard let found = client.find(id) else {
                throw CommandFailure(message: "no job \"\(id)\" in pending/, running/ or done/ of \(client.layout.root)")
            }
            // Output lives in running/ while the job runs and moves to done/ with its record.
            let folder: SpoolLayout.Folder = found.folder == .done ? .done : .running
            let path = "\(client.layout.path(folder))/\(file)"
            if let h = FileHandle(forReadingAtPath: path) {
                if (try? h.seek(toOffset: offset)) != nil, let data = try? h.readToEnd(), !data.isEmpty {
                    FileHandle.standardOutput.write(data)
                    offset += UInt64(data.count)
                }
                try? h.close()
            } else if found.folder == .done {
                if !follow && offset == 0 && found.record.status == .rejected {
                    throw CommandFailure(message: "job \"\(id)\" was rejected and has no output: \(found.record.error?.message ?? "")")
                }
            }
            if !follow || found.folder == .done { break }
            usleep(100_000)
        }
        return Exit.ok
    }
}
