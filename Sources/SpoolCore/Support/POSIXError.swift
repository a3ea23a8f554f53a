// System-call failures as values with the call, the path and errno's sentence, so that logs say
// "rename pending/a.json -> running/a.json: No such file or directory (errno 2)".
import Foundation

/// A failed system call.
public struct SystemError: Error, Sendable, CustomStringConvertible {
    public var call: String
    public var path: String
    public var errno: Int32

    public init(_ call: String, _ path: String, errno: Int32 = Glibc.errno) {
        self.call = call
        self.path = path
        self.errno = errno
    }

    public var description: String {
        "\(call) \(path): \(String(cString: strerror(errno))) (errno \(errno))"
    }

    /// True for "no space left" and "quota exceeded": the disk is full, not the spool broken.
    public var isDiskFull: Bool { errno == ENOSPC || errno == EDQUOT }
}

/// Writes all of `bytes` to `fd`, retrying short writes and EINTR.
func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) -> Int32? {
    var off = 0
    while off < bytes.count {
        let n = write(fd, bytes.baseAddress! + off, bytes.count - off)
        if n < 0 {
            if errno == EINTR { continue }
            return errno
        }
        off += n
    }
    return nil
}

/// Reads at most `limit + 1` bytes from `fd`: enough to tell "fits" from "too large" without reading more.
func readUpTo(_ fd: Int32, limit: Int) -> (bytes: [UInt8], tooLarge: Bool)? {
    var out = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 65536)
    while out.count <= limit {
        let want = min(chunk.count, limit + 1 - out.count)
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
        if n < 0 {
            if errno == EINTR { continue }
            return nil
        }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<n])
    }
    if out.count > limit {
        return (Array(out[0..<limit]), true)
    }
    return (out, false)
}
