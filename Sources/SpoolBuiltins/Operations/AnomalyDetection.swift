// `anomaly_detection`: flags outlying values by z-score, by Tukey's IQR fences or by the
// modified z-score on the median absolute deviation (Iglewicz and Hoaglin), listing each with
// its index, value and score.
import SpoolJSON

/// Outlier detection on one sample.
public struct AnomalyDetection: BuiltinOperation {
    /// The `type` string of this operation.
    public static let typeName = "anomaly_detection"

    enum Method: String, CaseIterable {
        case zscore, iqr, mad

        var defaultThreshold: Double {
            switch self {
            case .zscore: return 3
            case .iqr: return 1.5
            case .mad: return 3.5
            }
        }
    }

    /// Its params, checked at submit time and again by `run`.
    public static let schema = ParamSchema([
        .numbers("data", minCount: 3),
        .choice("method", Method.allCases.map(\.rawValue)),
        .number("threshold", .positive),
    ])

    /// Creates the operation; it holds no state.
    public init() {}

    public func run(params: JSONValue) throws(BuiltinError) -> JSONValue {
        let p = try Params(params, schema: Self.schema)
        let data = try p.numbers("data")
        let method = Method(rawValue: try p.string("method")) ?? .zscore
        let threshold = try p.optionalNumber("threshold") ?? method.defaultThreshold

        var r = ResultFields()
        let scores: [Double?]
        switch method {
        case .zscore:
            let mean = Summary.mean(data)
            let std = Summary.sampleVariance(data).squareRoot()
            guard std > 0 else { throw BuiltinError("param \"data\" has zero variance; z-scores are undefined") }
            scores = data.map { x in
                let z = (x - mean) / std
                return abs(z) > threshold ? z : nil
            }
            try r.number("mean", mean)
            try r.number("std", std)
        case .iqr:
            let sorted = data.sorted()
            let q1 = Quantile.linear(sorted: sorted, 0.25), q3 = Quantile.linear(sorted: sorted, 0.75)
            let lower = q1 - threshold * (q3 - q1), upper = q3 + threshold * (q3 - q1)
            // Score: signed distance beyond the fence crossed, in data units.
            scores = data.map { x in x > upper ? x - upper : (x < lower ? x - lower : nil) }
            try r.number("q1", q1)
            try r.number("q3", q3)
            try r.number("lower_fence", lower)
            try r.number("upper_fence", upper)
        case .mad:
            let median = Quantile.median(data)
            let mad = Quantile.median(data.map { abs($0 - median) })
            guard mad > 0 else {
                throw BuiltinError("param \"data\" has a median absolute deviation of 0; modified z-scores are undefined")
            }
            scores = data.map { x in
                let mz = 0.6745 * (x - median) / mad
                return abs(mz) > threshold ? mz : nil
            }
            try r.number("median", median)
            try r.number("mad", mad)
        }

        var anomalies: [JSONValue] = []
        for (index, score) in scores.enumerated() {
            guard let score else { continue }
            var a = ResultFields()
            a.integer("index", index)
            try a.number("value", data[index])
            try a.number("score", score)
            anomalies.append(a.value)
        }
        var out = ResultFields()
        out.set("anomalies", .array(anomalies))
        out.integer("count", anomalies.count)
        out.set("method", .string(method.rawValue))
        try out.number("threshold", threshold)
        for (key, value) in r.object.members { out.set(key, value) }
        return out.value
    }
}
