// The tools themselves: a python3 that can import prometheus_client (PyPI through pip into
// .build/test-tools/python; Debian's python3-prometheus-client as root when pip cannot),
// systemd's offline tools (Debian's systemd package, as root), and python3 with strace for the
// crash-state explorer (Debian's python3 and strace, as root). Each is decided once per process.
import Foundation

/// A python3 that can import prometheus_client: `executable` run with `environment` added to ours.
public struct PythonCommand: Sendable {
    public var executable: String
    public var environment: [String: String]

    /// Runs this python with `args`, `stdin` as its input.
    public func run(_ args: [String], stdin: String = "", timeout: Double = 60) -> TestTools.Outcome {
        TestTools.run(executable, args, environment: environment, stdin: stdin, timeout: timeout)
    }
}

/// systemd's offline tools, for checking the files in systemd/.
public struct SystemdTools: Sendable {
    public var analyze: String
    public var sysusers: String
    public var tmpfiles: String
}

extension TestTools {
    /// python3 with prometheus_client, installed on first use; or why it cannot be had.
    public static let prometheusPython: Result<PythonCommand, ToolUnavailable> = findOrInstallPrometheusClient()

    /// systemd-analyze, systemd-sysusers and systemd-tmpfiles, installed on first use; or why they cannot be had.
    public static let systemd: Result<SystemdTools, ToolUnavailable> = findOrInstallSystemd()

    /// python3 and strace for the crash-state explorer (Tests/CrashStates), installed on first use; or why not.
    public static let crashStateTools: Result<(python: String, strace: String), ToolUnavailable> = findOrInstallStrace()

    private static func findOrInstallStrace() -> Result<(python: String, strace: String), ToolUnavailable> {
        func found() -> (python: String, strace: String)? {
            guard let python = which("python3"), let strace = which("strace") else { return nil }
            return (python, strace)
        }
        if let tools = found() { return .success(tools) }
        return withInstallLock("strace") {
            if let tools = found() { return .success(tools) }
            if let failure = aptInstall(["python3", "strace"]) {
                return .failure(ToolUnavailable("python3 or strace is missing: \(failure)"))
            }
            if let tools = found() { return .success(tools) }
            return .failure(ToolUnavailable("apt-get installed python3 and strace, but one of them is still missing"))
        }
    }

    private static func findOrInstallPrometheusClient() -> Result<PythonCommand, ToolUnavailable> {
        let target = directory + "/python"
        func usable(_ python: String) -> PythonCommand? {
            let inherited = ProcessInfo.processInfo.environment["PYTHONPATH"].map { ":" + $0 } ?? ""
            let command = PythonCommand(executable: python, environment: ["PYTHONPATH": target + inherited])
            return command.run(["-c", "import prometheus_client.parser"]).status == 0 ? command : nil
        }
        // Checked under the lock too: another process may be halfway through the install.
        return withInstallLock("python") {
            var reasons: [String] = []
            if let python = which("python3") {
                if let command = usable(python) { return .success(command) }
                say("test-tools: installing prometheus_client into .build/test-tools/python with \(python) -m pip")
                // Into a folder of our own first, then renamed: a killed install never leaves a half package behind.
                let staging = "\(target).partial-\(getpid())"
                try? FileManager.default.removeItem(atPath: staging)
                defer { try? FileManager.default.removeItem(atPath: staging) }
                let pip = run(python, ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
                                       "--no-warn-script-location", "--target", staging, "prometheus_client"], timeout: 600)
                if pip.status == 0 {
                    try? FileManager.default.removeItem(atPath: target)
                    if rename(staging, target) == 0, let command = usable(python) { return .success(command) }
                    reasons.append("pip installed prometheus_client, but \(python) still cannot import it from \(target)")
                } else {
                    reasons.append("\(python) -m pip install prometheus_client failed (exit \(pip.status)): \(pip.lastLine)")
                }
            } else {
                reasons.append("there is no python3 in PATH")
            }
            // Debian's own python3 and package, for when pip cannot help (no pip, no PyPI).
            if let failure = aptInstall(["python3", "python3-prometheus-client"]) {
                reasons.append(failure)
            } else if let command = usable("/usr/bin/python3") {
                return .success(command)
            } else {
                reasons.append("/usr/bin/python3 cannot import prometheus_client even after apt-get install")
            }
            return .failure(ToolUnavailable("python3 with prometheus_client: " + reasons.joined(separator: "; ")))
        }
    }

    private static func findOrInstallSystemd() -> Result<SystemdTools, ToolUnavailable> {
        func found() -> SystemdTools? {
            guard let analyze = which("systemd-analyze"), let sysusers = which("systemd-sysusers"),
                  let tmpfiles = which("systemd-tmpfiles") else { return nil }
            return SystemdTools(analyze: analyze, sysusers: sysusers, tmpfiles: tmpfiles)
        }
        if let tools = found() { return .success(tools) }
        return withInstallLock("systemd") {
            if let tools = found() { return .success(tools) }
            if let failure = aptInstall(["systemd"]) {
                return .failure(ToolUnavailable("systemd-analyze, systemd-sysusers or systemd-tmpfiles is missing: \(failure)"))
            }
            if let tools = found() { return .success(tools) }
            return .failure(ToolUnavailable("apt-get installed systemd, but systemd-analyze, systemd-sysusers or "
                                            + "systemd-tmpfiles is still missing"))
        }
    }
}

/// Shells whose completion scripts the tests check.
public struct Shells: Sendable {
    public var zsh: String
    public var fish: String
}

/// man and groff, to render the man pages.
public struct ManTools: Sendable {
    public var man: String
    public var groff: String
}

extension TestTools {
    /// zsh and fish, installed on first use (Debian packages, as root); or why they cannot be had.
    public static let shells: Result<Shells, ToolUnavailable> = findOrInstall(["zsh", "fish"], packages: ["zsh", "fish"]) {
        Shells(zsh: $0[0], fish: $0[1])
    }

    /// man (man-db) and groff, installed on first use (Debian packages, as root); or why they cannot be had.
    public static let man: Result<ManTools, ToolUnavailable> = findOrInstall(["man", "groff"], packages: ["man-db", "groff"]) {
        ManTools(man: $0[0], groff: $0[1])
    }

    /// lintian, to check the .deb of packaging/build-deb.sh (Debian package, as root); or why it cannot be had.
    public static let lintian: Result<String, ToolUnavailable> = findOrInstall(["lintian"], packages: ["lintian"]) { $0[0] }

    /// The programs `names` from PATH, or after apt-get install of `packages` under a lock.
    private static func findOrInstall<T>(_ names: [String], packages: [String], _ make: ([String]) -> T) -> Result<T, ToolUnavailable> {
        func found() -> [String]? {
            let paths = names.compactMap { which($0) }
            return paths.count == names.count ? paths : nil
        }
        if let paths = found() { return .success(make(paths)) }
        return withInstallLock(packages.joined(separator: "+")) {
            if let paths = found() { return .success(make(paths)) }
            if let failure = aptInstall(packages) {
                return .failure(ToolUnavailable("\(names.joined(separator: ", ")) missing: \(failure)"))
            }
            if let paths = found() { return .success(make(paths)) }
            return .failure(ToolUnavailable("apt-get installed \(packages.joined(separator: " ")), but \(names.joined(separator: ", ")) is still missing"))
        }
    }
}
