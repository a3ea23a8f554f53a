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

@Suite("event log: the observer")
struct EventLogObserverTests {
    /// The observer used to sit in a LockedBox as a bare closure, which Swift wrapped in one more
    /// reabstraction thunk at every event: the n-th call went n levels deep (quadratic time, then a
    /// stack overflow). On a thread with a 256 KiB stack that overflowed within a few thousand
    /// events; now every call is one level deep whatever came before.
    @Test("50,000 events reach the observer, each call as shallow as the first")
    func observerDoesNotDeepen() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("events-observer-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        let log = try EventLog(root: root)
        let seen = LockedBox(0)
        log.observe { _, _, _ in seen.withLock { $0 += 1 } }
        let id = JobID("observed")!
        let done = DispatchSemaphore(value: 0)
        let thread = Thread {
            for _ in 0..<50_000 { log.append(id, "progress", status: .running) }
            done.signal()
        }
        thread.stackSize = 256 * 1024
        thread.start()
        #expect(done.wait(timeout: .now() + 120) == .success, "the appends did not finish")
        #expect(seen.withLock { $0 } == 50_000)
    }
}
