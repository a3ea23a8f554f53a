// The folders of SPEC §1 and an open directory fd for each, so that every file operation is
// relative to a directory we opened once (openat/renameat), never to a path that could change.
import Foundation

/// A spool directory with its folders opened.
public final class SpoolLayout: Sendable {
    public enum Folder: String, CaseIterable, Sendable {
        case inbox, pending, running, done, control, tmp
    }

    /// Absolute path of the spool root.
    public let root: String
    public let rootFD: Int32
    private let fds: [Folder: Int32]
    /// No-replace renames by the method this spool's filesystem takes (ExclusiveRename.swift).
    public let exclusiveRename = ExclusiveRename()

    /// Opens (and creates where missing) the spool at `path`.
    public init(path: String, create: Bool = true) throws {
        let absolute = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        let normalized = URL(fileURLWithPath: absolute).standardizedFileURL.path
        if create { try SpoolLayout.makeDirectory(normalized) }
        let rfd = open(normalized, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard rfd >= 0 else { throw SystemError("open", normalized) }
        var fds: [Folder: Int32] = [:]
        for folder in Folder.allCases {
            if create, mkdirat(rfd, folder.rawValue, 0o755) != 0, errno != EEXIST {
                throw SystemError("mkdir", "\(normalized)/\(folder.rawValue)")
            }
            let fd = openat(rfd, folder.rawValue, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
            guard fd >= 0 else { throw SystemError("open", "\(normalized)/\(folder.rawValue)") }
            fds[folder] = fd
        }
        self.root = normalized
        self.rootFD = rfd
        self.fds = fds
    }

    deinit {
        for fd in fds.values { close(fd) }
        close(rootFD)
    }

    public func fd(_ folder: Folder) -> Int32 { fds[folder]! }

    public func fd(for folder: SpoolFolder) -> Int32 { fd(Folder(folder)) }

    public func path(_ folder: Folder) -> String { "\(root)/\(folder.rawValue)" }

    /// Name, in the root, and path of the paused flag file.
    public static let pausedName = "paused"
    public var pausedPath: String { "\(root)/\(Self.pausedName)" }

    private static func makeDirectory(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw SystemError("mkdir", path, errno: ENOTDIR) }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        } catch {
            throw SystemError("mkdir", path, errno: EACCES)
        }
    }
}

extension SpoolLayout.Folder {
    init(_ folder: SpoolFolder) {
        switch folder {
        case .pending: self = .pending
        case .running: self = .running
        case .done: self = .done
        }
    }
}

/// The names of a job's files inside a folder.
public enum JobFiles {
    public static func record(_ id: JobID) -> String { "\(id.rawValue).json" }
    public static func stdout(_ id: JobID) -> String { "\(id.rawValue).stdout" }
    public static func stderr(_ id: JobID) -> String { "\(id.rawValue).stderr" }
    public static func progress(_ id: JobID) -> String { "\(id.rawValue).progress" }
    public static func original(_ id: JobID) -> String { "\(id.rawValue).original" }
    public static func journal(_ id: JobID) -> String { "\(id.rawValue).journal" }
    public static func operationStdout(_ id: JobID, _ index: Int) -> String { "\(id.rawValue).op\(index).stdout" }
    public static func operationStderr(_ id: JobID, _ index: Int) -> String { "\(id.rawValue).op\(index).stderr" }

    /// Removes a finished job's record and the files it names in done/ (outputs, operation outputs,
    /// the kept original, which may be a directory). The record goes last, so an interrupted removal
    /// leaves no file without its record.
    public static func removeFinished(_ record: JobRecord, layout: SpoolLayout) {
        var files = [record.stdout, record.stderr, record.original].compactMap { $0 }
        for op in record.operations ?? [] { files += [op.stdout, op.stderr].compactMap { $0 } }
        for f in files where f.hasPrefix("done/") && !f.contains("..") {
            try? FileManager.default.removeItem(atPath: "\(layout.root)/\(f)")
        }
        unlinkat(layout.fd(.done), JobFiles.record(record.id), 0)
    }
}
