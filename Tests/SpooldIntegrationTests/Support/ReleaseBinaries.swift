// The binaries a machine without a Swift toolchain runs: scripts/build-release.sh (release,
// -static-stdlib) into .build-release, built once per test process (incremental: seconds when
// nothing changed). A build failure fails the tests that need them; it is never a skip.
import Foundation
import TestTools

enum ReleaseBinaries {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().path

    /// The folder holding the static spoold and spoolctl, or why they could not be built.
    static let directory: Result<String, ContainerError> = {
        guard let swift = TestTools.which("swift") else { return .failure(ContainerError("no swift in PATH to build with")) }
        let toolchain = (swift as NSString).deletingLastPathComponent
        let path = toolchain + ":" + (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin")
        TestTools.say("release-binaries: scripts/build-release.sh")
        let started = Date()
        let r = TestTools.run("/bin/bash", [root + "/scripts/build-release.sh"], environment: ["PATH": path], timeout: 1800)
        guard r.status == 0, let dir = r.stdout.split(separator: "\n").last.map(String.init),
              FileManager.default.isExecutableFile(atPath: dir + "/spoold"), FileManager.default.isExecutableFile(atPath: dir + "/spoolctl")
        else { return .failure(ContainerError("scripts/build-release.sh failed (exit \(r.status)): \(r.stderr.suffix(3000))")) }
        TestTools.say("release-binaries: ready in \(String(format: "%.1f", Date().timeIntervalSince(started))) s: \(dir)")
        return .success(dir)
    }()
}
