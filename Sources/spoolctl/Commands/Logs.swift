// spoolctl logs ID: prints a job's captured stdout (or stderr), or one batch operation's with
// --op N; --follow streams it while the job runs and stops when the job ends. A batch keeps its
// output per operation, so `logs` of a batch without --op lists what there is to see.
import Foundation
import SpoolCore
import SpoolJSON

enum Logs: Command {
    static let name = "logs"
    static let summary = "print a job's (or one operation's) output"
    static let usage = """
        Usage: spoolctl logs ID [--op N] [--stderr] [--follow] [--json]

        Prints the job's captured stdout (--stderr: its stderr). A batch's output is kept per
        operation: --op N prints operation N's; without --op, logs of a batch lists the operations
        that have output and exits 1. With --follow (-f), keeps printing new output until the job ends.
        --json: NDJSON, one object per piece of output read:
          {"id", "operation": N|null, "stream": "stdout"|"stderr", "text"}
        and for a batch without --op: {"id", "operations": [{"index", "name", "status", "stdout", "stderr"}]}
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let useStderr = try args.flag("--stderr")
        let follow = try args.flag("--follow", "-f")
        let json = try args.flag("--json")
        let op = try args.int("--op", min: 0)
        let ids = try args.positionals()
        guard ids.count == 1 else { throw UsageError(message: "give one job ID") }
        let id = try jobID(ids[0])
        let client = try openSpool(spool)
        let stream = useStderr ? "stderr" : "stdout"
        var offset: UInt64 = 0
        while true {
            guard let held = client.held(id) else { throw ControlIDs.unknown(id, client) }
            if let why = held.notYours(id, "read its output") { throw CommandFailure(message: why) }
            guard case .record(let found) = held else {
                if follow { usleep(100_000); continue }
                throw CommandFailure(message: "job \(id) is waiting in inbox/: it has no output yet")
            }
            let file: String
            if let op {
                guard let ops = found.record.operations else {
                    throw CommandFailure(message: "job \(id) is not a batch; use logs without --op")
                }
                guard let entry = ops.first(where: { $0.index == op }) else {
                    throw CommandFailure(message: "job \(id) has no operation \(op) (" + (ops.count == 1 ? "its only operation is 0)" : "its operations are 0 to \(ops.count - 1))"))
                }
                // A finished operation's output is in done/ already; a running one's in running/.
                file = (useStderr ? entry.stderr : entry.stdout).map { String($0.split(separator: "/").last ?? "") }
                    ?? (useStderr ? JobFiles.operationStderr(id, op) : JobFiles.operationStdout(id, op))
            } else if let ops = found.record.operations {
                if json {
                    printJSON(["id": .string(id.rawValue), "operations": .array(ops.map { o in
                        ["index": .integer(o.index), "name": .str(o.name), "status": .string(o.status.rawValue),
                         "stdout": .str(o.stdout), "stderr": .str(o.stderr)]
                    })])
                    return Exit.ok
                }
                let withOutput = ops.filter { $0.stdout != nil || $0.stderr != nil }
                var text = "job \(id) is a batch of \(plural(ops.count, "operation")); its output is kept per operation. "
                if withOutput.isEmpty {
                    text += "No operation has output" + (found.folder == .done ? "." : " yet.")
                        + " Show one with: spoolctl logs \(id) --op N [--stderr]"
                } else {
                    text += "Operations with output:\n" + withOutput.prefix(20).map { o in
                        let streams = [o.stdout.map { _ in "stdout" }, o.stderr.map { _ in "stderr" }].compactMap { $0 }.joined(separator: ", ")
                        return "  \(o.index)\(o.name.map { " (\($0))" } ?? ""): \(streams)  ->  spoolctl logs \(id) --op \(o.index)\(o.stdout == nil ? " --stderr" : "")"
                    }.joined(separator: "\n")
                    if withOutput.count > 20 { text += "\n  ... \(plural(withOutput.count - 20, "more operation"))" }
                }
                throw CommandFailure(message: text)
            } else {
                file = useStderr ? JobFiles.stderr(id) : JobFiles.stdout(id)
            }
            // Output lives in running/ while the job runs and moves to done/ with its record.
            var path = "\(client.layout.path(found.folder == .done ? .done : .running))/\(file)"
            if op != nil, !FileManager.default.fileExists(atPath: path) { path = "\(client.layout.path(.done))/\(file)" }
            if let h = FileHandle(forReadingAtPath: path) {
                if (try? h.seek(toOffset: offset)) != nil, let data = try? h.readToEnd(), !data.isEmpty {
                    if json {
                        printJSON(["id": .string(id.rawValue), "operation": op.map { .integer($0) } ?? .null, "stream": .string(stream),
                                   "text": .string(String(decoding: data, as: UTF8.self))], pretty: false)
                    } else {
                        FileHandle.standardOutput.write(data)
                    }
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
