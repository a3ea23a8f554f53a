// This daemon's own binary, for the processes it starts from itself: a live-restore supervisor,
// Slurm's on-node wrapper. Read from /proc/self/exe, so that after an upgrade that replaced the
// file, the path is the one this process runs (argv[0] may be relative or a bare name).
import Foundation

enum OwnExecutable {
    static let path: String = {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }()
}
