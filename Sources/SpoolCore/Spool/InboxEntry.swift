// Looking at one inbox entry without trusting it: lstat first (a symlink, FIFO, device or
// directory is never opened), then open with O_NOFOLLOW|O_NONBLOCK, fstat the fd to be sure it is
// still the same regular file, and read at most the size limit plus one byte.
import Foundation

/// What was found at an inbox name.
enum InboxEntry {
    /// The name no longer exists (taken by someone else, or removed by its writer).
    case gone
    /// Not a regular file: never read; `kind` says what it is.
    case notRegular(kind: String, isDirectory: Bool)
    /// A regular file and its bytes (at most the limit), with the identity it had while read.
    case file(FileContent)
    /// The file changed while it was read; look again later.
    case changing
    /// It could not be read (permissions, I/O error).
    case unreadable(SystemError)
}

/// A regular file's content and identity.
struct FileContent {
    var bytes: [UInt8]
    var tooLarge: Bool
    var size: Int
    var device: UInt64
    var inode: UInt64
    var modified: Double
    var uid: UInt32
    var gid: UInt32
}

enum InboxReader {
    static func kind(of mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFLNK: return "a symbolic link"
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        default: return "not a regular file"
        }
    }

    static func modified(_ st: stat) -> Double {
        Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
    }

    /// Inspects and reads `name` in the directory `dirFD`.
    /// `folder` names the directory in error messages.
    static func read(_ name: FileName, in dirFD: Int32, folder: String = "inbox", limit: Int) -> InboxEntry {
        var lst = stat()
        let rc = name.withCString { fstatat(dirFD, $0, &lst, AT_SYMLINK_NOFOLLOW) }
        if rc != 0 {
            return errno == ENOENT ? .gone : .unreadable(SystemError("stat", "\(folder)/\(name)"))
        }
        guard lst.st_mode & S_IFMT == S_IFREG else {
            return .notRegular(kind: kind(of: lst.st_mode), isDirectory: lst.st_mode & S_IFMT == S_IFDIR)
        }
        let fd = name.withCString { openat(dirFD, $0, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY) }
        if fd < 0 {
            switch errno {
            case ENOENT: return .gone
            case ELOOP: return .notRegular(kind: "a symbolic link", isDirectory: false)
            default: return .unreadable(SystemError("open", "\(folder)/\(name)"))
            }
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .unreadable(SystemError("fstat", "\(folder)/\(name)")) }
        guard st.st_mode & S_IFMT == S_IFREG else {
            return .notRegular(kind: kind(of: st.st_mode), isDirectory: st.st_mode & S_IFMT == S_IFDIR)
        }
        guard st.st_ino == lst.st_ino else { return .changing }
        guard let r = readUpTo(fd, limit: limit) else { return .unreadable(SystemError("read", "\(folder)/\(name)")) }
        var after = stat()
        guard fstat(fd, &after) == 0 else { return .unreadable(SystemError("fstat", "\(folder)/\(name)")) }
        if !r.tooLarge && (after.st_size != st.st_size || modified(after) != modified(st) || r.bytes.count != Int(after.st_size)) {
            return .changing
        }
        return .file(FileContent(bytes: r.bytes, tooLarge: r.tooLarge, size: Int(after.st_size),
                                 device: UInt64(after.st_dev), inode: UInt64(after.st_ino), modified: modified(after),
                                 uid: after.st_uid, gid: after.st_gid))
    }

    /// Lists the candidate job names of a directory (`*.json`, not hidden), in chunks.
    static func scan(_ dirFD: Int32, suffix: String, chunk: Int = 1024, _ body: ([FileName]) -> Void) {
        var names: [FileName] = []
        forEachName(dirFD, suffix: suffix) { name in
            names.append(name)
            if names.count >= chunk {
                body(names)
                names.removeAll(keepingCapacity: true)
            }
            return true
        }
        if !names.isEmpty { body(names) }
    }

    /// True when the directory holds at least one such name (stops at the first).
    static func containsAny(_ dirFD: Int32, suffix: String) -> Bool {
        var found = false
        forEachName(dirFD, suffix: suffix) { _ in
            found = true
            return false
        }
        return found
    }

    /// Calls `body` for each non-hidden name ending in `suffix` until it returns false. Each
    /// listing opens the directory anew: a `dup` of the folder's fd would share its read position
    /// with every other listing, and a nested or concurrent one would cut this one short.
    private static func forEachName(_ dirFD: Int32, suffix: String, _ body: (FileName) -> Bool) {
        let fd = openat(dirFD, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0, let dir = fdopendir(fd) else {
            if fd >= 0 { close(fd) }
            return
        }
        defer { closedir(dir) }
        let nameOffset = MemoryLayout<dirent>.offset(of: \dirent.d_name)!
        while let entry = readdir(dir) {
            let raw = UnsafeRawPointer(entry).advanced(by: nameOffset).assumingMemoryBound(to: UInt8.self)
            let len = strlen(UnsafeRawPointer(raw).assumingMemoryBound(to: CChar.self))
            let name = FileName(bytes: Array(UnsafeBufferPointer(start: raw, count: len)))
            guard !name.isHidden, name.hasSuffix(suffix) else { continue }
            if !body(name) { return }
        }
    }
}
