// swift-tools-version:6.0
import PackageDescription

let settings: [SwiftSetting] = [.swiftLanguageMode(.v6)]
// The programs carry the Swift runtime and Foundation inside them: a dynamic spoold spent 10.7 ms
// of every start (most of it resolving symbols across the toolchain's libraries), a static one
// 4.6 ms; each spoolctl call and each daemon start pays it (docs/design.md, "Start-up"). The
// static Foundation's own libraries are named here: SwiftPM adds them only with its
// --static-swift-stdlib flag.
let staticRuntime: [LinkerSetting] = [.unsafeFlags(["-static-stdlib", "-lCoreFoundation", "-l_FoundationICU", "-l_FoundationCShims", "-l_FoundationCollections", "-lswiftSynchronization"])]

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
        // libcurl for the http built-in, loaded at its first request rather than linked (curl_call.c).
        .target(name: "CSpoolCurl", linkerSettings: [.linkedLibrary("dl")]),
        // Built-in batch operations (analytics, http): pure functions from params to a result.
        .target(name: "SpoolBuiltins", dependencies: ["SpoolJSON", "CSpoolCurl"], swiftSettings: settings),
        .target(name: "SpoolCore", dependencies: ["CSpoolShim", "SpoolJSON", "SpoolBuiltins"], swiftSettings: settings),
        .executableTarget(name: "spoold", dependencies: ["SpoolCore"], swiftSettings: settings, linkerSettings: staticRuntime),
        .executableTarget(name: "spoolctl", dependencies: ["SpoolCore"], swiftSettings: settings, linkerSettings: staticRuntime),
        // Test support, in no product: the outside tools some tests use, installed by the tests themselves.
        .target(name: "TestTools", path: "Tests/TestTools", swiftSettings: settings),
        .testTarget(name: "SpoolCoreTests", dependencies: ["SpoolCore", "SpoolJSON", "TestTools"], swiftSettings: settings),
        .testTarget(name: "SpoolBuiltinsTests", dependencies: ["SpoolBuiltins", "SpoolJSON"],
                    resources: [.copy("Fixtures")], swiftSettings: settings),
        .testTarget(name: "SpooldIntegrationTests", dependencies: ["SpoolCore", "SpoolJSON", "TestTools"],
                    swiftSettings: settings),
    ]
)
