// Times in records: RFC 3339 in UTC with microseconds ("2026-11-23T23:35:00.123456Z"), written
// and parsed without DateFormatter (which is slow and not needed for one fixed format).
import Foundation

/// A point in time, encoded in JSON as an RFC 3339 UTC string with fractional seconds.
public struct Timestamp: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    /// Seconds since 1970-01-01 UTC.
    public var seconds: Double

    public init(seconds: Double) { self.seconds = seconds }
    public init(_ date: Date) { self.seconds = date.timeIntervalSince1970 }

    public static func now() -> Timestamp {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Timestamp(seconds: Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9)
    }

    public var date: Date { Date(timeIntervalSince1970: seconds) }

    public static func < (a: Timestamp, b: Timestamp) -> Bool { a.seconds < b.seconds }

    public func adding(_ interval: Double) -> Timestamp { Timestamp(seconds: seconds + interval) }

    public var description: String { rfc3339 }

    public var rfc3339: String {
        var whole = Int(seconds.rounded(.down))
        var micros = Int(((seconds - Double(whole)) * 1_000_000).rounded())
        if micros >= 1_000_000 { whole += 1; micros -= 1_000_000 }
        var t = time_t(whole)
        var parts = tm()
        gmtime_r(&t, &parts)
        // Into a fixed buffer, not through String interpolation: an operation's record holds two of
        // these, written 20,000 times for a 10,000-operation batch (bench `batch`, perf).
        var text: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)  // 32 bytes, for 27 characters
        let year = Int(parts.tm_year) + 1900
        guard (0...9999).contains(year) else { return Self.rfc3339Padded(parts, micros) }
        return withUnsafeMutableBytes(of: &text) { b in
            var at = 0
            func put(_ v: Int, _ width: Int) {
                var v = v
                for i in stride(from: width - 1, through: 0, by: -1) {
                    b[at + i] = UInt8(ascii: "0") + UInt8(v % 10)
                    v /= 10
                }
                at += width
            }
            func put(_ c: Unicode.Scalar) { b[at] = UInt8(ascii: c); at += 1 }
            put(year, 4); put("-"); put(Int(parts.tm_mon) + 1, 2); put("-"); put(Int(parts.tm_mday), 2); put("T")
            put(Int(parts.tm_hour), 2); put(":"); put(Int(parts.tm_min), 2); put(":"); put(Int(parts.tm_sec), 2)
            put("."); put(micros, 6); put("Z")
            return String(decoding: UnsafeRawBufferPointer(rebasing: b[..<at]), as: UTF8.self)
        }
    }

    /// The same text for a year outside 0...9999 (never a record's), whose width is not fixed.
    static func rfc3339Padded(_ parts: tm, _ micros: Int) -> String {
        func pad(_ v: Int, _ width: Int) -> String {
            let s = String(v)
            return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
        }
        return "\(pad(Int(parts.tm_year) + 1900, 4))-\(pad(Int(parts.tm_mon) + 1, 2))-\(pad(Int(parts.tm_mday), 2))T"
            + "\(pad(Int(parts.tm_hour), 2)):\(pad(Int(parts.tm_min), 2)):\(pad(Int(parts.tm_sec), 2)).\(pad(micros, 6))Z"
    }

    /// Parses an RFC 3339 date-time (`2026-11-23T10:00:00Z`, `...T10:00:00.5+02:00`); nil if it is not one.
    public init?(rfc3339 text: String) {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<(from + count) {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 20, let year = num(0, 4), b[4] == UInt8(ascii: "-"), let month = num(5, 2),
              b[7] == UInt8(ascii: "-"), let day = num(8, 2),
              b[10] == UInt8(ascii: "T") || b[10] == UInt8(ascii: "t") || b[10] == UInt8(ascii: " "),
              let hour = num(11, 2), b[13] == UInt8(ascii: ":"), let minute = num(14, 2),
              b[16] == UInt8(ascii: ":"), let second = num(17, 2)
        else { return nil }
        let isLeap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
        let monthDays = [31, isLeap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        guard (1...12).contains(month), day >= 1, day <= monthDays[month - 1], hour < 24, minute < 60, second <= 60 else {
            return nil
        }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            var scale = 0.1
            let start = i
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
            if i == start { return nil }
        }
        guard i < b.count else { return nil }
        var offset = 0
        if b[i] == UInt8(ascii: "Z") || b[i] == UInt8(ascii: "z") {
            i += 1
        } else if b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            guard let oh = num(i + 1, 2), i + 3 < b.count, b[i + 3] == UInt8(ascii: ":"), let om = num(i + 4, 2),
                  oh < 24, om < 60
            else { return nil }
            offset = (oh * 60 + om) * 60 * (b[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        } else {
            return nil
        }
        guard i == b.count else { return nil }
        // Days from civil date (proleptic Gregorian), Howard Hinnant's algorithm.
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        let days = era * 146097 + doe - 719468
        let secs = days * 86400 + hour * 3600 + minute * 60 + second - offset
        self.seconds = Double(secs) + fraction
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard let t = Timestamp(rfc3339: s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an RFC 3339 time: \(s)")
        }
        self = t
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rfc3339)
    }
}
