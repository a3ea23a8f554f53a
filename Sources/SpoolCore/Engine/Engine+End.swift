// Ends: an attempt's end is resolved (AttemptResult: final, retry with backoff, or requeue by
// `on_interrupt`) into a record to write; once the runtime says it is durable (`written`), the
// job is let go (or queued again), the slot is free, and those who waited for it are told: jobs
// depending on it, control requests kept until its end, a pending delete, its follow-up.
import Foundation

extension Engine {
    /// What the record of a job whose attempt ended on a full disk says about it.
    static let diskFullNote = " (the spool's disk is full: No space left on device)"
    /// What a job's outputs are cut to when its record cannot be written for lack of space.
    static let diskFullOutputCap = 64 * 1024

    mutating func attemptEnded(_ id: JobID, _ ended: AttemptEnd, diskFull: Bool, now: Timestamp, random: Double) -> [EngineAction] {
        guard let job = jobs[id], case .running = job.state, job.batch == nil else { impossible("attemptEnded", id) }
        // The process is gone: its slots go to the next start while this end's record is written.
        scheduler.release(.job(id))
        var running = Self.render(job)
        running.usage = ended.usage
        if let executor = ended.executor { running.executor = executor }
        if case .notStarted = ended.termination {
            running.stdout = nil
            running.stderr = nil
        }
        let endedAt = ended.endedAt.map { min($0, now) } ?? now
        var next = AttemptResult.resolve(running, termination: ended.termination, teardown: ended.teardown, now: endedAt, random: random)
        if case .done(var r) = next, let e = r.error, e.code == .exitNonzero || e.code == .killedBySignal, diskFull {
            // A job that failed while the spool's disk was full most likely failed because of it: say so.
            r.error = SpoolError(e.code, e.message + Self.diskFullNote)
            next = .done(r)
        }
        if let why = ended.interruption, ended.teardown == .shutdown {
            // Not the daemon's stop: the record says what it was.
            switch next {
            case .done(var r):
                r.error = SpoolError(.interrupted, "job \(id): \(why) during attempt \(running.attempts) and on_interrupt is \"fail\"")
                next = .done(r)
            case .requeue(var r):
                r.waitReason = "requeued after \(why) during attempt \(running.attempts)"
                next = .requeue(r)
            }
        }
        return end(id, next, from: .running, attempt: running.attempts)
    }

    /// A command attempt could not start: it ends as if it had failed to run (`notStarted`).
    mutating func launchFailed(_ id: JobID, _ error: SpoolError, executor: ExecutorInfo, now: Timestamp, random: Double) -> [EngineAction] {
        update(id) { $0.record.executor = executor }
        return attemptEnded(id, AttemptEnd(termination: .notStarted(error), teardown: nil, usage: nil), diskFull: false, now: now, random: random)
    }

    /// Puts a job whose attempt (or batch) has ended into `.ending` and asks for its record.
    mutating func end(_ id: JobID, _ next: AttemptResult.Next, from: SpoolFolder, attempt: Int?) -> [EngineAction] {
        switch next {
        case .done(let r):
            return endFinal(id, r, status: r.status, from: from, attempt: attempt)
        case .requeue(let r):
            update(id) { j in
                j.record = r
                j.state = .ending(.requeue, from: from)
            }
            return [.write(RecordWrite(record: render(id)!, to: .pending, from: from, attempt: attempt))]
        }
    }

    /// A job's final record, with the status its outcome gives it, goes to done/.
    mutating func endFinal(_ id: JobID, _ r: JobRecord, status: JobStatus, from: SpoolFolder, attempt: Int?) -> [EngineAction] {
        update(id) { j in
            j.record = r
            j.state = .ending(.final(status), from: from)
        }
        return [.write(RecordWrite(record: render(id)!, to: .done, from: from, attempt: attempt))]
    }

    /// Records written by `write` actions are durable.
    mutating func written(_ ids: [JobID], now: Timestamp) -> [EngineAction] {
        var actions: [EngineAction] = []
        for id in ids {
            guard let job = jobs[id], case .ending(let ending, let from) = job.state else { impossible("written", id) }
            if failingWrites.remove(id) != nil, failingWrites.isEmpty {
                actions.append(.log(.notice, "spoold: the records that could not be written are written; jobs start again"))
            }
            let record = render(id)!
            switch ending {
            case .final(let status):
                release(id)
                scheduler.jobEnded(id)
                actions.append(.releaseFollowUp(record))
                if from == .running { actions.append(.log(status == .succeeded ? .info : .warning, Self.endLine(record))) }
                actions.append(.emit(id, record.status, "finished", Self.finishedFields(record)))
                actions.append(.countFinished(record))
                if job.deleteWhenEnded { actions.append(.removeFinished(record, why: "deleted after it was cancelled")) }
                for name in job.controls {
                    waitingControls.remove(name)
                    actions.append(.removeControl(name))
                }
                actions += dependencyEnded(id, status: status, now: now)
            case .requeue:
                scheduler.jobEnded(id)
                queue(id, now: now)
                let retrying = record.waitReason?.hasPrefix("retry ") == true
                actions.append(.log(.notice, "job \(id): back to pending: \(record.waitReason ?? "")"))
                actions.append(.emit(id, .pending, retrying ? "retrying" : "requeued",
                                     [EventField("attempts", .integer(record.attempts)), EventField("reason", record.waitReason.map { .string($0) } ?? .null)]))
                if job.cancelRequested {
                    actions += endPending(id, status: .cancelled, error: SpoolError(.cancelled, "job \(id): cancelled before it started"), now: now)
                }
            }
        }
        if isStopping && !holdsExit {
            actions += [.log(.info, "spoold: every job is stopped or finished\(liveRestore && hasWorkInFlight ? " or left to its supervisor" : ""); exiting"), .exit]
        }
        return actions
    }

    /// A record could not be written: tried again in a second. On a full disk a job's own output
    /// may be what filled it: the runtime has cut the outputs, and the job fails for it.
    mutating func writeFailed(_ id: JobID, diskFull: Bool) -> [EngineAction] {
        guard let job = jobs[id], case .ending(let ending, let from) = job.state else { impossible("writeFailed", id) }
        var held: [EngineAction] = []
        if failingWrites.isEmpty {
            held.append(.log(.warning, "spoold: no job starts until the record of job \(id) can be written"))
        }
        failingWrites.insert(id)
        var write = RecordWrite(record: render(id)!, to: ending == .requeue ? .pending : .done, from: from,
                                attempt: from == .running && job.record.spec?.isBatch != true ? job.record.attempts : nil)
        if diskFull {
            write.outputsCut = true
            if case .final = ending {
                update(id) { j in
                    j.record.error = SpoolError(.outputFailed, "job \(id): its output filled the spool's disk; it was cut to \(Self.diskFullOutputCap) bytes to make room for the record")
                    j.state = .ending(.final(.failed), from: from)
                }
                write.record = render(id)!
            }
        }
        return held + [.writeLater(write, seconds: 1)]
    }

    /// Some job is being started, runs, or has a record on its way out of running/.
    var hasWorkInFlight: Bool { !active.isEmpty }

    static func endLine(_ r: JobRecord) -> String {
        let took = r.durationSeconds.map { " in \(threeDecimals($0)) s" } ?? ""
        if r.status == .succeeded { return "job \(r.id): succeeded\(took) (attempt \(r.attempts))" }
        return "job \(r.id): \(r.status.rawValue)\(took): \(r.error?.description ?? "")"
    }

    /// `String(format: "%.3f")` without Foundation's formatter (a line per finished job: the
    /// formatter alone was 0.3 % of the daemon's CPU in a drain of 2,000 jobs, `perf record`).
    static func threeDecimals(_ d: Double) -> String {
        guard d.isFinite, d >= 0, d < 1e12 else { return String(format: "%.3f", d) }
        let ms = Int((d * 1000).rounded())
        let frac = String(ms % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - frac.count))\(frac)"
    }

    static func finishedFields(_ r: JobRecord) -> [EventField] {
        [EventField("exit_code", r.exitCode.map { .integer(Int($0)) } ?? .null),
         EventField("signal", r.signal.map { .integer(Int($0)) } ?? .null),
         EventField("error", r.error.map { .string($0.code.rawValue) } ?? .null)]
    }
}
