// `retry` against the real daemon: a failed-only retry keeps the original index and name of each
// operation (in the record, output file names and SPOOL_OPERATION_INDEX), and retry ids stay short.
import Foundation
import Testing

@Suite("retry", .serialized)
struct RetryTests {
    func ops(_ r: [String: Any]) -> [[String: Any]] { r["operations"] as? [[String: Any]] ?? [] }

    func retry(_ spool: TempSpool, _ args: [String], sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let out = runCommand(Binaries.spoolctl, ["--spool", spool.root, "retry"] + args)
        #expect(out.status == 0, "\(out.stderr)", sourceLocation: sourceLocation)
        return try #require(out.stdout.split(whereSeparator: \.isWhitespace).last.map(String.init), sourceLocation: sourceLocation)
    }

    @Test("retry --failed-only keeps each operation's original index and name; retry ids are <id>.r1, .r2, ...")
    func failedOnlyKeepsIndices() throws {
        let spool = try TempSpool()
        let flag = spool.path("fixed")
        // Operations 1 and 3 fail until the flag file exists.
        let failing = #"echo \"index $SPOOL_OPERATION_INDEX\"; test -e \#(flag)"#
        try spool.drop("r.json", #"{"id": "r", "operations": [{"name": "a", "shell": "true"}, {"name": "b", "shell": "\#(failing)"}, {"name": "c", "shell": "true"}, {"shell": "\#(failing)"}]}"#)
        drain(spool)
        #expect(spool.record("r")?.status == "partial")
        #expect(FileManager.default.createFile(atPath: flag, contents: nil))

        let first = try retry(spool, ["r", "--failed-only"])
        #expect(first == "r.r1")
        drain(spool)
        let again = try #require(spool.record(first))
        #expect(again.status == "succeeded")
        #expect(again["retry_of"] as? String == "r")
        #expect(ops(again).map { $0["index"] as? Int } == [1, 3])
        #expect(ops(again).map { $0["name"] as? String } == ["b", nil])
        #expect(ops(again).map { $0["stdout"] as? String } == ["done/r.r1.op1.stdout", "done/r.r1.op3.stdout"])
        #expect(spool.read("done/r.r1.op3.stdout") == "index 3\n")

        // A failed-only retry of a failed-only retry still names the operations of the first job file.
        unlink(flag)
        try spool.drop("r2.json", #"{"id": "s", "operations": [{"shell": "true"}, {"shell": "\#(failing)"}, {"shell": "\#(failing)"}]}"#)
        drain(spool)
        let s1 = try retry(spool, ["s", "--failed-only"])
        drain(spool)
        let s2 = try retry(spool, [s1, "--failed-only"])
        drain(spool)
        #expect(ops(try #require(spool.record(s2))).map { $0["index"] as? Int } == [1, 2])
        #expect(spool.read("done/\(s2).op2.stdout") == "index 2\n")
        #expect(FileManager.default.createFile(atPath: flag, contents: nil))

        // A retry of the retry, and a second retry of the original: short ids, never growing.
        #expect(try retry(spool, [first]) == "r.r2")
        #expect(try retry(spool, ["r"]) == "r.r3")
        drain(spool)
        #expect(spool.record("r.r2")?.status == "succeeded" && spool.record("r.r3")?.status == "succeeded")
        #expect(spool.record("r.r2")?["retry_of"] as? String == "r.r1")
    }
}
