// A JSON number's text, written into a buffer the caller holds. A batch's record holds a million
// numbers (its params) and every operation's result; appending each number's pieces to the output
// array one at a time (sign, integer part, fraction) cost more than making them: each append of a
// few bytes is a call with its capacity and uniqueness checks (bench `batch`, perf). So the text
// is made here at a pointer, and the writer appends it once, or once per array of numbers.

enum JSONNumberText {
    /// The most bytes a number's text takes: `-2.2250738585072014e-308` is 24.
    static let maxBytes = 32

    /// Writes `n`'s text at `p`, which has room for `maxBytes`; returns the count written.
    /// Integers as such; a fraction with few decimals by `shortDecimal`; any other as Swift's
    /// `description` (the shortest text that reads back as the same Double); NaN and infinity as
    /// null, because JSON has no spelling for them.
    static func write(_ n: JSONNumber, to p: UnsafeMutablePointer<UInt8>) -> Int {
        if let i = n.integer { return integer(i, to: p) }
        let d = n.double
        guard d.isFinite else { return copy("null", to: p) }
        if d == d.rounded(), abs(d) < 1e15 { return integer(Int64(d), to: p) }
        if let count = shortDecimal(d, to: p) { return count }
        var text = d.description
        return text.withUTF8 { u in
            p.update(from: u.baseAddress!, count: u.count)
            return u.count
        }
    }

    static func integer(_ i: Int64, to p: UnsafeMutablePointer<UInt8>) -> Int {
        var m = i.magnitude
        var length = i < 0 ? 1 : 0
        if i < 0 { p[0] = UInt8(ascii: "-") }
        var rest = m
        repeat {
            length += 1
            rest /= 10
        } while rest > 0
        var at = length
        repeat {
            at -= 1
            p[at] = UInt8(ascii: "0") + UInt8(m % 10)
            m /= 10
        } while m > 0
        return length
    }

    /// A number with few decimals (97.8, 0.25, -3.125), as `description` writes it but without
    /// making a String: most numbers in job files are such, and `description` was the biggest part
    /// of writing a batch's record (bench `batch`, perf). The fewest decimals k for which
    /// m / 10^k (m = d · 10^k rounded) is d again: that is how the text "m·10^-k" parses (both are
    /// correctly rounded), so the text is d's, and with the fewest decimals the shortest.
    /// Nil (nothing written) outside 0.001 ≤ |d| < 1e9 or past 6 decimals.
    static func shortDecimal(_ d: Double, to p: UnsafeMutablePointer<UInt8>) -> Int? {
        let a = abs(d)
        guard a >= 1e-3, a < 1e9 else { return nil }
        var unit: Int64 = 1
        for k in 1...6 {
            unit *= 10
            let scale = Double(unit)  // exact: 10^k < 2^53
            let m = (a * scale).rounded()
            guard m / scale == a else { continue }
            let scaled = Int64(m)
            var at = 0
            if d < 0 {
                p[0] = UInt8(ascii: "-")
                at = 1
            }
            at += integer(scaled / unit, to: p + at)
            p[at] = UInt8(ascii: ".")
            var fraction = scaled % unit
            for i in stride(from: at + k, to: at, by: -1) {  // k digits, leading zeros kept
                p[i] = UInt8(ascii: "0") + UInt8(fraction % 10)
                fraction /= 10
            }
            return at + 1 + k
        }
        return nil
    }

    private static func copy(_ s: StaticString, to p: UnsafeMutablePointer<UInt8>) -> Int {
        s.withUTF8Buffer { p.update(from: $0.baseAddress!, count: $0.count) }
        return s.utf8CodeUnitCount
    }
}
