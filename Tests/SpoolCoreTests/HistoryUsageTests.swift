// What jobs used, in the history index (SPEC §4 `usage`, for `spoolctl stats` per name): a line
// carries its record's usage (a batch's command operations combined), the fold keeps means and
// maxima per name, and summary.json keeps them across restarts.
import Foundation
import Testing
@testable import SpoolCore
import SpoolJSON

@Suite("history index: usage")
struct HistoryUsageTests {
    static func used(_ user: Double, _ system: Double, _ rss: Int64?) -> ResourceUsage {
        ResourceUsage(cpuUserSeconds: user, cpuSystemSeconds: system, maxRSSBytes: rss)
    }

    @Test("a line carries the record's usage; a batch's command operations count together (CPU summed, the largest peak); built-ins add nothing")
    func lineUsage() throws {
        var job = HistoryTests.record("a", submitted: 100)
        job.usage = Self.used(1.25, 0.5, 64 << 20)
        var batch = HistoryTests.record("b", status: .partial, submitted: 200, operations: [.succeeded, .failed, .succeeded])
        batch.operations![0].usage = Self.used(1, 0.25, 10 << 20)
        batch.operations![1].usage = Self.used(2, 0.5, 30 << 20)  // operation 2: a built-in, no usage
        let none = HistoryTests.record("c", submitted: 300)
        var small = HistoryTests.record("d", submitted: 400)
        small.usage = Self.used(0.01, 0, nil)  // a peak under the daemon's own: null
        var smallOps = HistoryTests.record("e", status: .succeeded, submitted: 500, operations: [.succeeded, .succeeded])
        smallOps.operations![0].usage = Self.used(1, 0, nil)
        smallOps.operations![1].usage = Self.used(1, 0, nil)
        let table: [(JobRecord, ResourceUsage?)] = [
            (job, Self.used(1.25, 0.5, 64 << 20)),
            (batch, Self.used(3, 0.75, 30 << 20)),
            (none, nil),
            (small, Self.used(0.01, 0, nil)),
            (smallOps, Self.used(2, 0, nil)),
        ]
        for (record, want) in table {
            let e = HistoryEntry(record: record, indexedAt: record.submittedAt.seconds + 5)
            #expect(e.usage == want, "\(record.id)")
            let back = try HistoryEntry.decode(Array(e.line().utf8))
            #expect(back == e, "\(e.line())")
            // The rebuild reads record files: the same entry.
            #expect(HistoryEntry(recordBytes: record.encoded(), indexedAt: e.indexedAt) == e, "\(record.id)")
        }
        #expect(!HistoryEntry(record: none, indexedAt: 1).line().contains("usage"))
    }

    @Test("the fold: mean and max of CPU and peak memory per name, over the runs that measured them; kept in summary.json; merged across names")
    func foldUsage() throws {
        var s = HistorySummary()
        let runs: [(String, String, ResourceUsage?)] = [
            ("x1", "x", Self.used(1, 0.5, 100)),
            ("x2", "x", Self.used(3, 0.25, 300)),
            ("x3", "x", nil),  // nothing measured: counts as a run, not in usage
            ("y1", "y", Self.used(0.5, 0, 50)),
            ("y2", "y", Self.used(0.5, 0, nil)),  // CPU measured, the peak not (under the daemon's own)
        ]
        for (i, (id, name, usage)) in runs.enumerated() {
            var r = HistoryTests.record(id, name: name, submitted: Double(10 * i))
            r.usage = usage
            s.apply(HistoryEntry(record: r, indexedAt: Double(10 * i + 2)))
        }
        let x = try #require(s.names["x"])
        #expect(x.runs == 3 && x.usage.runs == 2)
        #expect(x.usage.meanCPUUser == 2 && x.usage.cpuUserMax == 3)
        #expect(x.usage.meanCPUSystem == 0.375 && x.usage.cpuSystemMax == 0.5)
        #expect(x.usage.meanRSS == 200 && x.usage.rssMax == 300)
        let y = try #require(s.names["y"])
        #expect(y.usage.runs == 2 && y.usage.rssRuns == 1 && y.usage.meanRSS == 50 && y.usage.meanCPUUser == 0.5)
        #expect(s.all.usage.runs == 4 && s.all.usage.rssRuns == 3 && s.all.usage.rssMax == 300 && s.all.usage.cpuUserSum == 5)
        #expect(try HistorySummary.decode(s.encoded()) == s)
        var both = x
        both.merge(y)
        #expect(both.usage.runs == 4 && both.usage.rssRuns == 3 && both.usage.cpuUserSum == 5 && both.usage.rssMax == 300)
        // summary.json written before peaks could be null (no usage_peaks): every run counted its peak.
        func withoutPeakCount(_ v: JSONValue) -> JSONValue {
            switch v {
            case .object(let o):
                return .object(JSONObject(o.members.filter { $0.key != "usage_peaks" }.map { m in (m.key, withoutPeakCount(m.value)) }))
            case .array(let a): return .array(a.map(withoutPeakCount))
            default: return v
            }
        }
        let old = withoutPeakCount(try JSONParser().parse(s.encoded())).serialized(pretty: false)
        let reread = try HistorySummary.decode(Array(old.utf8))
        #expect(reread.names["x"]?.usage.rssRuns == 2 && reread.names["y"]?.usage.rssRuns == 2 && reread.all.usage.rssRuns == 4, "\(old)")
        // A name that never measured anything writes no usage into summary.json.
        var plain = HistorySummary()
        plain.apply(HistoryEntry(record: HistoryTests.record("p", submitted: 1), indexedAt: 2))
        #expect(!String(decoding: plain.encoded(), as: UTF8.self).contains("usage"))
    }
}
