// Listings of a spool folder are independent: one made inside another (the inbox rescan asks
// whether the inbox holds job files while it lists it) or beside it must not cut it short.
import Foundation
import Testing
@testable import SpoolCore

@Suite("directory listings")
struct DirectoryScanTests {
    @Test("a listing nested in another, on the same folder fd, leaves the outer one complete")
    func nestedScans() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("scan-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        for i in 0..<3000 { #expect(FileManager.default.createFile(atPath: "\(dir)/j\(i).json", contents: nil)) }
        let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(fd) }
        var outer = 0, inner = 0
        InboxReader.scan(fd, suffix: ".json", chunk: 1024) { names in
            outer += names.count
            #expect(InboxReader.containsAny(fd, suffix: ".json"))
            InboxReader.scan(fd, suffix: ".json") { inner += $0.count }
        }
        #expect(outer == 3000)
        #expect(inner == 3 * 3000)
        #expect(!InboxReader.containsAny(fd, suffix: ".txt"))
    }
}
