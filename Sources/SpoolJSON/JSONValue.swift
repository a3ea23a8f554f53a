// A JSON document as a value. Objects keep their keys in file order, numbers keep whether they
// were written as integers, so that validation can say "must be an integer" about `1.5` and
// report fields in the order a person wrote them.

/// A parsed JSON value.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The JSON type name used in error messages ("a string", "an array", ...).
    public var typeDescription: String {
        switch self {
        case .null: return "null"
        case .bool: return "a boolean"
        case .number(let n): return n.isInteger ? "an integer" : "a number"
        case .string: return "a string"
        case .array: return "an array"
        case .object: return "an object"
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var doubleValue: Double? {
        if case .number(let n) = self { return n.double }
        return nil
    }

    public var arrayValue: [JSONValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public static func number(_ d: Double) -> JSONValue { .number(JSONNumber(d)) }
    public static func integer(_ i: Int) -> JSONValue { .number(JSONNumber(i)) }
}

/// A JSON number: its value and whether it was written without fraction or exponent.
public struct JSONNumber: Sendable, Equatable {
    public var double: Double
    /// Set when the literal was an integer that fits in Int64 (`3`, `-7`, not `3.0` or `1e3`).
    public var integer: Int64?

    public var isInteger: Bool { integer != nil }

    public init(_ double: Double) {
        self.double = double
        self.integer = nil
    }

    public init(_ integer: Int) {
        self.double = Double(integer)
        self.integer = Int64(integer)
    }

    init(double: Double, integer: Int64?) {
        self.double = double
        self.integer = integer
    }
}

/// A JSON object with its members in document order; keys are unique (the parser rejects duplicates).
public struct JSONObject: Sendable, Equatable {
    public private(set) var members: [(key: String, value: JSONValue)]

    public init(_ members: [(key: String, value: JSONValue)] = []) {
        self.members = members
    }

    public var keys: [String] { members.map(\.key) }
    public var isEmpty: Bool { members.isEmpty }
    public var count: Int { members.count }

    public subscript(key: String) -> JSONValue? {
        get { members.first(where: { $0.key == key })?.value }
        set {
            if let i = members.firstIndex(where: { $0.key == key }) {
                if let newValue { members[i].value = newValue } else { members.remove(at: i) }
            } else if let newValue {
                members.append((key, newValue))
            }
        }
    }

    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        a.members.count == b.members.count
            && zip(a.members, b.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(JSONNumber(value)) }
    public init(floatLiteral value: Double) { self = .number(JSONNumber(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(JSONObject(elements.map { (key: $0.0, value: $0.1) }))
    }
    public init(nilLiteral: ()) { self = .null }
}

/// A copy of `a` in a buffer of its size (`Array(a)` may share `a`'s buffer, spare room and all).
func exactCopy<T>(_ a: [T]) -> [T] {
    var copy: [T] = []
    copy.reserveCapacity(a.count)
    copy.append(contentsOf: a)
    return copy
}

/// 10^0 ... 10^15, each exact in a Double (the number fast paths of the parser and the writer).
let exactPowersOfTen: [Double] = (0...15).reduce(into: []) { p, i in p.append(i == 0 ? 1 : p[i - 1] * 10) }
