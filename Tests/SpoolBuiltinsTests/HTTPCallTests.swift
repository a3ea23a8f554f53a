// The http built-in against a local server: JSON and text bodies, status checks, request
// bodies and headers, truncation, refused connections and timeouts.
import Foundation
import SpoolJSON
import Testing
@testable import SpoolBuiltins

@Suite(.serialized, .localHTTPServer) struct HTTPCallTests {
    let server: TestHTTPServer

    init() throws {
        server = try #require(TestHTTPServer.current)
    }

    @Test func getParsesAJSONBody() async throws {
        let result = try await runHTTP(["method": "GET", "url": .string(server.url("/json"))]).get()
        let o = try #require(result.objectValue)
        #expect(o["status"] == 200)
        #expect(o["body"] == ["ok": true, "items": [1, 2, 3], "name": "spool"])
        #expect(o["body_truncated"] == false)
        #expect(o["headers"]?.objectValue?["content-type"] == "application/json")
        #expect(o["headers"]?.objectValue?["x-test-server"] == "spoold-builtins")
    }

    @Test func textBodyStaysText() async throws {
        let result = try await runHTTP(["method": "get", "url": .string(server.url("/text"))]).get()
        #expect(result.objectValue?["body"] == "hello, spool\n")
    }

    @Test func non2xxStatusFailsKeepingTheResponse() async throws {
        let url = server.url("/status/404")
        let result = await runHTTP(["method": "GET", "url": .string(url)])
        #expect(result.failureMessage == "http GET \(url) returned status 404, expected 200-299; body: \"{\"status\": 404}\"")
        guard case .failure(let error) = result else { return }
        let got = try #require(error.result?.objectValue)
        #expect(got["status"] == 404)
        #expect(got["body"] == ["status": 404])
        #expect(got["body_truncated"] == false)
        #expect(got["headers"]?.objectValue?["x-test-server"] == "spoold-builtins")
    }

    @Test func expectStatusOverridesTheDefault() async throws {
        let url = server.url("/status/404")
        let result = try await runHTTP(["method": "GET", "url": .string(url), "expect_status": [404, 410]]).get()
        #expect(result.objectValue?["status"] == 404)
        #expect(result.objectValue?["body"] == ["status": 404])
        let refused = await runHTTP(["method": "GET", "url": .string(server.url("/status/200")), "expect_status": [201]])
        #expect(refused.failureMessage == "http GET \(server.url("/status/200")) returned status 200, expected 201; body: \"{\"status\": 200}\"")
    }

    @Test func jsonBodyIsSerializedWithContentType() async throws {
        let result = try await runHTTP([
            "method": "POST", "url": .string(server.url("/echo")),
            "headers": ["X-Token": "abc"], "body": ["a": 1, "b": [true, nil]],
        ]).get()
        let echo = try #require(result.objectValue?["body"]?.objectValue)
        #expect(echo["method"] == "POST")
        #expect(echo["body"] == #"{"a":1,"b":[true,null]}"#)
        #expect(echo["headers"]?.objectValue?["content-type"] == "application/json")
        #expect(echo["headers"]?.objectValue?["x-token"] == "abc")
    }

    @Test func stringBodyIsSentAsIs() async throws {
        let result = try await runHTTP([
            "method": "PUT", "url": .string(server.url("/echo")),
            "headers": ["Content-Type": "text/csv"], "body": "a,b\n1,2\n",
        ]).get()
        let echo = try #require(result.objectValue?["body"]?.objectValue)
        #expect(echo["method"] == "PUT")
        #expect(echo["body"] == "a,b\n1,2\n")
        #expect(echo["headers"]?.objectValue?["content-type"] == "text/csv")
    }

    @Test func stringBodyDefaultsToPlainText() async throws {
        let result = try await runHTTP(["method": "POST", "url": .string(server.url("/echo")), "body": "hi"]).get()
        let echo = try #require(result.objectValue?["body"]?.objectValue)
        #expect(echo["body"] == "hi")
        #expect(echo["headers"]?.objectValue?["content-type"] == "text/plain; charset=utf-8")
    }

    @Test func largeBodyIsTruncated() async throws {
        let result = try await runHTTP(["method": "GET", "url": .string(server.url("/big"))]).get()
        #expect(result.objectValue?["body_truncated"] == true)
        #expect(result.objectValue?["body"]?.stringValue?.utf8.count == HTTPResponseBody.limit)
    }

    @Test func timeoutIsReported() async throws {
        let url = server.url("/slow")
        let start = Date()
        let result = await runHTTP(["method": "GET", "url": .string(url), "timeout_seconds": 0.5])
        #expect(throws: BuiltinError("http GET \(url) timed out after 0.5 seconds")) { try result.get() }
        // It waited for the timeout (no upper bound: the full suite once took 24 s here, with the
        // test process's libdispatch pool busy with other suites; timings are for benchmarks).
        let elapsed = Date().timeIntervalSince(start)
        #expect(elapsed >= 0.45, "took \(elapsed) s")
    }

    @Test func refusedConnectionNamesTheURL() async throws {
        let closed = try TestHTTPServer()
        closed.stop()
        let url = closed.url("/json")
        let result = await runHTTP(["method": "GET", "url": .string(url), "timeout_seconds": 5])
        let message = try #require(result.failureMessage)
        #expect(message.hasPrefix("http GET \(url) failed: could not connect to the host (connection refused)"), "\(message)")
    }
}

extension Result where Failure == BuiltinError {
    var failureMessage: String? {
        if case .failure(let error) = self { return error.message }
        return nil
    }
}
