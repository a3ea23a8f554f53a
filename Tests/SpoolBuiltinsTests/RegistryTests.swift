// The registry lists every built-in under its type name.
import SpoolJSON
import Testing
@testable import SpoolBuiltins

@Suite struct RegistryTests {
    @Test func registersEveryBuiltin() {
        let names = Set(BuiltinRegistry.all.keys)
        #expect(names == ["descriptive_stats", "t_test", "correlation", "correlation_matrix",
                          "anomaly_detection", "forecast", "http"])
        for (name, operation) in BuiltinRegistry.all {
            #expect(type(of: operation).typeName == name)
        }
    }

    /// The daemon runs the others on a shared queue; a blocking one there would hold a worker
    /// that the daemon's other work needs (Daemon.runBuiltin).
    @Test func onlyHTTPBlocks() {
        let blocking = BuiltinRegistry.all.filter { type(of: $0.value).blocks }.map(\.key)
        #expect(blocking == ["http"])
    }

    @Test func unknownTypeIsNil() {
        #expect(BuiltinRegistry.operation(named: "nope") == nil)
    }

    @Test func nullParamsReportTheMissingParam() {
        #expect(throws: BuiltinError("param \"data\" is required: an array of at least 2 numbers")) {
            try DescriptiveStats().run(params: .null)
        }
    }
}
