// Job ids: the SPEC alphabet `[A-Za-z0-9][A-Za-z0-9._-]{0,127}`, safe as a file name stem in
// every spool folder. Generated ids start with the inbox file's stem and end in a monotonic
// microsecond clock plus a random tail, so they sort by time and never collide across restarts.
import Foundation

/// A validated job id.
public struct JobID: Hashable, Sendable, Comparable, Codable, CustomStringConvertible {
    public let rawValue: String

    public static let maxLength = 128

    /// Nil unless `text` is a valid id.
    public init?(_ text: String) {
        guard JobID.isValid(text) else { return nil }
        rawValue = text
    }

    init(unchecked text: String) { rawValue = text }

    public var description: String { rawValue }
    public static func < (a: JobID, b: JobID) -> Bool { a.rawValue < b.rawValue }

    public static func isValid(_ text: String) -> Bool {
        let u = Array(text.utf8)
        guard !u.isEmpty, u.count <= maxLength, isAlnum(u[0]) else { return false }
        return u.allSatisfy { isAlnum($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }

    static func isAlnum(_ b: UInt8) -> Bool {
        (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let s = try c.decode(String.self)
        guard JobID.isValid(s) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "invalid job id \(s)")
        }
        rawValue = s
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    /// The id stem for an inbox file name: its name without `.json`, characters outside the id
    /// alphabet replaced by `_`, a leading non-alphanumeric prefixed with "job", cut to fit.
    public static func stem(of name: FileName) -> String {
        var bytes = name.bytes
        if name.hasSuffix(".json") { bytes.removeLast(5) }
        var out = bytes.map { b -> UInt8 in
            isAlnum(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "_") || b == UInt8(ascii: "-") ? b : UInt8(ascii: "_")
        }
        if out.isEmpty || !isAlnum(out[0]) { out = Array("job".utf8) + out }
        if out.count > 80 { out = Array(out[0..<80]) }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Makes unique, time-ordered ids: `<stem>-<13 hex digits of µs since 1970><4 hex random>`.
public final class JobIDGenerator: Sendable {
    private let last = LockedBox<UInt64>(0)

    public init() {}

    public func next(stem: String) -> JobID {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        let now = UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec / 1000)
        let micros = last.withLock { last -> UInt64 in
            last = max(last + 1, now)
            return last
        }
        var hex = String(micros, radix: 16)
        if hex.count < 13 { hex = String(repeating: "0", count: 13 - hex.count) + hex }
        var tail = String(UInt16.random(in: 0...UInt16.max), radix: 16)
        if tail.count < 4 { tail = String(repeating: "0", count: 4 - tail.count) + tail }
        return JobID(unchecked: "\(stem)-\(hex)\(tail)")
    }
}

extension JobID {
    /// The id of a retry of `id`: `<root>.r<N>` with the smallest N ≥ 1 not taken, where root is
    /// `id` without a `.r<N>` of its own, so retries of retries stay short and readable
    /// (`report`, `report.r1`, `report.r2`) instead of growing by a generated tail each time.
    public static func retry(of id: JobID, isTaken: (JobID) -> Bool) -> JobID {
        var root = Substring(id.rawValue)
        if let dot = root.lastIndex(of: "."), root[root.index(after: dot)...].first == "r" {
            let digits = root[root.index(dot, offsetBy: 2)...]
            if !digits.isEmpty && digits.allSatisfy(\.isASCII) && digits.allSatisfy(\.isNumber) { root = root[..<dot] }
        }
        root = root.prefix(maxLength - 8)  // room for ".r" and six digits
        var n = 1
        while true {
            let candidate = JobID(unchecked: "\(root).r\(n)")
            if !isTaken(candidate) { return candidate }
            n += 1
        }
    }
}
