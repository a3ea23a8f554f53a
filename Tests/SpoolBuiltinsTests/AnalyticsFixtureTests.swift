// Runs every case of Fixtures/analytics.json (expected results from numpy/scipy, written by
// scripts/make_builtin_fixtures.py) through its built-in and compares every field.
import Foundation
import SpoolJSON
import Testing
@testable import SpoolBuiltins

/// One fixture case: an operation type, its params and the expected result.
struct FixtureCase: Sendable, CustomTestStringConvertible {
    var name: String
    var type: String
    var params: JSONValue
    var expected: JSONValue

    var testDescription: String { name }

    static let all: [FixtureCase] = (try? load()) ?? []

    static func load() throws -> [FixtureCase] {
        guard let url = Bundle.module.url(forResource: "analytics", withExtension: "json", subdirectory: "Fixtures") else {
            throw BuiltinError("Fixtures/analytics.json is missing from the test bundle")
        }
        let root = try JSONParser().parse([UInt8](try Data(contentsOf: url)))
        return (root.arrayValue ?? []).map { item in
            let o = item.objectValue ?? JSONObject()
            return FixtureCase(name: o["name"]?.stringValue ?? "?", type: o["type"]?.stringValue ?? "?",
                               params: o["params"] ?? .null, expected: o["expected"] ?? .null)
        }
    }
}

@Suite struct AnalyticsFixtureTests {
    @Test func fixtureCoversEveryAnalyticsType() throws {
        let cases = try FixtureCase.load()
        #expect(cases.count >= 50)
        let types = Set(cases.map(\.type))
        #expect(types == ["descriptive_stats", "t_test", "correlation", "correlation_matrix", "anomaly_detection", "forecast"])
    }

    @Test(arguments: FixtureCase.all)
    func matchesNumpyAndScipy(_ fixture: FixtureCase) throws {
        let operation = try #require(BuiltinRegistry.operation(named: fixture.type))
        let result = try operation.run(params: fixture.params)
        let problems = JSONApproximation.mismatches(result, fixture.expected)
        #expect(problems.isEmpty, "\(fixture.name): \(problems.joined(separator: "; "))")
    }
}
