// The static check of params (`validate(params:)`, run at submit time) and `run` share one schema
// per type: good params pass it, each kind of bad param is reported with the param and the same
// message `run` fails with, and problems that depend on the data are left to `run`.
import SpoolJSON
import Testing
@testable import SpoolBuiltins

/// A validation case: type, params as JSON text, and the expected problems (param, message); none for good params.
struct ParamValidationCase: Sendable, CustomTestStringConvertible {
    var type: String
    var params: String
    var problems: [ParamProblem]

    init(_ type: String, _ params: String, _ problems: [(String?, String)] = []) {
        self.type = type
        self.params = params
        self.problems = problems.map { ParamProblem(param: $0.0, message: $0.1) }
    }

    var testDescription: String { "\(type) \(params)" }
}

let paramValidationCases: [ParamValidationCase] = [
    // descriptive_stats
    .init("descriptive_stats", #"{"data": [1, 2, 3]}"#),
    .init("descriptive_stats", #"{"dta": [1, 2, 3]}"#, [
        ("dta", #"unknown param "dta"; expected one of "data""#),
        ("data", #"param "data" is required: an array of at least 2 numbers"#),
    ]),
    .init("descriptive_stats", #"{"data": "1,2"}"#, [("data", #"param "data" must be an array of at least 2 numbers, got a string"#)]),
    .init("descriptive_stats", #"{"data": [1, true]}"#,
          [("data", #"param "data" must be an array of at least 2 numbers, but element 1 is a boolean"#)]),
    .init("descriptive_stats", #"{"data": []}"#),  // too few values: found when it runs
    .init("descriptive_stats", #"[1, 2]"#, [(nil, #"params must be an object, got an array"#)]),
    // t_test
    .init("t_test", #"{"a": [1, 2], "b": [3, 4], "mu": 1, "equal_var": true, "alternative": "less"}"#),
    .init("t_test", #"{"a": [1, 2], "b": [3, 4], "paired": true, "alternative": "greater", "mu": null}"#),
    .init("t_test", #"{"a": [1, 2], "alternative": "both"}"#,
          [("alternative", #"param "alternative" must be one of "two-sided", "less", "greater", got "both""#)]),
    .init("t_test", #"{"a": [1, 2], "mu": "0", "paired": 1}"#, [
        ("mu", #"param "mu" must be a finite number, got a string"#),
        ("paired", #"param "paired" must be a boolean, got an integer"#),
    ]),
    .init("t_test", #"{"a": [1, 2], "paired": true}"#, [(nil, #"param "b" is required when "paired" is true"#)]),
    .init("t_test", #"{"a": [1, 2], "b": [1, 2], "paired": true, "equal_var": true}"#,
          [(nil, #"params "paired" and "equal_var" cannot both be true"#)]),
    // correlation
    .init("correlation", #"{"x": [1, 2, 3], "y": [3, 1, 2], "method": "kendall"}"#),
    .init("correlation", #"{"x": [1, 2, 3], "y": [3, 1]}"#),  // lengths differ: found when it runs
    .init("correlation", #"{"x": [1, 2, 3], "method": "cosine"}"#, [
        ("y", #"param "y" is required: an array of at least 3 numbers"#),
        ("method", #"param "method" must be one of "pearson", "spearman", "kendall", got "cosine""#),
    ]),
    // correlation_matrix
    .init("correlation_matrix", #"{"columns": {"price": [1, 2, 3], "sales": [3, 1, 2]}, "method": "spearman"}"#),
    .init("correlation_matrix", #"{"columns": {"a": [1, 2, 3]}}"#,
          [("columns", #"param "columns" must be an object of at least 2 named arrays of numbers, got 1"#)]),
    .init("correlation_matrix", #"{"columns": {"a": [1, 2, 3], "b": [1, "x", 3]}}"#,
          [("columns", #"column "b" must be an array of at least 3 numbers, but element 1 is a string"#)]),
    .init("correlation_matrix", #"{"column": {}}"#, [
        ("column", #"unknown param "column"; expected one of "columns", "method""#),
        ("columns", #"param "columns" is required: an object of at least 2 named arrays of numbers"#),
    ]),
    // anomaly_detection
    .init("anomaly_detection", #"{"data": [1, 2, 3], "method": "mad", "threshold": 2.5}"#),
    .init("anomaly_detection", #"{"data": [1, 2, 3], "method": "isolation_forest", "threshold": 0}"#, [
        ("method", #"param "method" must be one of "zscore", "iqr", "mad", got "isolation_forest""#),
        ("threshold", #"param "threshold" must be a number > 0, got 0"#),
    ]),
    .init("anomaly_detection", #"{"data": [1, 2, 3]}"#, [("method", #"param "method" is required: one of "zscore", "iqr", "mad""#)]),
    // forecast
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 3.0, "method": "holt", "alpha": 0.5, "beta": 1}"#),
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 2, "method": "moving_average", "window": 9}"#),  // window > n: when it runs
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 2, "method": "arima"}"#,
          [("method", #"param "method" must be one of "linear", "moving_average", "exponential_smoothing", "holt", got "arima""#)]),
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 10001, "method": "linear", "window": 0}"#, [
        ("horizon", #"param "horizon" must be an integer from 1 to 10000, got 10001"#),
        ("window", #"param "window" must be an integer >= 1, got 0"#),
    ]),
    .init("forecast", #"{"data": [1, 2, 3], "method": "holt", "alpha": 1.5}"#, [
        ("horizon", #"param "horizon" is required: an integer from 1 to 10000"#),
        ("alpha", #"param "alpha" must be a number in (0, 1], got 1.5"#),
    ]),
    .init("forecast", #"{"data": [1, 2, 3], "horizon": 2, "method": "linear", "alpha": 0.5}"#,
          [(nil, #"param "alpha" applies only to method "exponential_smoothing" and "holt", not "linear""#)]),
    // http
    .init("http", #"{"method": "post", "url": "https://example.com/x", "headers": {"X-A": "1"}, "body": {"k": [1]}, "timeout_seconds": 2.5, "expect_status": [200, 404]}"#),
    .init("http", #"{"method": "GET", "url": "ftp://example.com/", "timeout_seconds": 301}"#, [
        ("url", #"param "url" must be an http or https URL with a host, got "ftp://example.com/""#),
        ("timeout_seconds", #"param "timeout_seconds" must be a number > 0 and <= 300, got 301"#),
    ]),
    .init("http", #"{"method": "BREW", "url": "http://127.0.0.1/", "header": {}}"#, [
        ("header", #"unknown param "header"; expected one of "method", "url", "headers", "body", "timeout_seconds", "expect_status""#),
        ("method", #"param "method" must be one of GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, got "BREW""#),
    ]),
    .init("http", #"{"method": "GET", "url": "http://127.0.0.1/", "headers": {"X": 1}, "expect_status": [99]}"#, [
        ("headers", #"param "headers" must be an object of strings, but "X" is an integer"#),
        ("expect_status", #"param "expect_status" must be a non-empty array of status codes (integers from 100 to 599), got 99"#),
    ]),
    .init("http", #"{}"#, [
        ("method", #"param "method" is required: a string"#),
        ("url", #"param "url" is required: a string"#),
    ]),
]

@Suite struct ParamValidationTests {
    @Test(arguments: paramValidationCases)
    func staticProblemsAreReported(_ c: ParamValidationCase) throws {
        let operation = try #require(BuiltinRegistry.operation(named: c.type))
        let params = try JSONParser().parse(c.params)
        #expect(operation.validate(params: params) == c.problems)
    }

    /// The first static problem is exactly what `run` fails with: the validator and the runner agree.
    @Test(arguments: paramValidationCases.filter { !$0.problems.isEmpty } )
    func runFailsWithTheFirstProblem(_ c: ParamValidationCase) throws {
        let operation = try #require(BuiltinRegistry.operation(named: c.type))
        let params = try JSONParser().parse(c.params)
        #expect(throws: BuiltinError(c.problems[0].message)) { try operation.run(params: params) }
    }

    /// Every bad-params case of ParamErrorTests: either found statically with run's message, or only when it runs.
    @Test(arguments: paramErrorCases)
    func staticAndRunAgree(_ c: ParamErrorCase) throws {
        let operation = try #require(BuiltinRegistry.operation(named: c.type))
        let params = try JSONParser().parse(c.params)
        if let first = operation.validate(params: params).first {
            #expect(first.message == c.message)
        }
    }

    @Test(arguments: FixtureCase.all)
    func everyFixtureValidates(_ fixture: FixtureCase) throws {
        let operation = try #require(BuiltinRegistry.operation(named: fixture.type))
        #expect(operation.validate(params: fixture.params) == [])
    }

    @Test func hostileKeysAreShortenedAndCapped() throws {
        var members: [(key: String, value: JSONValue)] = [(key: "data", value: [1, 2])]
        for i in 0..<1000 { members.append((key: String(repeating: "k", count: 10_000) + "\(i)", value: 1)) }
        let problems = DescriptiveStats().validate(params: .object(JSONObject(members)))
        #expect(problems.count == 6)
        #expect(problems.last?.message == "995 more unknown params")
        #expect(problems.allSatisfy { $0.message.utf8.count < 300 })
    }
}
