// The params a built-in type accepts, declared once per type. The same declaration is used twice:
// `validate(params:)` checks it when a job is submitted (spoolctl validate/submit, the daemon's
// intake), and `Params` checks it again and reads the values when the operation runs, so the two
// cannot disagree. Static rules (unknown keys, required params, JSON types, enum values, ranges,
// combinations of params) are checked at submit time; what depends on the data (a series too
// short, samples of different lengths, zero variance) is found only when the operation runs.
import SpoolJSON

/// One problem with a built-in operation's params, found without running it.
public struct ParamProblem: Sendable, Equatable, CustomStringConvertible {
    /// The param it is about (`"dta"`, `"method"`), or nil when it is about the params as a whole.
    public var param: String?
    /// The sentence, as the operation would fail with it: `unknown param "dta"; expected one of "data"`.
    public var message: String

    public init(param: String?, message: String) {
        self.param = param
        self.message = message
    }

    public var description: String { message }
}

/// One declared param: its name, whether it must be given, and what it must be.
struct ParamSpec: Sendable {
    enum Kind: Sendable {
        /// An array of finite numbers; `minCount` is checked only when the operation runs (it is about the data).
        case numbers(minCount: Int)
        /// A finite number in a range, with an optional default.
        case number(NumberRange, default: Double?)
        /// An integer (`3` or `3.0`) in bounds, with an optional default.
        case integer(ClosedRange<Int>, default: Int?)
        case bool(default: Bool)
        case string
        /// One of the strings, with an optional default.
        case choice([String], default: String?)
        /// Any JSON value.
        case any
        /// A check of the type's own; `expected` is the phrase for a missing required param.
        case custom(expected: String, check: @Sendable (JSONValue) -> BuiltinError?)
    }

    let name: String
    let required: Bool
    let kind: Kind

    static func numbers(_ name: String, minCount: Int, required: Bool = true) -> ParamSpec {
        ParamSpec(name: name, required: required, kind: .numbers(minCount: minCount))
    }

    static func number(_ name: String, _ range: NumberRange = .any, default value: Double? = nil) -> ParamSpec {
        ParamSpec(name: name, required: false, kind: .number(range, default: value))
    }

    static func integer(_ name: String, in bounds: ClosedRange<Int>, required: Bool = false, default value: Int? = nil) -> ParamSpec {
        ParamSpec(name: name, required: required, kind: .integer(bounds, default: value))
    }

    static func bool(_ name: String, default value: Bool = false) -> ParamSpec {
        ParamSpec(name: name, required: false, kind: .bool(default: value))
    }

    static func string(_ name: String, required: Bool) -> ParamSpec {
        ParamSpec(name: name, required: required, kind: .string)
    }

    static func choice(_ name: String, _ choices: [String], default value: String? = nil) -> ParamSpec {
        ParamSpec(name: name, required: value == nil, kind: .choice(choices, default: value))
    }

    static func any(_ name: String) -> ParamSpec {
        ParamSpec(name: name, required: false, kind: .any)
    }

    static func custom(_ name: String, required: Bool, expected: String,
                       _ check: @escaping @Sendable (JSONValue) -> BuiltinError?) -> ParamSpec {
        ParamSpec(name: name, required: required, kind: .custom(expected: expected, check: check))
    }

    /// A param checked by parsing it with `parse` (the same function `run` reads it with).
    static func parsed<T>(_ name: String, required: Bool, expected: String,
                          _ parse: @escaping @Sendable (JSONValue) throws(BuiltinError) -> T) -> ParamSpec {
        custom(name, required: required, expected: expected) { v in problem { () throws(BuiltinError) in _ = try parse(v) } }
    }

    /// What a missing required param should have been.
    var expected: String {
        switch kind {
        case .numbers(let minCount): return "an array of at least \(minCount) numbers"
        case .number(let range, _): return range.phrase
        case .integer(let bounds, _): return Self.integerPhrase(bounds)
        case .bool: return "a boolean"
        case .string: return "a string"
        case .choice(let choices, _): return "one of \(Self.quotedList(choices))"
        case .any: return "a value"
        case .custom(let expected, _): return expected
        }
    }

    static func integerPhrase(_ bounds: ClosedRange<Int>) -> String {
        bounds.upperBound == Int.max ? "an integer >= \(bounds.lowerBound)"
            : "an integer from \(bounds.lowerBound) to \(bounds.upperBound)"
    }

    static func quotedList(_ items: [String]) -> String {
        items.map { "\"\($0)\"" }.joined(separator: ", ")
    }

    /// The static problem with a given (non-null) value, if any.
    func check(_ v: JSONValue) -> BuiltinError? {
        let label = "param \"\(name)\""
        switch kind {
        case .numbers(let minCount):
            return Params.numberElementsProblem(v, label: label, minCount: minCount)
        case .number(let range, _):
            guard case .number(let n) = v, n.double.isFinite else {
                return BuiltinError("\(label) must be \(range.phrase), got \(v.typeDescription)")
            }
            guard range.contains(n.double) else {
                return BuiltinError("\(label) must be \(range.phrase), got \(formatNumber(n.double))")
            }
            return nil
        case .integer(let bounds, _):
            let expected = Self.integerPhrase(bounds)
            guard case .number(let n) = v else { return BuiltinError("\(label) must be \(expected), got \(v.typeDescription)") }
            guard n.double.isFinite, n.double == n.double.rounded(), let i = Int(exactly: n.double) else {
                return BuiltinError("\(label) must be \(expected), got \(formatNumber(n.double))")
            }
            guard bounds.contains(i) else { return BuiltinError("\(label) must be \(expected), got \(i)") }
            return nil
        case .bool:
            guard case .bool = v else { return BuiltinError("\(label) must be a boolean, got \(v.typeDescription)") }
            return nil
        case .string:
            guard case .string = v else { return BuiltinError("\(label) must be a string, got \(v.typeDescription)") }
            return nil
        case .choice(let choices, _):
            let list = Self.quotedList(choices)
            guard case .string(let s) = v else { return BuiltinError("\(label) must be one of \(list), got \(v.typeDescription)") }
            guard choices.contains(s) else { return BuiltinError("\(label) must be one of \(list), got \"\(shortened(s))\"") }
            return nil
        case .any:
            return nil
        case .custom(_, let check):
            return check(v)
        }
    }
}

/// The declared params of one built-in type, plus rules about combinations of them.
public struct ParamSchema: Sendable {
    let params: [ParamSpec]
    /// Checked only when every param on its own is fine; each returns the problem, if any.
    let rules: [@Sendable (Params) -> BuiltinError?]

    init(_ params: [ParamSpec], rules: [@Sendable (Params) -> BuiltinError?] = []) {
        self.params = params
        self.rules = rules
    }

    /// The names of the accepted params, in declaration order.
    public var names: [String] { params.map(\.name) }

    func spec(_ name: String) -> ParamSpec? { params.first { $0.name == name } }

    /// Every static problem of `value`, in order: the params value itself, unknown keys (at most 5
    /// are listed), then each declared param in turn, then the combination rules.
    public func problems(_ value: JSONValue) -> [ParamProblem] {
        let object: JSONObject
        switch value {
        case .object(let o): object = o
        case .null: object = JSONObject()
        default: return [ParamProblem(param: nil, message: "params must be an object, got \(value.typeDescription)")]
        }
        var out: [ParamProblem] = []
        let allowed = names
        let unknown = object.keys.filter { !allowed.contains($0) }
        for key in unknown.prefix(5) {
            out.append(ParamProblem(param: key, message: "unknown param \"\(shortened(key))\"; expected one of \(ParamSpec.quotedList(allowed))"))
        }
        if unknown.count > 5 {
            out.append(ParamProblem(param: nil, message: "\(unknown.count - 5) more unknown params"))
        }
        for spec in params {
            // An explicit null counts as absent (JSONValue's own `nil` literal is .null: compare, don't flatMap).
            if let given = object[spec.name], given != .null {
                if let e = spec.check(given) { out.append(ParamProblem(param: spec.name, message: e.message)) }
            } else if spec.required {
                out.append(ParamProblem(param: spec.name, message: "param \"\(spec.name)\" is required: \(spec.expected)"))
            }
        }
        if out.isEmpty {
            let p = Params(checked: object, schema: self)
            for rule in rules {
                if let e = rule(p) { out.append(ParamProblem(param: nil, message: e.message)) }
            }
        }
        return out
    }
}

/// The error `body` throws, or nil.
func problem(_ body: () throws(BuiltinError) -> Void) -> BuiltinError? {
    do {
        try body()
        return nil
    } catch {
        return error
    }
}

/// A user-supplied string as it may appear in a message: hostile files have megabyte-long keys.
func shortened(_ s: String) -> String {
    s.count > 64 ? String(s.prefix(64)) + "...(\(s.utf8.count) bytes)" : s
}
