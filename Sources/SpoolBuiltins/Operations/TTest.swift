// `t_test`: one-sample, Welch, Student (pooled variance) and paired t-tests with scipy's
// statistic, degrees of freedom and p-value for each alternative (ttest_1samp / ttest_ind / ttest_rel).
// `mu` is the hypothesized mean, or mean difference for two samples (as R's t.test).
import SpoolJSON

/// Student's t-tests on one or two samples.
public struct TTest: BuiltinOperation {
    /// The `type` string of this operation.
    public static let typeName = "t_test"

    /// Its params, checked at submit time and again by `run`.
    public static let schema = ParamSchema([
        .numbers("a", minCount: 2),
        .numbers("b", minCount: 2, required: false),
        .number("mu", default: 0),
        .bool("paired"),
        .bool("equal_var"),
        .choice("alternative", Alternative.allCases.map(\.rawValue), default: Alternative.twoSided.rawValue),
    ], rules: [combination])

    /// The schema's rule: `paired` and `equal_var` need `b`, and exclude each other.
    static func combination(_ p: Params) -> BuiltinError? {
        let paired = (try? p.bool("paired")) ?? false
        let equalVar = (try? p.bool("equal_var")) ?? false
        if !p.has("b") {
            if paired { return BuiltinError("param \"b\" is required when \"paired\" is true") }
            if equalVar { return BuiltinError("param \"b\" is required when \"equal_var\" is true") }
        }
        if paired && equalVar { return BuiltinError("params \"paired\" and \"equal_var\" cannot both be true") }
        return nil
    }

    /// Creates the operation; it holds no state.
    public init() {}

    public func run(params: JSONValue) throws(BuiltinError) -> JSONValue {
        let p = try Params(params, schema: Self.schema)
        let a = try p.numbers("a")
        let b = try p.optionalNumbers("b")
        let mu = try p.number("mu")
        let paired = try p.bool("paired")
        let equalVar = try p.bool("equal_var")
        let alternative = Alternative(rawValue: try p.string("alternative")) ?? .twoSided

        let test: Statistic
        if let b {
            if paired {
                guard a.count == b.count else {
                    throw BuiltinError("params \"a\" and \"b\" must have the same length for a paired test, got \(a.count) and \(b.count)")
                }
                test = try Self.oneSample(zip(a, b).map { $0 - $1 }, mu: mu, name: "paired")
            } else {
                test = try Self.twoSample(a, b, mu: mu, pooled: equalVar)
            }
        } else {
            // paired and equal_var without b are rejected by the schema's rules.
            test = try Self.oneSample(a, mu: mu, name: "one_sample")
        }

        var r = ResultFields()
        try r.number("statistic", test.t)
        try r.number("p_value", StudentT.pValue(test.t, df: test.df, alternative))
        try r.number("df", test.df)
        r.set("test", .string(test.name))
        r.set("alternative", .string(alternative.rawValue))
        return r.value
    }

    struct Statistic {
        var t: Double
        var df: Double
        var name: String
    }

    static func oneSample(_ x: [Double], mu: Double, name: String) throws(BuiltinError) -> Statistic {
        let n = Double(x.count)
        let standardError = (Summary.sampleVariance(x) / n).squareRoot()
        guard standardError > 0 else {
            let what = name == "paired" ? "the differences a − b have" : "param \"a\" has"
            throw BuiltinError("\(what) zero variance; the t statistic is undefined")
        }
        return Statistic(t: (Summary.mean(x) - mu) / standardError, df: n - 1, name: name)
    }

    static func twoSample(_ a: [Double], _ b: [Double], mu: Double, pooled: Bool) throws(BuiltinError) -> Statistic {
        let na = Double(a.count), nb = Double(b.count)
        let va = Summary.sampleVariance(a), vb = Summary.sampleVariance(b)
        let difference = Summary.mean(a) - Summary.mean(b) - mu
        let standardError: Double, df: Double
        if pooled {
            df = na + nb - 2
            let pooledVariance = ((na - 1) * va + (nb - 1) * vb) / df
            standardError = (pooledVariance * (1 / na + 1 / nb)).squareRoot()
        } else {
            let sa = va / na, sb = vb / nb
            standardError = (sa + sb).squareRoot()
            df = (sa + sb) * (sa + sb) / (sa * sa / (na - 1) + sb * sb / (nb - 1))
        }
        guard standardError > 0 else {
            throw BuiltinError("params \"a\" and \"b\" both have zero variance; the t statistic is undefined")
        }
        return Statistic(t: difference / standardError, df: df, name: pooled ? "student" : "welch")
    }
}
