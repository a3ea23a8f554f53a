// Durable state files. A write is tmp (in tmp/) + fsync + rename into its folder; the folder's
// fsync is left to the caller's `DirectorySync`, so that a batch of jobs moving at once pays one
// directory fsync per folder instead of one per job. For a large batch the per-file fsyncs are
// grouped too: the files are written without them and `commit()` makes the whole filesystem
// durable with one syncfs(2) (a group commit). Nothing is acted on before `commit()`.
import Foundation
import CSpoolShim

/// Reads, writes and moves job state files.
public final class StateStore: Sendable {
    public let layout: SpoolLayout
    private let tmpCounter = LockedBox<UInt64>(0)
    /// In scratch names beside the pid: daemons on several hosts sharing a spool (--lock-file) may
    /// have the same pid, and their O_EXCL creates in the one tmp/ would then collide.
    private let runToken = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    /// False only in benchmarks that measure what durability costs; never in production.
    public let durable: Bool
    /// Who may read job files (ResultPrivacy); the daemon sets it at start and at each reload.
    public let privacy = LockedBox(ResultPrivacy.shared)

    let spares: SparePool

    /// `recycles`: reuse finished files' inodes (SparePool); off on a filesystem other machines
    /// share, where the pool cannot tell that nobody else has a file open (SpoolFilesystem).
    public init(layout: SpoolLayout, durable: Bool = true, recycles: Bool = true) {
        self.layout = layout
        self.durable = durable
        self.spares = SparePool(tmpFD: layout.fd(.tmp), capacity: recycles ? 512 : 0, quarantines: durable)
    }

    /// Writes `record` as `<folder>/<id>.json`, atomically; the folder is added to `sync`.
    /// `isNew`: the record must not replace one that exists (a new job's id may have been taken
    /// by another daemon sharing the spool); fails with EEXIST then.
    /// The record is readable by its owner and the administrators only (ResultPrivacy).
    public func write(_ record: JobRecord, to folder: SpoolFolder, isNew: Bool = false, sync: inout DirectorySync) throws {
        try writeFile(name: JobFiles.record(record.id), folder: .init(folder), noReplace: isNew, sync: &sync,
                      jobFile: true, owner: record.owner, isRecord: true) { fd in
            // In pieces as it is encoded: a batch's record (tens of MB) is never whole in memory.
            var failure: Int32? = nil
            struct WriteFailed: Error {}
            do {
                try JobRecord.encoder.encode(record, chunk: 256 * 1024, write: { bytes in
                    failure = bytes.withUnsafeBytes { writeAll(fd, $0) }
                    if failure != nil { throw WriteFailed() }
                }, restart: {
                    if ftruncate(fd, 0) != 0 || lseek(fd, 0, SEEK_SET) != 0 { failure = errno; throw WriteFailed() }
                })
            } catch {
                // Encoding our own record types cannot fail; a failure other than the write's is a bug.
                guard let failure else { preconditionFailure("cannot encode the record of job \(record.id): \(error)") }
                return failure
            }
            return nil
        }
    }

    /// Writes any small file atomically into a folder (tmp + fsync + rename). `jobFile`: a job's
    /// file, protected for `owner` (ResultPrivacy); else 0644.
    public func writeFile(bytes: [UInt8], name: String, folder: SpoolLayout.Folder, noReplace: Bool = false,
                          sync: inout DirectorySync, jobFile: Bool = false, owner: JobOwner? = nil) throws {
        try writeFile(name: name, folder: folder, noReplace: noReplace, sync: &sync, jobFile: jobFile, owner: owner) { fd in
            bytes.withUnsafeBytes { writeAll(fd, $0) }
        }
    }

    /// `writeFile` with the content written by `content` into the scratch file's descriptor (it
    /// returns an errno on failure). `isRecord`: a job's record, which may be written into a spare
    /// that held data (`openScratch`).
    func writeFile(name: String, folder: SpoolLayout.Folder, noReplace: Bool = false, sync: inout DirectorySync,
                   jobFile: Bool = false, owner: JobOwner? = nil, isRecord: Bool = false, content: (Int32) -> Int32?) throws {
        let tmpFD = layout.fd(.tmp)
        let (fd, tmpName) = try openScratch(isRecord: isRecord)
        // Its mode is set once, to what it ends as: a spare (0600) never passes through 0644 on the
        // way to a private record's 0640, when a member of the spool's group could open it.
        privacy.withLock { $0 }.apply(fd, owner: jobFile ? owner : nil)
        let failed: SystemError? = {
            if let e = content(fd) { return SystemError("write", "tmp/\(tmpName)", errno: e) }
            FaultInjection.hit(.afterTmpWrite)
            if durable, !sync.isGrouped { Durability.sync(fd, .file, "tmp/\(tmpName)") }
            FaultInjection.hit(.afterTmpFsync)
            return nil
        }()
        close(fd)
        if let failed {
            unlinkat(tmpFD, tmpName, 0)
            throw failed
        }
        let failure = noReplace ? layout.exclusiveRename.rename(tmpFD, tmpName, layout.fd(folder), name)
            : (renameat(tmpFD, tmpName, layout.fd(folder), name) == 0 ? nil : errno)
        if let failure {
            let e = SystemError("rename", "tmp/\(tmpName) -> \(folder.rawValue)/\(name)", errno: failure)
            unlinkat(tmpFD, tmpName, 0)
            throw e
        }
        FaultInjection.hit(.afterRename)
        sync.add(folder)
    }

    /// Replaces a file in the spool root (metrics.prom, stats.json) by tmp + rename, mode 0644 so that
    /// a collector outside the service's group can read it. Not fsynced: it is rewritten every few seconds.
    public func writeRootFile(_ bytes: [UInt8], name: String) throws {
        let (fd, tmpName) = try openScratch(isRecord: false)
        fchmod(fd, 0o644)
        let e = bytes.withUnsafeBytes { writeAll(fd, $0) }
        close(fd)
        if let e {
            unlinkat(layout.fd(.tmp), tmpName, 0)
            throw SystemError("write", "tmp/\(tmpName)", errno: e)
        }
        guard renameat(layout.fd(.tmp), tmpName, layout.rootFD, name) == 0 else {
            let err = SystemError("rename", "tmp/\(tmpName) -> \(name)")
            unlinkat(layout.fd(.tmp), tmpName, 0)
            throw err
        }
    }

    /// An empty file in tmp/ open for writing, mode 0600 (the caller sets its mode): a recycled
    /// spare if there is one, else a new file.
    /// Only a record may take a spare that held data: a power cut before its data is synced may
    /// leave the old bytes under the new name, and only a record is checked whole at recovery
    /// (`removeTornRecords`, when a group commit did not fsync it before its rename). Anything else
    /// (a root file, never synced and readable by all; a job file's kept original) takes an empty
    /// spare or a new file, as an output does.
    private func openScratch(isRecord: Bool) throws -> (Int32, String) {
        let tmpFD = layout.fd(.tmp)
        // 0600 until the caller gives it its mode.
        if let spare = spares.takeOpen(emptyOnly: !isRecord, flags: O_WRONLY | O_TRUNC) { return spare }
        let n = tmpCounter.withLock { c -> UInt64 in c += 1; return c }
        let name = "spoold.\(getpid()).\(runToken).\(n).tmp"
        let fd = openat(tmpFD, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError("create", "tmp/\(name)") }
        return (fd, name)
    }

    /// Creates (or truncates) `name` in `folder` for writing, from a spare when one is at hand.
    /// Not durable by itself: for live output files, protected for the job's `owner` (ResultPrivacy).
    public func createFile(_ name: String, in folder: SpoolLayout.Folder, owner: JobOwner? = nil) throws -> Int32 {
        let dirFD = layout.fd(folder)
        let privacy = self.privacy.withLock { $0 }
        // O_APPEND: an output cut to its head and tail (OutputCap) keeps growing at its new end.
        if let (fd, spare) = spares.takeOpen(emptyOnly: true, flags: O_WRONLY | O_TRUNC | O_APPEND) {
            if renameat(layout.fd(.tmp), spare, dirFD, name) == 0 {
                privacy.apply(fd, owner: owner)  // from the spare's 0600 straight to its mode
                return fd
            }
            close(fd)
            unlinkat(layout.fd(.tmp), spare, 0)
        }
        let fd = openat(dirFD, name, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw SystemError("create", "\(folder.rawValue)/\(name)") }
        privacy.apply(fd, owner: owner)
        return fd
    }

    /// Removes a file the daemon is done with, keeping its inode for reuse when nobody else has it
    /// open (see SparePool).
    public func retire(_ name: String, from folder: SpoolLayout.Folder) {
        spares.retire(name, from: layout.fd(folder), folder: folder)
    }

    /// Removes the pooled spares; for an exit that is not clean (a clean one leaves them to the
    /// next start).
    public func removeSpares() {
        spares.removeAll()
    }

    /// Takes back the spares an earlier run left at its clean stop (SparePool.adopt).
    func adoptSpares(_ names: [String]) {
        spares.adopt(names)
    }

    /// Seals the spare pool before a clean stop's syncfs (SparePool.seal); returns the run tokens
    /// in its spares' names, for the clean-stop mark.
    func sealSpares() -> [String] {
        spares.seal()
    }


    /// Renames `name` from one folder to another; the target folder is added to `sync`.
    /// Returns false when the source is gone (a lost race, not an error).
    @discardableResult
    public func move(_ name: String, from: SpoolLayout.Folder, to: SpoolLayout.Folder, newName: String? = nil,
                     sync: inout DirectorySync) throws -> Bool {
        let target = newName ?? name
        if renameat(layout.fd(from), name, layout.fd(to), target) != 0 {
            if errno == ENOENT { return false }
            throw SystemError("rename", "\(from.rawValue)/\(name) -> \(to.rawValue)/\(target)")
        }
        sync.add(to)
        return true
    }

    /// Removes a file; a missing file is fine.
    public func remove(_ name: String, from folder: SpoolLayout.Folder) {
        unlinkat(layout.fd(folder), name, 0)
    }

    /// True when both names exist and name the same file (a hard link, or both names of a rename
    /// that a power cut kept).
    public func isSameFile(_ a: String, in fa: SpoolLayout.Folder, as b: String, in fb: SpoolLayout.Folder) -> Bool {
        var sa = stat(), sb = stat()
        return fstatat(layout.fd(fa), a, &sa, AT_SYMLINK_NOFOLLOW) == 0 && fstatat(layout.fd(fb), b, &sb, AT_SYMLINK_NOFOLLOW) == 0
            && sa.st_ino == sb.st_ino && sa.st_dev == sb.st_dev
    }

    public func exists(_ name: String, in folder: SpoolLayout.Folder) -> Bool {
        var st = stat()
        return fstatat(layout.fd(folder), name, &st, AT_SYMLINK_NOFOLLOW) == 0
    }

    /// True when a state file of `id` is in pending/, running/ or done/. The folders are the truth
    /// about which ids are held. Checked in the order a job moves (pending, running, done), then
    /// pending again: a requeue writes pending/ before it removes running/, so one move in either
    /// direction between the looks is never missed.
    public func holds(_ id: JobID) -> Bool {
        let name = JobFiles.record(id)
        return exists(name, in: .pending) || exists(name, in: .running) || exists(name, in: .done) || exists(name, in: .pending)
    }

    /// Reads and decodes `<folder>/<id>.json`; nil if it does not exist.
    public func read(_ id: JobID, in folder: SpoolFolder) throws -> JobRecord? {
        try readRecord(named: JobFiles.record(id), in: .init(folder))
    }

    public func readRecord(named name: String, in folder: SpoolLayout.Folder) throws -> JobRecord? {
        guard let bytes = try readSmallFile(name, in: folder) else { return nil }
        do {
            return try JobRecord.decode(bytes)
        } catch {
            throw SystemError("decode", "\(folder.rawValue)/\(name)", errno: EINVAL)
        }
    }

    /// Reads a whole file of our own (records are small); nil if it does not exist.
    public func readSmallFile(_ name: String, in folder: SpoolLayout.Folder, limit: Int = 64 << 20) throws -> [UInt8]? {
        let fd = openat(layout.fd(folder), name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw SystemError("open", "\(folder.rawValue)/\(name)")
        }
        defer { close(fd) }
        guard let r = readUpTo(fd, limit: limit) else { throw SystemError("read", "\(folder.rawValue)/\(name)") }
        return r.bytes
    }

    /// Makes the folders in `sync` durable (one fsync each, or one syncfs for a group) and empties it.
    /// Releases the quarantined spares whose old folder that made durable (SparePool). A failed
    /// sync does not return: the daemon exits (`Durability`), so callers never act on a state that
    /// is not durable.
    public func commit(_ sync: inout DirectorySync) {
        defer { sync.folders.removeAll() }
        guard durable, !sync.folders.isEmpty else { return }
        let mark = spares.quarantineMark()
        if sync.isGrouped {
            Durability.sync(layout.rootFD, .syncfs, layout.root)
        } else {
            for folder in sync.folders.sorted(by: { $0.rawValue < $1.rawValue }) {
                Durability.sync(layout.fd(folder), .folder, folder.rawValue + "/")
            }
        }
        if let mark { spares.release(through: mark, from: sync.isGrouped ? nil : sync.folders) }
        FaultInjection.hit(.afterDirFsync)
    }

    /// Removes the state files in pending/ and done/ that are not a whole record of the job they are
    /// named after. Such a file can only come from a group commit (its data is not fsynced before
    /// its rename, only by the syncfs that ends the batch) that a power cut interrupted: its name
    /// reached the disk, its data did not (the file is empty, cut, or shows a recycled spare's old
    /// bytes). Nothing was acted on before that syncfs, and what the file came from is still in
    /// place (the claim in tmp/, the job's running/ state file), so recovery makes it again.
    /// For the start of recovery, before anything reads the folders. Returns what was removed.
    public func removeTornRecords() -> [String] {
        var removed: [String] = []
        for folder in [SpoolLayout.Folder.pending, .done] {
            var names: [String] = []
            InboxReader.scan(layout.fd(folder), suffix: ".json") { batch in names += batch.compactMap(\.string) }
            for name in names {
                guard let id = JobID(String(name.dropLast(5))) else { continue }
                let whole = ((try? readRecord(named: name, in: folder)) ?? nil).map { $0.id == id }
                if whole == false || (whole == nil && exists(name, in: folder)) {
                    remove(name, from: folder)
                    removed.append("\(folder.rawValue)/\(name)")
                }
            }
        }
        return removed
    }
}

/// Folders whose entries changed and must be fsynced before the change is acted on.
public struct DirectorySync: Sendable {
    var folders: Set<SpoolLayout.Folder> = []
    /// Files are not fsynced one by one; `commit` runs one syncfs for everything.
    public let isGrouped: Bool

    /// Batches of at least this many writes use one syncfs instead of a fsync per file and folder.
    public static let groupThreshold = 8

    public init(writes: Int = 1) {
        isGrouped = writes >= DirectorySync.groupThreshold
    }
    public mutating func add(_ folder: SpoolLayout.Folder) { folders.insert(folder) }
    public var isEmpty: Bool { folders.isEmpty }
}
