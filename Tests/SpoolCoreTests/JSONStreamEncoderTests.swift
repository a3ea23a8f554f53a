// The stream encoder writes exactly the bytes of the tree encoder (JSONValueEncoder then the
// writer), which records have always had: for real records of every shape, and for Encodable
// shapes our types do not use but a future one might (a key written twice, a super encoder,
// nested containers), where it falls back to the tree.
import Foundation
import Testing
@testable import SpoolCore
import SpoolJSON

/// Both encoders, pretty (state files) and compact (journals); the stream must match the tree.
func expectSameBytes<T: Encodable>(_ value: T, _ label: String, streams: Bool = true,
                                   sourceLocation: SourceLocation = #_sourceLocation) throws {
    for (pretty, space) in [(true, true), (true, false), (false, false)] {
        #expect((try JSONStreamEncoder(pretty: pretty, spaceBeforeColon: space).streamed(value) != nil) == streams,
                "\(label): streamed \(!streams)", sourceLocation: sourceLocation)
        let tree = try JSONValueEncoder().encode(value).serializedBytes(pretty: pretty, spaceBeforeColon: space)
        let stream = try JSONStreamEncoder(pretty: pretty, spaceBeforeColon: space).encode(value)
        #expect(String(decoding: stream, as: UTF8.self) == String(decoding: tree, as: UTF8.self), "\(label) pretty=\(pretty)",
                sourceLocation: sourceLocation)
    }
}

private struct Scalars: Encodable {
    var b = true, s = "q\"\\\n", d = 2.5, whole = 3.0, nan = Double.nan, f: Float = 0.5
    var i = -7, i8: Int8 = -8, i16: Int16 = 16, i32: Int32 = -32, i64 = Int64.min
    var u: UInt = 1, u8: UInt8 = 8, u16: UInt16 = 16, u32 = UInt32.max, u64 = UInt64.max
    var missing: String? = nil
    var present: Int? = 4
}

private struct ExplicitNulls: Encodable {
    var a: String? = nil
    var list: [Int?] = [1, nil, 3]
    enum CodingKeys: String, CodingKey { case a, list, z }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(a, forKey: .a)  // null, not skipped
        try c.encodeNil(forKey: .z)
        try c.encode(list, forKey: .list)
    }
}

private struct Empty: Encodable {}

private struct Nothing: Encodable {
    func encode(to encoder: any Encoder) throws {}
}

private enum Kind: String, Encodable { case one, two }

private struct Shapes: Encodable {
    var kinds: [Kind] = [.one, .two]
    var empty: [Int] = []
    var emptyObject = Empty()
    var nested: [[Int]] = [[1, 2], [], [3]]
    var env = ["b": "2", "a": "1", "c": "3"]
    var json: JSONValue = ["z": 1, "a": [true, nil, "x"], "o": [:]]
    var inner = [Scalars(), Scalars()]
    var wrapped: Kind? = .two
    // Arrays of scalars are written inline; a line break inside a string must stay escaped there.
    var strings = ["a, b", "line\nbreak", "  spaced  "]
    var mixed: [Mixed] = [.number(1), .list([2, 3]), .number(4)]
    var values: [JSONValue] = [1, "x", nil]
}

/// An array member that is a scalar or an array: a mixed array is not written inline.
private enum Mixed: Encodable {
    case number(Int), list([Int])
    func encode(to encoder: any Encoder) throws {
        switch self {
        case .number(let n): var c = encoder.singleValueContainer(); try c.encode(n)
        case .list(let l): var c = encoder.unkeyedContainer(); for n in l { try c.encode(n) }
        }
    }
}

/// A key written twice: the tree keeps its first place and the last value; the stream falls back.
private struct TwiceKey: Encodable {
    enum K: String, CodingKey { case a, b }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: K.self)
        try c.encode(1, forKey: .a)
        try c.encode(2, forKey: .b)
        try c.encode(3, forKey: .a)
    }
}

/// Nested containers, filled in order and out of order (the latter falls back).
private struct Nesting: Encodable {
    var outOfOrder: Bool
    enum K: String, CodingKey { case obj, arr, after }
    enum N: String, CodingKey { case x, y }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: K.self)
        var obj = c.nestedContainer(keyedBy: N.self, forKey: .obj)
        try obj.encode(1, forKey: .x)
        var arr = c.nestedUnkeyedContainer(forKey: .arr)
        try arr.encode("a")
        var deeper = arr.nestedContainer(keyedBy: N.self)
        try deeper.encode(true, forKey: .y)
        try arr.encode("b")
        try c.encode("done", forKey: .after)
        if outOfOrder { try obj.encode(2, forKey: .y) }  // back to a container the stream has closed
    }
}

private struct Super: Encodable {
    enum K: String, CodingKey { case a }
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: K.self)
        try c.encode(1, forKey: .a)
        try Scalars().encode(to: c.superEncoder())
    }
}

@Suite("JSON stream encoder")
struct JSONStreamEncoderTests {
    @Test("Encodable shapes: the stream's bytes are the tree's")
    func shapes() throws {
        try expectSameBytes(Scalars(), "scalars")
        try expectSameBytes(ExplicitNulls(), "explicit nulls")
        try expectSameBytes(Empty(), "empty struct")
        try expectSameBytes(Nothing(), "encodes nothing")
        try expectSameBytes(Shapes(), "shapes")
        try expectSameBytes([Shapes(), Shapes()], "top-level array")
        try expectSameBytes("top", "top-level string")
        try expectSameBytes(Optional<Int>.none, "top-level nil")
        try expectSameBytes(["k": [Kind.one]], "top-level dictionary")
        // A hostile job file's labels: 50,000 keys (each once; the stream does not look for repeats there).
        try expectSameBytes(Dictionary(uniqueKeysWithValues: (0..<50_000).map { ("k\($0)", $0) }), "a dictionary of 50,000 keys")
        try expectSameBytes(JSONValue.object(JSONObject([(key: "b", value: 1), (key: "a", value: 2)])), "top-level JSONValue")
    }

    @Test("shapes that cannot be streamed fall back to the tree, with its bytes")
    func fallbacks() throws {
        try expectSameBytes(TwiceKey(), "a key written twice", streams: false)
        try expectSameBytes(Nesting(outOfOrder: false), "nested containers in order")
        try expectSameBytes(Nesting(outOfOrder: true), "a nested container written after its parent moved on", streams: false)
        try expectSameBytes(Super(), "a super encoder", streams: false)
        #expect(String(decoding: try JSONStreamEncoder().encode(TwiceKey()), as: UTF8.self) == #"{"a":3,"b":2}"#)
    }

    @Test("records of every shape: the stream's bytes are the tree's")
    func records() throws {
        let spec = """
        {"id": "r1", "name": "n", "shell": "echo hi", "env": {"B": "2", "A": "1"}, "labels": {"team": "x"},
         "timeout_seconds": 1.5, "retries": 2, "priority": -3, "queue": "q", "after": ["a", "b"],
         "resources": {"cpus": 2, "gpus": 1}, "on_complete": {"command": ["true"], "labels": {"z": "1", "a": "2"}}}
        """
        var r = EngineHarness.record(spec)
        try expectSameBytes(r, "a pending command job")
        r.status = .failed
        r.attempts = 3
        r.startedAt = Timestamp(seconds: 1_700_000_000.25)
        r.finishedAt = Timestamp(seconds: 1_700_000_001.5)
        r.exitCode = 3
        r.error = SpoolError(.exitNonzero, "job r1: exited with 3")
        r.stdout = "done/r1.stdout"
        r.usage = ResourceUsage(cpuUserSeconds: 0.25, cpuSystemSeconds: 0.125, maxRSSBytes: 1 << 20)
        r.executor = ExecutorInfo(type: "slurm", jobID: "42", host: "node1")
        r.owner = JobOwner(uid: 1000, gid: 100)
        r.progress = Progress(total: 1, succeeded: 0, failed: 1, skipped: 0, percent: 100, etaSeconds: nil)
        try expectSameBytes(r, "a failed command job")
        // Every member of a command job's record, which is written straight to bytes (JSONBytesEncoder).
        r.status = .pending
        r.signal = 15
        r.stderr = "done/r1.stderr"
        r.durationSeconds = 1.25
        r.waitReason = "retry backoff \"2 s\""
        r.runAfter = Timestamp(seconds: 1_700_000_003)
        r.intake = "claim-1"
        r.original = "done/r1.original"
        r.pid = 4242
        r.failedAttempts = 2
        r.retryOf = JobID("r0")
        r.progress = Progress(total: 1, succeeded: 0, failed: 0, skipped: 0, running: 1, percent: 12.5, etaSeconds: .infinity, message: "half")
        try expectSameBytes(r, "a command job with every member")
        r.executor = .local
        r.owner = JobOwner(uid: 0, gid: UInt32.max)
        try expectSameBytes(r, "a local command job run by root")

        var b = EngineHarness.batch("b", operations: 3)
        var ops = BatchState(spec: b.spec!, operations: nil).operations
        ops[0].status = .succeeded
        ops[0].result = ["mean": 1.5, "n": 3, "cols": ["a", "b"]]
        ops[1].status = .failed
        ops[1].error = SpoolError(.operationFailed, "boom")
        ops[1].usage = ResourceUsage(cpuUserSeconds: 1, cpuSystemSeconds: 0, maxRSSBytes: 7)
        // Every member of an operation's record, which is written straight to bytes (JSONBytesEncoder).
        ops[2].name = "third \"op\""
        ops[2].status = .failed
        ops[2].exitCode = -1
        ops[2].signal = 9
        ops[2].startedAt = Timestamp(seconds: 1_700_000_000.000001)
        ops[2].finishedAt = Timestamp(seconds: 1_700_000_002.75)
        ops[2].durationSeconds = 2.749999
        ops[2].attempts = 2
        ops[2].stdout = "done/b.op2.stdout"
        ops[2].stderr = "done/b.op2.stderr"
        ops[2].runAfter = Timestamp(seconds: 1_700_000_010)
        ops[2].executor = ExecutorInfo(type: "slurm", jobID: "7", host: "n2")
        ops[2].result = [:]
        b.operations = ops
        b.progress = Progress(total: 3, succeeded: 1, failed: 1, skipped: 0, percent: 66.7, etaSeconds: 2.5, message: "m")
        try expectSameBytes(b, "a batch with results")
        for op in ops { try expectSameBytes(op, "a journal line") }
        #expect(JSONEncoderBox().encode(b) == (try JSONValueEncoder().encode(b).serializedBytes(pretty: true, spaceBeforeColon: true)) + [0x0A])
    }

    @Test("a big spec's bytes are kept and written again, in its own layout only; the bytes are the tree's each time")
    func keptSpecBytes() throws {
        let data = (0..<60).map { String(Double($0) / 8) }.joined(separator: ", ")
        let ops = Array(repeating: #"{"type": "descriptive_stats", "params": {"data": [\#(data)]}}"#, count: 400)
        var b = EngineHarness.record(#"{"id": "big", "operations": [\#(ops.joined(separator: ", "))]}"#)
        let tree = try JSONValueEncoder().encode(b).serializedBytes(pretty: true, spaceBeforeColon: true) + [0x0A]
        #expect(tree.count > SharedSpec.keptBytesMinimum)
        // Written in pieces, as state files are: the kept bytes are collected as the pieces go out.
        var pieces: [UInt8] = [], writes = 0
        try JSONEncoderBox().encode(b, chunk: 4096, write: { pieces += $0; writes += 1 }, restart: { pieces = [] })
        #expect(pieces == tree)
        #expect(writes > 10)
        try expectSameBytes(b, "the batch, in every style (another layout: not the kept bytes)")
        b.status = .succeeded
        let again = try JSONValueEncoder().encode(b).serializedBytes(pretty: true, spaceBeforeColon: true) + [0x0A]
        #expect(JSONEncoderBox().encode(b) == again)  // the kept spec, in a record that changed around it
        pieces = []
        try JSONEncoderBox().encode(b, chunk: 4096, write: { pieces += $0 }, restart: { pieces = [] })
        #expect(pieces == again)  // the kept spec handed out as a piece of its own
    }

    @Test("a command job's record (written member by member) with a big spec goes out in pieces and keeps the spec's bytes; a rejected one has none")
    func commandRecordInPieces() throws {
        let env = (0..<3_000).map { #""VAR_\#($0)": "value number \#($0) of the test""# }.joined(separator: ", ")
        var r = EngineHarness.record(#"{"id": "big", "command": ["true"], "env": {\#(env)}}"#)
        let tree = try JSONValueEncoder().encode(r).serializedBytes(pretty: true, spaceBeforeColon: true) + [0x0A]
        #expect(tree.count > SharedSpec.keptBytesMinimum)
        // The first time in pieces as it is encoded; the second from the kept bytes, handed out as a
        // piece of their own between the record's head and tail.
        for (round, pieceCount) in [(1, 11...Int.max), (2, 3...4)] {
            var pieces: [UInt8] = [], sizes: [Int] = []
            try JSONEncoderBox().encode(r, chunk: 4096, write: { pieces += $0; sizes.append($0.count) }, restart: { pieces = [] })
            #expect(pieces == tree, "round \(round)")
            #expect(pieceCount.contains(sizes.count), "round \(round): pieces of \(sizes)")
            #expect(sizes.max()! < SharedSpec.keptBytesMinimum || round == 2, "round \(round): a piece of \(sizes.max()!) bytes")
        }
        r.status = .succeeded
        try expectSameBytes(r, "a command job with a big spec")
        var rejected = JobRecord(id: JobID("bad")!, name: "bad", status: .rejected, spec: nil, source: "bad.json",
                                 submittedAt: Timestamp(seconds: 1_700_000_000), sequence: 1)
        rejected.error = SpoolError(.invalidJSON, "inbox/bad.json: not JSON")
        rejected.original = "done/bad.original"
        try expectSameBytes(rejected, "a rejected file's record")
    }

    @Test("in pieces: the pieces make the same bytes; a value that cannot be streamed restarts and is written whole")
    func chunked() throws {
        func pieces<T: Encodable>(_ value: T, chunk: Int) throws -> (bytes: [UInt8], writes: Int, restarts: Int) {
            var out: [UInt8] = [], writes = 0, restarts = 0
            try JSONStreamEncoder(pretty: true, spaceBeforeColon: true).encode(value, chunk: chunk, write: { out += $0; writes += 1 },
                                                                               restart: { out.removeAll(); restarts += 1 })
            return (out, writes, restarts)
        }
        var b = EngineHarness.batch("b", operations: 50)
        b.operations = BatchState(spec: b.spec!, operations: nil).operations
        let whole = try JSONValueEncoder().encode(b).serializedBytes(pretty: true, spaceBeforeColon: true)
        for chunk in [1, 64, 4096, 1 << 20] {
            let p = try pieces(b, chunk: chunk)
            #expect(p.bytes == whole, "chunk \(chunk)")
            #expect(p.restarts == 0)
            if chunk <= 4096 { #expect(p.writes > 1, "chunk \(chunk): \(p.writes) writes") }
        }
        // Swift arrays of scalars (inline when they close: no piece goes out while one is open), mixed
        // arrays, and nested ones, in pieces of every size.
        let shapes = [Shapes(), Shapes()]
        let shapesWhole = try JSONValueEncoder().encode(shapes).serializedBytes(pretty: true, spaceBeforeColon: true)
        for chunk in [1, 16, 256] {
            let p = try pieces(shapes, chunk: chunk)
            #expect(p.bytes == shapesWhole, "shapes, chunk \(chunk)")
            #expect(p.restarts == 0 && p.writes > 1)
        }
        let nesting = Nesting(outOfOrder: true)
        let p = try pieces([nesting, nesting], chunk: 1)
        #expect(p.restarts == 1)
        #expect(p.bytes == (try JSONValueEncoder().encode([nesting, nesting]).serializedBytes(pretty: true, spaceBeforeColon: true)))
    }
}
