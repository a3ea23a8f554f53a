// The history index: its pure parts as tables (a line and back, the fold, percentiles, the
// estimator), the writer against a temporary spool (rebuild, appends, removals, and every way a
// crash or a hand can leave it: torn line, lost summary, record behind its line, damaged line,
// summary ahead of the lines), and list's page reading only as far as it needs.
import Foundation
import Testing
@testable import SpoolCore

@Suite("history index")
struct HistoryTests {
    static func record(_ id: String, name: String = "n", status: JobStatus = .succeeded, queue: String? = nil, labels: [String: String]? = nil,
                       submitted: Double, duration: Double? = 1, operations: [OperationStatus]? = nil, opSeconds: Double = 0.5) -> JobRecord {
        var json: [String: Any] = ["name": name]
        if let queue { json["queue"] = queue }
        if let labels { json["labels"] = labels }
        if let operations { json["operations"] = operations.map { _ in ["shell": "true"] }; json["max_parallel"] = 3 } else { json["shell"] = "true" }
        let bytes = [UInt8](try! JSONSerialization.data(withJSONObject: json))
        guard case .success(let spec) = JobSpec.parse(bytes, file: "t.json") else { preconditionFailure("bad spec") }
        var r = JobRecord(id: JobID(id)!, name: name, status: status, spec: spec, source: "\(id).json",
                          submittedAt: Timestamp(seconds: submitted), sequence: Int64(submitted * 1_000_000))
        if let duration {
            r.startedAt = Timestamp(seconds: submitted + 0.1)
            r.finishedAt = Timestamp(seconds: submitted + 0.1 + duration)
            r.durationSeconds = duration
        } else {
            r.finishedAt = Timestamp(seconds: submitted)
        }
        r.attempts = 1
        if status == .failed { r.error = SpoolError(.exitNonzero, "x"); r.exitCode = 3 }
        if let operations {
            r.operations = operations.enumerated().map { i, s in
                var op = OperationRecord(index: i, name: nil)
                op.status = s
                op.durationSeconds = s == .skipped ? nil : opSeconds
                return op
            }
        }
        return r
    }

    // MARK: pure parts

    @Test("a line and back: command job, batch, rejected, labels, a removed line; the id read without parsing")
    func lineRoundTrip() throws {
        var removed = HistoryEntry(record: Self.record("gone", submitted: 50), indexedAt: 60)
        removed.kind = .removed
        var rejected = HistoryEntry(record: Self.record("rej", status: .rejected, submitted: 70, duration: nil), indexedAt: 70)
        rejected.errorCode = "invalid_json"
        let table: [HistoryEntry] = [
            HistoryEntry(record: Self.record("a", submitted: 100), indexedAt: 101.5, pausedSeconds: 0.25),
            HistoryEntry(record: Self.record("b.2", name: "batch \"x\"", status: .partial, queue: "hpc", submitted: 200,
                                             operations: [.succeeded, .failed, .skipped]), indexedAt: 202),
            HistoryEntry(record: Self.record("c", status: .failed, labels: ["team": "a", "env": "prod"], submitted: 300), indexedAt: 302),
            rejected, removed,
        ]
        // From a record file's bytes (the rebuild's way) as from the decoded record.
        for r in [Self.record("a", submitted: 100), Self.record("b.2", name: "batch \"x\"", status: .partial, queue: "hpc", submitted: 200,
                                                                  operations: [.succeeded, .failed, .skipped]),
                  Self.record("c", status: .failed, labels: ["team": "a"], submitted: 300),
                  Self.record("rej", status: .rejected, submitted: 70, duration: nil)] {
            #expect(HistoryEntry(recordBytes: r.encoded(), indexedAt: 9) == HistoryEntry(record: r, indexedAt: 9))
        }
        #expect(HistoryEntry(recordBytes: Array("{}".utf8), indexedAt: 0) == nil)
        for e in table {
            let line = e.line()
            #expect(!line.contains("\n"))
            let back = try HistoryEntry.decode(Array(line.utf8))
            #expect(back == e, "\(line)")
            let peek = try #require(HistoryEntry.peek(Array(line.utf8)))
            #expect(peek.kind == e.kind && peek.id == e.id[...])
        }
        let batch = table[1]
        #expect(batch.operations == HistoryEntry.Operations(total: 3, succeeded: 1, failed: 1, skipped: 1, seconds: 1.0, timed: 2))
        #expect(batch.maxParallel == 3 && batch.queue == "hpc")
        #expect(table[0].activeSeconds == 0.75)
        #expect(throws: HistoryEntry.DecodeError.self) { try HistoryEntry.decode(Array(#"{"kind":"f","id":"x"}"#.utf8)) }
        #expect(throws: HistoryEntry.DecodeError.self) { try HistoryEntry.decode(Array("{\"kind\":\"f\",\"id\":\"x\",\"na".utf8)) }
    }

    @Test("the fold: what is held goes with a removed line, the history of names and queues stays")
    func fold() throws {
        var s = HistorySummary()
        let a = HistoryEntry(record: Self.record("a", name: "x", submitted: 10, duration: 2), indexedAt: 12)
        let b = HistoryEntry(record: Self.record("b", name: "x", status: .failed, queue: "q", submitted: 20, duration: 4), indexedAt: 24)
        let c = HistoryEntry(record: Self.record("c", name: "y", submitted: 30, duration: 6), indexedAt: 36)
        for e in [a, b, c] { s.apply(e) }
        #expect(s.live == 3 && s.lines == 3 && s.lastIndexedAt == 36)
        #expect(s.fingerprint == HistorySummary.hash("a") ^ HistorySummary.hash("b") ^ HistorySummary.hash("c"))
        #expect(s.holdings == [.init(status: .succeeded, queue: "default"): 2, .init(status: .failed, queue: "q"): 1])
        #expect(s.recentFailures.map(\.id) == ["b"])
        var gone = b
        gone.kind = .removed
        gone.indexedAt = 40
        s.apply(gone)
        #expect(s.live == 2 && s.lines == 4)
        #expect(s.fingerprint == HistorySummary.hash("a") ^ HistorySummary.hash("c"))
        #expect(s.holdings == [.init(status: .succeeded, queue: "default"): 2])
        #expect(s.recentFailures.isEmpty)
        // History stays: x ran twice, once failed; the queue q keeps its run.
        let x = try #require(s.names["x"])
        #expect(x.runs == 2 && x.byStatus[.failed] == 1 && x.successRate == 0.5)
        #expect(x.recent.map(\.seconds) == [2])
        #expect(s.queues["q"]?.runs == 1 && s.all.runs == 3)
        #expect(s.held(statuses: [.succeeded]) == 2 && s.held(queues: ["q"]) == 0)
        // summary.json and back.
        s.width = .init(workers: 4, queueLimits: ["q": 1])
        s.covers = .init(segment: 1, offset: 999)
        #expect(try HistorySummary.decode(s.encoded()) == s)
    }

    @Test("names beyond the cap lose their aggregates, the least recently finished first")
    func nameCap() {
        var s = HistorySummary()
        for i in 0...HistorySummary.maxNames {
            s.apply(HistoryEntry(record: Self.record("j\(i)", name: "name\(i)", submitted: Double(i)), indexedAt: Double(i) + 2))
        }
        #expect(s.names.count <= HistorySummary.maxNames)
        #expect(s.names["name\(HistorySummary.maxNames)"] != nil && s.names["name0"] == nil)
        #expect(s.all.runs == HistorySummary.maxNames + 1)
    }

    struct QuantileCase: Sendable {
        var values: [Double], q: Double, exact: Double
    }

    @Test("percentiles from 5 % buckets are within 2.5 % of the exact ones")
    func quantiles() {
        let uniform = (1...1000).map { Double($0) / 100 }
        let table: [QuantileCase] = [
            .init(values: uniform, q: 0.5, exact: 5.0), .init(values: uniform, q: 0.95, exact: 9.5), .init(values: uniform, q: 0.99, exact: 9.9),
            .init(values: [0.0005, 0.0005, 3], q: 0.5, exact: 0.0005), .init(values: [42], q: 0.99, exact: 42),
            .init(values: (1...100).map { pow(10, Double($0) / 25) }, q: 0.9, exact: pow(10, 90.0 / 25)),
        ]
        for c in table {
            var h = LogHistogram()
            for v in c.values { h.add(v) }
            let got = h.quantile(c.q)!
            #expect(abs(got - c.exact) <= c.exact * 0.025 + 0.0006, "q\(c.q) of \(c.values.count) values: \(got) vs \(c.exact)")
        }
        #expect(LogHistogram().quantile(0.5) == nil)
    }

    struct EstimateCase: Sendable, CustomStringConvertible {
        var name: String
        var workers: Int
        var limits: [String: Int] = [:]
        var ahead: [Estimator.Job] = []
        var job: Estimator.Job
        var start: Double
        var finish: Double
        var description: String { name }
    }

    @Test("the estimator plays the scheduler forward", arguments: [
        EstimateCase(name: "one job, idle spool", workers: 2, job: .init(units: [3]), start: 0, finish: 3),
        EstimateCase(name: "100 operations, 2 at a time", workers: 2, job: .init(width: 2, units: Array(repeating: 0.5, count: 100)),
                     start: 0, finish: 25),
        EstimateCase(name: "max_parallel 8 on 4 workers", workers: 4, job: .init(width: 8, units: Array(repeating: 1, count: 10)),
                     start: 0, finish: 3),
        EstimateCase(name: "behind two running jobs", workers: 2, ahead: [.init(units: [], running: [4]), .init(units: [], running: [1])],
                     job: .init(width: 2, units: Array(repeating: 1, count: 4)), start: 1, finish: 5),
        EstimateCase(name: "behind a pending batch that takes every worker", workers: 2,
                     ahead: [.init(width: 2, units: Array(repeating: 2, count: 4))], job: .init(units: [1]), start: 4, finish: 5),
        EstimateCase(name: "its queue's limit of 1", workers: 4, limits: ["q": 1], job: .init(queue: "q", width: 4, units: [1, 1, 1]),
                     start: 0, finish: 3),
        EstimateCase(name: "the queue is busy, other queues are not", workers: 4, limits: ["q": 1],
                     ahead: [.init(queue: "q", units: [5]), .init(queue: "other", units: [5])], job: .init(queue: "q", units: [1]),
                     start: 5, finish: 6),
        EstimateCase(name: "2 cpus each on 3 workers", workers: 3, job: .init(cpus: 2, width: 4, units: [1, 1, 1]), start: 0, finish: 3),
        EstimateCase(name: "a later job uses the slot a wide one cannot", workers: 3, ahead: [.init(cpus: 3, units: [2], running: []),
                     .init(units: [], running: [1])], job: .init(units: [1]), start: 0, finish: 1),
    ])
    func estimator(_ c: EstimateCase) throws {
        let r = try #require(Estimator.simulate(workers: c.workers, queueLimits: c.limits, ahead: c.ahead, job: c.job))
        #expect(abs(r.start - c.start) < 1e-9 && abs(r.finish - c.finish) < 1e-9, "\(r)")
    }

    @Test("width and unit length from history")
    func widthAndUnits() {
        #expect(Estimator.width(maxParallel: 8, operations: 100, cpus: 1, workers: 2, queueLimit: nil) == 2)
        #expect(Estimator.width(maxParallel: 8, operations: 3, cpus: 1, workers: 16, queueLimit: nil) == 3)
        #expect(Estimator.width(maxParallel: 8, operations: 100, cpus: 2, workers: 16, queueLimit: 3) == 3)
        #expect(Estimator.width(maxParallel: 1, operations: 100, cpus: 4, workers: 2, queueLimit: nil) == 1)
        #expect(Estimator.simulate(workers: 2, queueLimits: [:], ahead: [], job: .init(cpus: 3, units: [1])) == nil)
        typealias Run = HistorySummary.Run
        // A batch of 100 on width 2 that took 26 s: 0.52 s per wave (the start cost included).
        #expect(Estimator.unitSeconds([Run(finishedAt: 1, seconds: 26, operations: 100, operationSeconds: 0.5, width: 2)], batch: true) == 0.52)
        // Without its width: the operations' own mean.
        #expect(Estimator.unitSeconds([Run(finishedAt: 1, seconds: 26, operations: 100, operationSeconds: 0.5)], batch: true) == 0.5)
        // Command jobs: the mean of the last n; batches do not count for them.
        let runs = [Run(finishedAt: 1, seconds: 10), Run(finishedAt: 2, seconds: 2), Run(finishedAt: 3, seconds: 4),
                    Run(finishedAt: 4, seconds: 9, operations: 3, operationSeconds: 3, width: 3)]
        #expect(Estimator.unitSeconds(runs, batch: false, last: 3) == 3)
        #expect(Estimator.unitSeconds([], batch: false) == nil)
    }

    // MARK: the writer and the files

    final class Spool {
        let root: String
        let layout: SpoolLayout
        let store: StateStore
        init() throws {
            root = FileManager.default.temporaryDirectory.appendingPathComponent("history-\(UUID().uuidString.prefix(8))").path
            layout = try SpoolLayout(path: root, create: true)
            store = StateStore(layout: layout)
        }
        deinit { try? FileManager.default.removeItem(atPath: root) }

        func write(_ r: JobRecord) throws {
            var sync = DirectorySync()
            try store.write(r, to: .done, sync: &sync)
            store.commit(&sync)
        }

        /// Opens a writer as the daemon does at start, and waits for a rebuild to end.
        func open() -> (History, String?) {
            let h = History(layout: layout, log: Log(minimum: .error))
            h.open(workers: 2, queueLimits: [:])
            h.waitVerified()
            return (h, h.rebuildReason.withLock { $0 })
        }

        func view() throws -> HistoryView { try #require(HistoryView.open(layout)) }

        var segment: String { "\(root)/history/000000000001.ndjson" }
    }

    @Test("built from the records at first start, kept by appends and removals, found up to date at the next start")
    func writer() throws {
        let spool = try Spool()
        for i in 0..<50 { try spool.write(Self.record("r\(i)", name: i % 2 == 0 ? "even" : "odd", submitted: 1000 + Double(i))) }
        let (h, reason) = spool.open()
        #expect(reason == "no index yet")
        var v = try spool.view()
        #expect(v.indexed && v.summary.live == 50 && v.summary.names["even"]?.runs == 25)
        // A job ends (record first, then its line), one is deleted, one is paused for 2 s of its 5.
        h.observe(JobID("late")!, "started", at: 2000)
        h.observe(JobID("late")!, "paused", at: 2001)
        h.observe(JobID("late")!, "resumed", at: 2003)
        let late = Self.record("late", name: "odd", submitted: 1999.9, duration: 5)
        try spool.write(late)
        h.recordFinished(late)
        let r3 = try #require(try spool.store.read(JobID("r3")!, in: .done))
        JobFiles.removeFinished(r3, layout: spool.layout)
        h.recordRemoved(r3)
        h.flush()
        v = try spool.view()
        #expect(v.summary.live == 50 && v.summary.lines == 52)
        #expect(v.summary.names["odd"]?.runs == 26, "the removed run stays in the history")
        #expect(v.summary.names["odd"]?.recent.last?.seconds == 3, "paused time is left out")
        var newest: [String] = []
        v.held { newest.append($0.id); return newest.count < 3 }
        #expect(newest == ["late", "r49", "r48"])
        var all = Set<String>()
        v.held { all.insert($0.id); return true }
        #expect(all.count == 50 && !all.contains("r3"))
        // The next start finds it up to date (nothing rebuilt).
        let (_, again) = spool.open()
        #expect(again == nil)
    }

    @Test("after a crash or a hand in done/, the next start repairs the index", arguments: [
        "torn last line", "summary lost", "record without its line", "damaged line", "summary ahead of the lines", "record removed by hand",
        "unreadable record",
    ])
    func repair(_ damage: String) throws {
        let spool = try Spool()
        for i in 0..<20 { try spool.write(Self.record("r\(i)", submitted: 1000 + Double(i))) }
        _ = spool.open()
        let original = try #require(FileManager.default.contents(atPath: spool.segment))
        let handle = try #require(FileHandle(forUpdatingAtPath: spool.segment))
        switch damage {
        case "torn last line":  // killed in the middle of an append
            handle.seekToEndOfFile()
            handle.write(Data(#"{"kind":"f","id":"r99","na"#.utf8))
        case "summary lost":
            unlink("\(spool.root)/history/summary.json")
        case "record without its line":  // killed between a record and its line
            try spool.write(Self.record("r20", submitted: 2000))
        case "damaged line":
            handle.seek(toFileOffset: 10)
            handle.write(Data("XXXX".utf8))
        case "summary ahead of the lines":  // a power cut kept the summary, not the lines
            handle.truncateFile(atOffset: UInt64(original.count / 2))
        case "unreadable record":  // not a record: left out of the index, and not a difference at the next start
            try Data("{not json".utf8).write(to: URL(fileURLWithPath: "\(spool.root)/done/junk.json"))
        default:
            unlink("\(spool.root)/done/r5.json")
        }
        try handle.close()
        let (_, reason) = spool.open()
        if damage == "torn last line" {
            #expect(reason == nil, "a torn line is cut off, nothing else is wrong")
        } else {
            #expect(reason != nil)
        }
        let v = try spool.view()
        var held = Set<String>()
        v.held { held.insert($0.id); return true }
        let done = Set(try FileManager.default.contentsOfDirectory(atPath: "\(spool.root)/done").filter { $0.hasSuffix(".json") && $0 != "junk.json" }.map { String($0.dropLast(5)) })
        #expect(held == done)
        #expect(v.summary.live == done.count)
        // And it stays sound: one more start finds nothing to do.
        #expect(spool.open().1 == nil)
    }

    @Test("list's page: the newest matches after the offset, read only as far as needed")
    func page() throws {
        let spool = try Spool()
        let client = try SpoolClient(spoolPath: spool.root)
        // 2000 records; submitted in order, but every 10th ran long (finished late).
        for i in 0..<2000 {
            try spool.write(Self.record(String(format: "j%04d", i), name: i % 3 == 0 ? "three" : "other",
                                        submitted: 1000 + Double(i), duration: i % 10 == 0 ? 30 : 0.5))
        }
        _ = spool.open()
        let v = try spool.view()
        let everything: [String] = (0..<2000).reversed().map { String(format: "j%04d", $0) }
        for (offset, limit, onlyThree) in [(0, 10, false), (5, 10, true), (0, 1, false), (100, 7, true)] {
            var calls = 0
            let page = HistoryPage.collect(v, active: [], offset: offset, limit: limit, client: client, exactTotal: true,
                                           cheapTotal: onlyThree ? nil : v.summary.held()) { e in
                calls += 1
                return !onlyThree || e.name == "three"
            }
            let expected = everything.filter { !onlyThree || Int($0.dropFirst())! % 3 == 0 }
            #expect(page.jobs.map(\.record.id.rawValue) == Array(expected.dropFirst(offset).prefix(limit)))
            #expect(page.total == expected.count)
            // The page itself stopped early; only the exact total of a filter the summary cannot answer reads on.
            let pageCalls = onlyThree ? calls - 2000 : calls
            #expect(pageCalls < 3 * (offset + limit) + 100, "read \(pageCalls) lines for a page of \(limit) after \(offset)")
        }
    }
}
