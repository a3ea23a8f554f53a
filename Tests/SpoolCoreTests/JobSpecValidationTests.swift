import Testing
@testable import SpoolCore

@Suite("job validation")
struct JobSpecValidationTests {
    func problems(_ json: String) -> [SpoolError] {
        switch JobSpec.parse(Array(json.utf8), file: "inbox/x.json") {
        case .success: return []
        case .failure(let p): return p.problems
        }
    }

    @Test("a full valid job decodes every field")
    func validJob() throws {
        let json = #"""
            {"id": "j-1", "name": "nightly", "command": ["ls", "-l"], "cwd": "/tmp", "env": {"A": "b"},
             "timeout_seconds": 2.5, "retries": 3, "retry_delay_seconds": 0, "priority": -4, "queue": "reports",
             "not_before": "2026-01-02T03:04:05.5+01:00", "on_interrupt": "fail", "labels": {"team": "x"}}
            """#
        guard case .success(let spec) = JobSpec.parse(Array(json.utf8), file: "f") else {
            Issue.record("rejected")
            return
        }
        #expect(spec.id?.rawValue == "j-1")
        #expect(spec.action == .command(["ls", "-l"]))
        #expect(spec.timeoutSeconds == 2.5 && spec.retries == 3 && spec.priority == -4)
        #expect(spec.notBefore == Timestamp(seconds: 1767319445.5))
        #expect(spec.effectiveOnInterrupt == .fail)
        #expect(spec.effectiveQueue == "reports")
    }

    @Test("every problem is reported, in order, naming the file and field", arguments: [
        (#"{"shell": "x", "retries": "3"}"#, #"inbox/x.json: field "retries" must be an integer from 0 to 1000, got "3""#),
        (#"{"shell": "x", "retries": 2.0}"#, #"field "retries" must be an integer"#),
        (#"{"shell": "x", "timeout_seconds": -1}"#, #"field "timeout_seconds" must be a number > 0, got -1"#),
        (#"{"shell": "x", "id": "a/b"}"#, #"field "id" must be a string of 1 to 128 characters"#),
        (#"{"shell": "x", "labels": []}"#, #"field "labels" must be an object of string values, got an array"#),
        (#"{"shell": "x", "env": {"A=B": "c"}}"#, #"field "env" must have non-empty names without '='"#),
        (#"{"shell": "x", "queue": "a b"}"#, #"field "queue""#),
        (#"{"command": ["a\u0000b"]}"#, #"field "command[0]" must be a string without NUL"#),
        (#"{"shell": "x", "id": "y", "after": ["y"]}"#, #"a job cannot wait for itself"#),
        (#"{"shell": "x", "not_before": "9999-12-31T23:00:00-02:00"}"#, #"a time before 10000-01-01"#),
        (#"{"shell": "x", "not_before": "2026-02-29T00:00:00Z"}"#, #"must be an RFC 3339 time"#),
        (#"{"shell": "x", "max_parallel": 2}"#, #"field "max_parallel" is only for batches"#),
        (#"{"operations": [{"shell": "x", "type": "http"}]}"#, #"operations[0] must have exactly one of"#),
        (#"{"operations": [{"shell": "x", "params": {}}]}"#, #"field "operations[0].params" is only for built-in operations"#),
        (#"{"operations": [{"type": "descriptive_stats", "params": {"data": [1, 2]}, "cwd": "/"}]}"#, #"field "operations[0].cwd" is only for command and shell operations"#),
        (#"{"operations": [{"shell": "x", "colour": 1}]}"#, #"unknown field "operations[0].colour""#),
    ])
    func problemsAreReported(json: String, message: String) {
        let p = problems(json)
        #expect(p.count == 1, "\(p)")
        #expect(p.first?.message.contains(message) == true, "\(p.first?.message ?? "")")
    }

    @Test("built-in params are checked at submit time, naming the field", arguments: [
        (#"{"operations": [{"shell": "x"}, {"shell": "y"}, {"type": "descriptive_stats", "params": {"dta": [1, 2]}}]}"#,
         [#"inbox/x.json: field "operations[2].params.dta": unknown param "dta"; expected one of "data""#,
          #"inbox/x.json: field "operations[2].params.data": param "data" is required: an array of at least 2 numbers"#]),
        (#"{"operations": [{"type": "forecast", "params": {"data": [1, 2, 3], "horizon": 2, "method": "arima"}}]}"#,
         [#"inbox/x.json: field "operations[0].params.method": param "method" must be one of "linear", "moving_average", "exponential_smoothing", "holt", got "arima""#]),
        (#"{"operations": [{"type": "anomaly_detection"}]}"#,
         [#"inbox/x.json: field "operations[0].params.data": param "data" is required: an array of at least 3 numbers"#,
          #"inbox/x.json: field "operations[0].params.method": param "method" is required: one of "zscore", "iqr", "mad""#]),
        (#"{"operations": [{"type": "t_test", "params": {"a": [1, 2], "paired": true}}]}"#,
         [#"inbox/x.json: field "operations[0].params": param "b" is required when "paired" is true"#]),
        (#"{"operations": [{"type": "http", "params": {"method": "GET", "url": "http://h/", "timeout_seconds": 0}}]}"#,
         [#"inbox/x.json: field "operations[0].params.timeout_seconds": param "timeout_seconds" must be a number > 0 and <= 300, got 0"#]),
        (#"{"operations": [{"type": "http", "params": {"method": "get", "url": "http://h/", "body": {"a": 1}}}]}"#,
         [#"inbox/x.json: field "operations[0].params": param "body" cannot be sent with GET; use POST, PUT or PATCH"#]),
        (#"{"shell": "x", "on_complete": {"operations": [{"type": "correlation", "params": {"x": [1, 2, 3], "y": [1, 2, 3], "method": "cosine"}}]}}"#,
         [#"inbox/x.json field "on_complete": field "operations[0].params.method": param "method" must be one of "pearson", "spearman", "kendall", got "cosine""#]),
    ])
    func builtinParams(json: String, messages: [String]) {
        #expect(problems(json).map(\.message) == messages)
        #expect(problems(json).allSatisfy { $0.code == .invalidJob })
    }

    @Test("good built-in params pass; what depends on the data is left to the run")
    func goodBuiltinParams() {
        #expect(problems(#"""
            {"operations": [
              {"type": "descriptive_stats", "params": {"data": []}},
              {"type": "correlation_matrix", "params": {"columns": {"price": [1, 2, 3], "sales": [2, 1, 3], "ads": [3, 3, 1]}}},
              {"type": "forecast", "params": {"data": [1, 2], "horizon": 3, "method": "moving_average", "window": 5}},
              {"type": "http", "params": {"method": "post", "url": "http://127.0.0.1:1/x", "body": "hi"}}]}
            """#) == [])
    }

    @Test("several problems are all listed")
    func severalProblems() {
        let p = problems(#"{"comand": ["x"], "priority": "high"}"#)
        #expect(p.map(\.code) == [.invalidJob, .invalidJob, .invalidJob])
        #expect(p[0].message.contains("unknown field \"comand\""))
    }

    @Test("not JSON is invalid_json")
    func notJSON() {
        #expect(problems("{nope").first?.code == .invalidJSON)
    }
}
