// Starts Fixtures/http_server.py on 127.0.0.1 (the script picks a free port and prints it) and
// stops it; the `.localHTTPServer` suite trait runs one server around a whole suite. The script
// also exits when its stdin closes, so it never outlives the test process.
import Foundation
import SpoolJSON
import Testing
@testable import SpoolBuiltins

/// A running local test HTTP server.
final class TestHTTPServer: Sendable {
    /// The server of the enclosing `.localHTTPServer` scope.
    @TaskLocal static var current: TestHTTPServer?

    let port: Int
    private let process: Process
    private let input: Pipe

    init() throws {
        guard let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else {
            throw BuiltinError("Fixtures folder missing from the test bundle")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", fixtures.appendingPathComponent("http_server.py").path]
        let output = Pipe(), input = Pipe()
        process.standardOutput = output
        process.standardInput = input
        try process.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = output.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        guard let port = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            process.terminate()
            throw BuiltinError("http_server.py did not report its port")
        }
        self.port = port
        self.process = process
        self.input = input
    }

    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// Stops the server (closing its stdin makes it exit; SIGTERM as well) and waits for it.
    func stop() {
        try? input.fileHandleForWriting.close()
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
}

/// Starts a TestHTTPServer before a suite's tests and stops it after them.
struct LocalHTTPServerTrait: SuiteTrait, TestScoping {
    func provideScope(for test: Test, testCase: Test.Case?,
                      performing function: @Sendable () async throws -> Void) async throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        try await TestHTTPServer.$current.withValue(server) { try await function() }
    }
}

extension Trait where Self == LocalHTTPServerTrait {
    /// One local test HTTP server for the whole suite, as `TestHTTPServer.current`.
    static var localHTTPServer: Self { Self() }
}

/// Runs the http built-in on its own thread, as a daemon worker would, off the test's executor.
func runHTTP(_ params: JSONValue) async -> Result<JSONValue, BuiltinError> {
    await withCheckedContinuation { continuation in
        Thread {
            continuation.resume(returning: Result { () throws(BuiltinError) -> JSONValue in
                try HTTPCall().run(params: params)
            })
        }.start()
    }
}
