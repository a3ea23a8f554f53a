// A spool in a fresh temporary directory, with helpers to drop files and read records the way a
// user would (plain files and JSON), removed when the test ends.
import Foundation
import Testing

final class TempSpool: @unchecked Sendable {
    let root: String

    init() throws {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("spoold-test-\(getpid())-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: base, withIntermediateDirectories: true)
        root = base.path
        for d in ["inbox", "pending", "running", "done", "control", "tmp"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(d)", withIntermediateDirectories: true)
        }
    }

    /// A spool at `root` (created, with its folders), removed when the test ends: one on a mount.
    init(root: String) throws {
        self.root = root
        for d in ["inbox", "pending", "running", "done", "control", "tmp"] {
            try FileManager.default.createDirectory(atPath: "\(root)/\(d)", withIntermediateDirectories: true)
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: root)
    }

    func path(_ relative: String) -> String { "\(root)/\(relative)" }

    /// Drops a job the recommended way: write in tmp/, rename into inbox/.
    func drop(_ name: String, _ json: String) throws {
        let tmp = path("tmp/.\(name).\(UUID().uuidString)")
        try Data(json.utf8).write(to: URL(fileURLWithPath: tmp))
        guard rename(tmp, path("inbox/\(name)")) == 0 else { throw POSIXError(.EIO) }
    }

    /// Writes a file straight into the inbox (like `cp` or `echo > inbox/x.json`).
    func write(_ relative: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: path(relative)))
    }

    func exists(_ relative: String) -> Bool {
        var st = stat()
        return lstat(path(relative), &st) == 0
    }

    func read(_ relative: String) -> String? {
        FileManager.default.contents(atPath: path(relative)).map { String(decoding: $0, as: UTF8.self) }
    }

    func names(_ folder: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: path(folder))) ?? []).filter { !$0.hasPrefix(".") }.sorted()
    }

    /// What is left in tmp/, but the spares (recycled inodes) a clean stop keeps there for the
    /// next start (SparePool).
    func tmpLeftovers() -> [String] { names("tmp").filter { !$0.hasPrefix("spoold.spare.") } }

    /// Those spares.
    func spareNames() -> Set<String> { Set(names("tmp").filter { $0.hasPrefix("spoold.spare.") }) }

    /// The JSON records (`*.json`) of a folder.
    func recordNames(_ folder: String) -> [String] { names(folder).filter { $0.hasSuffix(".json") } }

    /// A record as a dictionary; nil if missing. Fails the test if it is not valid JSON (a torn file).
    func record(_ id: String, in folder: String = "done") -> [String: Any]? {
        guard let data = FileManager.default.contents(atPath: path("\(folder)/\(id).json")) else { return nil }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            Issue.record("\(folder)/\(id).json is not a JSON object: \(String(decoding: data, as: UTF8.self))")
            return nil
        }
        return obj
    }

    /// Every record in done/.
    func doneRecords() -> [[String: Any]] {
        recordNames("done").compactMap { record(String($0.dropLast(5))) }
    }

    /// The single record in done/ whose `source` is `name`.
    func recordFor(source name: String) -> [String: Any]? {
        doneRecords().first { ($0["source"] as? String) == name }
    }
}

extension Dictionary where Key == String, Value == Any {
    var status: String? { self["status"] as? String }
    var errorCode: String? { (self["error"] as? [String: Any])?["code"] as? String }
    var errorMessage: String? { (self["error"] as? [String: Any])?["message"] as? String }
    var id: String? { self["id"] as? String }
    var attempts: Int? { self["attempts"] as? Int }
    func time(_ key: String) -> Double? {
        guard let s = self[key] as? String else { return nil }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: s)?.timeIntervalSince1970
    }
}
