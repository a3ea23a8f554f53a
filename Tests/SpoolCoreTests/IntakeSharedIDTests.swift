// Two daemons sharing a spool (--lock-file) take the same explicit id from two files at once. The
// no-replace placement into pending/ finds the other's record only while it is there; a job that
// started (or finished) meanwhile has left pending/, and the second file used to be accepted as a
// second job with the same id (seen once in the sshfs test of two daemons: 239 records for 240 files).
import Foundation
import Testing
@testable import SpoolCore

@Suite("intake: an id taken by another daemon sharing the spool")
struct IntakeSharedIDTests {
    @Test("the other daemon's job of that id is already in running/ or done/: ours is not accepted, its claim is decided again as a duplicate", arguments: ["running", "done"])
    func takenAfterTheCheck(folder: String) throws {
        let spool = try IntakeTestSpool("intake-shared")
        let root = spool.root, intake = spool.intake
        try Data(#"{"id": "dup", "command": ["true"]}"#.utf8).write(to: URL(fileURLWithPath: root + "/inbox/dup-b.json"))
        // The other daemon's record of "dup" appears after this one found the id free.
        let other = #"{"id": "dup", "name": "dup", "status": "running", "source": "dup-a.json", "submitted_at": "2026-01-01T00:00:00Z", "attempts": 1}"#
        intake.beforePlacement.withLock {
            $0 = Intake.ClaimHook { _ in
                try? Data(other.utf8).write(to: URL(fileURLWithPath: "\(root)/\(folder)/dup.json"))
            }
        }
        let first = intake.process([FileName("dup-b.json")], now: Timestamp(Date()))
        #expect(first.accepted.isEmpty, "a second job with id dup was accepted")
        #expect(!FileManager.default.fileExists(atPath: root + "/pending/dup.json"), "our record of dup stayed in pending/")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").contains { $0.hasSuffix(".claim") }, "the claim must stay to be decided again")

        intake.beforePlacement.withLock { $0 = nil }
        let again = intake.recoverClaims(now: Timestamp(Date()), all: true)
        let records = try FileManager.default.contentsOfDirectory(atPath: root + "/done").filter { $0.hasSuffix(".json") && $0 != "dup.json" }
        #expect(records.count == 1, "the claim's record: \(records), \(again)")
        if let name = records.first {
            let r = try JobRecord.decode(Array(try Data(contentsOf: URL(fileURLWithPath: root + "/done/" + name))))
            #expect(r.status == .rejected && r.error?.code == .duplicateID && r.source == "dup-b.json")
        }
    }
}
