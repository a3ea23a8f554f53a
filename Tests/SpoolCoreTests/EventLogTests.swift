// The event log on its own: segments rotate by size, the oldest go, seq goes on across a reopen,
// a line cut by a crash is skipped, and reading --since a seq starts in the right segment.
import Foundation
import Testing
@testable import SpoolCore

@Suite("event log")
struct EventLogTests {
    @Test("rotation, retention, seq across a reopen, and a torn last line")
    func rotation() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        do {
            let log = try EventLog(root: root, maxSegmentBytes: 400, maxSegments: 3)
            for i in 0..<30 { log.append(JobID("j\(i)")!, "accepted", status: .pending) }
            log.flush()
            #expect(log.lastSeq == 30)
        }
        let segments = try FileManager.default.contentsOfDirectory(atPath: "\(root)/events").sorted()
        #expect(segments.count == 3, "\(segments)")
        let reader = EventReader(root: root)
        let kept = reader.events()
        #expect(kept.last?.seq == 30 && kept.count < 30)
        #expect(kept.map(\.seq) == Array(kept.first!.seq...30))
        #expect(reader.events(since: 27).map(\.seq) == [28, 29, 30])
        #expect(reader.events(since: 0, id: JobID("j29")).map(\.seq) == [30])

        // A crash cut the last line short: it is skipped, and the next event gets a line of its own.
        let newest = "\(root)/events/\(segments.last!)"
        let handle = try #require(FileHandle(forWritingAtPath: newest))
        handle.seekToEndOfFile()
        handle.write(Data(#"{"seq": 31, "time": "2026-"#.utf8))
        try handle.close()
        let again = try EventLog(root: root, maxSegmentBytes: 400, maxSegments: 3)
        again.append(JobID("k")!, "started", status: .running)
        again.flush()
        #expect(again.lastSeq == 31)
        #expect(reader.events(since: 29).map(\.seq) == [30, 31])
    }

    @Test("with a retention age, segments last written before it go at the next rotation; seq goes on")
    func ageRetention() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("events-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = try EventLog(root: root, maxSegmentBytes: 400, maxSegments: 100, maxAgeSeconds: 3600)
        for i in 0..<20 { log.append(JobID("j\(i)")!, "accepted", status: .pending) }
        log.flush()
        let before = try FileManager.default.contentsOfDirectory(atPath: "\(root)/events").sorted()
        #expect(before.count >= 4, "\(before)")
        // All but the newest two were last written two hours ago.
        let old = Date().addingTimeInterval(-7200)
        for name in before.dropLast(2) {
            try FileManager.default.setAttributes([.modificationDate: old], ofItemAtPath: "\(root)/events/\(name)")
        }
        for i in 20..<30 { log.append(JobID("k\(i)")!, "accepted", status: .pending) }
        log.flush()
        let after = try FileManager.default.contentsOfDirectory(atPath: "\(root)/events").sorted()
        #expect(Set(after).isDisjoint(with: before.dropLast(2)), "old segments kept: \(after)")
        #expect(after.contains(before[before.count - 2]) && after.contains(before.last!))
        let kept = EventReader(root: root).events()
        #expect(kept.last?.seq == 30 && kept.map(\.seq) == Array(kept.first!.seq...30))
    }
}
