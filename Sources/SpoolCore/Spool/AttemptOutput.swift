// Outputs of every attempt are kept (issue: an operation that failed twice then succeeded showed
// `stderr: null` while done/ still held an earlier attempt's text). An attempt's output file in
// running/ is moved to done/ when it is the first attempt's, and appended to the done/ file
// after a marker line for later attempts, so done/<name> holds all attempts in order and the record names it.
import Foundation

extension StateStore {
    /// The line put before the output of an attempt that is not the first one kept in a file.
    public static func attemptMarker(_ attempt: Int) -> String { "--- spoold: attempt \(attempt) ---\n" }

    /// Places running/`name` (attempt `attempt`'s output) into done/`name`; returns the record's
    /// path for it ("done/<name>"), or nil when no attempt has left any output there.
    /// An empty output is dropped. `capBytes` cuts the attempt's output first (OutputCap).
    /// `startedAt` is when the attempt started: a first attempt's output found in done/ already is
    /// its own if written since (a crash came after it was moved), else a removed record's leftover.
    /// `owner`: the job's, for a done/ file this creates (ResultPrivacy).
    public func placeAttemptOutput(_ name: String, attempt: Int, startedAt: Timestamp?, capBytes: Int?, owner: JobOwner? = nil,
                                   sync: inout DirectorySync) throws -> String? {
        let running = layout.fd(.running), done = layout.fd(.done)
        var st = stat()
        let inRunning = fstatat(running, name, &st, AT_SYMLINK_NOFOLLOW) == 0
        let hasNew = inRunning && st.st_size > 0
        var kept = stat()
        let hasOld = fstatat(done, name, &kept, AT_SYMLINK_NOFOLLOW) == 0
        if hasOld, inRunning, st.st_ino == kept.st_ino, st.st_dev == kept.st_dev {
            // Both names of an earlier move survived a power cut: placed already (appending the file to
            // itself would never end).
            remove(name, from: .running)
            return "done/\(name)"
        }
        var ours = hasOld
        if hasOld && attempt <= 1 {
            let modified = Double(kept.st_mtim.tv_sec) + Double(kept.st_mtim.tv_nsec) / 1e9
            // Unknown start (a job that ended before its running state was first rewritten): ours.
            ours = !hasNew && (startedAt.map { modified >= $0.seconds - 1 } ?? true)
            if !ours && !hasNew { remove(name, from: .done) }  // a leftover of a record removed by hand
        }
        guard hasNew else {
            retire(name, from: .running)
            return ours ? "done/\(name)" : nil
        }
        if let capBytes { OutputCap.apply(dirFD: running, name: name, limit: capBytes) }
        if attempt <= 1 {  // replaces what a removed record may have left
            if durable { fsyncFile(name, in: .running) }
            return try move(name, from: .running, to: .done, sync: &sync) ? "done/\(name)" : nil
        }
        // Appended: a marker line (after a newline if the earlier text lacks one), then this attempt's bytes.
        let out = openat(done, name, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard out >= 0 else { throw SystemError("open", "done/\(name)") }
        defer { close(out) }
        if !hasOld { privacy.withLock { $0 }.apply(out, owner: owner) }
        let input = openat(running, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard input >= 0 else { throw SystemError("open", "running/\(name)") }
        defer { close(input) }
        var head = ""
        if hasOld && kept.st_size > 0 && !Self.endsWithNewline(done, name) { head = "\n" }
        head += Self.attemptMarker(attempt)
        var bytes = Array(head.utf8)
        if let failure = bytes.withUnsafeBytes({ writeAll(out, $0) }) {
            throw SystemError("write", "done/\(name)", errno: failure)
        }
        bytes = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = bytes.withUnsafeMutableBytes { Glibc.read(input, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw SystemError("read", "running/\(name)")
            }
            if n == 0 { break }
            if let failure = bytes.withUnsafeBytes({ writeAll(out, UnsafeRawBufferPointer(rebasing: $0[0..<n])) }) {
                throw SystemError("write", "done/\(name)", errno: failure)
            }
        }
        if durable { Durability.sync(out, .file, "done/\(name)") }
        if !hasOld { sync.add(.done) }
        remove(name, from: .running)
        return "done/\(name)"
    }

    /// The output files a job left in done/ from earlier attempts, as a record names them.
    public func keptOutputs(_ names: (String, String)) -> (String?, String?) {
        (exists(names.0, in: .done) ? "done/\(names.0)" : nil, exists(names.1, in: .done) ? "done/\(names.1)" : nil)
    }

    private func fsyncFile(_ name: String, in folder: SpoolLayout.Folder) {
        let fd = openat(layout.fd(folder), name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return }
        Durability.sync(fd, .file, "\(folder.rawValue)/\(name)")
        close(fd)
    }

    private static func endsWithNewline(_ dirFD: Int32, _ name: String) -> Bool {
        let fd = openat(dirFD, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return true }
        defer { close(fd) }
        var last: UInt8 = 0
        var st = stat()
        guard fstat(fd, &st) == 0, st.st_size > 0 else { return true }
        return pread(fd, &last, 1, off_t(st.st_size - 1)) == 1 && last == 0x0A
    }
}
