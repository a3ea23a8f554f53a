// One line per event on stderr. Under journald (JOURNAL_STREAM set) each line starts with the
// syslog priority prefix (`<6>` info, `<4>` warning, `<3>` error) so the journal keeps levels;
// otherwise lines carry a readable level word. Each line is one write(2), so lines never interleave.
import Foundation

/// The daemon's logger.
public struct Log: Sendable {
    public enum Level: Int, Sendable, Comparable, CaseIterable {
        case trace = 0, debug, info, notice, warning, error, critical

        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }

        public init?(name: String) {
            switch name.lowercased() {
            case "trace": self = .trace
            case "debug": self = .debug
            case "info": self = .info
            case "notice": self = .notice
            case "warning", "warn": self = .warning
            case "error": self = .error
            case "critical": self = .critical
            default: return nil
            }
        }

        var syslogPriority: Int {
            switch self {
            case .trace, .debug: return 7
            case .info: return 6
            case .notice: return 5
            case .warning: return 4
            case .error: return 3
            case .critical: return 2
            }
        }

        var word: String {
            switch self {
            case .trace: return "trace"
            case .debug: return "debug"
            case .info: return "info"
            case .notice: return "notice"
            case .warning: return "warning"
            case .error: return "error"
            case .critical: return "critical"
            }
        }
    }

    /// Shared by every copy of this logger, so a reload (SIGHUP) changes the level everywhere.
    private let level: LockedBox<Level>
    public var isJournal: Bool
    public var fd: Int32

    public var minimum: Level {
        get { level.withLock { $0 } }
        nonmutating set { level.withLock { $0 = newValue } }
    }

    public init(minimum: Level = .info, isJournal: Bool = ProcessInfo.processInfo.environment["JOURNAL_STREAM"] != nil,
                fd: Int32 = 2) {
        self.level = LockedBox(minimum)
        self.isJournal = isJournal
        self.fd = fd
    }

    public func log(_ level: Level, _ message: @autoclosure () -> String) {
        guard level >= minimum else { return }
        let raw = message()
        // Looked for first: Foundation's replace is a CFString search even when there is nothing
        // to replace, and two lines per job are logged at the default level.
        let text = raw.utf8.contains(UInt8(ascii: "\n")) ? raw.replacingOccurrences(of: "\n", with: "\\n") : raw
        let line: String
        if isJournal {
            line = "<\(level.syslogPriority)>\(text)\n"
        } else {
            line = "\(Timestamp.now().rfc3339) \(level.word): \(text)\n"
        }
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { buf in
            var off = 0
            while off < buf.count {
                let n = write(fd, buf.baseAddress! + off, buf.count - off)
                if n < 0 { if errno == EINTR { continue }; return }
                off += n
            }
        }
    }

    public func debug(_ m: @autoclosure () -> String) { log(.debug, m()) }
    public func info(_ m: @autoclosure () -> String) { log(.info, m()) }
    public func notice(_ m: @autoclosure () -> String) { log(.notice, m()) }
    public func warning(_ m: @autoclosure () -> String) { log(.warning, m()) }
    public func error(_ m: @autoclosure () -> String) { log(.error, m()) }
}
