// A network filesystem on one machine: a private sshd on 127.0.0.1 (a high port, a host key and a
// key for root generated for the test, its own config; nothing of the system's ssh setup is used
// or changed) and sshfs mounts of one exported folder through it. Each mount is a client of its
// own, as two hosts would be: renameat2(RENAME_NOREPLACE) fails with EINVAL there, flock is held
// per mount, and inotify on a mount sees only what goes through that mount. The exported folder
// itself is a third view: what another host writes. sshd needs /run/sshd (its privilege-separation
// folder), made if missing and removed again if made here. `stop()` unmounts and ends sshd.
import Foundation
import Testing
import TestTools

final class LoopbackSshfs: @unchecked Sendable {
    struct SetupFailure: Error, CustomStringConvertible {
        var description: String
    }

    let tools: SshfsTools
    /// Keys, config, logs and mount points.
    let dir: String
    /// The folder the mounts show: writing here is what another host does.
    let export: String
    let port: Int
    private let sshd: pid_t
    private let madePrivsepDir: Bool
    private let lock = NSLock()
    private var mounts: [String] = []
    private var stopped = false

    /// Starts sshd; throws with its log when it does not come up.
    init(tools: SshfsTools) throws {
        self.tools = tools
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-sshfs-\(getpid())-\(UUID().uuidString.prefix(8))").path
        export = dir + "/export"
        try FileManager.default.createDirectory(atPath: export, withIntermediateDirectories: true)
        for key in ["host_key", "user_key"] {
            let r = TestTools.run(tools.sshKeygen, ["-q", "-t", "ed25519", "-N", "", "-C", "spoold-test", "-f", "\(dir)/\(key)"])
            guard r.status == 0 else { throw SetupFailure(description: "ssh-keygen failed (exit \(r.status)): \(r.stderr)") }
        }
        try FileManager.default.copyItem(atPath: "\(dir)/user_key.pub", toPath: "\(dir)/authorized_keys")
        var isDir: ObjCBool = false
        madePrivsepDir = !FileManager.default.fileExists(atPath: "/run/sshd", isDirectory: &isDir) && mkdir("/run/sshd", 0o755) == 0
        port = Self.freePort()
        let config = """
            Port \(port)
            ListenAddress 127.0.0.1
            HostKey \(dir)/host_key
            AuthorizedKeysFile \(dir)/authorized_keys
            PidFile none
            StrictModes no
            UsePAM no
            PasswordAuthentication no
            KbdInteractiveAuthentication no
            PermitRootLogin prohibit-password
            Subsystem sftp internal-sftp
            """
        try Data(config.utf8).write(to: URL(fileURLWithPath: "\(dir)/sshd_config"))
        let hostKey = try String(contentsOfFile: "\(dir)/host_key.pub", encoding: .utf8).split(separator: " ").prefix(2).joined(separator: " ")
        try Data("[127.0.0.1]:\(port) \(hostKey)\n".utf8).write(to: URL(fileURLWithPath: "\(dir)/known_hosts"))
        switch TestTools.spawn(tools.sshd, ["-D", "-e", "-f", "\(dir)/sshd_config"], stdout: "\(dir)/sshd.log", stderr: "\(dir)/sshd.log") {
        case .failure(let e): throw SetupFailure(description: e.reason)
        case .success(let pid): sshd = pid
        }
        let deadline = Date().addingTimeInterval(20)
        while !Self.accepts(port) {
            var st: Int32 = 0
            if waitpid(sshd, &st, WNOHANG) == sshd || Date() > deadline {
                let log = (try? String(contentsOfFile: "\(dir)/sshd.log", encoding: .utf8)) ?? ""
                stop()
                throw SetupFailure(description: "sshd did not listen on 127.0.0.1:\(port): \(log)")
            }
            usleep(20_000)
        }
    }

    deinit { stop() }

    /// Mounts the exported folder at a new mount point (a client of its own) and returns its path.
    /// Directory listings are not cached (`dir_cache=no`): sshfs's default keeps them 20 s, and the
    /// files other clients drop would show up that much later (docs/operations.md).
    func mount(_ name: String) throws -> String {
        let point = "\(dir)/\(name)"
        try FileManager.default.createDirectory(atPath: point, withIntermediateDirectories: true)
        let options = ["port=\(port)", "IdentityFile=\(dir)/user_key", "UserKnownHostsFile=\(dir)/known_hosts",
                       "StrictHostKeyChecking=yes", "BatchMode=yes", "ConnectTimeout=10", "dir_cache=no"]
        let r = TestTools.run(tools.sshfs, ["-F", "/dev/null", "-o", options.joined(separator: ","), "root@127.0.0.1:\(export)", point],
                              timeout: 60)
        guard r.status == 0 else {
            throw SetupFailure(description: "sshfs could not mount \(export) at \(point) (exit \(r.status)): \(r.stderr)")
        }
        lock.withLock { mounts.append(point) }
        return point
    }

    /// Unmounts everything (lazily if a process still uses a mount), ends sshd, removes the files.
    func stop() {
        let points = lock.withLock { () -> [String]? in
            defer { stopped = true }
            return stopped ? nil : mounts
        }
        guard let points else { return }
        for point in points.reversed() {
            if TestTools.run(tools.fusermount, ["-u", point], timeout: 30).status != 0 {
                _ = TestTools.run(tools.fusermount, ["-u", "-z", point], timeout: 30)
            }
        }
        if sshd > 0 {
            kill(sshd, SIGTERM)
            _ = TestTools.waitForExit(sshd, timeout: 10)
        }
        if madePrivsepDir { rmdir("/run/sshd") }
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// A port nobody listens on now (the kernel's pick for a socket bound to port 0).
    private static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    private static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
