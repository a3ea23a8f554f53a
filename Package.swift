// swift-tools-version:6.0
import PackageDescription

let settings: [SwiftSetting] = [.swiftLanguageMode(.v6)]

let package = Package(
    name: "spoold",
    products: [
        .executable(name: "spoold", targets: ["spoold"]),
        .executable(name: "spoolctl", targets: ["spoolctl"]),
        .library(name: "SpoolCore", targets: ["SpoolCore"]),
    ],
    targets: [
        // _GNU_SOURCE calls that the Glibc module does not export (posix_spawn extensions, renameat2).
        .target(name: "CSpoolShim"),
        // Strict JSON parsing and writing: the job-file decoder needs duplicate keys, integer vs fraction and depth limits.
        .target(name: "SpoolJSON", swiftSettings: settings),
        // Built-in batch operations (analytics, http): pure functions from params to a result.
        .target(name: "SpoolBuiltins", dependencies: ["SpoolJSON"], swiftSettings: settings),
        .target(name: "SpoolCore", dependencies: ["CSpoolShim", "SpoolJSON", "SpoolBuiltins"], swiftSettings: settings),
        .executableTarget(name: "spoold", dependencies: ["SpoolCore"], swiftSettings: settings),
        .executableTarget(name: "spoolctl", dependencies: ["SpoolCore"], swiftSettings: settings),
        // Test support, in no product: the outside tools some tests use, installed by the tests themselves.
        .target(name: "TestTools", path: "Tests/TestTools", swiftSettings: settings),
        .testTarget(name: "SpoolCoreTests", dependencies: ["SpoolCore", "SpoolJSON", "TestTools"], swiftSettings: settings),
        .testTarget(name: "SpoolBuiltinsTests", dependencies: ["SpoolBuiltins", "SpoolJSON"],
                    resources: [.copy("Fixtures")], swiftSettings: settings),
        .testTarget(name: "SpooldIntegrationTests", dependencies: ["SpoolCore", "SpoolJSON", "TestTools"],
                    swiftSettings: settings),
    ]
)
