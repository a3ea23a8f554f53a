// `correlation`: Pearson, Spearman or Kendall tau-b correlation of two equal-length samples,
// with the two-sided p-value scipy reports (pearsonr, spearmanr, kendalltau asymptotic).
import SpoolJSON

/// The correlation of two samples and its p-value.
public struct Correlation: BuiltinOperation {
    /// The `type` string of this operation.
    public static let typeName = "correlation"

    /// Its params, checked at submit time and again by `run`.
    public static let schema = ParamSchema([
        .numbers("x", minCount: 3),
        .numbers("y", minCount: 3),
        methodParam,
    ])

    /// The `method` param, shared with correlation_matrix.
    static let methodParam = ParamSpec.choice("method", CorrelationMethod.allCases.map(\.rawValue), default: CorrelationMethod.pearson.rawValue)

    /// Creates the operation; it holds no state.
    public init() {}

    public func run(params: JSONValue) throws(BuiltinError) -> JSONValue {
        let p = try Params(params, schema: Self.schema)
        let x = try p.numbers("x")
        let y = try p.numbers("y")
        let method = try Self.method(p)
        guard x.count == y.count else {
            throw BuiltinError("params \"x\" and \"y\" must have the same length, got \(x.count) and \(y.count)")
        }
        if Correlations.isConstant(x) { throw BuiltinError("param \"x\" has zero variance; the correlation is undefined") }
        if Correlations.isConstant(y) { throw BuiltinError("param \"y\" has zero variance; the correlation is undefined") }

        let estimate = Correlations.estimate(method, x, y)
        var r = ResultFields()
        try r.number("coefficient", estimate.coefficient)
        try r.number("p_value", estimate.pValue)
        r.integer("n", x.count)
        r.set("method", .string(method.rawValue))
        return r.value
    }

    /// The `method` param, default pearson.
    static func method(_ p: Params) throws(BuiltinError) -> CorrelationMethod {
        CorrelationMethod(rawValue: try p.string("method")) ?? .pearson
    }
}
