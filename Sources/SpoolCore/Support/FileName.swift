// A directory entry's name as the kernel gave it: bytes, not necessarily UTF-8, possibly with
// newlines. Files are opened by these exact bytes; people see an escaped rendering.
import Foundation

/// A file name as raw bytes (no NUL, no '/').
public struct FileName: Hashable, Sendable, CustomStringConvertible {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }
    public init(_ string: String) { self.bytes = Array(string.utf8) }

    /// A printable rendering: valid UTF-8 is kept, control characters and invalid bytes are escaped (`\n`, `\xff`).
    public var description: String {
        var out = ""
        var i = 0
        while i < bytes.count {
            // Decode one scalar if the bytes are valid UTF-8 here.
            let lead = bytes[i]
            let len = lead < 0x80 ? 1 : lead >> 5 == 0b110 ? 2 : lead >> 4 == 0b1110 ? 3 : lead >> 3 == 0b11110 ? 4 : 0
            if len > 1, i + len <= bytes.count, let s = String(validating: bytes[i..<(i + len)], as: UTF8.self) {
                out += s
                i += len
                continue
            }
            switch lead {
            case UInt8(ascii: "\n"): out += "\\n"
            case UInt8(ascii: "\t"): out += "\\t"
            case UInt8(ascii: "\\"): out += "\\\\"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(lead))
            default:
                let hex = String(lead, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
            i += 1
        }
        return out
    }

    /// The name as a String when it is valid UTF-8, for names we made ourselves.
    public var string: String? { String(validating: bytes, as: UTF8.self) }

    public var isHidden: Bool { bytes.first == UInt8(ascii: ".") }

    public func hasSuffix(_ suffix: String) -> Bool {
        let s = Array(suffix.utf8)
        return bytes.count >= s.count && Array(bytes[(bytes.count - s.count)...]) == s
    }

    /// Calls `body` with the name as a NUL-terminated C string.
    public func withCString<R>(_ body: (UnsafePointer<CChar>) throws -> R) rethrows -> R {
        var z = bytes.map { CChar(bitPattern: $0) }
        z.append(0)
        return try z.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
}
