// A strict RFC 8259 parser over bytes. It never recurses deeper than `maxDepth` (a hostile file
// of 100,000 nested brackets is an error, not a stack overflow), rejects invalid UTF-8, duplicate
// keys, control characters in strings and trailing garbage, and says at which byte it stopped.

/// Why a document is not acceptable JSON, and where.
public struct JSONParseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    /// Byte offset in the input where the problem was found.
    public var offset: Int
    public var description: String { "\(message) at byte \(offset)" }
}

public struct JSONParser {
    public var maxDepth: Int

    public init(maxDepth: Int = 64) {
        self.maxDepth = maxDepth
    }

    public func parse(_ bytes: [UInt8]) throws(JSONParseError) -> JSONValue {
        do {
            return try bytes.withUnsafeBufferPointer { buffer in
                var reader = Reader(bytes: buffer, maxDepth: maxDepth)
                return try reader.parseDocument()
            }
        } catch let error as JSONParseError {
            throw error
        } catch {
            throw JSONParseError(message: "\(error)", offset: 0)
        }
    }

    public func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        try parse(Array(text.utf8))
    }
}

private struct Reader {
    let bytes: UnsafeBufferPointer<UInt8>
    let maxDepth: Int
    var pos = 0
    var depth = 0

    init(bytes: UnsafeBufferPointer<UInt8>, maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    func fail(_ message: String) -> JSONParseError {
        JSONParseError(message: message, offset: pos)
    }

    mutating func parseDocument() throws(JSONParseError) -> JSONValue {
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { pos = 3 }
        skipSpace()
        if pos == bytes.count { throw fail(bytes.isEmpty ? "empty file" : "no JSON value") }
        let value = try parseValue()
        skipSpace()
        if pos != bytes.count { throw fail("unexpected data after the JSON value") }
        return value
    }

    mutating func skipSpace() {
        while pos < bytes.count {
            switch bytes[pos] {
            case 0x20, 0x09, 0x0A, 0x0D: pos += 1
            default: return
            }
        }
    }

    mutating func parseValue() throws(JSONParseError) -> JSONValue {
        guard pos < bytes.count else { throw fail("unexpected end of input") }
        switch bytes[pos] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectWord("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectWord("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectWord("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        default: throw fail("unexpected character \(describe(bytes[pos]))")
        }
    }

    func describe(_ byte: UInt8) -> String {
        if byte >= 0x20 && byte < 0x7F { return "'\(Character(Unicode.Scalar(byte)))'" }
        return "byte 0x" + String(byte, radix: 16)
    }

    mutating func expectWord(_ word: StaticString) throws(JSONParseError) {
        let w = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard pos + w.count <= bytes.count else { throw fail("unexpected end of input") }
        for i in 0..<w.count where bytes[pos + i] != w[i] {
            throw fail("unexpected character \(describe(bytes[pos]))")
        }
        pos += w.count
    }

    mutating func enter() throws(JSONParseError) {
        depth += 1
        if depth > maxDepth { throw fail("nesting deeper than \(maxDepth) levels") }
    }

    mutating func parseObject() throws(JSONParseError) -> JSONValue {
        try enter()
        pos += 1
        var members: [(key: String, value: JSONValue)] = []
        var seen = Set<String>()
        skipSpace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") {
            pos += 1
            depth -= 1
            return .object(JSONObject(members))
        }
        while true {
            skipSpace()
            guard pos < bytes.count else { throw fail("unexpected end of input in an object") }
            guard bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a string key") }
            let keyStart = pos
            let key = try parseString()
            guard seen.insert(key).inserted else {
                let shown = key.count > 64 ? String(key.prefix(64)) + "..." : key
                throw JSONParseError(message: "duplicate key \"\(shown)\"", offset: keyStart)
            }
            skipSpace()
            guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':' after a key") }
            pos += 1
            skipSpace()
            let value = try parseValue()
            members.append((key, value))
            skipSpace()
            guard pos < bytes.count else { throw fail("unexpected end of input in an object") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "}") { pos += 1; break }
            throw fail("expected ',' or '}' in an object")
        }
        depth -= 1
        return .object(JSONObject(members))
    }

    mutating func parseArray() throws(JSONParseError) -> JSONValue {
        try enter()
        pos += 1
        var elements: [JSONValue] = []
        skipSpace()
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") {
            pos += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipSpace()
            elements.append(try parseValue())
            skipSpace()
            guard pos < bytes.count else { throw fail("unexpected end of input in an array") }
            if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
            if bytes[pos] == UInt8(ascii: "]") { pos += 1; break }
            throw fail("expected ',' or ']' in an array")
        }
        depth -= 1
        // At its size: grown by doubling, an array of 100 numbers held room for 128, and a batch's
        // params keep a million numbers for the job's life (bench `batch`, massif).
        if elements.capacity - elements.count > 8 { elements = exactCopy(elements) }
        return .array(elements)
    }

    mutating func parseNumber() throws(JSONParseError) -> JSONNumber {
        let start = pos
        let negative = bytes[pos] == UInt8(ascii: "-")
        if negative { pos += 1 }
        guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail("invalid number") }
        // The digits as one integer, for the fast path below (up to 15 digits are exact in a Double).
        var mantissa: UInt64 = 0, digits = 0, decimals = 0
        func take(_ b: UInt8) {
            if digits < 19 { mantissa = mantissa &* 10 &+ UInt64(b &- UInt8(ascii: "0")) }
            digits += 1
        }
        if bytes[pos] == UInt8(ascii: "0") {
            pos += 1
            if pos < bytes.count, isDigit(bytes[pos]) { throw fail("leading zero in a number") }
        } else {
            while pos < bytes.count, isDigit(bytes[pos]) { take(bytes[pos]); pos += 1 }
        }
        var isInteger = true
        if pos < bytes.count, bytes[pos] == UInt8(ascii: ".") {
            isInteger = false
            pos += 1
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail("digit expected after '.'") }
            while pos < bytes.count, isDigit(bytes[pos]) { take(bytes[pos]); decimals += 1; pos += 1 }
        }
        var hasExponent = false
        if pos < bytes.count, bytes[pos] == UInt8(ascii: "e") || bytes[pos] == UInt8(ascii: "E") {
            isInteger = false
            hasExponent = true
            pos += 1
            if pos < bytes.count, bytes[pos] == UInt8(ascii: "+") || bytes[pos] == UInt8(ascii: "-") { pos += 1 }
            guard pos < bytes.count, isDigit(bytes[pos]) else { throw fail("digit expected in exponent") }
            while pos < bytes.count, isDigit(bytes[pos]) { pos += 1 }
        }
        // Fast path (most numbers in job files: 97.8, 42): at most 15 digits and no exponent. The
        // digits and 10^decimals are exact doubles, so their quotient is correctly rounded: the
        // double strtod gives, without making a String for it (strtod and that String were a fifth
        // of reading a batch of a million numbers; bench `batch`, perf).
        if !hasExponent, digits <= 15 {
            let magnitude = Double(mantissa) / exactPowersOfTen[decimals]
            let integer = isInteger ? (negative ? -Int64(mantissa) : Int64(mantissa)) : nil
            return JSONNumber(double: negative ? -magnitude : magnitude, integer: integer)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<pos]), as: UTF8.self)
        guard let double = Double(text), double.isFinite else {
            throw JSONParseError(message: "number \(text.prefix(40)) is out of range", offset: start)
        }
        return JSONNumber(double: double, integer: isInteger ? Int64(text) : nil)
    }

    func isDigit(_ b: UInt8) -> Bool { b >= UInt8(ascii: "0") && b <= UInt8(ascii: "9") }

    mutating func parseString() throws(JSONParseError) -> String {
        pos += 1  // opening quote
        let start = pos
        // Fast path: no escapes, plain ASCII or valid UTF-8 up to the closing quote.
        var hasEscape = false
        var hasHighBytes = false
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") { break }
            if b == UInt8(ascii: "\\") { hasEscape = true; break }
            if b < 0x20 { throw fail("control character \(describe(b)) in a string") }
            if b >= 0x80 { hasHighBytes = true }
            pos += 1
        }
        guard pos < bytes.count else { throw fail("unterminated string") }
        if !hasEscape {
            let slice = UnsafeBufferPointer(rebasing: bytes[start..<pos])
            pos += 1
            if hasHighBytes {
                guard let s = String(validating: slice, as: UTF8.self) else {
                    throw JSONParseError(message: "invalid UTF-8 in a string", offset: start)
                }
                return s
            }
            return String(decoding: slice, as: UTF8.self)
        }
        // Slow path: decode escapes into a byte buffer, then validate.
        var out: [UInt8] = Array(UnsafeBufferPointer(rebasing: bytes[start..<pos]))
        while pos < bytes.count {
            let b = bytes[pos]
            if b == UInt8(ascii: "\"") {
                pos += 1
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw JSONParseError(message: "invalid UTF-8 in a string", offset: start)
                }
                return s
            }
            if b < 0x20 { throw fail("control character \(describe(b)) in a string") }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                pos += 1
                continue
            }
            pos += 1
            guard pos < bytes.count else { throw fail("unterminated string") }
            let e = bytes[pos]
            pos += 1
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var scalar = try parseHex4()
                if (0xD800...0xDBFF).contains(scalar) {
                    guard pos + 1 < bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u")
                    else { throw fail("lone surrogate in a \\u escape") }
                    pos += 2
                    let low = try parseHex4()
                    guard (0xDC00...0xDFFF).contains(low) else { throw fail("invalid surrogate pair") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00...0xDFFF).contains(scalar) {
                    throw fail("lone surrogate in a \\u escape")
                }
                out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
            default:
                throw fail("invalid escape \\\(Character(Unicode.Scalar(e)))")
            }
        }
        throw fail("unterminated string")
    }

    mutating func parseHex4() throws(JSONParseError) -> UInt32 {
        guard pos + 4 <= bytes.count else { throw fail("unterminated \\u escape") }
        var v: UInt32 = 0
        for _ in 0..<4 {
            let b = bytes[pos]
            let d: UInt32
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = UInt32(b - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = UInt32(b - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = UInt32(b - UInt8(ascii: "A") + 10)
            default: throw fail("invalid hex digit in a \\u escape")
            }
            v = v << 4 | d
            pos += 1
        }
        return v
    }
}
