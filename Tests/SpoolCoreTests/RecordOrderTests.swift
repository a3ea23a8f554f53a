// Key order in state files: JSON objects inside a record (a built-in's params, whose column order
// means something, on_complete, results) keep their order through a record written and read back;
// the record's own fields come in a fixed order and dictionaries are sorted, so the bytes are stable.
import Foundation
import Testing
@testable import SpoolCore
@testable import SpoolJSON

@Suite("record key order")
struct RecordOrderTests {
    func record() throws -> JobRecord {
        let job = #"""
            {"id": "order", "labels": {"zeta": "1", "alpha": "2"}, "env": {"Z": "1", "A": "2"},
             "on_complete": {"shell": "echo done", "name": "follow", "labels": {"z": "1", "a": "2"}},
             "operations": [{"type": "correlation_matrix",
                             "params": {"columns": {"price": [1, 2, 3.5], "sales": [3, 1, 2], "ads": [2, 2, 1]}, "method": "spearman"}}]}
            """#
        guard case .success(let spec) = JobSpec.parse(Array(job.utf8), file: "inbox/order.json") else {
            throw SpoolError(.invalidJob, "the test job does not validate")
        }
        var r = JobRecord(id: JobID("order")!, name: "order", status: .succeeded, spec: spec, source: "order.json",
                          submittedAt: Timestamp(seconds: 1_700_000_000.25), sequence: 7)
        var op = OperationRecord(index: 0, name: nil)
        op.status = .succeeded
        op.result = ["names": ["price", "sales", "ads"], "method": "spearman", "n": 3, "zz": 1.5, "aa": true]
        r.operations = [op]
        return r
    }

    func text(_ r: JobRecord) -> String { String(decoding: r.encoded(), as: UTF8.self) }

    func position(_ needle: String, in text: String) -> Int? {
        text.range(of: needle).map { text.distance(from: text.startIndex, to: $0.lowerBound) }
    }

    @Test("params, on_complete and results keep their order in the bytes and when read back")
    func jsonObjectsKeepTheirOrder() throws {
        let r = try record()
        let bytes = text(r)
        let price = try #require(position(#""price""#, in: bytes))
        let sales = try #require(position(#""sales""#, in: bytes))
        let ads = try #require(position(#""ads""#, in: bytes))
        #expect(price < sales && sales < ads, "\(bytes)")
        let columns = try #require(position(#""columns""#, in: bytes))
        let method = try #require(position(#""method" : "spearman""#, in: bytes))
        #expect(columns < method)
        #expect(try #require(position(#""shell" : "echo done""#, in: bytes)) < (try #require(position(#""name" : "follow""#, in: bytes))))

        let back = try JobRecord.decode(r.encoded())
        #expect(back == r)
        let params = try #require(back.spec?.operations?.first?.params?.objectValue)
        #expect(params.keys == ["columns", "method"])
        #expect(params["columns"]?.objectValue?.keys == ["price", "sales", "ads"])
        #expect(back.spec?.onComplete?.objectValue?.keys == ["shell", "name", "labels"])
        #expect(back.operations?.first?.result?.objectValue?.keys == ["names", "method", "n", "zz", "aa"])
        // Written again, the same bytes.
        #expect(back.encoded() == r.encoded())
    }

    @Test("the record's own fields follow its encode order; string maps are sorted; the layout is JSONEncoder's")
    func stableLayout() throws {
        let bytes = text(try record())
        let id = try #require(position(#""id" : "order""#, in: bytes))
        let name = try #require(position(#""name" : "order""#, in: bytes))
        let status = try #require(position(#""status" : "succeeded""#, in: bytes))
        #expect(id < name && name < status)
        #expect(try #require(position(#""alpha""#, in: bytes)) < (try #require(position(#""zeta""#, in: bytes))))
        #expect(try #require(position(#""A" : "2""#, in: bytes)) < (try #require(position(#""Z" : "1""#, in: bytes))))
        #expect(bytes.hasPrefix("{\n  \"id\" : \"order\",\n"))
        #expect(bytes.hasSuffix("}\n"))
        #expect(bytes.contains(#""submitted_at" : "2023-11-14T22:13:20.25"#))
    }

    @Test("records written by Foundation's JSONEncoder (sorted keys) still decode")
    func oldRecordsDecode() throws {
        let r = try record()
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let old = try e.encode(r)
        let back = try JobRecord.decode([UInt8](old))
        #expect(back.id == r.id && back.status == r.status && back.sequence == r.sequence)
        #expect(back.spec?.operations?.first?.params?.objectValue?["columns"]?.objectValue?.keys == ["ads", "price", "sales"])
        #expect(back.spec?.labels == r.spec?.labels)
    }

    @Test("a journal line round-trips with its result in order")
    func journalLine() throws {
        var op = OperationRecord(index: 3, name: "x")
        op.status = .failed
        op.exitCode = -1
        op.result = ["status": 404, "headers": ["x-b": "1", "x-a": "2"], "body": ["z": 1, "a": [1.5, nil]]]
        let line = JSONEncoderBox.compact(op)
        #expect(!line.contains(0x0A))
        let back = BatchJournal.read(line + [0x0A] + line)
        #expect(back == [op, op])
        #expect(back.first?.result?.objectValue?["headers"]?.objectValue?.keys == ["x-b", "x-a"])
    }
}
