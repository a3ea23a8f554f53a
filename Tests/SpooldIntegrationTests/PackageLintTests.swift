// The .deb of packaging/build-deb.sh checked by lintian (issue 16): no error, warning or pedantic
// tag, and only the information tags docs/operations.md explains. The package's metadata names
// a real maintainer and says what the repository says about its licence (nothing yet).
import Foundation
import Testing
import TestTools

@Suite("the Debian package")
struct PackageLintTests {
    /// The information tags docs/operations.md ("On Debian and Ubuntu: the package") explains.
    static let explained: Set<String> = ["hardening-no-fortify-functions", "package-supports-alternative-init-but-no-init.d-script",
                                         "spelling-error-in-binary"]

    @Test("lintian --pedantic finds no error, warning or pedantic tag, only the explained information tags",
          .timeLimit(.minutes(10)))
    func lintianClean() throws {
        let lintian = try TestTools.lintian.orSkip()
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-lint-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: out) }
        let deb = try NspawnServiceTests.buildDeb(bin: try ReleaseBinaries.directory.get(), version: "0.0.1+lint", out: out)
        let r = TestTools.run(lintian, ["--pedantic", "--display-info", "--no-tag-display-limit", deb], timeout: 600)
        let tags = r.stdout.split(separator: "\n").filter { $0.count > 3 && $0.dropFirst().hasPrefix(": ") }
        #expect(!tags.isEmpty || r.status == 0, "lintian exit \(r.status): \(r.stderr)")
        TestTools.say("lintian: \(tags.count) tags: " + Dictionary(grouping: tags.compactMap { $0.split(separator: " ").dropFirst(2).first },
                                                                 by: { $0 }).map { "\($0.key) \($0.value.count)" }.sorted().joined(separator: ", "))
        for tag in tags {
            let kind = tag.first!
            let name = tag.split(separator: " ").dropFirst(2).first.map(String.init) ?? ""
            #expect(kind == "I" && Self.explained.contains(name), "lintian: \(tag)")
        }
        // The package's control file: a maintainer with an address, and the licence as the repository states it.
        let control = TestTools.run("/usr/bin/dpkg-deb", ["--field", deb, "Maintainer"]).stdout
        #expect(control.range(of: #"^[^<>]+ <[^<>@ ]+@[^<>@ ]+>\n$"#, options: .regularExpression) != nil
                && !control.contains("example.org"), "Maintainer: \(control)")
        let copyright = TestTools.run("/bin/sh", ["-c", "dpkg-deb --fsys-tarfile \"$0\" | tar -xO ./usr/share/doc/spoold/copyright", deb]).stdout
        #expect(copyright.contains("License: no-license-granted") && !copyright.contains("License: unspecified"), "\(copyright)")
    }
}
