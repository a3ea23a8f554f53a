// sshfs over loopback, for the tests of spools on network filesystems: sshfs and fusermount
// (Debian's sshfs, which brings fuse3), and a private sshd (openssh-server) with ssh-keygen
// (openssh-client). Installing openssh-server starts no daemon here (no systemd); the tests start
// their own sshd on a high port with keys of their own. FUSE itself cannot be installed: without
// /dev/fuse the tests skip.
import Foundation

/// The programs a loopback sshfs mount needs.
public struct SshfsTools: Sendable {
    public var sshfs: String
    public var fusermount: String
    public var sshd: String
    public var sshKeygen: String
}

extension TestTools {
    /// sshfs, fusermount, sshd and ssh-keygen, installed on first use; or why they cannot be had.
    public static let sshfs: Result<SshfsTools, ToolUnavailable> = findOrInstallSshfs()

    private static func findOrInstallSshfs() -> Result<SshfsTools, ToolUnavailable> {
        guard geteuid() == 0 else {
            return .failure(ToolUnavailable("not root: the private sshd the sshfs mounts go through must run as root"))
        }
        var st = stat()
        guard stat("/dev/fuse", &st) == 0, st.st_mode & S_IFMT == S_IFCHR else {
            return .failure(ToolUnavailable("/dev/fuse is missing: this kernel or container offers no FUSE, so sshfs cannot mount"))
        }
        func found() -> SshfsTools? {
            // sshd is started by its absolute path: it re-executes itself and refuses a relative one.
            guard let sshfs = which("sshfs"), let fusermount = which("fusermount3") ?? which("fusermount"),
                  let sshd = which("sshd"), sshd.hasPrefix("/"), let keygen = which("ssh-keygen") else { return nil }
            return SshfsTools(sshfs: sshfs, fusermount: fusermount, sshd: sshd, sshKeygen: keygen)
        }
        if let tools = found() { return .success(tools) }
        return withInstallLock("sshfs") {
            if let tools = found() { return .success(tools) }
            if let failure = aptInstall(["sshfs", "openssh-server"]) {
                return .failure(ToolUnavailable("sshfs, fusermount, sshd or ssh-keygen is missing: \(failure)"))
            }
            if let tools = found() { return .success(tools) }
            return .failure(ToolUnavailable("apt-get installed sshfs and openssh-server, but sshfs, fusermount, sshd or ssh-keygen is still missing"))
        }
    }
}
