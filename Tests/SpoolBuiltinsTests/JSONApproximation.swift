// Compares a computed JSON result with an expected one: numbers within 1e-6 relative
// (plus 1e-9 absolute near zero), everything else exactly; lists every mismatch by path.
import SpoolJSON

enum JSONApproximation {
    static let relativeTolerance = 1e-6
    static let absoluteTolerance = 1e-9

    /// Paths where `actual` differs from `expected`; extra keys in `actual` are allowed.
    static func mismatches(_ actual: JSONValue, _ expected: JSONValue, path: String = "$") -> [String] {
        switch (actual, expected) {
        case (.number(let a), .number(let e)):
            let tolerance = relativeTolerance * abs(e.double) + absoluteTolerance
            return a.double.isFinite && abs(a.double - e.double) <= tolerance
                ? [] : ["\(path): \(a.double) != expected \(e.double)"]
        case (.array(let a), .array(let e)):
            guard a.count == e.count else { return ["\(path): \(a.count) elements != expected \(e.count)"] }
            return zip(a, e).enumerated().flatMap { mismatches($1.0, $1.1, path: "\(path)[\($0)]") }
        case (.object(let a), .object(let e)):
            return e.members.flatMap { member -> [String] in
                guard let value = a[member.key] else { return ["\(path).\(member.key): missing"] }
                return mismatches(value, member.value, path: "\(path).\(member.key)")
            }
        default:
            return actual == expected ? [] : ["\(path): \(actual.serialized()) != expected \(expected.serialized())"]
        }
    }
}
