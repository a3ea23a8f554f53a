// Text made on the path of every job without Foundation's string searching and formatting
// (docs/design.md, "Memory and encoding"): the replacements must say exactly what the Foundation
// calls said, and the history summary's write interval follows its cost.
import Foundation
import Testing
@testable import SpoolCore

@Suite("hot-path text")
struct HotPathTextTests {
    @Test("three decimals as %.3f prints them", arguments: [
        0, 0.0004, 0.0081474781, 0.5, 0.999, 0.9996, 1, 1.2344, 12.3456, 59.99996, 86_400.25, 123_456.789,
    ])
    func threeDecimals(_ d: Double) {
        #expect(Engine.threeDecimals(d) == String(format: "%.3f", d))
    }

    @Test("what three decimals leaves to the formatter")
    func threeDecimalsOutside() {
        #expect(Engine.threeDecimals(-1.5) == "-1.500")
        #expect(Engine.threeDecimals(.nan) == String(format: "%.3f", Double.nan))
        #expect(Engine.threeDecimals(.infinity) == String(format: "%.3f", Double.infinity))
        #expect(Engine.threeDecimals(2e12) == "2000000000000.000")
    }

    @Test("a log line keeps its text on one line")
    func logOneLine() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[0]) }
        let log = Log(minimum: .info, isJournal: true, fd: fds[1])
        log.info("plain text")
        log.warning("two\nlines\n")
        log.debug("below the level")
        close(fds[1])
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = read(fds[0], &buf, buf.count)
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        #expect(String(decoding: bytes, as: UTF8.self) == "<6>plain text\n<4>two\\nlines\\n\n")
    }

    @Test("a program is found by path or in PATH")
    func executableLookup() throws {
        #expect(try ExecutableLookup.resolve("/bin/sh", searchPath: "", cwd: "/").get() == "/bin/sh")
        #expect(try ExecutableLookup.resolve("bin/sh", searchPath: "", cwd: "/").get() == "//bin/sh")
        #expect(try ExecutableLookup.resolve("sh", searchPath: "/nonexistent:/bin", cwd: "/").get() == "/bin/sh")
        let missing = ExecutableLookup.resolve("no/such-program", searchPath: "/bin", cwd: "/")
        #expect(throws: SpoolError.self) { try missing.get() }
        if case .failure(let e) = missing { #expect(e.message.contains("\"no/such-program\" does not exist")) }
    }

    @Test("the summary is written at 200 times its cost, from half a second to ten", arguments: [
        (0.0, 0.5), (0.001, 0.5), (0.0025, 0.5), (0.01, 2.0), (0.03, 6.0), (0.05, 10.0), (2.0, 10.0),
    ])
    func summaryDelay(took: Double, wait: Double) {
        #expect(abs(History.summaryDelay(took: took) - wait) < 1e-9)
    }
}
