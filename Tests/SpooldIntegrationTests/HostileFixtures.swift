// The hostile inbox corpus for HostileInputTests: bad job files (each with the error code and a
// fragment of the message it must get) and raw file-system helpers that make what FileManager
// cannot: names with newlines or non-UTF-8 bytes, sockets, device nodes, hard links.
import Foundation
import Testing

/// One inbox entry and what the daemon must answer.
struct HostileEntry: Sendable {
    enum Kind: Sendable {
        /// A regular file with these bytes (written in tmp/, renamed in).
        case bytes([UInt8])
        case symlink(to: String)
        case fifo
        case socket
        case directory(withFile: Bool)
        /// A sparse regular file of this many bytes (ftruncate): huge, but costs no disk.
        case sparse(Int)
    }

    /// The name in the inbox, as raw bytes.
    var name: [UInt8]
    var kind: Kind
    /// Expected error code; nil means the job must succeed.
    var code: String?
    /// A fragment the error message must contain.
    var fragment: String
    /// The name as the record's `source` shows it (escaped); defaults to the UTF-8 name.
    var source: String

    init(_ name: String, _ content: String, _ code: String?, _ fragment: String) {
        self.init(raw: Array(name.utf8), .bytes(Array(content.utf8)), code, fragment, source: name)
    }

    init(_ name: String, bytes: [UInt8], _ code: String?, _ fragment: String) {
        self.init(raw: Array(name.utf8), .bytes(bytes), code, fragment, source: name)
    }

    init(_ name: String, kind: Kind, _ code: String?, _ fragment: String) {
        self.init(raw: Array(name.utf8), kind, code, fragment, source: name)
    }

    init(raw: [UInt8], _ kind: Kind, _ code: String?, _ fragment: String, source: String) {
        self.name = raw
        self.kind = kind
        self.code = code
        self.fragment = fragment
        self.source = source
    }

    var isRegularFile: Bool {
        if case .bytes = kind { return true }
        return false
    }

    var content: [UInt8]? {
        if case .bytes(let b) = kind { return b }
        return nil
    }
}

enum HostileCorpus {
    static let mib = 1 << 20

    /// A job file with one extra field set to `value` (raw JSON text).
    static func field(_ name: String, _ value: String) -> String {
        #"{"command": ["true"], "\#(name)": \#(value)}"#
    }

    /// Every entry that one daemon run answers. Special files need the spool's paths, so the caller
    /// passes `outside` (a regular file) and `outsideDir` (a directory) outside the spool.
    static func entries(outside: String, outsideDir: String) -> [HostileEntry] {
        var e: [HostileEntry] = []

        // Malformed and truncated JSON.
        e.append(.init("trunc-object.json", #"{"command": ["true"]"#, "invalid_json", "unexpected end of input"))
        e.append(.init("trunc-string.json", #"{"command": ["tr"#, "invalid_json", "unterminated string"))
        e.append(.init("trunc-key.json", #"{"comm"#, "invalid_json", "unterminated string"))
        e.append(.init("trunc-escape.json", #"{"shell": "a\u00"#, "invalid_json", "unterminated \\u escape"))
        e.append(.init("trunc-number.json", #"{"command": ["true"], "retries": -"#, "invalid_json", "invalid number"))
        e.append(.init("trailing-comma.json", #"{"command": ["true"],}"#, "invalid_json", "expected a string key"))
        e.append(.init("single-quotes.json", #"{'command': ['true']}"#, "invalid_json", "expected a string key"))
        e.append(.init("garbage-after.json", #"{"command": ["true"]} {"shell": "x"}"#, "invalid_json", "unexpected data after the JSON value"))
        e.append(.init("whitespace-only.json", " \n\t \r\n", "invalid_json", "no JSON value"))
        e.append(.init("empty-file.json", "", "invalid_json", "empty file"))
        e.append(.init("nan.json", field("priority", "NaN"), "invalid_json", "unexpected character 'N'"))
        e.append(.init("leading-zero.json", field("retries", "01"), "invalid_json", "leading zero"))
        e.append(.init("huge-exponent.json", field("timeout_seconds", "1e999"), "invalid_json", "out of range"))
        e.append(.init("comment.json", "// a job\n{\"command\": [\"true\"]}", "invalid_json", "unexpected character '/'"))
        e.append(.init("bad-escape.json", #"{"shell": "\x41"}"#, "invalid_json", "invalid escape"))
        e.append(.init("lone-surrogate.json", #"{"shell": "\ud800"}"#, "invalid_json", "lone surrogate"))
        e.append(.init("dup-key.json", #"{"shell": "a", "shell": "b"}"#, "invalid_json", "duplicate key \"shell\""))

        // Deep nesting: 100,000 levels, and just inside the limit (a type error, not a parse error).
        e.append(.init("deep-array.json", String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000),
                       "invalid_json", "nesting deeper than 64 levels"))
        e.append(.init("deep-object.json", String(repeating: #"{"a":"#, count: 100_000) + "1" + String(repeating: "}", count: 100_000),
                       "invalid_json", "nesting deeper than 64 levels"))
        e.append(.init("deep-open.json", String(repeating: "[", count: 100_000), "invalid_json", "nesting deeper than 64 levels"))
        e.append(.init("deep-in-field.json",
                       field("labels", #"{"a": "# + String(repeating: "[", count: 62) + String(repeating: "]", count: 62) + "}"),
                       "invalid_job", "field \"labels.a\" must be a string"))

        // Huge strings and arrays just under the 1 MiB size limit, and one byte over it.
        let shellPad = mib - #"{"shell": ""}"#.utf8.count - 1
        e.append(.init("huge-string.json", #"{"shell": ""# + String(repeating: "x", count: shellPad) + #""}"#,
                       "invalid_job", "field \"shell\" must be at most 262144 bytes long"))
        let items = (mib - 64) / 4
        e.append(.init("huge-argv.json", #"{"command": ["# + Array(repeating: #""a""#, count: items).joined(separator: ",") + "]}",
                       "invalid_job", "field \"command\" must be an array of at most 4096 strings"))
        e.append(.init("huge-top-array.json", "[" + Array(repeating: "0", count: (mib - 8) / 2).joined(separator: ",") + "]",
                       "invalid_job", "must be a JSON object, got an array"))
        e.append(.init("huge-env.json", field("env", "{" + (0..<50_000).map { #""V\#($0)": "\#($0)""# }.joined(separator: ",") + "}"),
                       nil, ""))
        // 80,000 unknown fields: every one is a problem; the record must still be reasonable.
        e.append(.init("many-unknown.json", "{" + (0..<80_000).map { #""k\#($0)":0"# }.joined(separator: ",") + "}",
                       "invalid_job", "unknown fields \"k0\""))
        e.append(.init("over-limit.json", #"{"shell": ""# + String(repeating: "y", count: mib) + #""}"#,
                       "too_large", "the limit is 1048576 bytes"))
        e.append(.init("sparse-10g.json", kind: .sparse(10 << 30), "too_large", "is 10737418240 bytes; the limit is 1048576 bytes"))

        // Invalid UTF-8 and other encodings.
        let q = Array(#"{"shell": ""#.utf8), end = Array(#""}"#.utf8)
        e.append(.init("utf8-ff.json", bytes: q + [0xFF] + end, "invalid_json", "invalid UTF-8 in a string"))
        e.append(.init("utf8-overlong.json", bytes: q + [0xC0, 0xAF] + end, "invalid_json", "invalid UTF-8 in a string"))
        e.append(.init("utf8-surrogate.json", bytes: q + [0xED, 0xA0, 0x80] + end, "invalid_json", "invalid UTF-8 in a string"))
        e.append(.init("utf8-truncated.json", bytes: q + [0x61, 0xE2, 0x82] + end, "invalid_json", "invalid UTF-8 in a string"))
        e.append(.init("utf8-in-key.json", bytes: Array(#"{"sh"#.utf8) + [0xFE] + Array(#"ll": "x"}"#.utf8), "invalid_json", "invalid UTF-8"))
        e.append(.init("latin1.json", bytes: q + [0x63, 0x61, 0x66, 0xE9] + end, "invalid_json", "invalid UTF-8 in a string"))
        e.append(.init("utf16.json", bytes: [0xFF, 0xFE] + Array(#"{"shell": "x"}"#.utf8).flatMap { [$0, 0] },
                       "invalid_json", "unexpected character byte 0xff"))
        e.append(.init("utf8-bom.json", bytes: [0xEF, 0xBB, 0xBF] + Array(#"{"shell": "true"}"#.utf8), nil, ""))

        // NUL bytes, raw and escaped.
        e.append(.init("nul-raw-string.json", bytes: q + [0x61, 0x00, 0x62] + end, "invalid_json", "control character byte 0x0 in a string"))
        e.append(.init("nul-raw-value.json", bytes: Array(#"{"shell": "#.utf8) + [0x00] + Array(#""x"}"#.utf8),
                       "invalid_json", "unexpected character byte 0x0"))
        e.append(.init("nul-raw-after.json", bytes: Array(#"{"shell": "x"}"#.utf8) + [0x00], "invalid_json", "unexpected data after the JSON value"))
        e.append(.init("nul-shell.json", #"{"shell": "echo a\u0000b"}"#, "invalid_job", "field \"shell\" must be a string without NUL"))
        e.append(.init("nul-argv.json", #"{"command": ["echo", "a\u0000"]}"#, "invalid_job", "field \"command[1]\" must be a string without NUL"))
        e.append(.init("nul-env-value.json", field("env", #"{"A": "\u0000"}"#), "invalid_job", "field \"env.A\" must be a string without NUL"))
        e.append(.init("nul-env-key.json", field("env", #"{"A\u0000B": "x"}"#), "invalid_job", "field \"env\" must have non-empty names"))
        e.append(.init("nul-cwd.json", field("cwd", #""/tmp\u0000/x""#), "invalid_job", "field \"cwd\" must be a string without NUL"))
        e.append(.init("nul-key.json", #"{"command": ["true"], "na\u0000me": "x"}"#, "invalid_job", "unknown field"))

        // Wrong types (and bad values) for every field.
        let idRule = "field \"id\" must be a string of 1 to 128 characters"
        e.append(.init("id-number.json", field("id", "5"), "invalid_job", idRule + " from [A-Za-z0-9._-] starting with a letter or digit, got 5"))
        e.append(.init("id-null.json", field("id", "null"), "invalid_job", idRule))
        e.append(.init("id-array.json", field("id", #"["a"]"#), "invalid_job", idRule))
        e.append(.init("id-empty.json", field("id", #""""#), "invalid_job", idRule))
        e.append(.init("name-number.json", field("name", "5"), "invalid_job", "field \"name\" must be a non-empty string, got 5"))
        e.append(.init("name-empty.json", field("name", #""""#), "invalid_job", "field \"name\" must be a non-empty string"))
        e.append(.init("name-object.json", field("name", "{}"), "invalid_job", "field \"name\" must be a non-empty string, got an object"))
        e.append(.init("command-string.json", #"{"command": "true"}"#, "invalid_job", "field \"command\" must be a non-empty array of strings, got \"true\""))
        e.append(.init("command-number.json", #"{"command": 1}"#, "invalid_job", "field \"command\" must be a non-empty array of strings, got 1"))
        e.append(.init("command-null.json", #"{"command": null}"#, "invalid_job", "field \"command\" must be a non-empty array of strings, got null"))
        e.append(.init("command-object.json", #"{"command": {"0": "true"}}"#, "invalid_job", "field \"command\" must be a non-empty array of strings, got an object"))
        e.append(.init("command-int-arg.json", #"{"command": [1]}"#, "invalid_job", "field \"command[0]\" must be a non-empty string, got 1"))
        e.append(.init("command-empty-arg0.json", #"{"command": [""]}"#, "invalid_job", "field \"command[0]\" must be a non-empty string"))
        e.append(.init("command-nested.json", #"{"command": [["true"]]}"#, "invalid_job", "field \"command[0]\" must be a non-empty string, got an array"))
        e.append(.init("shell-array.json", #"{"shell": ["true"]}"#, "invalid_job", "field \"shell\" must be a non-empty string, got an array"))
        e.append(.init("shell-bool.json", #"{"shell": true}"#, "invalid_job", "field \"shell\" must be a non-empty string, got true"))
        e.append(.init("cwd-number.json", field("cwd", "5"), "invalid_job", "field \"cwd\" must be a non-empty string, got 5"))
        e.append(.init("cwd-empty.json", field("cwd", #""""#), "invalid_job", "field \"cwd\" must be a non-empty string"))
        e.append(.init("env-array.json", field("env", #"["A=b"]"#), "invalid_job", "field \"env\" must be an object of string values, got an array"))
        e.append(.init("env-number-value.json", field("env", #"{"A": 1}"#), "invalid_job", "field \"env.A\" must be a string, got 1"))
        e.append(.init("env-null-value.json", field("env", #"{"A": null}"#), "invalid_job", "field \"env.A\" must be a string, got null"))
        e.append(.init("env-equals-key.json", field("env", #"{"A=B": "c"}"#), "invalid_job", "field \"env\" must have non-empty names without '='"))
        e.append(.init("env-empty-key.json", field("env", #"{"": "c"}"#), "invalid_job", "field \"env\" must have non-empty names"))
        e.append(.init("timeout-string.json", field("timeout_seconds", #""5""#), "invalid_job", "field \"timeout_seconds\" must be a number > 0, got \"5\""))
        e.append(.init("timeout-negative.json", field("timeout_seconds", "-1"), "invalid_job", "field \"timeout_seconds\" must be a number > 0, got -1"))
        e.append(.init("timeout-bool.json", field("timeout_seconds", "true"), "invalid_job", "field \"timeout_seconds\" must be a number > 0, got true"))
        e.append(.init("timeout-centuries.json", field("timeout_seconds", "1e12"), "invalid_job", "field \"timeout_seconds\" must be at most 100 years in seconds"))
        e.append(.init("retries-string.json", field("retries", #""1""#), "invalid_job", "field \"retries\" must be an integer from 0 to 1000, got \"1\""))
        e.append(.init("retries-fraction.json", field("retries", "1.5"), "invalid_job", "field \"retries\" must be an integer from 0 to 1000, got 1.5"))
        e.append(.init("retries-exponent.json", field("retries", "1e2"), "invalid_job", "field \"retries\" must be an integer from 0 to 1000"))
        e.append(.init("retries-too-many.json", field("retries", "1001"), "invalid_job", "field \"retries\" must be an integer from 0 to 1000, got 1001"))
        e.append(.init("retries-int64-overflow.json", field("retries", "9223372036854775808"), "invalid_job", "field \"retries\" must be an integer from 0 to 1000"))
        e.append(.init("retry-delay-string.json", field("retry_delay_seconds", #""1s""#), "invalid_job", "field \"retry_delay_seconds\" must be a number >= 0, got \"1s\""))
        e.append(.init("retry-delay-negative.json", field("retry_delay_seconds", "-0.5"), "invalid_job", "field \"retry_delay_seconds\" must be a number >= 0, got -0.5"))
        e.append(.init("priority-string.json", field("priority", #""high""#), "invalid_job", "field \"priority\" must be an integer from -1000000 to 1000000, got \"high\""))
        e.append(.init("priority-fraction.json", field("priority", "2.5"), "invalid_job", "field \"priority\" must be an integer"))
        e.append(.init("priority-huge.json", field("priority", "99999999999999999999"), "invalid_job", "field \"priority\" must be an integer"))
        e.append(.init("queue-number.json", field("queue", "5"), "invalid_job", "field \"queue\" must be a non-empty string, got 5"))
        e.append(.init("queue-path.json", field("queue", #""../../etc""#), "invalid_job", "field \"queue\" must be a name from [A-Za-z0-9._-]"))
        e.append(.init("not-before-number.json", field("not_before", "1767225600"), "invalid_job", "field \"not_before\" must be an RFC 3339 time"))
        e.append(.init("not-before-words.json", field("not_before", #""tomorrow""#), "invalid_job", "field \"not_before\" must be an RFC 3339 time"))
        e.append(.init("not-before-month-13.json", field("not_before", #""2026-13-01T00:00:00Z""#), "invalid_job", "field \"not_before\" must be an RFC 3339 time"))
        e.append(.init("not-before-date-only.json", field("not_before", #""2026-01-01""#), "invalid_job", "field \"not_before\" must be an RFC 3339 time"))
        e.append(.init("not-before-feb-31.json", field("not_before", #""2026-02-31T00:00:00Z""#), "invalid_job", "field \"not_before\" must be an RFC 3339 time"))
        e.append(.init("on-interrupt-bool.json", field("on_interrupt", "true"), "invalid_job", "field \"on_interrupt\" must be \"requeue\" or \"fail\", got true"))
        e.append(.init("on-interrupt-case.json", field("on_interrupt", #""REQUEUE""#), "invalid_job", "field \"on_interrupt\" must be \"requeue\" or \"fail\""))
        e.append(.init("labels-string.json", field("labels", #""team=x""#), "invalid_job", "field \"labels\" must be an object of string values, got \"team=x\""))
        e.append(.init("labels-number-value.json", field("labels", #"{"team": 7}"#), "invalid_job", "field \"labels.team\" must be a string, got 7"))
        e.append(.init("labels-empty-key.json", field("labels", #"{"": "x"}"#), "invalid_job", "field \"labels\" must have non-empty names"))
        e.append(.init("not-object-string.json", #""echo hi""#, "invalid_job", "must be a JSON object, got a string"))
        e.append(.init("not-object-null.json", "null", "invalid_job", "must be a JSON object, got null"))
        e.append(.init("not-object-number.json", "42", "invalid_job", "must be a JSON object, got an integer"))
        e.append(.init("no-action.json", #"{"name": "x"}"#, "invalid_job", "is required"))
        e.append(.init("typo-field.json", #"{"command": ["true"], "timeout": 5}"#, "invalid_job", "unknown field \"timeout\""))

        // Ids that try to leave the spool's folders.
        for (i, id) in ["../x", "../../etc/passwd", "a/b", "..", ".", "/abs", #"a\\b"#, "x/../../y", "a b", "\u{E9}t\u{E9}", "-lead", String(repeating: "a", count: 129)]
            .enumerated() {
            e.append(.init("id-path-\(i).json", field("id", "\"\(id)\""), "invalid_job", idRule))
        }
        e.append(.init("id-escaped-slash.json", field("id", #""a\/b""#), "invalid_job", idRule))
        e.append(.init("id-nul.json", field("id", #""a\u0000b""#), "invalid_job", idRule))
        // Dots inside an id are allowed: it must stay a plain name in done/.
        e.append(.init("id-dots.json", #"{"id": "a..b", "command": ["true"]}"#, nil, ""))

        // Names with newlines, control characters and bytes that are not UTF-8.
        e.append(HostileEntry(raw: Array("new\nline.json".utf8), .bytes(Array("{".utf8)), "invalid_json", "unexpected end of input",
                              source: "new\\nline.json"))
        e.append(HostileEntry(raw: Array("ok\nnewline.json".utf8), .bytes(Array(#"{"shell": "true"}"#.utf8)), nil, "",
                              source: "ok\\nnewline.json"))
        e.append(HostileEntry(raw: [0xFF, 0xFE] + Array("bad.json".utf8), .bytes(Array("[".utf8)), "invalid_json", "unexpected end of input",
                              source: "\\xff\\xfebad.json"))
        e.append(HostileEntry(raw: Array("ok-".utf8) + [0xC3, 0x28] + Array(".json".utf8), .bytes(Array(#"{"shell": "true"}"#.utf8)), nil, "",
                              source: "ok-\\xc3(.json"))
        e.append(HostileEntry(raw: Array("tab\there.json".utf8), .bytes([]), "invalid_json", "empty file", source: "tab\\there.json"))
        e.append(HostileEntry(raw: Array("esc\u{1B}[31mred.json".utf8), .bytes([]), "invalid_json", "empty file", source: "esc\\x1b[31mred.json"))
        e.append(HostileEntry(raw: Array("back\\slash.json".utf8), .bytes([]), "invalid_json", "empty file", source: "back\\\\slash.json"))
        e.append(HostileEntry(raw: Array("\u{FC}n\u{EF}c\u{F6}d\u{E9}.json".utf8), .bytes([]), "invalid_json", "empty file",
                              source: "\u{FC}n\u{EF}c\u{F6}d\u{E9}.json"))
        let longName = String(repeating: "L", count: 250) + ".json"
        e.append(.init(longName, #"{"shell": "true"}"#, nil, ""))

        // Not regular files: never followed or opened, rejected and removed from the inbox.
        e.append(.init("link-file.json", kind: .symlink(to: outside), "not_a_regular_file", "is a symbolic link"))
        e.append(.init("link-dir.json", kind: .symlink(to: outsideDir), "not_a_regular_file", "is a symbolic link"))
        e.append(.init("link-dangling.json", kind: .symlink(to: "/nonexistent/\(UUID().uuidString)"), "not_a_regular_file", "is a symbolic link"))
        e.append(.init("link-self.json", kind: .symlink(to: "link-self.json"), "not_a_regular_file", "is a symbolic link"))
        e.append(.init("link-zero.json", kind: .symlink(to: "/dev/zero"), "not_a_regular_file", "is a symbolic link"))
        e.append(.init("fifo.json", kind: .fifo, "not_a_regular_file", "is a FIFO"))
        e.append(.init("socket.json", kind: .socket, "not_a_regular_file", "is a socket"))
        e.append(.init("x.json", kind: .directory(withFile: false), "not_a_regular_file", "is a directory"))
        e.append(.init("full-dir.json", kind: .directory(withFile: true), "not_a_regular_file", "is a directory"))
        return e
    }
}

/// Raw file-system operations on byte names (open(2), rename(2), link(2), bind(2), mknod(2)).
enum RawFS {
    /// `dir/name` as a NUL-terminated byte path.
    static func path(_ dir: String, _ name: [UInt8]) -> [CChar] {
        (Array(dir.utf8) + [UInt8(ascii: "/")] + name + [0]).map { CChar(bitPattern: $0) }
    }

    /// Creates a new file at `path` with `bytes`; returns errno or 0.
    @discardableResult
    static func create(_ path: [CChar], _ bytes: [UInt8], mode: mode_t = 0o644) -> Int32 {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        return writeAllBytes(fd, bytes)
    }

    static func writeAllBytes(_ fd: Int32, _ bytes: [UInt8]) -> Int32 {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + off, bytes.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                return errno
            }
            off += n
        }
        return 0
    }

    /// Writes `bytes` as tmp/<hidden name> and renames it to inbox/<name> (raw bytes).
    static func drop(_ spool: TempSpool, name: [UInt8], bytes: [UInt8]) throws {
        let tmp = path(spool.path("tmp"), Array(".hostile-\(UUID().uuidString)".utf8))
        let rc = create(tmp, bytes)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        guard rename(tmp, path(spool.path("inbox"), name)) == 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    }

    /// Binds a Unix socket at `path` (the socket file stays after close).
    static func bindSocket(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return ENAMETOOLONG }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        return rc == 0 ? 0 : errno
    }

    /// glibc's makedev().
    static func device(major: UInt64, minor: UInt64) -> dev_t {
        dev_t(((major & 0xfff) << 8) | ((major & ~0xfff) << 32) | (minor & 0xff) | ((minor & ~0xff) << 12))
    }

    /// Identity and content of a file, to see that it was not touched.
    struct Snapshot: Equatable, CustomStringConvertible {
        var inode: UInt64
        var size: Int64
        var mtime: Int64
        var mtimeNanos: Int64
        var bytes: [UInt8]

        init?(_ path: String) {
            var st = stat()
            guard stat(path, &st) == 0, let data = FileManager.default.contents(atPath: path) else { return nil }
            inode = UInt64(st.st_ino)
            size = Int64(st.st_size)
            mtime = Int64(st.st_mtim.tv_sec)
            mtimeNanos = Int64(st.st_mtim.tv_nsec)
            bytes = [UInt8](data)
        }

        var description: String { "inode \(inode), \(size) bytes, mtime \(mtime).\(mtimeNanos): \(String(decoding: bytes.prefix(80), as: UTF8.self))" }
    }

    static func linkCount(_ path: String) -> Int {
        var st = stat()
        return stat(path, &st) == 0 ? Int(st.st_nlink) : -1
    }

    /// Peak and current resident set of a process from /proc/PID/status, in kB.
    static func memory(of pid: pid_t) -> (peakKB: Int, currentKB: Int)? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
        func value(_ key: String) -> Int? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return nil }
            return Int(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.map { $0.trimmingCharacters(in: .whitespaces) } ?? "")
        }
        guard let peak = value("VmHWM"), let current = value("VmRSS") else { return nil }
        return (peak, current)
    }
}

extension TempSpool {
    /// Every record in done/ keyed by its `source`, with its file name (for "exactly one" checks).
    func recordsBySource() -> [String: [(file: String, record: [String: Any])]] {
        var out: [String: [(file: String, record: [String: Any])]] = [:]
        for name in recordNames("done") {
            guard let r = record(String(name.dropLast(5))) else { continue }
            out[(r["source"] as? String) ?? "", default: []].append((name, r))
        }
        return out
    }

    /// Every `*.json` in done/ that is not a complete JSON object (a torn record).
    func tornRecords() -> [String] {
        recordNames("done").filter { name in
            guard let data = FileManager.default.contents(atPath: path("done/\(name)")) else { return false }
            return (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] == nil
        }
    }

    /// Raw names in a folder (including ones that are not UTF-8), without dotfiles.
    func rawNames(_ folder: String) -> [[UInt8]] {
        guard let dir = opendir(path(folder)) else { return [] }
        defer { closedir(dir) }
        var out: [[UInt8]] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in Array(raw.prefix { $0 != 0 }) }
            if name.first != UInt8(ascii: ".") { out.append(name) }
        }
        return out
    }
}
