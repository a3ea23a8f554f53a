// `forecast`: extends a series `horizon` steps with a least-squares line, a trailing moving
// average, simple exponential smoothing or Holt's linear trend method. The models themselves
// are in Statistics/Smoothing.swift.
import SpoolJSON

/// Point forecasts of a series.
public struct Forecast: BuiltinOperation {
    /// The `type` string of this operation.
    public static let typeName = "forecast"

    /// The largest accepted `horizon`.
    static let maxHorizon = 10_000

    enum Method: String, CaseIterable {
        case linear
        case movingAverage = "moving_average"
        case exponentialSmoothing = "exponential_smoothing"
        case holt
    }

    /// Its params, checked at submit time and again by `run`.
    public static let schema = ParamSchema([
        .numbers("data", minCount: 2),
        .integer("horizon", in: 1...maxHorizon, required: true),
        .choice("method", Method.allCases.map(\.rawValue)),
        .integer("window", in: 1...Int.max),
        .number("alpha", .unitInterval, default: 0.3),
        .number("beta", .unitInterval, default: 0.1),
    ], rules: [unusedParams])

    /// The schema's rule: model params given to a method that does not use them.
    static func unusedParams(_ p: Params) -> BuiltinError? {
        guard let name = try? p.string("method"), let method = Method(rawValue: name) else { return nil }
        return problem { () throws(BuiltinError) in try rejectUnused(p, method: method) }
    }

    /// Creates the operation; it holds no state.
    public init() {}

    public func run(params: JSONValue) throws(BuiltinError) -> JSONValue {
        let p = try Params(params, schema: Self.schema)
        let data = try p.numbers("data")
        let horizon = try p.integer("horizon")
        let method = Method(rawValue: try p.string("method")) ?? .linear

        var r = ResultFields()
        let forecast: [Double]
        switch method {
        case .linear:
            let line = Smoothing.leastSquaresLine(data)
            forecast = (0..<horizon).map { line.intercept + line.slope * Double(data.count + $0) }
            try r.number("slope", line.slope)
            try r.number("intercept", line.intercept)
        case .movingAverage:
            // The upper bound depends on the data, so it is checked here rather than in the schema.
            let window = try p.optionalInteger("window") ?? min(3, data.count)
            guard window <= data.count else {
                throw BuiltinError("param \"window\" must be an integer from 1 to \(data.count), got \(window)")
            }
            let average = Summary.mean(Array(data.suffix(window)))
            forecast = Array(repeating: average, count: horizon)
            r.integer("window", window)
        case .exponentialSmoothing:
            let alpha = try p.number("alpha")
            let level = Smoothing.exponential(data, alpha: alpha)
            forecast = Array(repeating: level, count: horizon)
            try r.number("level", level)
            try r.number("alpha", alpha)
        case .holt:
            let alpha = try p.number("alpha")
            let beta = try p.number("beta")
            let state = Smoothing.holt(data, alpha: alpha, beta: beta)
            forecast = (1...horizon).map { state.level + Double($0) * state.trend }
            try r.number("level", state.level)
            try r.number("trend", state.trend)
            try r.number("alpha", alpha)
            try r.number("beta", beta)
        }
        var out = ResultFields()
        out.set("forecast", try finiteArray(forecast, field: "forecast"))
        out.set("method", .string(method.rawValue))
        for (key, value) in r.object.members { out.set(key, value) }
        return out.value
    }

    /// Model params given to a method that does not use them are an error, not silently ignored.
    static func rejectUnused(_ p: Params, method: Method) throws(BuiltinError) {
        let uses: [String: [Method]] = [
            "window": [.movingAverage],
            "alpha": [.exponentialSmoothing, .holt],
            "beta": [.holt],
        ]
        for name in ["window", "alpha", "beta"] where p.has(name) && !(uses[name] ?? []).contains(method) {
            let list = (uses[name] ?? []).map { "\"\($0.rawValue)\"" }.joined(separator: " and ")
            throw BuiltinError("param \"\(name)\" applies only to method \(list), not \"\(method.rawValue)\"")
        }
    }
}
