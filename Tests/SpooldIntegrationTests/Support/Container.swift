// A Debian machine booted with systemd-nspawn from TestTools.nspawn's cached root: a real
// systemd (PID 1 of its own namespace), journald and dbus, no Swift toolchain. Commands run in it
// through nsenter (machinectl and systemd-run -M would need a systemd on the host). Every wait
// has a deadline; the container is powered off and its root removed when the test ends.
import Foundation
import Testing
import TestTools

final class Container: @unchecked Sendable {
    let tools: NspawnTools
    /// The container's root file system on the host.
    let root: String
    let name: String
    /// systemd-nspawn's own output (the container's console, read-only).
    let consoleLog: String
    private let scratch: String
    private var nspawnPID: pid_t = 0
    private(set) var initPID: pid_t = 0
    private var boots = 0

    /// Unpacks a fresh root from the cached tarball.
    init(tools: NspawnTools, name: String) throws {
        self.tools = tools
        self.name = "\(name)-\(getpid())"
        scratch = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-nspawn-\(UUID().uuidString)").path
        root = scratch + "/root"
        consoleLog = scratch + "/console.log"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let unpack = TestTools.run(tools.tar, ["--numeric-owner", "--xattrs", "-C", root, "-xf", tools.rootTarball], timeout: 300)
        guard unpack.status == 0 else { throw ContainerError("cannot unpack \(tools.rootTarball): \(unpack.stderr)") }
    }

    /// Boots the container and waits until systemd says the system is up.
    func boot(timeout: Double = 90) throws {
        precondition(nspawnPID == 0, "already booted")
        boots += 1
        // setsid: nspawn wants a session of its own; the console goes to a file, stdin is /dev/null.
        switch TestTools.spawn("/usr/bin/setsid", [tools.nspawn, "-b", "-D", root, "-M", name, "--register=no", "--keep-unit",
                                                    "--console=read-only"],
                               stdout: consoleLog, stderr: consoleLog, appendStderr: true) {
        case .failure(let e): throw ContainerError(e.reason)
        case .success(let pid): nspawnPID = pid
        }
        let deadline = Date().addingTimeInterval(timeout)
        while initPID == 0 {
            if let pid = findInit() { initPID = pid; break }
            if exited() { throw ContainerError("systemd-nspawn exited while booting: \(String(console.suffix(2000)))") }
            guard Date() < deadline else { throw ContainerError("no init in the container after \(timeout) s: \(String(console.suffix(2000)))") }
            usleep(50_000)
        }
        // is-system-running --wait needs dbus and systemd up: retried until the deadline.
        while true {
            let state = sh("systemctl is-system-running --wait", timeout: max(1, deadline.timeIntervalSinceNow))
            let word = state.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            if word == "running" { return }
            if word == "degraded" {
                throw ContainerError("the container booted degraded: \(sh("systemctl --failed --no-legend").stdout)")
            }
            if exited() { throw ContainerError("systemd-nspawn exited while booting: \(String(console.suffix(2000)))") }
            guard Date() < deadline else { throw ContainerError("container not running after \(timeout) s: \(word) \(state.stderr)") }
            usleep(100_000)
        }
    }

    /// The console output so far.
    var console: String { (try? String(contentsOfFile: consoleLog, encoding: .utf8)) ?? "" }

    private func exited() -> Bool {
        var status: Int32 = 0
        return nspawnPID != 0 && waitpid(nspawnPID, &status, WNOHANG) == nspawnPID ? { nspawnPID = 0; return true }() : false
    }

    /// The container's PID 1 as the host sees it: a process in a child PID namespace whose pid there is 1,
    /// descending from our systemd-nspawn.
    private func findInit() -> pid_t? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for entry in entries {
            guard let pid = pid_t(entry), let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { continue }
            guard let nspid = status.split(separator: "\n").first(where: { $0.hasPrefix("NSpid:") })?.split(separator: "\t").dropFirst(),
                  nspid.count >= 2, nspid.last == "1" else { continue }
            var ancestor = pid
            for _ in 0..<6 {
                ancestor = parent(of: ancestor)
                if ancestor == nspawnPID { return pid }
                if ancestor <= 1 { break }
            }
        }
        return nil
    }

    private func parent(of pid: pid_t) -> pid_t {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("PPid:") }) else { return 0 }
        return pid_t(line.dropFirst("PPid:".count).trimmingCharacters(in: .whitespaces)) ?? 0
    }

    /// Runs a /bin/sh script inside the container as root, with a clean environment.
    @discardableResult
    func sh(_ script: String, timeout: Double = 60) -> TestTools.Outcome {
        guard initPID != 0 else { return TestTools.Outcome(status: -1, stdout: "", stderr: "the container is not running") }
        // setsid: the command gets a session and process group of its own, so that no signal sent
        // in the container to a process group (kill 0) can reach the test process.
        return TestTools.run("/usr/bin/setsid", [tools.nsenter, "-t", String(initPID), "-m", "-u", "-i", "-p", "-C", "-r", "-w",
                                             "/usr/bin/env", "-i", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                                             "HOME=/root", "LANG=C.UTF-8", "/bin/sh", "-c", script], timeout: timeout)
    }

    /// Runs a script that must succeed; records an issue with its output otherwise.
    @discardableResult
    func must(_ script: String, timeout: Double = 60, sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let r = sh(script, timeout: timeout)
        if r.status != 0 {
            Issue.record("in the container: \(script)\nexit \(r.status)\n\(r.stdout)\(r.stderr)", sourceLocation: sourceLocation)
        }
        return r.stdout
    }

    /// Polls a script every 200 ms until it exits 0, or records an issue after `timeout` seconds.
    @discardableResult
    func waitFor(_ what: String, timeout: Double = 30, sourceLocation: SourceLocation = #_sourceLocation, _ script: String) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        var last = TestTools.Outcome(status: -1, stdout: "", stderr: "")
        repeat {
            last = sh(script, timeout: max(1, min(30, deadline.timeIntervalSinceNow)))
            if last.status == 0 { return true }
            usleep(200_000)
        } while Date() < deadline
        Issue.record("timed out after \(timeout) s waiting for \(what): \(script)\n\(last.stdout)\(last.stderr)",
                     sourceLocation: sourceLocation)
        return false
    }

    /// `systemctl poweroff` inside, then waits for systemd-nspawn to exit (the machine is down; its root stays).
    func powerOff(timeout: Double = 60) throws {
        guard nspawnPID != 0 else { return }
        sh("systemctl --no-block poweroff", timeout: 10)
        let status = TestTools.waitForExit(nspawnPID, timeout: timeout)
        nspawnPID = 0
        initPID = 0
        guard status == 0 else { throw ContainerError("systemd-nspawn exited \(status) at poweroff: \(String(console.suffix(2000)))") }
    }

    /// Shuts the container down if it runs (SIGTERM to nspawn asks its init to power off), then removes its root.
    func destroy() {
        if nspawnPID != 0 {
            kill(nspawnPID, SIGTERM)
            if TestTools.waitForExit(nspawnPID, timeout: 30) == -2 { Issue.record("systemd-nspawn needed SIGKILL") }
            nspawnPID = 0
        }
        _ = TestTools.run("/bin/rm", ["-rf", "--one-file-system", scratch], timeout: 300)
    }

    /// Copies a host file or folder into the container's root at `path`.
    func copy(_ source: String, to path: String) throws {
        let target = root + path
        try FileManager.default.createDirectory(atPath: (target as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        let r = TestTools.run("/bin/cp", ["-a", source, target])
        guard r.status == 0 else { throw ContainerError("cp \(source) \(target): \(r.stderr)") }
    }
}

struct ContainerError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
