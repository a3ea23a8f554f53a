// The history index against the real daemon: it follows done/ as jobs end and are deleted, is
// found up to date after a SIGKILL, is rebuilt when records changed behind it; pauses are left
// out of run times; the estimate of a 100-operation batch behind other work is within 5 % of
// what the run took; the report page is checked in a real headless chromium; progress events
// come at least every 2 s while progress changes.
import Foundation
import Testing
import TestTools

@Suite("history index (daemon)", .serialized)
struct HistoryIndexTests {
    func ctl(_ spool: TempSpool, _ args: [String]) -> CommandResult {
        runCommand(Binaries.spoolctl, ["--spool", spool.root] + args)
    }

    func json(_ r: CommandResult) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [String: Any], "\(r.stdout)\(r.stderr)")
    }

    /// The index's lines, parsed.
    func lines(_ spool: TempSpool) -> [[String: Any]] {
        spool.names("history").filter { $0.hasSuffix(".ndjson") }.flatMap { name in
            (spool.read("history/\(name)") ?? "").split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
        }
    }

    /// ids newest first as `list --json` gives them, and its total.
    func listed(_ spool: TempSpool, _ args: [String] = []) throws -> ([String], Int) {
        let o = try json(ctl(spool, ["list", "--json"] + args))
        return (((o["jobs"] as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }, o["total"] as? Int ?? -1)
    }

    /// What done/ holds, newest first as list orders it (submission time, then arrival).
    func doneNewestFirst(_ spool: TempSpool) -> [String] {
        spool.doneRecords().sorted { a, b in
            let (ta, tb) = (a.time("submitted_at") ?? 0, b.time("submitted_at") ?? 0)
            return ta != tb ? ta > tb : (a["sequence"] as? Int ?? 0) > (b["sequence"] as? Int ?? 0)
        }.compactMap(\.id)
    }

    @Test("the index follows done/: jobs that end, a delete, a SIGKILL, records changed while no daemon ran")
    func followsDone() throws {
        let spool = try TempSpool()
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        for i in 0..<6 { try spool.drop("ok\(i).json", #"{"id": "ok\#(i)", "name": "ok", "labels": {"n": "\#(i % 2)"}, "command": ["true"]}"#) }
        try spool.drop("bad.json", #"{"id": "bad", "name": "bad", "queue": "q2", "shell": "exit 4"}"#)
        try spool.drop("junk.json", "{not json")
        try spool.drop("b.json", #"{"id": "b", "name": "batch", "max_parallel": 2, "operations": [{"shell": "true"}, {"shell": "exit 1"}, {"shell": "true"}]}"#)
        poll(timeout: 30, "9 records") { spool.recordNames("done").count == 9 }
        poll(timeout: 10, "9 index lines") { lines(spool).count == 9 }
        let deleted = ctl(spool, ["delete", "ok3"])
        #expect(deleted.status == 0, "\(deleted.stderr)")
        poll(timeout: 10, "a removed line") { lines(spool).contains { $0["kind"] as? String == "d" && $0["id"] as? String == "ok3" } }

        let (ids, total) = try listed(spool)
        #expect(ids == doneNewestFirst(spool) && total == 8)
        #expect(try listed(spool, ["--limit", "3", "--offset", "2"]) == (Array(doneNewestFirst(spool).dropFirst(2).prefix(3)), 8))
        #expect(try listed(spool, ["--status", "failed"]).0 == ["bad"])
        #expect(try listed(spool, ["--label", "n=1", "--limit", "1"]).1 == 2)  // ok1, ok5 (ok3 deleted)
        #expect(try listed(spool, ["--queue", "q2"]) == (["bad"], 1))
        #expect(ctl(spool, ["list", "--count", "--status", "succeeded"]).stdout == "5\n")
        let stats = try json(ctl(spool, ["stats", "--json"]))
        #expect(stats["by_status"] as? [String: Int] == ["succeeded": 5, "failed": 1, "partial": 1, "rejected": 1])
        #expect(stats["runs"] as? Int == 9, "the deleted run stays in the history")
        let ops = (stats["operations"] as? [String: Any]) ?? [:]
        #expect(ops["total"] as? Int == 3 && ops["succeeded"] as? Int == 2 && ops["failed"] as? Int == 1)
        #expect((stats["by_name"] as? [String: Any])?.keys.sorted() == ["bad", "batch", "junk", "ok"])
        let byName = try json(ctl(spool, ["stats", "--json", "--name", "ok"]))
        #expect(byName["runs"] as? Int == 6 && byName["success_rate"] as? Double == 1)
        let watch = ctl(spool, ["watch", "--once"]).stdout
        #expect(watch.contains("bad") && watch.contains("partial"), "\(watch)")

        // SIGKILL: the next daemon finds the index up to date.
        d.crash()
        let d2 = DaemonProcess(spool: spool)
        d2.waitReady()
        poll(timeout: 10, "index checked\n\(d2.log)") { d2.log.contains("history: index of 8 finished jobs is up to date") }
        d2.crash()
        // Records changed while no daemon ran: the next start sees it and rebuilds.
        let copy = try #require(spool.read("done/ok0.json")).replacingOccurrences(of: "\"ok0\"", with: "\"byhand\"")
        try copy.write(toFile: spool.path("done/byhand.json"), atomically: true, encoding: .utf8)
        unlink(spool.path("done/ok1.json"))
        let d3 = DaemonProcess(spool: spool)
        d3.waitReady()
        poll(timeout: 30, "rebuilt\n\(d3.log)") { d3.log.contains("history: index of 8 finished jobs built") }
        #expect(d3.log.contains("rebuilding the index"))
        // byhand is a copy of ok0 (same submission time and arrival), so only the set is certain.
        let after = try listed(spool)
        #expect(Set(after.0) == Set(doneNewestFirst(spool)) && after.0.count == 8 && after.1 == 8)
        #expect(after.0.contains("byhand") && !after.0.contains("ok1"))
    }

    @Test("paused time is left out of a job's run time in the history")
    func pausedTime() throws {
        let spool = try TempSpool()
        let d = DaemonProcess(spool: spool)
        d.waitReady()
        try spool.drop("p.json", #"{"id": "p", "name": "paused", "shell": "touch \#(spool.path("started")); for i in 1 2 3 4 5 6 7 8 9 10; do sleep 0.1; done"}"#)
        poll(timeout: 20, "p started") { spool.exists("started") }
        #expect(ctl(spool, ["pause", "p"]).status == 0)
        poll(timeout: 10, "p paused") { (spool.record("p", in: "running")?.status) == "paused" }
        usleep(1_500_000)  // the pause itself: it lasts 1.5 s
        #expect(ctl(spool, ["resume", "p"]).status == 0)
        poll(timeout: 30, "p ended") { spool.record("p")?.status == "succeeded" }
        poll(timeout: 10, "its line") { lines(spool).contains { $0["id"] as? String == "p" } }
        let line = try #require(lines(spool).first { $0["id"] as? String == "p" })
        let paused = try #require(line["paused_seconds"] as? Double)
        let duration = try #require(line["duration_seconds"] as? Double)
        #expect(paused >= 1.4 && paused <= duration, "paused \(paused) of \(duration)")
        let stats = try json(ctl(spool, ["stats", "--json", "--name", "paused"]))
        let mean = try #require(stats["mean_duration_seconds"] as? Double)
        #expect(abs(mean - (duration - paused)) <= 0.05 * (duration - paused) + 0.01, "mean \(mean), run \(duration - paused)")
    }

    @Test("estimate: a 100-operation batch behind other work ends within 5 % of the predicted time")
    func estimateBatchBehindWork() throws {
        let spool = try TempSpool()
        let batch = #"{"name": "wave", "max_parallel": 4, "operations": [\#((0..<100).map { _ in #"{"shell": "sleep 0.3"}"# }.joined(separator: ", "))]}"#
        // History on the same 2 workers: the jobs that will be ahead of it, then the batch alone.
        try spool.drop("w1.json", #"{"name": "ahead", "command": ["sleep", "2"]}"#)
        try spool.drop("w2.json", #"{"name": "ahead", "command": ["sleep", "2"]}"#)
        drain(spool, workers: 2)
        try spool.drop("h1.json", batch)
        drain(spool, workers: 2)
        let d = DaemonProcess(spool: spool, workers: 2)
        d.waitReady()
        try spool.drop("a1.json", #"{"id": "a1", "name": "ahead", "command": ["sleep", "2"]}"#)
        try spool.drop("a2.json", #"{"id": "a2", "name": "ahead", "command": ["sleep", "2"]}"#)
        poll(timeout: 20, "both running") { spool.record("a1", in: "running") != nil && spool.record("a2", in: "running") != nil }
        let file = spool.path("wave.json")
        try batch.write(toFile: file, atomically: true, encoding: .utf8)
        let asked = Date().timeIntervalSince1970
        let e = try json(ctl(spool, ["estimate", file, "--json"]))
        #expect(e["workers"] as? Int == 2 && e["width"] as? Int == 2 && e["operations"] as? Int == 100, "\(e)")
        let finishText = try #require(e["expected_finish_at"] as? String)
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let predicted = try #require(f.date(from: finishText)).timeIntervalSince1970
        let predictedDuration = try #require(e["expected_duration_seconds"] as? Double)
        try spool.drop("wave.json", batch.replacingOccurrences(of: #""name""#, with: #""id": "measured", "name""#))
        poll(timeout: 120, "the batch ended") { spool.record("measured")?.status == "succeeded" }
        let r = try #require(spool.record("measured"))
        let finished = try #require(r.time("finished_at"))
        let took = finished - asked
        let error = abs(predicted - finished) / took
        print("estimate of a 100-operation batch behind 2 running jobs: predicted \(String(format: "%.2f", predicted - asked)) s, took \(String(format: "%.2f", took)) s, error \(String(format: "%.1f", error * 100)) %; duration predicted \(String(format: "%.2f", predictedDuration)) s, was \(String(format: "%.2f", r["duration_seconds"] as? Double ?? 0)) s")
        #expect(error < 0.05, "predicted finish \(predicted - asked) s after asking, took \(took) s")
    }

    @Test("report: one self-contained page, checked in a real headless chromium (its DOM and its pixels)")
    func reportInChromium() throws {
        let chromium = try TestTools.chromium.orSkip()
        let python = try TestTools.python3.orSkip()
        let spool = try TempSpool()
        for i in 0..<8 { try spool.drop("g\(i).json", #"{"name": "good-job", "command": ["true"]}"#) }
        for i in 0..<3 { try spool.drop("f\(i).json", #"{"name": "flaky-job", "shell": "exit 1"}"#) }
        try spool.drop("b.json", #"{"name": "batchy", "operations": [{"shell": "true"}, {"shell": "sleep 0.2"}]}"#)
        drain(spool)
        let page = spool.path("report.html")
        let made = ctl(spool, ["report", "--out", page, "--since", "1h"])
        #expect(made.status == 0, "\(made.stderr)")
        let html = try #require(spool.read("report.html"))
        for fetch in ["src=", "href=", "url(", "<script", "<link", "@import"] { #expect(!html.contains(fetch), "the page fetches: \(fetch)") }
        let stdout = ctl(spool, ["report", "--since", "1h"]).stdout  // without --out: the page on stdout
        #expect(stdout.hasPrefix("<!DOCTYPE html>") && stdout.contains("id=\"failing\"") && stdout.hasSuffix("</html>\n"))
        let profile = spool.path("chromium-profile")
        let flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--user-data-dir=\(profile)", "--window-size=1000,1300"]
        let dom = TestTools.run(chromium, flags + ["--dump-dom", "file://\(page)"], timeout: 120)
        #expect(dom.status == 0, "\(dom.stderr)")
        for id in ["finished-per-hour", "duration-per-name", "failure-rate-per-name", "queue-depth", "slowest", "failing"] {
            #expect(dom.stdout.contains("id=\"\(id)\""), "no \(id) section in the DOM")
        }
        #expect(dom.stdout.contains("id=\"total-finished\" data-value=\"12\""))
        #expect(dom.stdout.contains("class=\"count-failed\" data-value=\"3\""))
        #expect(dom.stdout.contains("<tr class=\"failing-name\"><td>flaky-job</td><td>3</td><td>3</td><td>100.0%</td></tr>"))
        #expect(dom.stdout.contains("data-name=\"flaky-job\""))
        let png = spool.path("report.png")
        let shot = TestTools.run(chromium, flags + ["--screenshot=\(png)", "file://\(page)"], timeout: 120)
        #expect(shot.status == 0 && spool.exists("report.png"), "\(shot.stderr)")
        // The pixels: the green of succeeded and the red of failed bars are on the screenshot.
        let count = TestTools.run(python, ["-c", Self.pngColors, png, "2e9e44", "d62728", "1f77b4"], timeout: 60)
        #expect(count.status == 0, "\(count.stderr)")
        let counts = count.stdout.split(separator: " ").compactMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(counts.count == 3 && counts.allSatisfy { $0 > 50 }, "pixels of green, red, blue: \(count.stdout)")
    }

    /// Counts the pixels of each color (hex, ±8 per channel) in an 8-bit RGB(A) PNG, with zlib.
    static let pngColors = #"""
    import sys, zlib, struct
    data = open(sys.argv[1], "rb").read()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, w, h, ct = 8, b"", 0, 0, 0
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8]); body = data[pos + 8:pos + 8 + n]; pos += 12 + n
        if kind == b"IHDR":
            w, h, depth, ct = struct.unpack(">IIBB", body[:10]); assert depth == 8 and ct in (2, 6)
        elif kind == b"IDAT": idat += body
    bpp = 4 if ct == 6 else 3; raw = zlib.decompress(idat); stride = w * bpp; prev = bytearray(stride); rows = []
    for y in range(h):
        f = raw[y * (stride + 1)]; line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0; b = prev[i]; c = prev[i - bpp] if i >= bpp else 0
            if f == 1: line[i] = (line[i] + a) & 255
            elif f == 2: line[i] = (line[i] + b) & 255
            elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else (b if pb <= pc else c))) & 255
        rows.append(line); prev = line
    want = [tuple(int(h[i:i + 2], 16) for i in (0, 2, 4)) for h in sys.argv[2:]]
    counts = [0] * len(want)
    for line in rows:
        for x in range(0, stride, bpp):
            px = line[x:x + 3]
            for k, c in enumerate(want):
                if abs(px[0] - c[0]) <= 8 and abs(px[1] - c[1]) <= 8 and abs(px[2] - c[2]) <= 8: counts[k] += 1
    print(" ".join(map(str, counts)))
    """#

    @Test("progress events come at least every 2 s while a job's progress changes")
    func progressCadence() throws {
        let spool = try TempSpool()
        try spool.drop("p.json", #"{"id": "p", "shell": "for i in $(seq 1 20); do echo $i/20 > $SPOOL_PROGRESS; sleep 0.3; done"}"#)
        drain(spool)
        let r = runCommand(Binaries.spoolctl, ["--spool", spool.root, "events", "--json", "--id", "p"])
        let events = r.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        func time(_ e: [String: Any]) -> Double? { (e["time"] as? String).flatMap { f.date(from: $0)?.timeIntervalSince1970 } }
        let started = try #require(events.first { $0["event"] as? String == "started" }.flatMap(time))
        let finished = try #require(events.first { $0["event"] as? String == "finished" }.flatMap(time))
        let progress = events.filter { $0["event"] as? String == "progress" }.compactMap(time)
        #expect(progress.count >= 3, "\(events)")
        // From the start to the end, no gap between two events of the job is longer than 2 s.
        let times = [started] + progress + [finished]
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        #expect(gaps.allSatisfy { $0 <= 2.0 }, "gaps \(gaps)")
    }
}
