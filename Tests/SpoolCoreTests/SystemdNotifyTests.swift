// sd_notify against a real SOCK_DGRAM receiver, bound to a file-system path and to an abstract
// name, comparing the exact datagrams; and the watchdog interval rules of sd_watchdog_enabled(3).
import Foundation
import Testing
@testable import SpoolCore

/// A bound AF_UNIX datagram socket that collects what is sent to it.
private final class DatagramReceiver {
    let fd: Int32
    /// The value to put in NOTIFY_SOCKET.
    let notifySocket: String
    private let path: String?

    init(abstract: Bool) throws {
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SystemError("socket", "AF_UNIX") }
        let name = "spoold-notify-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        if abstract {
            notifySocket = "@" + name
            path = nil
        } else {
            notifySocket = FileManager.default.temporaryDirectory.appendingPathComponent(name).path
            path = notifySocket
        }
        guard var address = SystemdNotify.address(notifySocket) else { throw SystemError("address", notifySocket, errno: EINVAL) }
        let rc = withUnsafePointer(to: &address.storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, address.length) }
        }
        guard rc == 0 else { throw SystemError("bind", notifySocket) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }

    /// The next datagram, or nil after the 5 s timeout.
    func receive() -> String? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n >= 0 else { return nil }
        return String(decoding: buffer[0..<n], as: UTF8.self)
    }
}

/// All of a file, however its size is reported (a /proc file says 0).
private func readToEnd(_ path: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw SystemError("open", path) }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return out }
        out += chunk[0..<n]
    }
}

@Suite("systemd notification")
struct SystemdNotifyTests {
    @Test("messages arrive as exact datagrams", arguments: [false, true])
    func exactDatagrams(abstract: Bool) throws {
        let receiver = try DatagramReceiver(abstract: abstract)
        // The receiver's address comes from SystemdNotify.address too: check it against the kernel's view.
        if abstract {
            // Read to the end: String(contentsOfFile:) stops after the first 4 KiB of a /proc file, and
            // the table is longer than that on a machine with a hundred sockets open.
            let table = String(decoding: try readToEnd("/proc/net/unix"), as: UTF8.self)
            #expect(table.split(separator: "\n").contains { $0.hasSuffix(" " + receiver.notifySocket) })
        } else {
            var st = stat()
            #expect(stat(receiver.notifySocket, &st) == 0 && (st.st_mode & S_IFMT) == S_IFSOCK)
        }
        let notify = SystemdNotify(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        #expect(notify.isEnabled)

        #expect(notify.ready(status: "3 pending, 1 running"))
        #expect(receiver.receive() == "READY=1\nSTATUS=3 pending, 1 running")
        #expect(notify.ready())
        #expect(receiver.receive() == "READY=1")
        #expect(notify.status("two\nlines"))
        #expect(receiver.receive() == "STATUS=two lines")
        #expect(notify.watchdog())
        #expect(receiver.receive() == "WATCHDOG=1")
        #expect(notify.stopping())
        #expect(receiver.receive() == "STOPPING=1")
        #expect(notify.stopping(status: "draining", expectedSeconds: 15.5))
        #expect(receiver.receive() == "STOPPING=1\nEXTEND_TIMEOUT_USEC=15500000\nSTATUS=draining")
        #expect(notify.send("FDSTORE=0"))
        #expect(receiver.receive() == "FDSTORE=0")
    }

    @Test("RELOADING=1 carries the current CLOCK_MONOTONIC in microseconds")
    func reloading() throws {
        let receiver = try DatagramReceiver(abstract: true)
        let notify = SystemdNotify(environment: ["NOTIFY_SOCKET": receiver.notifySocket])
        let before = SystemdNotify.monotonicMicroseconds()
        #expect(notify.reloading())
        let after = SystemdNotify.monotonicMicroseconds()
        let message = try #require(receiver.receive())
        let lines = message.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        #expect(lines.first == "RELOADING=1")
        let stamp = try #require(lines.last.flatMap { $0.hasPrefix("MONOTONIC_USEC=") ? UInt64($0.dropFirst(15)) : nil })
        #expect(stamp >= before && stamp <= after)
    }

    @Test("without NOTIFY_SOCKET, or with an unusable one, nothing is sent", arguments: [
        [:], ["NOTIFY_SOCKET": ""], ["NOTIFY_SOCKET": "relative/path"], ["NOTIFY_SOCKET": "vsock:2:1234"],
        ["NOTIFY_SOCKET": "/" + String(repeating: "x", count: 200)],
    ])
    func disabled(environment: [String: String]) {
        let notify = SystemdNotify(environment: environment)
        #expect(!notify.ready())
        #expect(!notify.watchdog())
    }

    @Test("a socket nobody listens on makes send return false")
    func noListener() {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-nobody-\(getpid())").path
        #expect(!SystemdNotify(environment: ["NOTIFY_SOCKET": path]).ready())
    }

    @Test("the watchdog interval is half of WATCHDOG_USEC, only for our pid", arguments: [
        (["WATCHDOG_USEC": "30000000"], 15.0),
        (["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4242"], 15.0),
        (["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "4243"], nil),
        (["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "x"], nil),
        (["WATCHDOG_USEC": "500000", "WATCHDOG_PID": ""], 0.25),
        (["WATCHDOG_USEC": "0"], nil),
        (["WATCHDOG_USEC": "-5"], nil),
        (["WATCHDOG_USEC": "soon"], nil),
        ([:], nil),
    ] as [([String: String], Double?)])
    func watchdogInterval(environment: [String: String], expected: Double?) {
        #expect(SystemdNotify(environment: environment, pid: 4242).watchdogInterval == expected)
    }
}
