// A job that a power cut would only run again (an `on_interrupt: requeue` command job on a local
// queue without live restore) is handed on as soon as its claim and its record's data are durable,
// before the fsync of pending/ and of the inbox: that fsync then overlaps its start. Its claim
// stays in tmp/ until the fsync is done, so recovery can make the job again from it. Every other
// job is handed on only once its record is durable and its claim removed, as before.
import Foundation
import Testing
@testable import SpoolCore

@Suite("intake: jobs that may run again after a power cut are handed on before pending/ is fsynced")
struct IntakeEarlyHandOnTests {
    /// The daemon's rule, on an engine of the given kind.
    static func rule(_ engine: Engine) -> Intake.EarlyRule {
        let box = LockedBox(engine)
        return Intake.EarlyRule { spec in box.withLock { $0.mayStartBeforeDurable(spec) } }
    }

    /// What each delivery held, and whether each job's claim was still in tmp/ when it came.
    struct Delivery {
        var ids: [String]
        var claimsInTmp: Int
        var inPending: [String]
    }

    static func run(_ jobs: [String: String], rule: Intake.EarlyRule?) throws -> [Delivery] {
        let spool = try IntakeTestSpool("intake-early")
        let root = spool.root
        for (name, json) in jobs {
            try Data(json.utf8).write(to: URL(fileURLWithPath: "\(root)/inbox/\(name)"))
        }
        spool.intake.startsEarly.withLock { $0 = rule }
        var deliveries: [Delivery] = []
        spool.intake.process(jobs.keys.sorted().map { FileName($0) }, now: Timestamp(Date()), inParts: false) { part in
            let tmp = (try? FileManager.default.contentsOfDirectory(atPath: root + "/tmp")) ?? []
            let pending = Set((try? FileManager.default.contentsOfDirectory(atPath: root + "/pending")) ?? [])
            let ids = part.accepted.map(\.id.rawValue)
            deliveries.append(Delivery(ids: ids, claimsInTmp: tmp.filter { $0.hasSuffix(".claim") }.count,
                                       inPending: ids.filter { pending.contains("\($0).json") }))
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/inbox").isEmpty)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root + "/tmp").filter { $0.hasSuffix(".claim") }.isEmpty)
        return deliveries
    }

    /// By priority: the two requeue jobs lead the part, then a `fail` job and a batch.
    static let mixed = [
        "a.json": #"{"id": "a", "priority": 9, "command": ["true"]}"#,
        "b.json": #"{"id": "b", "priority": 5, "on_interrupt": "fail", "command": ["true"]}"#,
        "c.json": #"{"id": "c", "priority": 1, "operations": [{"command": ["true"]}]}"#,
        "d.json": #"{"id": "d", "priority": 8, "shell": "true", "on_interrupt": "requeue"}"#,
    ]

    @Test("the leading requeue command jobs first, their claims still in tmp/ and their records in pending/; the rest after, claims removed")
    func earlyThenRest() throws {
        let deliveries = try Self.run(Self.mixed, rule: Self.rule(Engine(workers: 2)))
        #expect(deliveries.map { Set($0.ids) } == [["a", "d"], ["b", "c"]], "\(deliveries)")
        #expect(deliveries.first?.claimsInTmp == 4, "every claim is kept until the records' folder is fsynced: \(deliveries)")
        #expect(deliveries.first.map { Set($0.inPending) } == ["a", "d"], "\(deliveries)")
        #expect(deliveries.last?.claimsInTmp == 0, "\(deliveries)")
        #expect(deliveries.last.map { Set($0.inPending) } == ["b", "c"], "\(deliveries)")
    }

    @Test("a requeue job ranking below a job that waits for the fsync is not handed on before it")
    func notAheadOfBetterJobs() throws {
        let jobs = [
            "f.json": #"{"id": "f", "priority": 5, "on_interrupt": "fail", "command": ["true"]}"#,
            "r.json": #"{"id": "r", "priority": 1, "command": ["true"]}"#,
        ]
        let deliveries = try Self.run(jobs, rule: Self.rule(Engine(workers: 2)))
        #expect(deliveries.map(\.ids) == [["f", "r"]] && deliveries[0].claimsInTmp == 0, "\(deliveries)")
    }

    @Test("no rule (as in tools that drive intake themselves): everything after the fsync, claims removed")
    func noRule() throws {
        let deliveries = try Self.run(Self.mixed, rule: nil)
        #expect(deliveries.count == 1 && Set(deliveries[0].ids) == ["a", "b", "c", "d"] && deliveries[0].claimsInTmp == 0, "\(deliveries)")
    }

    @Test("live restore: an attempt would outlive the daemon, so nothing is handed on early")
    func liveRestore() throws {
        let deliveries = try Self.run(Self.mixed, rule: Self.rule(Engine(workers: 2, liveRestore: true)))
        #expect(deliveries.count == 1 && deliveries[0].ids.count == 4 && deliveries[0].claimsInTmp == 0, "\(deliveries)")
    }

    @Test("a group commit (8 files or more: records are not fsynced before their rename): nothing early")
    func groupCommit() throws {
        var jobs: [String: String] = [:]
        for i in 0..<DirectorySync.groupThreshold { jobs["g\(i).json"] = #"{"id": "g\#(i)", "command": ["true"]}"# }
        let deliveries = try Self.run(jobs, rule: Self.rule(Engine(workers: 2)))
        #expect(deliveries.count == 1 && deliveries[0].ids.count == jobs.count && deliveries[0].claimsInTmp == 0, "\(deliveries)")
    }

    @Test("the rule, as a table: requeue command and shell jobs on a local queue only")
    func ruleTable() throws {
        func spec(_ json: String) throws -> JobSpec {
            try JobSpec.parse(Array(json.utf8), file: "t.json").mapError { $0.combined }.get()
        }
        let local = Engine(workers: 2)
        let remote = Engine(workers: 2, remoteQueues: ["hpc"])
        let cases: [(String, Engine, Bool)] = [
            (#"{"command": ["true"]}"#, local, true),
            (#"{"shell": "true"}"#, local, true),
            (#"{"command": ["true"], "on_interrupt": "fail"}"#, local, false),
            (#"{"operations": [{"command": ["true"]}]}"#, local, false),
            (#"{"command": ["true"], "queue": "hpc"}"#, remote, false),
            (#"{"command": ["true"], "queue": "other"}"#, remote, true),
            (#"{"command": ["true"]}"#, Engine(workers: 2, liveRestore: true), false),
        ]
        for (json, engine, expected) in cases {
            #expect(engine.mayStartBeforeDurable(try spec(json)) == expected, "\(json)")
        }
    }
}
