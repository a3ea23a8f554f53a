// `http`: one HTTP request (libcurl, HTTPTransport). The params are checked here (method, http/https URL,
// headers, body, timeout, expected statuses); the transfer is in HTTPTransport and the result
// body (JSON if it parses, else text, capped at 64 KiB) in HTTPResponseBody.
import Foundation
import SpoolJSON

/// A single HTTP request whose status must be one of `expect_status` (default 200–299).
public struct HTTPCall: BuiltinOperation {
    /// The `type` string of this operation.
    public static let typeName = "http"
    /// Waits on the network: a thread of its own (see Daemon.runBuiltin).
    public static let blocks = true

    /// Accepted request methods.
    static let methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    /// Default and largest `timeout_seconds`.
    static let defaultTimeout = 30.0
    static let maxTimeout = 300.0

    /// Its params, checked at submit time and again by `run`.
    public static let schema = ParamSchema([
        .parsed("method", required: true, expected: "a string", method),
        .parsed("url", required: true, expected: "a string", url),
        .parsed("headers", required: false, expected: "an object of strings", headers),
        .any("body"),
        .number("timeout_seconds", .positive(atMost: maxTimeout), default: defaultTimeout),
        .parsed("expect_status", required: false, expected: "a non-empty array of status codes", expectedStatuses),
    ], rules: [noBodyForGetOrHead])

    /// A GET or HEAD request carries no body: URLSession refused one, and a server may drop or refuse it.
    static func noBodyForGetOrHead(_ p: Params) -> BuiltinError? {
        guard p.has("body"), let m = try? method(p.value("method") ?? .null), m == "GET" || m == "HEAD" else { return nil }
        return BuiltinError("param \"body\" cannot be sent with \(m); use POST, PUT or PATCH")
    }

    /// Creates the operation; it holds no state.
    public init() {}

    public func run(params: JSONValue) throws(BuiltinError) -> JSONValue {
        let p = try Params(params, schema: Self.schema)
        let method = try Self.method(p.value("method") ?? .null)
        let url = try Self.url(p.value("url") ?? .null)
        let headers = try p.value("headers").map(Self.headers) ?? []
        let timeout = try p.number("timeout_seconds")
        let expected = try p.value("expect_status").map(Self.expectedStatuses) ?? .success

        var request = HTTPRequest(method: method, url: url, headers: headers, body: nil)
        if let body = p.value("body") {
            // Without an explicit type, libcurl would label any body form-urlencoded.
            let hasContentType = headers.contains { $0.name.lowercased() == "content-type" }
            if case .string(let text) = body {
                request.body = Data(text.utf8)
                if !hasContentType { request.headers.append(("Content-Type", "text/plain; charset=utf-8")) }
            } else {
                request.body = Data(body.serialized().utf8)
                if !hasContentType { request.headers.append(("Content-Type", "application/json")) }
            }
        }

        let label = "http \(method) \(url.absoluteString)"
        // Blocks this thread until the response: call `run` on a thread of its own (Daemon.runBuiltin).
        let response = try HTTPTransport.perform(request, timeout: timeout, limit: HTTPResponseBody.limit, label: label)
        let body = HTTPResponseBody(data: response.body, truncated: response.truncated)
        var r = ResultFields()
        r.integer("status", response.status)
        r.set("headers", .object(JSONObject(response.headers.map { (key: $0.name, value: JSONValue.string($0.value)) })))
        r.set("body", body.value)
        r.set("body_truncated", .bool(response.truncated))
        guard expected.contains(response.status) else {
            // The operation fails, and its record keeps what it got (SPEC §4).
            throw BuiltinError("\(label) returned status \(response.status), expected \(expected.description); body: \(body.snippet)",
                               result: r.value)
        }
        return r.value
    }

    static func method(_ v: JSONValue) throws(BuiltinError) -> String {
        guard case .string(let raw) = v else { throw BuiltinError("param \"method\" must be a string, got \(v.typeDescription)") }
        let method = raw.uppercased()
        guard methods.contains(method) else {
            throw BuiltinError("param \"method\" must be one of \(methods.joined(separator: ", ")), got \"\(shortened(raw))\"")
        }
        return method
    }

    static func url(_ v: JSONValue) throws(BuiltinError) -> URL {
        guard case .string(let text) = v else { throw BuiltinError("param \"url\" must be a string, got \(v.typeDescription)") }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(),
            scheme == "http" || scheme == "https", let host = url.host, !host.isEmpty
        else { throw BuiltinError("param \"url\" must be an http or https URL with a host, got \"\(shortened(text))\"") }
        return url
    }

    static func headers(_ v: JSONValue) throws(BuiltinError) -> [(name: String, value: String)] {
        guard case .object(let o) = v else {
            throw BuiltinError("param \"headers\" must be an object of strings, got \(v.typeDescription)")
        }
        var out: [(name: String, value: String)] = []
        for (name, value) in o.members {
            guard !name.isEmpty, name.unicodeScalars.allSatisfy(isTokenCharacter) else {
                throw BuiltinError("param \"headers\" has an invalid header name \"\(shortened(name))\"")
            }
            guard case .string(let s) = value else {
                throw BuiltinError("param \"headers\" must be an object of strings, but \"\(shortened(name))\" is \(value.typeDescription)")
            }
            guard !s.unicodeScalars.contains(where: { $0 == "\r" || $0 == "\n" || $0 == "\0" }) else {
                throw BuiltinError("param \"headers\" value of \"\(name)\" must not contain CR, LF or NUL")
            }
            out.append((name, s))
        }
        return out
    }

    /// RFC 9110 `tchar`.
    static func isTokenCharacter(_ c: Unicode.Scalar) -> Bool {
        c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c) || "!#$%&'*+-.^_`|~".unicodeScalars.contains(c))
    }

    static func expectedStatuses(_ v: JSONValue) throws(BuiltinError) -> ExpectedStatuses {
        let expected = "a non-empty array of status codes (integers from 100 to 599)"
        guard case .array(let elements) = v, !elements.isEmpty else {
            throw BuiltinError("param \"expect_status\" must be \(expected), got \(v.typeDescription)")
        }
        var codes: [Int] = []
        for e in elements {
            guard case .number(let n) = e, let code = Int(exactly: n.double), (100...599).contains(code) else {
                let shown = e.doubleValue.map(formatNumber) ?? e.typeDescription
                throw BuiltinError("param \"expect_status\" must be \(expected), got \(shown)")
            }
            codes.append(code)
        }
        return .list(codes)
    }
}

/// The statuses that count as success.
enum ExpectedStatuses: Sendable {
    case success
    case list([Int])

    func contains(_ status: Int) -> Bool {
        switch self {
        case .success: return (200...299).contains(status)
        case .list(let codes): return codes.contains(status)
        }
    }

    var description: String {
        switch self {
        case .success: return "200-299"
        case .list(let codes): return codes.count == 1 ? "\(codes[0])" : "one of \(codes.map(String.init).joined(separator: ", "))"
        }
    }
}
