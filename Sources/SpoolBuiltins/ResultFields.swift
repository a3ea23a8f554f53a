// Builds result objects from computed numbers. A NaN or infinity in a result is never returned
// silently: it becomes a BuiltinError naming the field (inputs too large or degenerate).
import SpoolJSON

/// An ordered result object whose number fields are checked to be finite.
struct ResultFields: Sendable {
    private(set) var object = JSONObject()

    /// Adds a number field; throws when `value` is NaN or infinite.
    mutating func number(_ key: String, _ value: Double) throws(BuiltinError) {
        object[key] = try finite(value, field: key)
    }

    /// Adds an integer field.
    mutating func integer(_ key: String, _ value: Int) {
        object[key] = .integer(value)
    }

    /// Adds any JSON value.
    mutating func set(_ key: String, _ value: JSONValue) {
        object[key] = value
    }

    var value: JSONValue { .object(object) }
}

/// `value` as a JSON number, or a BuiltinError naming `field` when it is NaN or infinite.
func finite(_ value: Double, field: String) throws(BuiltinError) -> JSONValue {
    guard value.isFinite else {
        throw BuiltinError("result \"\(field)\" is not finite; the input values are too large or degenerate")
    }
    return .number(value)
}

/// An array of finite numbers as JSON, or a BuiltinError naming `field`.
func finiteArray(_ values: [Double], field: String) throws(BuiltinError) -> JSONValue {
    var out: [JSONValue] = []
    out.reserveCapacity(values.count)
    for v in values { out.append(try finite(v, field: field)) }
    return .array(out)
}
