// The http built-in against a local server: JSON and text bodies, status checks, request
// bodies and headers, truncation, redirects, compressed bodies, repeated headers, refused
// connections, TLS to a plain server, and timeouts.
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

    @Test func redirectsAreFollowedAndTheLastResponseKept() async throws {
        let result = await runHTTP(["method": "GET", "url": .string(server.url("/redirect/3"))])
        let o = try #require(result.get().objectValue)
        #expect(o["status"] == 200)
        #expect(o["body"] == ["ok": true, "items": [1, 2, 3], "name": "spool"])
        // The headers are the last response's, not a redirect's.
        #expect(o["headers"]?.objectValue?["x-hop"] == nil)
        #expect(o["headers"]?.objectValue?["x-test-server"] == "spoold-builtins")
    }

    @Test func redirectsChangeTheMethodAsBrowsersDo() async throws {
        // 303: any method becomes a bodyless GET; 301: POST becomes GET.
        for (method, path) in [("POST", "/see-other"), ("PUT", "/see-other"), ("DELETE", "/see-other"), ("POST", "/moved")] {
            let result = await runHTTP(["method": .string(method), "url": .string(server.url(path)), "body": ["a": 1]])
            #expect(try result.get().objectValue?["body"] == ["method": "GET"], "\(method) \(path)")
        }
        // 307: the same method and body again.
        let again = await runHTTP(["method": "PUT", "url": .string(server.url("/temporary")), "body": "same"])
        let echo = try #require(again.get().objectValue?["body"]?.objectValue)
        #expect(echo["method"] == "PUT")
        #expect(echo["body"] == "same")
    }

    @Test func bodylessPostSendsAnEmptyBody() async throws {
        let result = await runHTTP(["method": "POST", "url": .string(server.url("/echo"))])
        let echo = try #require(result.get().objectValue?["body"]?.objectValue)
        #expect(echo["method"] == "POST")
        #expect(echo["body"] == "")
        #expect(echo["headers"]?.objectValue?["content-length"] == "0")
    }

    @Test func emptyHeaderValuesAreSent() async throws {
        let result = await runHTTP(["method": "POST", "url": .string(server.url("/echo")), "headers": ["X-Flag": "", "Accept": ""]])
        let headers = try #require(result.get().objectValue?["body"]?.objectValue?["headers"]?.objectValue)
        #expect(headers["x-flag"] == "")
        #expect(headers["accept"] == "")
    }

    @Test func getOrHeadWithABodyIsRefused() async throws {
        for method in ["GET", "HEAD"] {
            let result = await runHTTP(["method": .string(method), "url": .string(server.url("/json")), "body": "x"])
            #expect(result.failureMessage == "param \"body\" cannot be sent with \(method); use POST, PUT or PATCH")
        }
    }

    @Test func tooManyRedirectsFail() async throws {
        let url = server.url("/redirect/40")
        let result = await runHTTP(["method": "GET", "url": .string(url)])
        let message = try #require(result.failureMessage)
        #expect(message.hasPrefix("http GET \(url) failed: too many redirects (curl error 47"), "\(message)")
    }

    @Test func compressedBodyIsDecoded() async throws {
        let result = await runHTTP(["method": "GET", "url": .string(server.url("/gzip"))])
        #expect(try result.get().objectValue?["body"] == ["zipped": true])
    }

    @Test func repeatedHeadersAreJoined() async throws {
        let result = await runHTTP(["method": "GET", "url": .string(server.url("/repeated"))])
        #expect(try result.get().objectValue?["headers"]?.objectValue?["set-cookie"] == "a=1, b=2")
    }

    @Test func headReturnsNoBody() async throws {
        let result = await runHTTP(["method": "HEAD", "url": .string(server.url("/json"))])
        let o = try #require(result.get().objectValue)
        #expect(o["status"] == 200)
        #expect(o["body"] == "")
        #expect(o["headers"]?.objectValue?["content-type"] == "application/json")
    }

    @Test func tlsToAPlainServerFails() async throws {
        let url = server.url("/json").replacingOccurrences(of: "http://", with: "https://")
        let result = await runHTTP(["method": "GET", "url": .string(url), "timeout_seconds": 5])
        let message = try #require(result.failureMessage)
        #expect(message.hasPrefix("http GET \(url) failed: the TLS connection failed (curl error 35"), "\(message)")
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

/// The header block of one response, as libcurl hands it over, made into the result's `headers`.
@Suite struct HTTPHeaderParsingTests {
    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n", ["content-type": "text/plain"]),
        ("HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a: 2\r\nB:  spaced  \r\n\r\n", ["x-a": "1, 2", "b": "spaced"]),
        ("HTTP/2 204\r\nempty:\r\n: nameless\r\nno colon here\r\n\r\n", ["empty": ""]),
        ("HTTP/1.1 200 OK\r\nLocation: http://h/a:b\r\n\r\n", ["location": "http://h/a:b"]),
        ("", [:]),
    ])
    func headers(block: String, expected: [String: String]) {
        let parsed = HTTPTransport.headers(of: block)
        #expect(Dictionary(uniqueKeysWithValues: parsed.map { ($0.name, $0.value) }) == expected)
        #expect(parsed.map(\.name) == parsed.map(\.name).sorted())
    }
}
