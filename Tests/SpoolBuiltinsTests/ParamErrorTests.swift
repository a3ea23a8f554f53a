// Every kind of bad params yields a BuiltinError whose message names the param and what was
// expected; none crashes or returns NaN.
import SpoolJSON
import Testing
@testable import SpoolBuiltins

/// A bad-params case: the operation type, its params as JSON text, and the exact message.
struct ParamErrorCase: Sendable, CustomTestStringConvertible {
    var type: String
    var params: String
    var message: String

    init(_ type: String, _ params: String, _ message: String) {
        self.type = type
        self.params = params
        self.message = message
    }

    var testDescription: String { "\(type) \(params)" }
}

let paramErrorCases: [ParamErrorCase] = [
    // Shared params handling.
    .init("descriptive_stats", #"[1, 2]"#, #"params must be an object, got an array"#),
    .init("descriptive_stats", #"{"data": [1, 2], "dat": 1}"#, #"unknown param "dat"; expected one of "data""#),
    .init("descriptive_stats", #"{}"#, #"param "data" is required: an array of at least 2 numbers"#),
    .init("descriptive_stats", #"{"data": [1]}"#, #"param "data" must be an array of at least 2 numbers, got 1"#),
    .init("descriptive_stats", #"{"data": "1,2"}"#, #"param "data" must be an array of at least 2 numbers, got a string"#),
    .init("descriptive_stats", #"{"data": [1, "2"]}"#,
          #"param "data" must be an array of at least 2 numbers, but element 1 is a string"#),
    .init("descriptive_stats", #"{"data": [1e308, -1e308, 1e308]}"#,
          #"result "std" is not finite; the input values are too large or degenerate"#),
    // t_test
    .init("t_test", #"{"a": [1, 2], "b": [1]}"#, #"param "b" must be an array of at least 2 numbers, got 1"#),
    .init("t_test", #"{"a": [1, 2, 3], "b": [1, 2], "paired": true}"#,
          #"params "a" and "b" must have the same length for a paired test, got 3 and 2"#),
    .init("t_test", #"{"a": [1, 2, 3], "paired": true}"#, #"param "b" is required when "paired" is true"#),
    .init("t_test", #"{"a": [1, 2, 3], "equal_var": true}"#, #"param "b" is required when "equal_var" is true"#),
    .init("t_test", #"{"a": [1, 2], "b": [3, 5], "paired": true, "equal_var": true}"#,
          #"params "paired" and "equal_var" cannot both be true"#),
    .init("t_test", #"{"a": [2, 2, 2]}"#, #"param "a" has zero variance; the t statistic is undefined"#),
    .init("t_test", #"{"a": [1, 1], "b": [2, 2]}"#,
          #"params "a" and "b" both have zero variance; the t statistic is undefined"#),
    .init("t_test", #"{"a": [1, 2], "b": [2, 3], "paired": true}"#,
          #"the differences a − b have zero variance; the t statistic is undefined"#),
    .init("t_test", #"{"a": [1, 2, 3], "alternative": "both"}"#,
          #"param "alternative" must be one of "two-sided", "less", "greater", got "both""#),
    .init("t_test", #"{"a": [1, 2, 3], "mu": "0"}"#, #"param "mu" must be a finite number, got a string"#),
    .init("t_test", #"{"a": [1, 2, 3], "b": [1, 2], "equal_var": 1}"#, #"param "equal_var" must be a boolean, got an integer"#),
    // correlation
    .init("correlation", #"{"x": [1, 2, 3], "y": [1, 2, 3, 4]}"#,
          #"params "x" and "y" must have the same length, got 3 and 4"#),
    .init("correlation", #"{"x": [1, 2], "y": [1, 2]}"#, #"param "x" must be an array of at least 3 numbers, got 2"#),
    .init("correlation", #"{"x": [1, 2, 3]}"#, #"param "y" is required: an array of at least 3 numbers"#),
    .init("correlation", #"{"x": [1, 2, 3], "y": [4, 4, 4]}"#, #"param "y" has zero variance; the correlation is undefined"#),
    .init("correlation", #"{"x": [1, 2, 3], "y": [3, 1, 2], "method": "cosine"}"#,
          #"param "method" must be one of "pearson", "spearman", "kendall", got "cosine""#),
    // correlation_matrix
    .init("correlation_matrix", #"{}"#, #"param "columns" is required: an object of at least 2 named arrays of numbers"#),
    .init("correlation_matrix", #"{"columns": [[1, 2, 3]]}"#,
          #"param "columns" must be an object of at least 2 named arrays of numbers, got an array"#),
    .init("correlation_matrix", #"{"columns": {"a": [1, 2, 3]}}"#,
          #"param "columns" must be an object of at least 2 named arrays of numbers, got 1"#),
    .init("correlation_matrix", #"{"columns": {"a": [1, 2, 3], "b": [1, "x", 3]}}"#,
          #"column "b" must be an array of at least 3 numbers, but element 1 is a string"#),
    .init("correlation_matrix", #"{"columns": {"a": [1, 2, 3], "b": [1, 2, 3, 4]}}"#,
          #"column "b" has 4 values but column "a" has 3; all columns must have the same length"#),
    .init("correlation_matrix", #"{"columns": {"a": [1, 2, 3], "b": [5, 5, 5]}}"#,
          #"column "b" has zero variance; its correlation is undefined"#),
    .init("correlation_matrix", #"{"columns": {"a": [1, 2, 3], "b": [3, 2, 1]}, "method": "kendal"}"#,
          #"param "method" must be one of "pearson", "spearman", "kendall", got "kendal""#),
    // anomaly_detection
    .init("anomaly_detection", #"{"data": [1, 2, 3]}"#, #"param "method" is required: one of "zscore", "iqr", "mad""#),
    .init("anomaly_detection", #"{"data": [1, 2], "method": "zscore"}"#,
          #"param "data" must be an array of at least 3 numbers, got 2"#),
    .init("anomaly_detection", #"{"data": [1, 2, 3], "method": "zscore", "threshold": -1}"#,
          #"param "threshold" must be a number > 0, got -1"#),
    .init("anomaly_detection", #"{"data": [4, 4, 4], "method": "zscore"}"#,
          #"param "data" has zero variance; z-scores are undefined"#),
    .init("anomaly_detection", #"{"data": [1, 1, 1, 5], "method": "mad"}"#,
          #"param "data" has a median absolute deviation of 0; modified z-scores are undefined"#),
    .init("anomaly_detection", #"{"data": [1, 2, 3], "method": "isolation_forest"}"#,
          #"param "method" must be one of "zscore", "iqr", "mad", got "isolation_forest""#),
    // forecast
    .init("forecast", #"{"data": [1, 2, 3], "method": "linear"}"#, #"param "horizon" is required: an integer from 1 to 10000"#),
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 0, "method": "linear"}"#,
          #"param "horizon" must be an integer from 1 to 10000, got 0"#),
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 1.5, "method": "linear"}"#,
          #"param "horizon" must be an integer from 1 to 10000, got 1.5"#),
    .init("forecast", #"{"data": [1, 2, 3], "horizon": "2", "method": "linear"}"#,
          #"param "horizon" must be an integer from 1 to 10000, got a string"#),
    .init("forecast", #"{"data": [1], "horizon": 2, "method": "linear"}"#,
          #"param "data" must be an array of at least 2 numbers, got 1"#),
    .init("forecast", #"{"data": [1, 2, 3, 4], "horizon": 2, "method": "moving_average", "window": 5}"#,
          #"param "window" must be an integer from 1 to 4, got 5"#),
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 2, "method": "exponential_smoothing", "alpha": 0}"#,
          #"param "alpha" must be a number in (0, 1], got 0"#),
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 2, "method": "holt", "beta": 1.5}"#,
          #"param "beta" must be a number in (0, 1], got 1.5"#),
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 2, "method": "exponential_smoothing", "beta": 0.2}"#,
          #"param "beta" applies only to method "holt", not "exponential_smoothing""#),
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 2, "method": "linear", "window": 2}"#,
          #"param "window" applies only to method "moving_average", not "linear""#),
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 2, "method": "arima"}"#,
          #"param "method" must be one of "linear", "moving_average", "exponential_smoothing", "holt", got "arima""#),
    .init("forecast", #"{"data": [1e308, -1e308], "horizon": 2, "method": "linear"}"#,
          #"result "slope" is not finite; the input values are too large or degenerate"#),
    .init("forecast", #"{"data": [0, 1e308], "horizon": 2, "method": "linear"}"#,
          #"result "forecast" is not finite; the input values are too large or degenerate"#),
    // http (rejected before any request is made)
    .init("http", #"{"method": "GET"}"#, #"param "url" is required: a string"#),
    .init("http", #"{"method": "GET", "url": "ftp://example.com/file"}"#,
          #"param "url" must be an http or https URL with a host, got "ftp://example.com/file""#),
    .init("http", #"{"method": "GET", "url": "not a url"}"#,
          #"param "url" must be an http or https URL with a host, got "not a url""#),
    .init("http", #"{"url": "http://127.0.0.1/"}"#, #"param "method" is required: a string"#),
    .init("http", #"{"method": "BREW", "url": "http://127.0.0.1/"}"#,
          #"param "method" must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got "BREW""#),
    .init("http", #"{"method": "GET", "url": "http://127.0.0.1/", "headers": {"X-Count": 3}}"#,
          #"param "headers" must be an object of strings, but "X-Count" is an integer"#),
    .init("http", #"{"method": "GET", "url": "http://127.0.0.1/", "headers": {"Bad Name": "x"}}"#,
          #"param "headers" has an invalid header name "Bad Name""#),
    .init("http", #"{"method": "GET", "url": "http://127.0.0.1/", "headers": {"X-A": "1\r\nX-B: 2"}}"#,
          #"param "headers" value of "X-A" must not contain CR, LF or NUL"#),
    .init("http", #"{"method": "GET", "url": "http://127.0.0.1/", "timeout_seconds": 0}"#,
          #"param "timeout_seconds" must be a number > 0 and <= 300, got 0"#),
    .init("http", #"{"method": "GET", "url": "http://127.0.0.1/", "expect_status": []}"#,
          #"param "expect_status" must be a non-empty array of status codes (integers from 100 to 599), got an array"#),
    .init("http", #"{"method": "GET", "url": "http://127.0.0.1/", "expect_status": [200, 999]}"#,
          #"param "expect_status" must be a non-empty array of status codes (integers from 100 to 599), got 999"#),
]

@Suite struct ParamErrorTests {
    @Test(arguments: paramErrorCases)
    func badParamsAreReported(_ c: ParamErrorCase) throws {
        let operation = try #require(BuiltinRegistry.operation(named: c.type))
        let params = try JSONParser().parse(c.params)
        #expect(throws: BuiltinError(c.message)) { try operation.run(params: params) }
    }

    @Test func nonFiniteNumbersAreRejected() {
        let params: JSONValue = .object(JSONObject([(key: "data", value: .array([1, .number(.nan), 3]))]))
        #expect(throws: BuiltinError("param \"data\" must be an array of at least 2 numbers, but element 1 is not finite")) {
            try DescriptiveStats().run(params: params)
        }
        let alpha: JSONValue = ["data": [1, 2, 3], "horizon": 1, "method": "holt", "alpha": .number(.infinity)]
        #expect(throws: BuiltinError("param \"alpha\" must be a number in (0, 1], got a number")) {
            try Forecast().run(params: alpha)
        }
    }

    @Test func explicitNullMeansAbsent() throws {
        let result = try TTest().run(params: ["a": [1, 2, 4], "b": nil, "mu": nil])
        #expect(result.objectValue?["test"] == "one_sample")
    }
}
