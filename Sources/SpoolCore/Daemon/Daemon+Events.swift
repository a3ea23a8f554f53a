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

    /// A job that has ended: finished, with its exit code, signal and error.
    func emitFinished(_ r: JobRecord) {
        emit(r, "finished", [("exit_code", r.exitCode.map { .integer(Int($0)) } ?? .null),
                             ("signal", r.signal.map { .integer(Int($0)) } ?? .null),
                             ("error", r.error.map { .string($0.code.rawValue) } ?? .null)])
    }

    /// A job back in pending/: retrying (a failed attempt with retries left) or requeued (interrupted).
    func emitRequeued(_ r: JobRecord) {
        let retrying = r.waitReason?.hasPrefix("retry ") == true
        emit(r, retrying ? "retrying" : "requeued", [("attempts", .integer(r.attempts)), ("reason", r.waitReason.map { .string($0) } ?? .null)])
    }

    func emitProgress(_ r: JobRecord) {
        emit(r, "progress", [("progress", (try? JSONValueEncoder().encode(r.progress)) ?? .null)])
    }
}
