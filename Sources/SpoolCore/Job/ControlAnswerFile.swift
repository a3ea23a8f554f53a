// The daemon's answer to a refused control request (SPEC §5, issue 18): `control/.<stem>.refused`
// beside the request `control/<stem>.json`, a hidden name so that nothing takes it for a request.
// It holds one JSON object: {"action", "id", "refused": true, "requester_uid", "message", "time"}.
// The daemon writes it before it removes the request, owned by the requester (mode 0600), so
// spoolctl, seeing its request gone, knows the answer at once: an answer file is a refusal, no
// answer file is an applied request. spoolctl removes the answer it read; the daemon removes
// answers nobody collected after `keepSeconds`.
import Foundation
import SpoolJSON

public enum ControlAnswerFile {
    public static let suffix = ".refused"
    /// Answers older than this are removed by the daemon (requests dropped by hand leave them).
    public static let keepSeconds = 3600.0

    /// `.<stem>.refused` for a request named `<stem>.json`; nil for a name without that suffix.
    static func name(for request: FileName) -> String? {
        guard let s = request.string, s.hasSuffix(".json"), !s.hasPrefix(".") else { return nil }
        return "." + s.dropLast(5) + suffix
    }

    /// The answer's path for a request's path (`.../control/<stem>.json`).
    public static func path(forRequest path: String) -> String? {
        let url = URL(fileURLWithPath: path)
        guard let n = name(for: FileName(url.lastPathComponent)) else { return nil }
        return url.deletingLastPathComponent().appendingPathComponent(n).path
    }

    static func encode(action: ControlRequest.Action, id: JobID, requester: UInt32, message: String, time: Timestamp) -> [UInt8] {
        let o = JSONObject([("action", .string(action.rawValue)), ("id", .string(id.rawValue)), ("refused", .bool(true)),
                            ("requester_uid", .number(JSONNumber(Int(requester)))), ("message", .string(message)),
                            ("time", .string(time.rfc3339))])
        return Array(JSONValue.object(o).serialized().utf8) + [0x0A]
    }

    /// The refusal's sentence from an answer file's bytes; nil if they are not an answer.
    public static func message(_ bytes: [UInt8]) -> String? {
        guard case .object(let o)? = try? JSONParser(maxDepth: 4).parse(bytes), case .string(let m)? = o["message"] else { return nil }
        return m
    }

    /// The answer files in control/ (hidden names ending in `.refused`).
    static func list(_ dirFD: Int32) -> [String] {
        guard let dir = fdopendir(openat(dirFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)) else { return [] }
        defer { closedir(dir) }
        var out: [String] = []
        while let e = readdir(dir) {
            let name = withUnsafePointer(to: e.pointee.d_name) { p in
                p.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name.hasPrefix("."), name.hasSuffix(suffix) { out.append(name) }
        }
        return out
    }
}
