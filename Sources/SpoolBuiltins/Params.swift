// Reads an operation's `params` object. Every accessor turns a missing, mistyped or out-of-range
// value into a BuiltinError that names the param and says what was expected, so that operations
// can read their inputs in one line each and never see a NaN or a wrong type.
import SpoolJSON

/// The `params` object of one operation, with typed accessors that throw BuiltinError.
struct Params: Sendable {
    let object: JSONObject

    /// Accepts an object, or null (no params); anything else is an error.
    init(_ value: JSONValue, allowed: [String]) throws(BuiltinError) {
        switch value {
        case .object(let o): object = o
        case .null: object = JSONObject()
        default: throw BuiltinError("params must be an object, got \(value.typeDescription)")
        }
        for key in object.keys where !allowed.contains(key) {
            let list = allowed.map { "\"\($0)\"" }.joined(separator: ", ")
            throw BuiltinError("unknown param \"\(key)\"; expected one of \(list)")
        }
    }

    /// The value of `name`, treating an explicit null like an absent param.
    func value(_ name: String) -> JSONValue? {
        guard let v = object[name], v != .null else { return nil }
        return v
    }

    func has(_ name: String) -> Bool { value(name) != nil }

    /// An array of finite numbers with at least `minCount` elements.
    func numbers(_ name: String, minCount: Int) throws(BuiltinError) -> [Double] {
        let expected = "an array of at least \(minCount) numbers"
        guard let v = value(name) else { throw BuiltinError("param \"\(name)\" is required: \(expected)") }
        return try Params.numbers(v, label: "param \"\(name)\"", minCount: minCount)
    }

    /// Converts `v` to finite numbers; `label` names it in messages (`param "x"`, `column "a"`).
    static func numbers(_ v: JSONValue, label: String, minCount: Int) throws(BuiltinError) -> [Double] {
        let expected = "an array of at least \(minCount) numbers"
        guard case .array(let elements) = v else {
            throw BuiltinError("\(label) must be \(expected), got \(v.typeDescription)")
        }
        var out: [Double] = []
        out.reserveCapacity(elements.count)
        for (i, e) in elements.enumerated() {
            guard case .number(let n) = e else {
                throw BuiltinError("\(label) must be \(expected), but element \(i) is \(e.typeDescription)")
            }
            guard n.double.isFinite else {
                throw BuiltinError("\(label) must be \(expected), but element \(i) is not finite")
            }
            out.append(n.double)
        }
        guard out.count >= minCount else {
            throw BuiltinError("\(label) must be \(expected), got \(out.count)")
        }
        return out
    }

    /// An optional finite number in `range`, or `fallback` when absent.
    func number(_ name: String, default fallback: Double, _ range: NumberRange = .any) throws(BuiltinError) -> Double {
        guard let v = value(name) else { return fallback }
        guard case .number(let n) = v, n.double.isFinite else {
            throw BuiltinError("param \"\(name)\" must be \(range.phrase), got \(v.typeDescription)")
        }
        guard range.contains(n.double) else {
            throw BuiltinError("param \"\(name)\" must be \(range.phrase), got \(formatNumber(n.double))")
        }
        return n.double
    }

    /// A required or defaulted integer in `bounds`; `3.0` is accepted as 3.
    func integer(_ name: String, default fallback: Int? = nil, in bounds: ClosedRange<Int>) throws(BuiltinError) -> Int {
        let expected = "an integer from \(bounds.lowerBound) to \(bounds.upperBound)"
        guard let v = value(name) else {
            if let fallback { return fallback }
            throw BuiltinError("param \"\(name)\" is required: \(expected)")
        }
        guard case .number(let n) = v else {
            throw BuiltinError("param \"\(name)\" must be \(expected), got \(v.typeDescription)")
        }
        guard n.double.isFinite, n.double == n.double.rounded(), let i = Int(exactly: n.double) else {
            throw BuiltinError("param \"\(name)\" must be \(expected), got \(formatNumber(n.double))")
        }
        guard bounds.contains(i) else {
            throw BuiltinError("param \"\(name)\" must be \(expected), got \(i)")
        }
        return i
    }

    /// An optional boolean.
    func bool(_ name: String, default fallback: Bool) throws(BuiltinError) -> Bool {
        guard let v = value(name) else { return fallback }
        guard case .bool(let b) = v else {
            throw BuiltinError("param \"\(name)\" must be a boolean, got \(v.typeDescription)")
        }
        return b
    }

    /// A required string, or the fallback when given and the param is absent.
    func string(_ name: String, default fallback: String? = nil) throws(BuiltinError) -> String {
        guard let v = value(name) else {
            if let fallback { return fallback }
            throw BuiltinError("param \"\(name)\" is required: a string")
        }
        guard case .string(let s) = v else {
            throw BuiltinError("param \"\(name)\" must be a string, got \(v.typeDescription)")
        }
        return s
    }

    /// One of `choices`, defaulting to `fallback` when absent (required when `fallback` is nil).
    func choice(_ name: String, _ choices: [String], default fallback: String?) throws(BuiltinError) -> String {
        let list = choices.map { "\"\($0)\"" }.joined(separator: ", ")
        guard let v = value(name) else {
            if let fallback { return fallback }
            throw BuiltinError("param \"\(name)\" is required: one of \(list)")
        }
        guard case .string(let s) = v else {
            throw BuiltinError("param \"\(name)\" must be one of \(list), got \(v.typeDescription)")
        }
        guard choices.contains(s) else {
            throw BuiltinError("param \"\(name)\" must be one of \(list), got \"\(s)\"")
        }
        return s
    }
}

/// An accepted range for a number param, with the phrase used in error messages.
struct NumberRange: Sendable {
    let phrase: String
    let contains: @Sendable (Double) -> Bool

    static let any = NumberRange(phrase: "a finite number") { _ in true }
    static let positive = NumberRange(phrase: "a number > 0") { $0 > 0 }
    /// (0, 1], the range of smoothing factors.
    static let unitInterval = NumberRange(phrase: "a number in (0, 1]") { $0 > 0 && $0 <= 1 }

    static func positive(atMost limit: Double) -> NumberRange {
        NumberRange(phrase: "a number > 0 and <= \(formatNumber(limit))") { $0 > 0 && $0 <= limit }
    }
}

/// A number as written in messages: `3` rather than `3.0`.
func formatNumber(_ d: Double) -> String {
    if d.isFinite, d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
    return "\(d)"
}
