// Recycled inodes. On this project's disk (ext4 without a journal) creating a file costs far more
// than writing one: each new inode is found by a scan that skips every recently deleted inode
// (`recently_deleted` was 33 % of all CPU samples under `perf record` while draining 2,000 jobs).
// So files the daemon is done with (superseded state files, empty outputs, accepted job files) are
// not unlinked but renamed into tmp/ as spares, and the next state file or output is written into
// a spare instead of a new file.
// A recycled inode must be one nobody else can write into: a process that outlived its job, or a
// writer that kept its inbox file open, would otherwise write into another job's record. So a file
// is recycled only if the daemon can take a write lease on it, which the kernel grants only when
// no other open file description refers to it (in any process); the lease is held across the
// rename, so an open racing with it waits until the file is a spare. It must also be regular, have
// one link (never a hard link to a file outside the spool) and be owned by the daemon's user.
// Anything else is unlinked. A spare is 0600: nobody else may open it while it waits in tmp/.
// An open whose permission check passed before (while the file was a record or an output) waits
// on the retire's lease and gets the spare, so a spare is reused only if the lease can be taken
// again when it is (`takeOpen`); else it is unlinked.
// Spares are garbage by definition. A clean stop seals the pool before its syncfs (`seal`),
// leaves the spares in tmp/ and names their runs in its mark (CleanStop); the next start takes
// those back, checked again (`adopt`). Unlinking them (a discard per freed file on this disk) took
// a drain of 500 jobs 43 ms from its last job's end to its exit, 21-22 ms without, and the next
// run made as many new inodes. After anything else (a crash, a failed sync, a mark that names
// another run) the next start removes them.
// A power cut keeps only what was made durable, so a spare is quarantined until the removal of
// its old name is: until a commit has fsynced the folder it came from (or run a syncfs). Before
// that, the old name (a claim in tmp/, a state file in running/) may come back after a power
// cut, and would then name whatever the spare had become: another job's record or follow-up,
// found by recovery as a claim or a state file of the wrong job (the crash-state explorer,
// Tests/CrashStates, found both). And only a spare that was empty is made into an output file:
// an output's truncation is not fsynced, so a power cut could show the spare's old bytes (an
// earlier record, a job file) as the job's output.
import Foundation
import CSpoolShim

final class SparePool: Sendable {
    static let prefix = "spoold.spare."
    let tmpFD: Int32
    let capacity: Int
    /// False when nothing is fsynced (benchmarks of the cost of durability): no quarantine then.
    let quarantines: Bool
    private let state = LockedBox(State())

    struct Spare {
        var name: String
        var wasEmpty: Bool
        /// Quarantined spares are numbered, so that a commit releases exactly those retired before it began.
        var serial: UInt64 = 0
    }

    struct State {
        var ready: [Spare] = []
        /// Per old folder, in serial order: a commit looks only at the folders it fsynced.
        var quarantined: [SpoolLayout.Folder: [Spare]] = [:]
        var quarantinedCount = 0
        /// Numbers names before their rename and serials after it: a serial is above any mark
        /// taken before the spare was quarantined.
        var counter: UInt64 = 0
        /// Set before a clean stop's syncfs (`seal`): a file retired after it is unlinked.
        var sealed = false
    }

    /// Per run, so that names never collide with an earlier run's (pids repeat, e.g. pid 1 in
    /// containers); a clean stop's mark names it (CleanStop), for the next start to take back.
    let runToken = String(UInt64.random(in: 0...UInt64.max), radix: 36)
    /// Retires under way, which `seal` waits for.
    private let retiring = DispatchGroup()

    /// Whether `text` can be a run token (what a clean-stop mark holds): base 36, 1 to 13 digits.
    static func isRunToken(_ text: String) -> Bool {
        (1...13).contains(text.utf8.count) && text.utf8.allSatisfy { (48...57).contains($0) || (97...122).contains($0) }
    }

    init(tmpFD: Int32, capacity: Int = 512, quarantines: Bool = true) {
        self.tmpFD = tmpFD
        self.capacity = capacity
        self.quarantines = quarantines
    }

    var count: Int { state.withLock { $0.ready.count + $0.quarantinedCount } }

    /// A spare's name in tmp/ whose old name is durably gone, or nil. `emptyOnly` (an output file,
    /// anything but a record): one that was empty. Otherwise (a record: StateStore.openScratch)
    /// one that was not empty when there is one: the empty ones are the only ones the others can take.
    /// Records had taken them as readily, so a job's two outputs found none and were created anew,
    /// and creating an inode was a fifth of all CPU samples of a drain (`recently_deleted`), while
    /// the old records piled up in the pool until the exit unlinked them.
    func take(emptyOnly: Bool = false) -> String? {
        state.withLock { s -> String? in
            let pick = emptyOnly ? s.ready.lastIndex(where: \.wasEmpty)
                : (s.ready.lastIndex(where: { !$0.wasEmpty }) ?? s.ready.indices.last)
            guard let i = pick else { return nil }
            return s.ready.remove(at: i).name
        }
    }

    /// A spare taken as `take` does and open with `flags`, if no one else has it open: its lease,
    /// taken again, proves it. A spare is 0600, but an open whose permission check passed while
    /// the file was still a record or an output waited on the retire's lease and got the file
    /// once it was a spare; whoever holds it would read, or write into, the file it becomes. Such
    /// a spare, or one that cannot be opened, is unlinked and the next tried; nil when none is left.
    func takeOpen(emptyOnly: Bool, flags: Int32) -> (fd: Int32, name: String)? {
        while let name = take(emptyOnly: emptyOnly) {
            let fd = openat(tmpFD, name, flags | O_CLOEXEC | O_NOFOLLOW)
            if fd >= 0, cshim_take_exclusive_lease(fd) == 0 {
                cshim_release_lease(fd)
                return (fd, name)
            }
            if fd >= 0 { close(fd) }
            unlinkat(tmpFD, name, 0)
        }
        return nil
    }

    /// The serial of the last quarantined spare, taken before a commit's syncs: the spares up to it
    /// were renamed before those syncs began (`release(through:from:)` after them).
    func quarantineMark() -> UInt64? {
        state.withLock { $0.quarantinedCount > 0 ? $0.counter : nil }
    }

    /// Makes the spares quarantined up to `serial` ready whose old folder is in `folders` (every one
    /// when nil: a syncfs): their old names' removal is durable now. No fsync of its own: the
    /// folders spares come from are fsynced often anyway (running/ by every start, tmp/ by every
    /// intake), and until then a new file is made instead.
    func release(through serial: UInt64, from folders: Set<SpoolLayout.Folder>?) {
        state.withLock { s in
            // Only the folders this commit made durable are looked at, and in each only the head
            // of its list (serials grow along it) retired before the commit began: a commit comes
            // with most starts and ends, and copying every quarantined spare at each was a cost
            // that showed in the profile of a drain.
            for folder in folders.map(Array.init) ?? Array(s.quarantined.keys) {
                guard let list = s.quarantined[folder], !list.isEmpty else { continue }
                let end = list.firstIndex { $0.serial > serial } ?? list.count
                guard end > 0 else { continue }
                s.ready.append(contentsOf: list[..<end])
                s.quarantined[folder] = Array(list[end...])
                s.quarantinedCount -= end
            }
        }
    }

    /// Moves `name` out of `dirFD` into the pool, or unlinks it if it cannot be recycled.
    func retire(_ name: String, from dirFD: Int32, folder: SpoolLayout.Folder) {
        let open = state.withLock { s -> Bool in
            if !s.sealed { retiring.enter() }
            return !s.sealed
        }
        guard open else {
            unlinkat(dirFD, name, 0)
            return
        }
        defer { retiring.leave() }
        guard let (fd, st) = Self.leaseIfRecyclable(name, in: dirFD) else {
            unlinkat(dirFD, name, 0)
            return
        }
        defer { close(fd) }
        let isEmpty = st.st_size == 0
        let (spare, evicted) = state.withLock { s -> (String?, Spare?) in
            var evicted: Spare?
            if s.ready.count + s.quarantinedCount >= capacity {
                // Full: an empty spare takes the place of the oldest ready one with data. Only an empty
                // one may become an output, records take either, and a drain's intake retires its
                // claims (with data) faster than jobs end: the pool filled with those, each end's empty
                // outputs were unlinked and each start's outputs created anew (ext4_allocate_inode
                // traced over one drain of 2,000 jobs: 337 of the 808 inodes made were outputs).
                guard isEmpty, let i = s.ready.firstIndex(where: { !$0.wasEmpty }) else { return (nil, nil) }
                evicted = s.ready.remove(at: i)  // out of reach of `take` from here on
            }
            s.counter += 1
            return ("\(Self.prefix)\(runToken).\(s.counter)", evicted)
        }
        let moved = spare.map { renameat(dirFD, name, tmpFD, $0) == 0 } ?? false
        if let evicted {  // unlinked once its replacement is in; back in the pool if it is not
            if moved { unlinkat(tmpFD, evicted.name, 0) } else { state.withLock { $0.ready.append(evicted) } }
        }
        // Released before the spare can be handed out: our own next open must not break our lease.
        cshim_release_lease(fd)
        if moved, let spare {
            state.withLock { s in
                s.counter += 1
                let entry = Spare(name: spare, wasEmpty: isEmpty, serial: s.counter)
                if quarantines {
                    s.quarantined[folder, default: []].append(entry)
                    s.quarantinedCount += 1
                } else {
                    s.ready.append(entry)
                }
            }
        } else {
            unlinkat(dirFD, name, 0)
        }
    }

    /// `name` in `dirFD` open, with an exclusive lease on it, if it may become a spare: a regular
    /// file (a FIFO or device is never opened at all), with one link (never a hard link to a file
    /// outside the spool), owned by the daemon's user, and open nowhere else (the kernel grants
    /// the lease only then). Nil otherwise; the caller closes the descriptor, and releases the
    /// lease once the file is where it stays.
    private static func leaseIfRecyclable(_ name: String, in dirFD: Int32) -> (Int32, stat)? {
        var lst = stat()
        guard fstatat(dirFD, name, &lst, AT_SYMLINK_NOFOLLOW) == 0, lst.st_mode & S_IFMT == S_IFREG else { return nil }
        let fd = openat(dirFD, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY)
        guard fd >= 0 else { return nil }
        var st = stat()
        let ownable = fstat(fd, &st) == 0 && st.st_mode & S_IFMT == S_IFREG && st.st_nlink == 1 && st.st_uid == AccessPolicy.daemonUID
        guard ownable, cshim_take_exclusive_lease(fd) == 0 else {
            close(fd)
            return nil
        }
        // Nobody else may open it from here on (tmp/ is open to the spool's members): a reader who
        // kept a spare open would read whatever job's record is later written into it. 0600 also
        // masks an ACL entry a record had for its owner; the next use gives the file its own.
        fchmod(fd, 0o600)
        return (fd, st)
    }

    /// Takes back the spares an earlier run left in tmp/ at a clean stop (`names`, listed before
    /// this run made any). Each is checked as `retire` checks a file, since anyone who may write
    /// tmp/ could have put a file of that name there, and is ready at once: the clean stop's syncfs
    /// made its old name's removal durable. One that fails the checks, or finds the pool full, is
    /// unlinked.
    func adopt(_ names: [String]) {
        for name in names {
            guard let (fd, st) = Self.leaseIfRecyclable(name, in: tmpFD) else {
                unlinkat(tmpFD, name, 0)
                continue
            }
            let taken = state.withLock { s -> Bool in
                guard s.ready.count + s.quarantinedCount < capacity else { return false }
                s.counter += 1
                s.ready.append(Spare(name: name, wasEmpty: st.st_size == 0, serial: s.counter))
                return true
            }
            cshim_release_lease(fd)
            close(fd)
            if !taken { unlinkat(tmpFD, name, 0) }
        }
    }

    /// Before a clean stop's syncfs: waits for the retires under way, and unlinks every file
    /// retired from then on instead of pooling it. So every spare left in tmp/ was renamed there
    /// before the syncfs that makes its old name's removal durable; an attempt that outlives the
    /// daemon (live restore, a remote queue) may end on a thread of its own during the exit.
    /// Returns the run tokens in the names of the spares it holds, this run's first: a spare taken
    /// back at start keeps its name, and the next start takes back only the tokens the mark names.
    func seal() -> [String] {
        state.withLock { $0.sealed = true }
        retiring.wait()
        let names = state.withLock { s in (s.ready + s.quarantined.values.joined()).map(\.name) }
        var tokens = [runToken]
        for name in names {
            guard let token = Self.token(of: name), !tokens.contains(token) else { continue }
            tokens.append(token)
        }
        return tokens
    }

    /// The run token in a spare's name (`spoold.spare.<token>.<n>`), nil for any other name.
    static func token(of name: String) -> String? {
        guard name.hasPrefix(prefix) else { return nil }
        let rest = name.dropFirst(prefix.count)
        guard let dot = rest.firstIndex(of: ".") else { return nil }
        let token = String(rest[..<dot])
        return isRunToken(token) ? token : nil
    }

    /// Unlinks every spare (at a stop that is not clean: the next start removes what it finds).
    func removeAll() {
        let names = state.withLock { s -> [String] in
            defer {
                s.ready.removeAll()
                s.quarantined.removeAll()
                s.quarantinedCount = 0
            }
            return (s.ready + s.quarantined.values.joined()).map(\.name)
        }
        for n in names { unlinkat(tmpFD, n, 0) }
    }
}
