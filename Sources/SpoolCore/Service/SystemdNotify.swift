// The sd_notify protocol (SPEC §6) without libsystemd: one SOCK_DGRAM datagram of
// newline-separated KEY=VALUE lines to $NOTIFY_SOCKET, a path or an `@abstract` name.
// Built once from the environment; when NOTIFY_SOCKET is unset every send is a no-op that
// returns false, so the daemon calls it unconditionally. Sending never raises SIGPIPE; it blocks
// while the receiver's queue is full.
import Foundation

/// The service manager's notification socket, as the environment describes it.
public struct SystemdNotify: Sendable {
    /// The environment variables that belong to spoold alone: strip them from jobs' environments.
    public static let environmentKeys = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"]

    /// `$NOTIFY_SOCKET` as given, or nil when unset or empty.
    public let socketPath: String?
    /// Seconds between `WATCHDOG=1` messages (half of `WATCHDOG_USEC`), or nil when no watchdog is set for us.
    public let watchdogInterval: Double?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `environment`; `pid` is this process.
    public init(environment: [String: String] = ProcessInfo.processInfo.environment, pid: pid_t = getpid()) {
        let socket = environment["NOTIFY_SOCKET"] ?? ""
        socketPath = socket.isEmpty ? nil : socket
        watchdogInterval = Self.watchdogInterval(usec: environment["WATCHDOG_USEC"],
                                                 forPID: environment["WATCHDOG_PID"], pid: pid)
    }

    /// True when a service manager is listening.
    public var isEnabled: Bool { socketPath != nil }

    /// Sends `state` (e.g. "READY=1\nSTATUS=idle") as one datagram; true if it was sent whole.
    @discardableResult
    public func send(_ state: String) -> Bool {
        guard let socketPath, var address = Self.address(socketPath) else { return false }
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let bytes = Array(state.utf8)
        let sent = bytes.withUnsafeBytes { buf in
            withUnsafePointer(to: &address.storage) { ptr in
                ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, buf.baseAddress, buf.count, Int32(MSG_NOSIGNAL), $0, address.length)
                }
            }
        }
        return sent == bytes.count
    }

    /// Startup is complete (`READY=1`), with an optional status line. Also ends a reload.
    @discardableResult
    public func ready(status: String? = nil) -> Bool {
        send("READY=1" + Self.statusLine(status))
    }

    /// A configuration reload begins (`RELOADING=1` with `MONOTONIC_USEC`, as systemd >= 253 expects); end it with `ready(status:)`.
    @discardableResult
    public func reloading(status: String? = nil) -> Bool {
        send("RELOADING=1\nMONOTONIC_USEC=\(Self.monotonicMicroseconds())" + Self.statusLine(status))
    }

    /// Shutdown begins (`STOPPING=1`); `expectedSeconds` asks for that much more stop time (`EXTEND_TIMEOUT_USEC`).
    @discardableResult
    public func stopping(status: String? = nil, expectedSeconds: Double? = nil) -> Bool {
        var message = "STOPPING=1"
        if let expectedSeconds, expectedSeconds.isFinite, expectedSeconds > 0 {
            message += "\nEXTEND_TIMEOUT_USEC=\(UInt64(expectedSeconds * 1_000_000))"
        }
        return send(message + Self.statusLine(status))
    }

    /// A free-form status line for `systemctl status` (`STATUS=`).
    @discardableResult
    public func status(_ text: String) -> Bool {
        send("STATUS=" + Self.oneLine(text))
    }

    /// Keep-alive for `WatchdogSec=` (`WATCHDOG=1`); send every `watchdogInterval` seconds.
    @discardableResult
    public func watchdog() -> Bool {
        send("WATCHDOG=1")
    }

    // MARK: - Parts

    static func statusLine(_ status: String?) -> String {
        status.map { "\nSTATUS=" + oneLine($0) } ?? ""
    }

    // A newline would start a new KEY=VALUE assignment.
    static func oneLine(_ text: String) -> String {
        text.replacingOccurrences(of: "\n", with: " ")
    }

    static func monotonicMicroseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1_000
    }

    // sd_watchdog_enabled(3): WATCHDOG_PID, when set, names the process meant; ping at half the period.
    static func watchdogInterval(usec: String?, forPID: String?, pid: pid_t) -> Double? {
        guard let usec, let micros = UInt64(usec), micros > 0 else { return nil }
        if let forPID, !forPID.isEmpty {
            guard let target = pid_t(forPID), target == pid else { return nil }
        }
        return Double(micros) / 2_000_000
    }

    struct Address {
        var storage = sockaddr_un()
        var length: socklen_t = 0
    }

    // "/path" binds a file-system socket, "@name" an abstract one (leading NUL, no terminator).
    static func address(_ path: String) -> Address? {
        var bytes = Array(path.utf8)
        guard let first = bytes.first, first == UInt8(ascii: "/") || first == UInt8(ascii: "@") else { return nil }
        guard !bytes.contains(0) else { return nil }
        var a = Address()
        a.storage.sun_family = sa_family_t(AF_UNIX)
        let capacity = MemoryLayout.size(ofValue: a.storage.sun_path)
        let isAbstract = first == UInt8(ascii: "@")
        if isAbstract { bytes[0] = 0 }
        // A path needs room for its terminating NUL; an abstract name is exactly its bytes.
        guard bytes.count + (isAbstract ? 0 : 1) <= capacity else { return nil }
        withUnsafeMutableBytes(of: &a.storage.sun_path) { $0.copyBytes(from: bytes) }
        let offset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? MemoryLayout<sa_family_t>.size
        a.length = socklen_t(offset + bytes.count + (isAbstract ? 0 : 1))
        return a
    }
}
