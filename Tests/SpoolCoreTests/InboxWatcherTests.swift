// The inotify watcher on its own: names renamed or written into the folder reach the handler on
// the given queue; cancel ends its thread, and a second cancel is harmless.
import Foundation
import Testing
@testable import SpoolCore

@Suite("inbox watcher")
struct InboxWatcherTests {
    /// Threads of this process named like the watcher's ("spoold.inotify").
    func watcherThreads() -> Int {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tasks.filter { (try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8)) == "spoold.inotify\n" }.count
    }

    func waitFor(_ what: String, _ condition: () -> Bool) {
        let deadline = Date().addingTimeInterval(10)
        while !condition() && Date() < deadline { usleep(1000) }
        #expect(condition(), "\(what) within 10 s")
    }

    @Test("a renamed-in and a written file reach the handler, on the queue; cancel ends the thread, twice is harmless")
    func namesThenCancel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("watcher-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir + "/in", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let queue = DispatchQueue(label: "test.intake")
        let seen = LockedBox<[String]>([])
        let before = watcherThreads()
        let watcher = try InboxWatcher(path: dir + "/in", queue: queue) { event in
            dispatchPrecondition(condition: .onQueue(queue))
            if case .names(let names, let created) = event { seen.withLock { $0 += (names + created).map(\.description) } }
        }
        waitFor("the watcher's thread") { watcherThreads() == before + 1 }
        try Data("{}".utf8).write(to: URL(fileURLWithPath: dir + "/a.json"))
        #expect(rename(dir + "/a.json", dir + "/in/a.json") == 0)
        try Data("{}".utf8).write(to: URL(fileURLWithPath: dir + "/in/b.json"))
        waitFor("both names seen") { Set(seen.withLock { $0 }).isSuperset(of: ["a.json", "b.json"]) }
        watcher.cancel()
        queue.sync {}
        watcher.cancel()
        waitFor("the watcher's thread gone") { watcherThreads() == before }
    }
}
