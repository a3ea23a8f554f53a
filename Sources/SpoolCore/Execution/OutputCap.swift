// max_output_bytes: an output file that grows past the cap is cut to its head and its tail with
// a marker in between. Output files are opened O_APPEND by the job, so after the cut the job's
// next writes land after the tail, wherever its own offset was. Bytes written during the cut
// itself may be dropped with the middle; that is the price of not copying output through the daemon.
import Foundation

enum OutputCap {
    static func marker(limit: Int) -> [UInt8] {
        Array("\n[... spoold: output cut here to keep it under max_output_bytes (\(limit) bytes) ...]\n".utf8)
    }

    /// Cuts `name` in `dirFD` to at most `limit` bytes if it is larger. Returns true if it cut.
    @discardableResult
    static func apply(dirFD: Int32, name: String, limit: Int) -> Bool {
        let fd = openat(dirFD, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0, Int(st.st_size) > limit else { return false }
        let size = Int(st.st_size)
        let mark = marker(limit: limit)
        let head = max(0, (limit - mark.count) / 2)
        let tailCount = max(0, limit - head - mark.count)
        var tail = [UInt8](repeating: 0, count: tailCount)
        let got = tail.withUnsafeMutableBytes { pread(fd, $0.baseAddress, tailCount, off_t(size - tailCount)) }
        guard got >= 0 else { return false }
        tail.removeLast(tailCount - got)
        guard ftruncate(fd, off_t(head)) == 0 else { return false }
        let rest = mark + tail
        _ = rest.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, off_t(head)) }
        return true
    }
}
