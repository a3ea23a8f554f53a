// Many http operations at once against the local server, each on its own thread as daemon workers
// run them: every call gets its own correct response. The benchmark below only prints figures (it
// never asserts timing); run it with
//   SPOOL_HTTP_BENCH=1 swift test --filter HTTPConcurrencyBenchmark
import Foundation
import SpoolJSON
import Testing
@testable import SpoolBuiltins

/// Runs `count` http GETs of `/json` and `/status/<n>` with at most `width` at once; returns the results in order and the wall time.
func runConcurrentHTTP(_ server: TestHTTPServer, count: Int, width: Int, onGCD: Bool = false) async -> ([Result<JSONValue, BuiltinError>], Double) {
    let start = Date()
    var results = [Result<JSONValue, BuiltinError>?](repeating: nil, count: count)
    await withTaskGroup(of: (Int, Result<JSONValue, BuiltinError>).self) { group in
        var next = 0
        func add() {
            let i = next
            next += 1
            let url = i % 2 == 0 ? server.url("/json") : server.url("/status/\(200 + i % 4)")
            let params: JSONValue = ["method": "GET", "url": .string(url)]
            group.addTask { (i, onGCD ? await runHTTPOnGCD(params) : await runHTTP(params)) }
        }
        while next < min(width, count) { add() }
        for await (i, r) in group {
            results[i] = r
            if next < count { add() }
        }
    }
    return (results.map { $0 ?? .failure(BuiltinError("no result")) }, Date().timeIntervalSince(start))
}

/// Runs the http built-in on a libdispatch worker thread, as the daemon's batch runner does.
func runHTTPOnGCD(_ params: JSONValue) async -> Result<JSONValue, BuiltinError> {
    await withCheckedContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(returning: Result { () throws(BuiltinError) -> JSONValue in
                try HTTPCall().run(params: params)
            })
        }
    }
}

@Suite(.localHTTPServer) struct HTTPConcurrencyTests {
    @Test func concurrentCallsEachGetTheirOwnResponse() async throws {
        let server = try #require(TestHTTPServer.current)
        let (results, _) = await runConcurrentHTTP(server, count: 40, width: 8)
        for (i, r) in results.enumerated() {
            let o = try #require(try r.get().objectValue, "call \(i)")
            if i % 2 == 0 {
                #expect(o["status"] == 200)
                #expect(o["body"] == ["ok": true, "items": [1, 2, 3], "name": "spool"])
            } else {
                #expect(o["status"] == .integer(200 + i % 4))
                #expect(o["body"] == ["status": .integer(200 + i % 4)])
            }
        }
    }
}

@Suite(.localHTTPServer, .enabled(if: ProcessInfo.processInfo.environment["SPOOL_HTTP_BENCH"] != nil))
struct HTTPConcurrencyBenchmark {
    @Test func printFigures() async throws {
        let server = try #require(TestHTTPServer.current)
        for (count, width, gcd) in [(1, 1, false), (20, 1, false), (2, 2, false), (20, 2, false), (50, 5, false), (50, 10, false),
                                    (1, 1, true), (20, 1, true), (2, 2, true), (20, 2, true), (50, 5, true), (50, 10, true)] {
            let (results, seconds) = await runConcurrentHTTP(server, count: count, width: width, onGCD: gcd)
            let failed = results.filter { if case .failure = $0 { return true } else { return false } }.count
            print(String(format: "http bench: %3d calls, %2d at once: %7.3f s total, %7.2f ms per call, %d failed (%@)",
                         count, width, seconds, seconds * 1000 / Double(count), failed, gcd ? "libdispatch worker" : "own thread"))
        }
    }
}
