// A job file replaced between intake's read and its claim (a writer renaming a new version over
// it) is decided again from what was claimed. That second decision used to be made in a `defer`
// after `return result` had copied the result, so the job was accepted on disk (its record in
// pending/) but never handed to the daemon: it waited until the next restart.
import Foundation
import Testing
@testable import SpoolCore

@Suite("intake: a file replaced while it is claimed")
struct IntakeReplacedFileTests {
    @Test("the replaced file's job is accepted in the same pass, with the new content")
    func replacedBetweenReadAndClaim() throws {
        let spool = try IntakeTestSpool("intake-replaced")
        let root = spool.root, intake = spool.intake
        let inbox = root + "/inbox"
        try Data(#"{"id": "swap", "command": ["echo", "old"]}"#.utf8).write(to: URL(fileURLWithPath: inbox + "/swap.json"))
        // The writer's new version, renamed over the old one after intake read it: a new inode.
        intake.beforeClaim.withLock {
            $0 = Intake.ClaimHook { name in
                guard name.description == "swap.json" else { return }
                try? Data(#"{"id": "swap", "command": ["echo", "new"]}"#.utf8).write(to: URL(fileURLWithPath: inbox + "/.swap.tmp"))
                rename(inbox + "/.swap.tmp", inbox + "/swap.json")
            }
        }
        let result = intake.process([FileName("swap.json")], now: Timestamp(Date()))
        #expect(result.rejected.isEmpty, "\(result.rejected.map { $0.error?.message ?? "" })")
        let accepted = try #require(result.accepted.first, "the replaced file's job was not handed on")
        #expect(result.accepted.count == 1)
        #expect(accepted.id.rawValue == "swap")
        #expect(accepted.spec?.command == ["echo", "new"])
        #expect(FileManager.default.fileExists(atPath: root + "/pending/swap.json"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: inbox).isEmpty)
    }
}
