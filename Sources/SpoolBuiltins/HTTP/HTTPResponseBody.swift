// The `body` of an http result: the response parsed as JSON when it parses, otherwise its text
// (invalid UTF-8 replaced). Bodies are capped at `limit` bytes; a truncated body is always text.
import Foundation
import SpoolJSON

/// A response body as it appears in the result.
struct HTTPResponseBody: Sendable {
    /// The most body bytes kept (64 KiB); the transfer stops after this many.
    static let limit = 64 * 1024

    let value: JSONValue
    let text: String

    init(data: Data, truncated: Bool) {
        var bytes = [UInt8](data)
        if truncated { bytes = Self.trimIncompleteUTF8(bytes) }
        text = String(decoding: bytes, as: UTF8.self)
        if !truncated, !bytes.isEmpty, let parsed = try? JSONParser().parse(bytes) {
            value = parsed
        } else {
            value = .string(text)
        }
    }

    /// The start of the body for error messages.
    var snippet: String {
        let limit = 200
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count > limit ? "\"\(flat.prefix(limit))…\"" : "\"\(flat)\""
    }

    /// Drops a UTF-8 sequence cut off at the end of a truncated body.
    static func trimIncompleteUTF8(_ bytes: [UInt8]) -> [UInt8] {
        var end = bytes.count
        var back = 0
        while end > 0, back < 4, bytes[end - 1] & 0xC0 == 0x80 { end -= 1; back += 1 }
        guard end > 0 else { return bytes }
        let lead = bytes[end - 1]
        let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1
        return length > back + 1 ? Array(bytes[..<(end - 1)]) : bytes
    }
}
