// `descriptive_stats`: count, mean, median, sample std and variance, min, max, quartiles
// (numpy's linear percentiles) and bias-corrected skewness and excess kurtosis (scipy, bias=False).
import SpoolJSON

/// Summary statistics of one sample.
public struct DescriptiveStats: BuiltinOperation {
    /// The `type` string of this operation.
    public static let typeName = "descriptive_stats"

    /// Its params, checked at submit time and again by `run`.
    public static let schema = ParamSchema([.numbers("data", minCount: 2)])

    /// Creates the operation; it holds no state.
    public init() {}

    public func run(params: JSONValue) throws(BuiltinError) -> JSONValue {
        let p = try Params(params, schema: Self.schema)
        let data = try p.numbers("data")
        let sorted = data.sorted()
        let variance = Summary.sampleVariance(data)

        var r = ResultFields()
        r.integer("count", data.count)
        try r.number("mean", Summary.mean(data))
        try r.number("median", Quantile.median(sorted: sorted))
        try r.number("std", variance.squareRoot())
        try r.number("variance", variance)
        try r.number("min", sorted[0])
        try r.number("max", sorted[sorted.count - 1])
        try r.number("q1", Quantile.linear(sorted: sorted, 0.25))
        try r.number("q3", Quantile.linear(sorted: sorted, 0.75))
        // Undefined for too few values or constant data: null, never NaN.
        if let skewness = Moments.skewness(data) { try r.number("skewness", skewness) } else { r.set("skewness", .null) }
        if let kurtosis = Moments.excessKurtosis(data) { try r.number("kurtosis", kurtosis) } else { r.set("kurtosis", .null) }
        return r.value
    }
}
