// Runs one HTTP request on the calling thread, through libcurl (CSpoolCurl loads it at the first
// request): at most `limit` body bytes are kept (the transfer then stops and the body is marked
// truncated), and the whole exchange, redirects included, ends by `timeout`.
//
// Not URLSession: FoundationNetworking linked libcurl and some thirty libraries into every start
// of spoold and spoolctl (curl_call.c says what it cost), and it drove the transfer from
// libdispatch workers, which stalled when every worker was blocked waiting for one.
import Foundation
import CSpoolCurl

/// What to send.
struct HTTPRequest: Sendable {
    var method: String
    var url: URL
    /// In the order given; names as given.
    var headers: [(name: String, value: String)]
    var body: Data?
}

/// What came back from the server.
struct HTTPExchange: Sendable {
    var status: Int
    /// Header names lowercased, sorted by name.
    var headers: [(name: String, value: String)]
    var body: Data
    var truncated: Bool
}

enum HTTPTransport {
    /// Performs `request`; `label` ("http GET <url>") starts every error message.
    static func perform(_ request: HTTPRequest, timeout: Double, limit: Int, label: String) throws(BuiltinError) -> HTTPExchange {
        var result = cspool_http_result()
        // "Name:" with nothing after it tells libcurl to drop that header; "Name;" sends it empty.
        let lines = request.headers.map { h in
            h.value.allSatisfy { $0 == " " || $0 == "\t" } ? "\(h.name);" : "\(h.name): \(h.value)"
        }
        let body = request.body ?? Data()
        let loaded = withCStrings(lines) { headerLines in
            body.withUnsafeBytes { bytes in
                cspool_http_perform(request.method, request.url.absoluteString, headerLines, lines.count,
                                    bytes.baseAddress, bytes.count, request.body == nil ? 0 : 1,
                                    max(1, Int(timeout * 1000)), limit, &result)
            }
        }
        defer { cspool_http_free(&result) }
        let message = withUnsafeBytes(of: result.error) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        guard loaded == 0 else { throw BuiltinError("\(label) failed: \(message)") }
        if result.curl_code == CurlCode.timedOut {
            throw BuiltinError("\(label) timed out after \(formatNumber(timeout)) seconds")
        }
        guard result.curl_code == 0 else {
            throw BuiltinError("\(label) failed: \(describe(code: result.curl_code, message: message))")
        }
        guard result.status > 0 else { throw BuiltinError("\(label) failed: no HTTP response") }
        let headerText = result.headers.map { String(decoding: UnsafeRawBufferPointer(start: $0, count: result.headers_length), as: UTF8.self) } ?? ""
        let data = result.body.map { Data(bytes: $0, count: result.body_length) } ?? Data()
        return HTTPExchange(status: result.status, headers: headers(of: headerText), body: data, truncated: result.truncated != 0)
    }

    /// The header lines of one response ("Name: value", CRLF-ended; the status line first): names
    /// lowercased, repeated ones joined with ", ", sorted by name.
    static func headers(of text: String) -> [(name: String, value: String)] {
        var merged: [String: String] = [:]
        for line in text.split(whereSeparator: { $0 == "\r\n" || $0 == "\n" || $0 == "\r" }) {
            guard let colon = line.firstIndex(of: ":"), !line.hasPrefix("HTTP/") else { continue }
            let name = line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty else { continue }
            merged[name] = merged[name].map { "\($0), \(value)" } ?? value
        }
        return merged.sorted { $0.key < $1.key }.map { (name: $0.key, value: $0.value) }
    }

    /// libcurl's codes (CURLcode) that get words of their own.
    enum CurlCode {
        static let couldNotResolveProxy: Int32 = 5, couldNotResolveHost: Int32 = 6, couldNotConnect: Int32 = 7
        static let weirdServerReply: Int32 = 8, timedOut: Int32 = 28
        static let tooManyRedirects: Int32 = 47, gotNothing: Int32 = 52, sendError: Int32 = 55, receiveError: Int32 = 56
        /// The TLS handshake, certificates and keys (35 SSL_CONNECT_ERROR, 60 PEER_FAILED_VERIFICATION...).
        static let tls: Set<Int32> = [35, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98]
    }

    static func describe(code: Int32, message: String) -> String {
        let reason: String
        switch code {
        case CurlCode.couldNotConnect: reason = "could not connect to the host (connection refused)"
        case CurlCode.couldNotResolveHost, CurlCode.couldNotResolveProxy: reason = "the host name could not be resolved"
        case CurlCode.sendError, CurlCode.receiveError, CurlCode.gotNothing: reason = "the connection was lost"
        case CurlCode.weirdServerReply: reason = "the server sent an invalid response"
        case CurlCode.tooManyRedirects: reason = "too many redirects"
        case _ where CurlCode.tls.contains(code): reason = "the TLS connection failed"
        default: return "\(message) (curl error \(code))"
        }
        return "\(reason) (curl error \(code): \(message))"
    }

    /// Runs `body` with `strings` as a C array of C strings.
    private static func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R) -> R {
        let copies = strings.map { UnsafePointer(strdup($0)) }
        defer { copies.forEach { free(UnsafeMutablePointer(mutating: $0)) } }
        return copies.withUnsafeBufferPointer { body($0.baseAddress) }
    }
}
