// Serializes a JSONValue. Keys are written in the object's order; numbers that are not finite
// (NaN, infinity) are written as null, because JSON has no spelling for them.
// Written into a byte buffer, not a String: a batch's record holds every operation's params (a
// 10,000-operation batch of 100 numbers each is a million numbers), and String appends and
// interpolation were most of what writing such a record cost (bench `batch`, perf).

import Foundation

extension JSONValue {
    /// The compact JSON text of this value. `pretty` puts each member on its own line, indented by
    /// two spaces, with `": "` between key and value, or `" : "` with `spaceBeforeColon` (the style of
    /// Foundation's JSONEncoder, which spool records have always used), except that an array of
    /// scalars only is written on one line, `[1, 2, 3]`.
    public func serialized(pretty: Bool = false, spaceBeforeColon: Bool = false) -> String {
        String(decoding: serializedBytes(pretty: pretty, spaceBeforeColon: spaceBeforeColon), as: UTF8.self)
    }

    /// `serialized` as UTF-8 bytes, for files.
    public func serializedBytes(pretty: Bool = false, spaceBeforeColon: Bool = false) -> [UInt8] {
        var writer = JSONByteWriter(pretty: pretty, spaceBeforeColon: spaceBeforeColon)
        writer.write(self, indent: 0)
        return writer.out
    }
}

extension JSONValue {
    /// Not an array or an object (an empty one included).
    var isScalar: Bool {
        switch self {
        case .array, .object: return false
        default: return true
        }
    }

    var isNumber: Bool {
        if case .number = self { return true }
        return false
    }
}

/// The serializer's state: the bytes so far and the style.
struct JSONByteWriter {
    var out: [UInt8] = []
    let pretty: Bool
    let spaceBeforeColon: Bool

    /// `reserving`: room to make at once (a document's writer); none for one whose buffer is
    /// swapped in (an object's members, JSONMembers).
    init(pretty: Bool, spaceBeforeColon: Bool, reserving: Int = 256) {
        self.pretty = pretty
        self.spaceBeforeColon = spaceBeforeColon
        if reserving > 0 { out.reserveCapacity(reserving) }
    }

    /// Between a key and its value.
    mutating func writeColon() {
        if !pretty {
            out.append(UInt8(ascii: ":"))
        } else {
            append(spaceBeforeColon ? " : " : ": ")
        }
    }

    mutating func write(_ value: JSONValue, indent: Int) {
        switch value {
        case .null: append("null")
        case .bool(let b): append(b ? "true" : "false")
        case .number(let n): writeNumber(n)
        case .string(let s): writeString(s)
        case .array(let a):
            if a.isEmpty { append("[]"); return }
            if a.allSatisfy(\.isNumber) { return writeNumbers(a) }
            if pretty, a.allSatisfy(\.isScalar) { return writeInline(a) }
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                write(v, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            if o.isEmpty { append("{}"); return }
            out.append(UInt8(ascii: "{"))
            for (i, m) in o.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                newline(indent + 1)
                writeString(m.key)
                writeColon()
                write(m.value, indent: indent + 1)
            }
            newline(indent)
            out.append(UInt8(ascii: "}"))
        }
    }

    /// Pretty style, an array of scalars only: on one line, `[1, 2, 3]`. A batch's params are mostly
    /// such arrays, and a line per number made its record 27 MB for a 6 MB job file (bench `batch`;
    /// 15 MB now, though the time to write it hardly changed: that was the numbers, see writeNumber).
    private mutating func writeInline(_ a: [JSONValue]) {
        out.append(UInt8(ascii: "["))
        for (i, v) in a.enumerated() {
            if i > 0 { append(", ") }
            write(v, indent: 0)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// Pretty style: turns the array written since `start` (just after its "[", one scalar per line)
    /// into the inline form of `writeInline`. Only scalars were written there, and a scalar holds no
    /// raw line break, so every line break (and the indentation after it) is layout.
    mutating func inlineScalars(from start: Int) {
        var to = start
        var from = start
        let end = out.count
        while from < end {
            let b = out[from]
            from += 1
            if b == UInt8(ascii: "\n") {
                while from < end, out[from] == UInt8(ascii: " ") { from += 1 }
                if to > start, out[to - 1] == UInt8(ascii: ",") { out[to] = UInt8(ascii: " "); to += 1 }
                continue
            }
            out[to] = b
            to += 1
        }
        out.removeLast(end - to)
    }

    mutating func append(_ s: StaticString) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    /// Pretty style only: a line break and two spaces per level.
    mutating func newline(_ indent: Int) {
        guard pretty else { return }
        out.append(UInt8(ascii: "\n"))
        out.append(contentsOf: repeatElement(UInt8(ascii: " "), count: 2 * indent))
    }

    mutating func writeNumber(_ n: JSONNumber) {
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: JSONNumberText.maxBytes) { buf in
            let count = JSONNumberText.write(n, to: buf.baseAddress!)
            out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[..<count]))
        }
    }

    /// An array of numbers only (a batch's params): made in buffers of up to `numbersPerBlock`
    /// numbers, each appended once. `[1, 2, 3]` in pretty style (`writeInline`'s form), `[1,2,3]` compact.
    private mutating func writeNumbers(_ a: [JSONValue]) {
        let separator = pretty ? 2 : 1
        out.append(UInt8(ascii: "["))
        var start = 0
        while start < a.count {
            let end = min(a.count, start + Self.numbersPerBlock)
            let block = [UInt8](unsafeUninitializedCapacity: (end - start) * (JSONNumberText.maxBytes + separator)) { buf, count in
                let p = buf.baseAddress!
                var at = 0
                for i in start..<end {
                    guard case .number(let n) = a[i] else { continue }
                    if i > 0 {
                        p[at] = UInt8(ascii: ",")
                        if pretty { p[at + 1] = UInt8(ascii: " ") }
                        at += separator
                    }
                    at += JSONNumberText.write(n, to: p + at)
                }
                count = at
            }
            out.append(contentsOf: block)
            start = end
        }
        out.append(UInt8(ascii: "]"))
    }

    /// Numbers per buffer of `writeNumbers`: about 140 KiB of room at most, however long the array.
    static let numbersPerBlock = 4096

    mutating func writeString(_ s: String) {
        out.append(UInt8(ascii: "\""))
        var s = s
        s.withUTF8 { bytes in
            var start = 0
            for (i, b) in bytes.enumerated() where b < 0x20 || b == 0x22 || b == 0x5C {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                start = i + 1
                switch b {
                case 0x22: append("\\\"")
                case 0x5C: append("\\\\")
                case 0x0A: append("\\n")
                case 0x0D: append("\\r")
                case 0x09: append("\\t")
                default:
                    let hex = Array("0123456789abcdef".utf8)
                    append("\\u00")
                    out.append(hex[Int(b >> 4)])
                    out.append(hex[Int(b & 0xF)])
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}
