// After a power cut, a claim in tmp/ may have its inbox name beside it (both names one file: the
// inbox's fsync comes after the claim's) and nothing else in memory: the inbox name must be
// dropped as the claim's twin, never taken as a second job, also when the claim is another
// daemon's that is taken over only after a minute. Recovery finds that name by the claim's id
// stem, so a name the stem does not give back keeps its inbox fsync with the claim. A claim whose
// record already got as far as running/ is finished without a second job.
import Foundation
import Testing
@testable import SpoolCore

@Suite("intake recovery: an inbox name a power cut kept beside its claim is the claim, not a second job")
struct IntakeTwinTests {
    /// The state a power cut leaves when only the claim's new name reached the disk: `name` in the
    /// inbox and its claim in tmp/ are one file. Returns the claim's token.
    static func twin(_ spool: IntakeTestSpool, _ name: String, _ json: String) throws -> JobID {
        try Data(json.utf8).write(to: URL(fileURLWithPath: "\(spool.root)/inbox/\(name)"))
        let token = JobIDGenerator().next(stem: JobID.stem(of: FileName(name)))
        #expect(link("\(spool.root)/inbox/\(name)", "\(spool.root)/tmp/\(token.rawValue).claim") == 0)
        return token
    }

    static func names(_ spool: IntakeTestSpool, _ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: "\(spool.root)/\(folder)")) ?? []).sorted()
    }

    @Test("the twin goes, the claim becomes one job, and a later scan finds nothing more")
    func twinDropped() throws {
        let spool = try IntakeTestSpool("intake-twin")
        _ = try Self.twin(spool, "plain-1.json", #"{"command": ["true"]}"#)
        let result = spool.intake.recoverClaims(now: Timestamp(Date()), all: true)
        #expect(result.accepted.count == 1 && result.rejected.isEmpty, "\(result.accepted.map(\.id)) \(result.rejected.map(\.id))")
        #expect(result.accepted.first?.source == "plain-1.json")
        #expect(Self.names(spool, "inbox").isEmpty, "the twin is gone: \(Self.names(spool, "inbox"))")
        #expect(Self.names(spool, "tmp").filter { $0.hasSuffix(".claim") }.isEmpty)
        let again = spool.intake.process(Self.names(spool, "inbox").map { FileName($0) }, now: Timestamp(Date()))
        #expect(again.accepted.isEmpty && again.rejected.isEmpty)
        #expect(Self.names(spool, "pending").count == 1)
    }

    @Test("names the id stem does not give back keep the inbox fsync with their claim", arguments: [
        ("plain.json", false), ("a.b-c_d.json", false), ("nightly build.json", true), ("+x.json", true),
        ("\u{e9}t\u{e9}.json", true), (String(repeating: "long", count: 30) + ".json", true),
        (String(repeating: "x", count: 80) + ".json", false),
    ])
    func inboxSyncedWithClaim(name: String, synced: Bool) {
        #expect(Intake.inboxSyncedWithClaim(FileName(name)) == synced, "\(name)")
    }

    @Test("a user's second link under another name stays a job")
    func otherLinkStays() throws {
        let spool = try IntakeTestSpool("intake-twin-link")
        _ = try Self.twin(spool, "a.json", #"{"command": ["true"]}"#)
        #expect(link("\(spool.root)/inbox/a.json", "\(spool.root)/inbox/other.json") == 0)
        let result = spool.intake.recoverClaims(now: Timestamp(Date()), all: true)
        #expect(result.accepted.count == 1)
        #expect(Self.names(spool, "inbox") == ["other.json"])
    }

    @Test("another daemon's claim (taken over after a minute): its twin goes at once, the claim waits")
    func foreignClaimTwin() throws {
        let spool = try IntakeTestSpool("intake-twin-foreign")
        _ = try Self.twin(spool, "x.json", #"{"command": ["true"]}"#)
        _ = try Self.twin(spool, "plain.json", #"{"command": ["true"]}"#)
        let result = spool.intake.recoverClaims(now: Timestamp(Date()), all: false)
        #expect(result.accepted.isEmpty, "a foreign claim is not finished before a minute")
        #expect(Self.names(spool, "inbox").isEmpty, "\(Self.names(spool, "inbox"))")
        #expect(Self.names(spool, "tmp").filter { $0.hasSuffix(".claim") }.count == 2)
    }

    @Test("a claim whose record already got to running/ (started before the fsync) makes no second job")
    func recordInRunning() throws {
        let spool = try IntakeTestSpool("intake-twin-running")
        let token = try Self.twin(spool, "r.json", #"{"id": "r", "command": ["true"]}"#)
        var record = JobRecord(id: JobID("r")!, name: "r", status: .pending, spec: nil, source: "r.json",
                               submittedAt: Timestamp(Date()), sequence: 1)
        record.intake = token.rawValue
        var sync = DirectorySync()
        try spool.store.write(record, to: .running, sync: &sync)
        spool.store.commit(&sync)
        let result = spool.intake.recoverClaims(now: Timestamp(Date()), all: true)
        #expect(result.accepted.isEmpty && result.rejected.isEmpty)
        #expect(Self.names(spool, "pending").isEmpty)
        #expect(Self.names(spool, "running") == ["r.json"])
        #expect(Self.names(spool, "inbox").isEmpty && Self.names(spool, "tmp").filter { $0.hasSuffix(".claim") }.isEmpty)
    }
}
