// What the daemon tells the event log (SPEC §8), in the words of the records it has just made
// durable: accepted, rejected, started, progress, paused, resumed, retrying, requeued, finished,
// deleted. Called after the record is written, never before.
import Foundation
import SpoolJSON

extension Daemon {
    func emit(_ r: JobRecord, _ event: String, _ extra: [(key: String, value: JSONValue)] = []) {
        guard let events else { return }
        events.append(r.id, event, status: r.status, extra: extra)
    }

    func emitProgress(_ id: JobID, _ progress: Progress) {
        events?.append(id, "progress", status: .running, extra: [("progress", (try? JSONValueEncoder().encode(progress)) ?? .null)])
    }
}
