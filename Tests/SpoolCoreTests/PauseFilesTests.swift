// Pause files are looked up through the spool root's descriptor (PauseFiles, PausedQueues): each
// step below changes the root's files, and what counts as paused right after is the answer, with no
// wait in between (a listing made in the same clock tick as a change is not cached).
import Foundation
import Testing
@testable import SpoolCore

@Suite("pause files")
struct PauseFilesTests {
    enum Change { case create(String), remove(String), symlink(String) }

    @Test("each change of the root's pause files is seen at the next look")
    func changesAreSeen() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("pause-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let layout = try SpoolLayout(path: root)
        let files = PauseFiles(), access = AccessPolicy(), log = Log(minimum: .error)
        // change → (spool paused, queues held)
        let table: [(Change?, Bool, Set<String>)] = [
            (nil, false, []),
            (.create("paused"), true, []),
            (.create("paused.queue.gpu"), true, ["gpu"]),
            (.create("paused.queue.io"), true, ["gpu", "io"]),
            (.remove("paused"), false, ["gpu", "io"]),
            (.remove("paused.queue.gpu"), false, ["io"]),
            (.create("paused.queue"), false, ["io"]),  // no queue name after the prefix's dot: not a queue's file
            (.symlink("paused"), true, ["io"]),  // the link itself, as lstat saw it: a dangling one still pauses
            (.remove("paused.queue.io"), true, []),
        ]
        for (step, (change, paused, queues)) in table.enumerated() {
            switch change {
            case .create(let name)?: #expect(FileManager.default.createFile(atPath: "\(root)/\(name)", contents: nil))
            case .remove(let name)?: try FileManager.default.removeItem(atPath: "\(root)/\(name)")
            case .symlink(let name)?: #expect(symlink("/nonexistent/\(UUID().uuidString)", "\(root)/\(name)") == 0)
            case nil: break
            }
            #expect(files.spoolPaused(layout, access: access, log: log) == paused, "step \(step): spool paused")
            #expect(files.pausedQueues(layout, access: access, log: log) == queues, "step \(step): queues held")
        }
    }
}
