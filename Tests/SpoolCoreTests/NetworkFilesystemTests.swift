// Spools on network filesystems (issue 13, point 4): which errno of renameat2(RENAME_NOREPLACE)
// means "use link() + unlink()", the link path itself on real files, and how a filesystem is
// recognised from statfs and the mount table. The sshfs runs are in SpooldIntegrationTests
// (NetworkFilesystemTests there).
import Foundation
import Testing
@testable import SpoolCore

@Suite("network filesystems: decisions")
struct NetworkFilesystemDecisionTests {
    @Test("only 'flag not supported' errnos switch a spool to link() + unlink()", arguments: [
        (EINVAL, ExclusiveRename.Refusal.useLink),    // NFS, FUSE (sshfs): unknown rename flag
        (ENOSYS, .useLink),                           // no renameat2 (old kernel, seccomp filter)
        (EOPNOTSUPP, .useLink),                       // a filesystem's own "not supported"
        (ENOTSUP, .useLink),                          // the same number on Linux
        (EEXIST, .failed),                            // the target exists: a real answer
        (ENOENT, .failed),                            // the source is gone: a lost race
        (EACCES, .failed), (EPERM, .failed), (EXDEV, .failed), (ENOSPC, .failed), (EDQUOT, .failed),
        (EROFS, .failed), (EBUSY, .failed), (EIO, .failed), (ENOTDIR, .failed), (EISDIR, .failed),
    ])
    func refusal(errno: Int32, expected: ExclusiveRename.Refusal) {
        #expect(ExclusiveRename.refusal(errno: errno) == expected, "errno \(errno)")
    }

    @Test("filesystems are told apart by their statfs magic", arguments: [
        (UInt64(0xEF53), SpoolFilesystem.Kind.local),   // ext2/3/4
        (0x5846_5342, .local),                          // xfs
        (0x0102_1994, .local),                          // tmpfs
        (0x9123_683E, .local),                          // btrfs
        (0x6969, .nfs),
        (0xFF53_4D42, .smb), (0xFE53_4D42, .smb), (0x517B, .smb),
        (0x6573_5546, .fuse),                           // sshfs, virtiofs, any FUSE
        (0x00C3_6400, .otherNetwork),                   // ceph
        (0x0102_1997, .otherNetwork),                   // 9p
        (0x0BD0_0BD0, .otherNetwork),                   // lustre
        (0x4750_4653, .otherNetwork),                   // gpfs
    ])
    func kinds(magic: UInt64, expected: SpoolFilesystem.Kind) {
        #expect(SpoolFilesystem.kind(magic: magic) == expected, "magic 0x\(String(magic, radix: 16))")
    }

    @Test("the type's name comes from the mount table line of the spool's device")
    func mountTableName() {
        let mountinfo = """
            22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw
            35 22 0:33 / /mnt/a rw,nosuid,nodev,relatime shared:20 - fuse.sshfs root@127.0.0.1:/export rw,user_id=0,group_id=0
            41 22 0:45 / /mnt/nfs rw,relatime shared:25 - nfs4 server:/srv rw,vers=4.2
            """
        #expect(SpoolFilesystem.typeName(mountinfo: mountinfo, major: 0, minor: 33) == "fuse.sshfs")
        #expect(SpoolFilesystem.typeName(mountinfo: mountinfo, major: 0, minor: 45) == "nfs4")
        #expect(SpoolFilesystem.typeName(mountinfo: mountinfo, major: 254, minor: 1) == "ext4")
        #expect(SpoolFilesystem.typeName(mountinfo: mountinfo, major: 0, minor: 3) == nil)
    }

    @Test("the start-up warning says what does not hold, and nothing on a local filesystem")
    func warnings() throws {
        #expect(SpoolFilesystem(kind: .local, name: "ext4").warning(rescanSeconds: 10, lockFile: nil) == nil)
        let fuse = try #require(SpoolFilesystem(kind: .fuse, name: "fuse.sshfs").warning(rescanSeconds: 0.5, lockFile: "/run/a.lock"))
        #expect(fuse.contains("the spool is on fuse.sshfs, a network or FUSE filesystem"))
        #expect(fuse.contains("the lock (/run/a.lock) is held on this machine only"))
        #expect(fuse.contains("found by the rescan every 0.5 s (--rescan, rescan_seconds)"))
        let nfs = try #require(SpoolFilesystem(kind: .nfs, name: "nfs4").warning(rescanSeconds: 10, lockFile: nil))
        #expect(nfs.contains("the lock (spoold.lock) keeps out a daemon on another host only where NFS locking works"))
        #expect(nfs.contains("every 10 s"))
    }

    @Test("a spool on this machine's temporary folder is local")
    func localSpool() throws {
        let dir = try ScratchDir()
        let fd = open(dir.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        defer { close(fd) }
        let fs = SpoolFilesystem.of(fd: fd)
        #expect(!fs.isShared, "\(fs)")
        #expect(!fs.name.isEmpty && !fs.name.hasPrefix("0x"), "\(fs.name): not found in /proc/self/mountinfo")
    }
}

@Suite("network filesystems: no-replace renames")
struct ExclusiveRenameTests {
    @Test("with link() + unlink(): the file moves, an existing target is never replaced, a vanished source is ENOENT")
    func linkPath() throws {
        let dir = try ScratchDir()
        let fd = dir.fd
        let rename = ExclusiveRename(method: .linkUnlink)
        try dir.write("a", "A")
        try dir.write("taken", "T")
        #expect(rename.rename(fd, "a", fd, "taken") == EEXIST)
        #expect(dir.read("a") == "A" && dir.read("taken") == "T", "nothing moved, nothing replaced")
        #expect(rename.rename(fd, "a", fd, "b") == nil)
        #expect(dir.read("a") == nil && dir.read("b") == "A")
        #expect(rename.rename(fd, "a", fd, "c") == ENOENT)
        #expect(dir.read("c") == nil)
        #expect(rename.method == .linkUnlink)
    }

    @Test("with link() + unlink(): a fresh name is taken by a rename, directories too")
    func freshTargets() throws {
        let dir = try ScratchDir()
        let fd = dir.fd
        let rename = ExclusiveRename(method: .linkUnlink)
        try dir.write("job.json", "J")
        try dir.write("taken.claim", "T")
        #expect(rename.rename(fd, "job.json", fd, "taken.claim", freshTarget: true) == EEXIST)
        #expect(dir.read("taken.claim") == "T")
        #expect(rename.rename(fd, "job.json", fd, "x.claim", freshTarget: true) == nil)
        #expect(dir.read("job.json") == nil && dir.read("x.claim") == "J")
        #expect(mkdirat(fd, "d.json", 0o755) == 0)
        #expect(rename.rename(fd, "d.json", fd, "d.claim", freshTarget: true) == nil, "a directory cannot be linked")
        var st = stat()
        #expect(fstatat(fd, "d.claim", &st, 0) == 0 && st.st_mode & S_IFMT == S_IFDIR)
        #expect(mkdirat(fd, "e", 0o755) == 0)
        #expect(rename.rename(fd, "e", fd, "x.claim") == EEXIST, "not over an existing name either")
    }

    @Test("where renameat2 works, the probe chooses it and renames never replace")
    func localProbe() throws {
        let dir = try ScratchDir()
        let rename = ExclusiveRename()
        #expect(rename.method == nil)
        let probed = try #require(rename.probe(tmpFD: dir.fd))
        #expect(probed.method == .renameNoReplace && probed.refusedWith == nil)
        #expect(rename.method == .renameNoReplace)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "the probe cleans up")
        try dir.write("a", "A")
        try dir.write("b", "B")
        #expect(rename.rename(dir.fd, "a", dir.fd, "b") == EEXIST)
        #expect(rename.rename(dir.fd, "a", dir.fd, "c") == nil)
        #expect(dir.read("c") == "A" && dir.read("b") == "B")
    }
}

/// A temporary folder with an open fd, removed at the end.
final class ScratchDir {
    let path: String
    let fd: Int32
    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("netfs-\(UUID().uuidString.prefix(8))").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    }
    deinit {
        close(fd)
        try? FileManager.default.removeItem(atPath: path)
    }
    func write(_ name: String, _ text: String) throws {
        try Data(text.utf8).write(to: URL(fileURLWithPath: "\(path)/\(name)"))
    }
    func read(_ name: String) -> String? {
        FileManager.default.contents(atPath: "\(path)/\(name)").map { String(decoding: $0, as: UTF8.self) }
    }
}
