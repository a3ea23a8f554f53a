// A pass over many inbox files hands them on in growing parts, highest priority first, then
// oldest first, so that the first jobs can start while the rest is still being recorded
// (Intake.partSizes). Each part must be
// whole when it is handed on (its records in pending/), and the later parts' files untouched in
// the inbox, or the daemon would start jobs whose acceptance is not durable yet.
import Foundation
import Testing
@testable import SpoolCore

@Suite("intake: a full inbox is handed on in parts, oldest first")
struct IntakePartsTests {
    @Test("50 files: parts of 8, 32 and 10, in order of arrival; each part recorded before it is handed on, the rest still in the inbox")
    func partsInArrivalOrder() throws {
        let spool = try IntakeTestSpool("intake-parts")
        let root = spool.root, intake = spool.intake
        let count = 50
        // Arrival (modification time) in the reverse order of the names: a listing's order is not arrival.
        var names: [FileName] = []
        for i in 0..<count {
            let name = String(format: "job-%02d.json", i)
            try Data(#"{"id": "j\#(i)", "command": ["true"]}"#.utf8).write(to: URL(fileURLWithPath: "\(root)/inbox/\(name)"))
            let t = timespec(tv_sec: 1_700_000_000 + count - i, tv_nsec: 0)
            var times = [t, t]
            utimensat(AT_FDCWD, "\(root)/inbox/\(name)", &times, 0)
            names.append(FileName(name))
        }
        var parts: [[String]] = []
        var problems: [String] = []
        intake.process(names, now: Timestamp(Date())) { part in
            let ids = part.accepted.map(\.id.rawValue)
            parts.append(ids)
            let pending = Set((try? FileManager.default.contentsOfDirectory(atPath: root + "/pending")) ?? [])
            let inbox = Set((try? FileManager.default.contentsOfDirectory(atPath: root + "/inbox")) ?? [])
            for id in ids where !pending.contains("\(id).json") { problems.append("\(id) handed on before its record was in pending/") }
            let handedOn = parts.joined().count
            if inbox.count != count - handedOn { problems.append("after \(handedOn) handed on, \(inbox.count) files in the inbox") }
            #expect(part.rejected.isEmpty, "\(part.rejected.map { $0.error?.message ?? "" })")
        }
        #expect(problems.isEmpty, "\(problems)")
        #expect(parts.map(\.count) == [8, 32, 10])
        #expect(parts.joined().map { $0 } == (0..<count).reversed().map { "j\($0)" }, "not in order of arrival: \(parts)")
    }

    @Test("the parts go highest priority first: files of a higher priority that arrived last are in the first part")
    func partsByPriority() throws {
        let spool = try IntakeTestSpool("intake-parts-priority")
        let root = spool.root
        var names: [FileName] = []
        for i in 0..<20 {
            let name = String(format: "p-%02d.json", i)
            let priority = i >= 15 ? 5 : 0  // the five newest outrank the rest
            try Data(#"{"id": "p\#(i)", "priority": \#(priority), "command": ["true"]}"#.utf8).write(to: URL(fileURLWithPath: "\(root)/inbox/\(name)"))
            let t = timespec(tv_sec: 1_700_000_000 + i, tv_nsec: 0)
            var times = [t, t]
            utimensat(AT_FDCWD, "\(root)/inbox/\(name)", &times, 0)
            names.append(FileName(name))
        }
        var parts: [[String]] = []
        spool.intake.process(names.shuffled(), now: Timestamp(Date())) { parts.append($0.accepted.map(\.id.rawValue)) }
        #expect(parts.first == ["p15", "p16", "p17", "p18", "p19", "p0", "p1", "p2"], "\(parts)")
        #expect(parts.map(\.count) == [8, 12])
    }

    @Test("the one-result form collects every part")
    func oneResult() throws {
        let spool = try IntakeTestSpool("intake-parts-one")
        let root = spool.root
        let names = (0..<20).map { FileName("f\($0).json") }
        for (i, name) in names.enumerated() {
            try Data(#"{"id": "f\#(i)", "command": ["true"]}"#.utf8).write(to: URL(fileURLWithPath: "\(root)/inbox/\(name)"))
        }
        try Data("{ not json".utf8).write(to: URL(fileURLWithPath: "\(root)/inbox/bad.json"))
        let result = spool.intake.process(names + [FileName("bad.json")], now: Timestamp(Date()))
        #expect(Set(result.accepted.map(\.id.rawValue)) == Set((0..<20).map { "f\($0)" }))
        #expect(result.rejected.count == 1)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/inbox").isEmpty)
    }

    @Test("a large pass of valid, invalid and unsettled files and a directory: priority then arrival, rejections, the earliest recheck")
    func largePass() throws {
        let spool = try IntakeTestSpool("intake-parts-large")
        let root = spool.root, intake = spool.intake
        var config = intake.config
        config.settleSeconds = 60
        intake.update(config: config)
        let now = Date()
        func put(_ name: String, _ text: String, age: Int) throws -> FileName {
            try Data(text.utf8).write(to: URL(fileURLWithPath: "\(root)/inbox/\(name)"))
            let t = timespec(tv_sec: Int(now.timeIntervalSince1970) - age, tv_nsec: 0)
            var times = [t, t]
            try #require(utimensat(AT_FDCWD, "\(root)/inbox/\(name)", &times, 0) == 0)
            return FileName(name)
        }
        var names: [FileName] = []
        let count = 240
        for i in 0..<count {  // arrival against the names' order: v239 first, v000 last; v237-v239 outrank the rest
            let priority = i >= count - 3 ? 9 : 0
            names.append(try put(String(format: "v%03d.json", i), #"{"id": "v\#(i)", "priority": \#(priority), "command": ["true"]}"#, age: 1000 + i))
        }
        for i in 0..<5 { names.append(try put("bad\(i).json", "{ not json", age: 7200)) }  // still for two hours: rejected
        for i in 0..<4 { names.append(try put("partial\(i).json", #"{"command": ["#, age: i)) }  // maybe being written: left
        try FileManager.default.createDirectory(atPath: "\(root)/inbox/dir.json", withIntermediateDirectories: false)
        names.append(FileName("dir.json"))

        var accepted: [String] = []
        var rejected: [String] = []
        var recheckAt: Timestamp?
        intake.process(names.shuffled(), now: Timestamp(now)) { part in
            accepted += part.accepted.map(\.id.rawValue)
            rejected += part.rejected.compactMap { $0.error?.code.rawValue }
            recheckAt = part.recheckAt ?? recheckAt
        }
        let expected = (count - 3..<count).reversed().map { "v\($0)" } + (0..<count - 3).reversed().map { "v\($0)" }
        #expect(accepted == expected, "not by priority, then arrival: \(accepted.prefix(12))")
        #expect(rejected.sorted() == Array(repeating: "invalid_json", count: 5) + ["not_a_regular_file"], "\(rejected)")
        let left = try FileManager.default.contentsOfDirectory(atPath: root + "/inbox").sorted()
        #expect(left == (0..<4).map { "partial\($0).json" }, "\(left)")
        #expect(intake.unsettledCount == 4)
        // The newest partial file (age 0) settles last; the oldest (age 3) is looked at first.
        let earliest = Double(Int(now.timeIntervalSince1970) - 3) + 60
        #expect(recheckAt.map { abs($0.seconds - earliest) < 0.01 } == true, "\(String(describing: recheckAt))")
    }
}
