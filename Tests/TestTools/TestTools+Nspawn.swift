// A Debian root file system that boots a real systemd in systemd-nspawn, for the tests that walk
// docs/operations.md and install the .deb as an operator would. As root: systemd-container and
// debootstrap from apt-get, then `debootstrap --variant=minbase` of the host's own release from
// the mirror apt already uses, kept as a tarball in .build/test-tools/nspawn/ so that only the
// first run pays for it (about 40 s). Each test unpacks its own copy. Decided once per process.
import Foundation

/// What the container tests need: the tools and a cached root file system tarball.
public struct NspawnTools: Sendable {
    public var nspawn: String
    public var nsenter: String
    public var tar: String
    /// A tarball of a booted-never Debian root with systemd, dbus and libcurl4, and without procps.
    public var rootTarball: String
}

extension TestTools {
    /// systemd-nspawn, nsenter and a bootable root file system tarball; or why they cannot be had.
    public static let nspawn: Result<NspawnTools, ToolUnavailable> = findOrInstallNspawn()

    /// The packages of the container beyond minbase. procps is left out on purpose: the units must
    /// work on minimal systems, where /bin/kill and ps are missing.
    static let rootPackages = ["systemd", "systemd-sysv", "dbus", "libcurl4"]

    private static func findOrInstallNspawn() -> Result<NspawnTools, ToolUnavailable> {
        guard geteuid() == 0 else { return .failure(ToolUnavailable("systemd-nspawn needs root to boot a container")) }
        return withInstallLock("nspawn") {
            func tools() -> (String, String, String, String)? {
                guard let n = which("systemd-nspawn"), let e = which("nsenter"), let t = which("tar"), let d = which("debootstrap")
                else { return nil }
                return (n, e, t, d)
            }
            if tools() == nil, let failure = aptInstall(["systemd-container", "debootstrap"]) {
                return .failure(ToolUnavailable("systemd-nspawn or debootstrap is missing: \(failure)"))
            }
            guard let (nspawn, nsenter, tar, debootstrap) = tools() else {
                return .failure(ToolUnavailable("apt-get installed systemd-container and debootstrap, but systemd-nspawn, "
                                                + "nsenter, tar or debootstrap is still missing"))
            }
            let dir = directory + "/nspawn"
            let suite = hostSuite()
            let tarball = "\(dir)/root-\(suite)-\(rootPackages.joined(separator: "+")).tar"
            if !FileManager.default.fileExists(atPath: tarball) {
                if let failure = makeRoot(debootstrap: debootstrap, tar: tar, suite: suite, dir: dir, tarball: tarball) {
                    return .failure(ToolUnavailable(failure))
                }
            }
            return .success(NspawnTools(nspawn: nspawn, nsenter: nsenter, tar: tar, rootTarball: tarball))
        }
    }

    /// The host's Debian release (bookworm), so that the container has the same libc as the binaries' build.
    static func hostSuite() -> String {
        let text = (try? String(contentsOfFile: "/etc/os-release", encoding: .utf8)) ?? ""
        for line in text.split(separator: "\n") where line.hasPrefix("VERSION_CODENAME=") {
            let value = line.dropFirst("VERSION_CODENAME=".count).trimmingCharacters(in: CharacterSet(charactersIn: "\"'"))
            if !value.isEmpty { return value }
        }
        return "bookworm"
    }

    /// The Debian mirror apt already uses (deb822 `URIs:` or one-line `deb URI suite`), else deb.debian.org.
    static func debianMirror(suite: String) -> String {
        let fm = FileManager.default
        var files = ["/etc/apt/sources.list"]
        let d = "/etc/apt/sources.list.d"
        files += ((try? fm.contentsOfDirectory(atPath: d)) ?? []).sorted().map { "\(d)/\($0)" }
        for file in files {
            guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { continue }
            // deb822: a stanza with our suite; its URIs.
            for stanza in text.components(separatedBy: "\n\n") {
                let lines = stanza.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                guard let suites = lines.first(where: { $0.hasPrefix("Suites:") }),
                      suites.split(separator: " ").contains(Substring(suite)),
                      let uris = lines.first(where: { $0.hasPrefix("URIs:") }) else { continue }
                if let uri = uris.split(separator: " ").dropFirst().first(where: { $0.hasPrefix("http") }) { return String(uri) }
            }
            for line in text.split(separator: "\n") {
                let words = line.split(separator: " ").filter { !$0.hasPrefix("[") && !$0.hasSuffix("]") }
                if words.count >= 3, words[0] == "deb", words[2] == Substring(suite), words[1].hasPrefix("http") {
                    return String(words[1])
                }
            }
        }
        return "http://deb.debian.org/debian"
    }

    /// debootstrap into a scratch folder, then a tarball renamed into place (a killed run leaves no half cache).
    private static func makeRoot(debootstrap: String, tar: String, suite: String, dir: String, tarball: String) -> String? {
        let fm = FileManager.default
        try? fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let root = "\(dir)/debootstrap-\(getpid())"
        let partial = "\(tarball).partial-\(getpid())"
        defer {
            _ = run("/bin/rm", ["-rf", "--one-file-system", root], timeout: 300)
            try? fm.removeItem(atPath: partial)
        }
        let mirror = debianMirror(suite: suite)
        say("test-tools: debootstrap --variant=minbase \(suite) from \(mirror) (once; cached in .build/test-tools/nspawn)")
        let started = Date()
        let boot = run(debootstrap, ["--variant=minbase", "--include=\(rootPackages.joined(separator: ","))", suite, root, mirror],
                       environment: ["DEBIAN_FRONTEND": "noninteractive"], timeout: 900)
        guard boot.status == 0 else { return "debootstrap \(suite) from \(mirror) failed (exit \(boot.status)): \(boot.lastLine)" }
        // What a machine image has and debootstrap leaves out: a machine id is made at first boot.
        try? fm.removeItem(atPath: "\(root)/etc/machine-id")
        _ = fm.createFile(atPath: "\(root)/etc/machine-id", contents: Data())
        _ = run("/bin/sh", ["-c", "rm -rf \(root)/var/cache/apt/archives/*.deb \(root)/var/lib/apt/lists/*"])
        let pack = run(tar, ["--numeric-owner", "--xattrs", "-C", root, "-cf", partial, "."], timeout: 600)
        guard pack.status == 0 else { return "tar of the debootstrapped root failed (exit \(pack.status)): \(pack.lastLine)" }
        guard rename(partial, tarball) == 0 else { return "cannot rename \(partial) to \(tarball): \(String(cString: strerror(errno)))" }
        say("test-tools: root file system ready in \(Int(Date().timeIntervalSince(started))) s: \(tarball)")
        return nil
    }
}
