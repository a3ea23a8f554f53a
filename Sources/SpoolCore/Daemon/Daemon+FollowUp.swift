// `on_complete` (SPEC §3): when a job ends, its follow-up job is dropped into the inbox with
// SPOOL_PARENT_ID and SPOOL_PARENT_RESULT in its environment. Exactly once, whatever crashes:
// the follow-up is staged durably in tmp/ (under a name derived from its id) together with the
// parent's final record, and moved into the inbox only after that record is durable. A crash in
// between leaves the staged file, which recovery moves in; an id the spool already holds is
// never dropped twice.
import Foundation
import SpoolJSON

extension Daemon {
    static let followUpPrefix = "spoold.followup."

    /// The follow-up's id: its own, or "<parent>.on_complete".
    func followUpID(of record: JobRecord) -> JobID? {
        guard case .object(let o)? = record.spec?.onComplete else { return nil }
        if let s = o["id"]?.stringValue, let id = JobID(s) { return id }
        return JobID("\(record.id.rawValue.prefix(100)).on_complete")
    }

    /// Writes the follow-up job file into tmp/, durable before the parent's record is written.
    func stageFollowUp(of record: JobRecord, sync: inout DirectorySync) throws {
        guard case .object(var o)? = record.spec?.onComplete, let id = followUpID(of: record) else { return }
        guard !index.contains(id) else { return }  // dropped and accepted before a crash
        o["id"] = .string(id.rawValue)
        var env = o["env"]?.objectValue ?? JSONObject()
        env["SPOOL_PARENT_ID"] = .string(record.id.rawValue)
        env["SPOOL_PARENT_RESULT"] = .string("\(layout.path(.done))/\(JobFiles.record(record.id))")
        o["env"] = .object(env)
        let bytes = Array(JSONValue.object(o).serialized(pretty: true).utf8) + [0x0A]
        let staged = "\(Self.followUpPrefix)\(id.rawValue).json"
        var staging = DirectorySync()
        try store.writeFile(bytes: bytes, name: staged, folder: .tmp, sync: &staging)
        // Under a root daemon the follow-up belongs to (and so runs as) the parent's owner.
        if let owner = record.owner { fchownat(layout.fd(.tmp), staged, owner.uid, owner.gid, AT_SYMLINK_NOFOLLOW) }
        // Durable before the parent's record can be: a power cut may keep one folder's new entries and not another's.
        store.commit(&staging)
    }

    /// Moves a staged follow-up into the inbox, where intake takes it like any job file.
    func releaseFollowUp(of record: JobRecord) {
        guard let id = followUpID(of: record) else { return }
        releaseFollowUp(named: "\(Self.followUpPrefix)\(id.rawValue).json", id: id)
    }

    func releaseFollowUp(named staged: String, id: JobID) {
        if index.contains(id) {
            store.remove(staged, from: .tmp)
            return
        }
        var sync = DirectorySync()
        do {
            // Never over a file a user put in the inbox under the same name.
            var target = JobFiles.record(id)
            if store.exists(target, in: .inbox) {
                // Both names of an earlier move may have survived a power cut: then it is in the inbox already.
                if store.isSameFile(staged, in: .tmp, as: target, in: .inbox) { return store.remove(staged, from: .tmp) }
                target = "\(id.rawValue).\(UInt32.random(in: 0...UInt32.max)).json"
            }
            if try store.move(staged, from: .tmp, to: .inbox, newName: target, sync: &sync) {
                store.commit(&sync)
                log.info("job \(id): follow-up dropped into the inbox as \(target)")
            }
        } catch {
            log.error("job \(id): cannot move its follow-up into the inbox: \(error); it stays in tmp/ for the next start")
        }
    }

    /// At start: a follow-up staged before a crash goes into the inbox if its parent's final record
    /// made it to done/; otherwise the parent has not ended after all, and will stage it again.
    func releaseStagedFollowUps() {
        var staged: [String] = []
        InboxReader.scan(layout.fd(.tmp), suffix: ".json") { names in
            staged += names.compactMap(\.string).filter { $0.hasPrefix(Self.followUpPrefix) }
        }
        for name in staged {
            guard let id = JobID(String(name.dropFirst(Self.followUpPrefix.count).dropLast(5))),
                  let bytes = try? store.readSmallFile(name, in: .tmp),
                  case .object(let o)? = try? JSONParser().parse(bytes),
                  let parent = o["env"]?.objectValue?["SPOOL_PARENT_ID"]?.stringValue.flatMap(JobID.init)
            else {
                store.remove(name, from: .tmp)
                continue
            }
            if store.exists(JobFiles.record(parent), in: .done) {
                releaseFollowUp(named: name, id: id)
            } else {
                store.remove(name, from: .tmp)
            }
        }
    }
}
