// Reads an operation's `params` object. Every accessor turns a missing, mistyped or out-of-range
// value into a BuiltinError that names the param and says what was expected, so that operations
// can read their inputs in one line each and never see a NaN or a wrong type.
import SpoolJSON

/// The `params` object of one operation, checked against its type's schema, with typed accessors
/// that throw BuiltinError. Defaults and ranges come from the schema, so `run` and `validate` agree.
struct Params: Sendable {
    let object: JSONObject
    let schema: ParamSchema

    /// Accepts an object, or null (no params); anything else, and any static problem the schema
    /// finds, throws the first problem.
    init(_ value: JSONValue, schema: ParamSchema) throws(BuiltinError) {
        if let first = schema.problems(value).first { throw BuiltinError(first.message) }
        self.init(checked: value.objectValue ?? JSONObject(), schema: schema)
    }

    /// An object whose params have already passed the schema's per-param checks.
    init(checked object: JSONObject, schema: ParamSchema) {
        self.object = object
        self.schema = schema
    }

    /// The value of `name`, treating an explicit null like an absent param.
    func value(_ name: String) -> JSONValue? {
        guard let v = object[name], v != .null else { return nil }
        return v
    }

    func has(_ name: String) -> Bool { value(name) != nil }

    /// The declaration of `name`; an undeclared name is a bug in the operation, reported, not trapped.
    private func spec(_ name: String) throws(BuiltinError) -> ParamSpec {
        guard let spec = schema.spec(name) else { throw BuiltinError("internal error: param \"\(name)\" is not declared") }
        return spec
    }

    /// The given value after the static check, or nil when absent (an error when required).
    private func checked(_ name: String) throws(BuiltinError) -> (ParamSpec, JSONValue?) {
        let spec = try spec(name)
        guard let v = value(name) else {
            if spec.required { throw BuiltinError("param \"\(name)\" is required: \(spec.expected)") }
            return (spec, nil)
        }
        if let e = spec.check(v) { throw e }
        return (spec, v)
    }

    /// A declared array of numbers, with at least its `minCount` elements (checked here: it is about the data).
    func numbers(_ name: String) throws(BuiltinError) -> [Double] {
        guard let values = try optionalNumbers(name) else {
            throw BuiltinError("param \"\(name)\" is required: \(try spec(name).expected)")
        }
        return values
    }

    /// A declared optional array of numbers, or nil when absent.
    func optionalNumbers(_ name: String) throws(BuiltinError) -> [Double]? {
        let (spec, v) = try checked(name)
        guard let v else { return nil }
        guard case .numbers(let minCount) = spec.kind else { throw BuiltinError("internal error: param \"\(name)\" is not numbers") }
        return try Params.numbers(v, label: "param \"\(name)\"", minCount: minCount)
    }

    /// The problem with the elements of `v` as an array of numbers (not their count), if any.
    static func numberElementsProblem(_ v: JSONValue, label: String, minCount: Int) -> BuiltinError? {
        let expected = "an array of at least \(minCount) numbers"
        guard case .array(let elements) = v else {
            return BuiltinError("\(label) must be \(expected), got \(v.typeDescription)")
        }
        for (i, e) in elements.enumerated() {
            guard case .number(let n) = e else {
                return BuiltinError("\(label) must be \(expected), but element \(i) is \(e.typeDescription)")
            }
            guard n.double.isFinite else {
                return BuiltinError("\(label) must be \(expected), but element \(i) is not finite")
            }
        }
        return nil
    }

    /// Converts `v` to finite numbers; `label` names it in messages (`param "x"`, `column "a"`).
    static func numbers(_ v: JSONValue, label: String, minCount: Int) throws(BuiltinError) -> [Double] {
        if let e = numberElementsProblem(v, label: label, minCount: minCount) { throw e }
        let elements = v.arrayValue ?? []
        guard elements.count >= minCount else {
            throw BuiltinError("\(label) must be an array of at least \(minCount) numbers, got \(elements.count)")
        }
        return elements.map { $0.doubleValue ?? .nan }
    }

    /// A declared number: its value, its default, or nil when it has neither.
    func optionalNumber(_ name: String) throws(BuiltinError) -> Double? {
        let (spec, v) = try checked(name)
        if let v { return v.doubleValue }
        if case .number(_, let fallback) = spec.kind { return fallback }
        return nil
    }

    /// A declared number that has a default.
    func number(_ name: String) throws(BuiltinError) -> Double {
        guard let n = try optionalNumber(name) else { throw BuiltinError("internal error: param \"\(name)\" has no default") }
        return n
    }

    /// A declared integer: its value, its default, or nil when it has neither.
    func optionalInteger(_ name: String) throws(BuiltinError) -> Int? {
        let (spec, v) = try checked(name)
        if let v { return v.doubleValue.flatMap { Int(exactly: $0) } }
        if case .integer(_, let fallback) = spec.kind { return fallback }
        return nil
    }

    /// A declared integer that is required or has a default.
    func integer(_ name: String) throws(BuiltinError) -> Int {
        guard let i = try optionalInteger(name) else { throw BuiltinError("internal error: param \"\(name)\" has no default") }
        return i
    }

    /// A declared boolean (its default when absent).
    func bool(_ name: String) throws(BuiltinError) -> Bool {
        let (spec, v) = try checked(name)
        if let b = v?.boolValue { return b }
        if case .bool(let fallback) = spec.kind { return fallback }
        return false
    }

    /// A declared string or choice: its value, or the choice's default.
    func string(_ name: String) throws(BuiltinError) -> String {
        let (spec, v) = try checked(name)
        if let s = v?.stringValue { return s }
        if case .choice(_, let fallback?) = spec.kind { return fallback }
        throw BuiltinError("param \"\(name)\" is required: \(spec.expected)")
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
