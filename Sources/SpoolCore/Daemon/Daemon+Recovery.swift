// Start-up recovery, through the normal paths (Postfix's qmgr moves active back to incoming):
// finish intake claims a crash left in tmp/, remove our own half-written tmp files, hand every
// job left in running/ to the engine as an interrupted attempt (`recovered`, after killing what
// is left of its process group) so that it ends or is requeued by its `on_interrupt` through the
// finisher like any other, and, on the intake queue while READY=1 is sent (run()), hand pending/
// to the engine as accepted or parked jobs. A state file found in two folders is resolved in
// favour of the later one (done over running over pending).
import Foundation

extension Daemon {
    func recover() {
        let now = Timestamp.now()
        // The mark is taken whatever this daemon is, so that it never outlives a run it cannot vouch for.
        let mark = CleanStop.take(layout)
        let cleanStop = mark != nil && CleanStop.isVouched(lockFile: options.lockFile, durable: store.durable)
        if cleanStop {
            log.info("recovery: the last daemon stopped cleanly; records are not checked for torn writes")
        } else {
            for torn in store.removeTornRecords() {
                log.warning("recovery: removed \(torn): not a whole record of its job (a group commit cut short by a power loss); it is made again from its claim or running/ file")
            }
        }
        index.load(from: layout)
        history?.open(workers: max(1, options.workers), queueLimits: options.queueLimits)
        // With --lock-file other daemons may share the spool: their temporaries, claims and running
        // jobs are alive, so only what is certainly ours is touched.
        let shared = options.lockFile != nil
        if !shared { store.adoptSpares(removeStaleTemporaries(keepingSparesOf: cleanStop ? mark?.sparesTokens ?? [] : [])) }
        _ = intake.recoverClaims(now: now, all: !shared)  // their records are in pending/ or done/ now, loaded below
        if shared {
            log.notice("spoold: --lock-file: running/ is left alone (it may hold other daemons' live jobs)")
        } else {
            recoverRunning(now: now)
        }
        releaseStagedFollowUps()
        // pending/ is loaded next, on the intake queue (run(), loadPending).
    }

    /// Our half-written tmp files and the spares of earlier runs are removed, but those whose
    /// tokens the last clean stop named (`keepingSparesOf`, CleanStop.Mark): their names are
    /// returned, for the pool to take back once each is checked again (SparePool.adopt). After a
    /// crash a spare's old name may not be durably gone, so it is never reused.
    private func removeStaleTemporaries(keepingSparesOf tokens: Set<String>) -> [String] {
        var kept: [String] = []
        InboxReader.scan(layout.fd(.tmp), suffix: "") { names in
            for n in names {
                guard let s = n.string, s.hasPrefix("spoold.") else { continue }
                if let token = SparePool.token(of: s), tokens.contains(token) {
                    kept.append(s)
                } else if s.hasPrefix(SparePool.prefix) || s.hasSuffix(".tmp") {
                    store.remove(s, from: .tmp)
                }
            }
        }
        return kept
    }

    private func recoverRunning(now: Timestamp) {
        var names: [String] = []
        InboxReader.scan(layout.fd(.running), suffix: ".json") { batch in names += batch.compactMap(\.string) }
        // With no state file left, a crash may still have left a finished job's outputs or journal (below).
        let leftovers = names.isEmpty ? nil : executor.leftovers()
        var sync = DirectorySync()
        var cleaned: [JobID] = []
        for name in names {
            guard let id = JobID(String(name.dropLast(5))) else { continue }
            FaultInjection.hit(.duringRecovery)
            if adopt(id) { continue }
            // With live restore a batch's operations may run on under their supervisors: what is left
            // of it is stopped once they are looked for (below), except the adopted ones.
            let mayAdoptOperations = supervised != nil && ((try? store.read(id, in: .running)) ?? nil)?.spec?.isBatch == true
            if !mayAdoptOperations, let what = leftovers?.stop(id) {
                log.warning("job \(id): stopped \(what) left running by the previous daemon")
            }
            if let what = slurm?.leftovers().stop(id) {
                log.warning("job \(id): cancelled \(what) left by the previous daemon; the job is recovered as interrupted")
            }
            if store.exists(JobFiles.record(id), in: .done) {
                if mayAdoptOperations, let what = leftovers?.stop(id) {
                    log.warning("job \(id): stopped \(what) left running by the previous daemon")
                }
                // Finished already; only the cleanup was lost.
                for out in [JobFiles.stdout(id), JobFiles.stderr(id)] where !store.exists(out, in: .done) {
                    _ = try? store.move(out, from: .running, to: .done, sync: &sync)
                }
                cleaned.append(id)
                continue
            }
            var record: JobRecord
            do {
                guard let r = try store.read(id, in: .running) else { continue }
                record = r
            } catch {
                log.error("job \(id): running/\(name) is unreadable (\(error)); leaving it for an operator")
                continue
            }
            // A retry's pending record written before the crash is newer than the running file it replaces.
            if let pending = (try? store.read(id, in: .pending)) ?? nil,
               pending.attempts >= record.attempts + (record.status == .pending ? 1 : 0) {
                log.notice("job \(id): found in pending/ and running/; the pending record is the newer one")
                cleaned.append(id)
                continue
            }
            if record.spec?.isBatch == true, let journal = try? store.readSmallFile(JobFiles.journal(id), in: .running),
               var ops = record.operations ?? record.spec.map({ BatchState(spec: $0, operations: nil).operations }) {
                // Entries carry the operation's index in the job file (a failed-only retry keeps the original ones).
                let position = Dictionary(ops.enumerated().map { ($0.element.index, $0.offset) }, uniquingKeysWith: { a, _ in a })
                for op in BatchJournal.read(journal) {
                    guard let p = position[op.index], !Self.recordIsNewer(ops[p], than: op) else { continue }
                    ops[p] = op
                }
                record.operations = ops
            }
            if mayAdoptOperations {
                if adoptBatch(record, leftovers: leftovers) { continue }
                if let what = leftovers?.stop(id) {
                    log.warning("job \(id): stopped \(what) left running by the previous daemon")
                }
            }
            // Through the engine, as any interrupted attempt: the finisher writes where it goes.
            send(.recovered(record))
        }
        store.commit(&sync)
        for id in cleaned { store.retire(JobFiles.record(id), from: .running) }
        // The recovered records are written before anything else happens.
        finishQueue.sync {}
        // Outputs and progress files may still be open in a process that outlived its job: never recycled.
        // Whatever else is left in running/ (outputs, journals, progress files of resolved jobs) is garbage
        // now; only the files of jobs whose state file is still there (left for an operator) stay.
        var kept = Set<String>()
        InboxReader.scan(layout.fd(.running), suffix: ".json") { batch in
            for n in batch { if let s = n.string { kept.insert(String(s.dropLast(5)) + ".") } }
        }
        InboxReader.scan(layout.fd(.running), suffix: "") { batch in
            for n in batch {
                guard let s = n.string, !kept.contains(where: { s.hasPrefix($0) }) else { continue }
                store.remove(s, from: .running)
            }
        }
    }

    /// Whether a batch's state file holds a later view of an operation than a journal line for it.
    /// The journal is usually ahead (lines are appended at each end; the state is rewritten at most
    /// twice a second, after a sync of the journal). But an end the engine took is in the engine's
    /// state a moment before its loop writes the line, so a state written in that moment may hold
    /// it while the journal's last line is the operation's durable start (`on_interrupt: fail`):
    /// that line must not turn a finished operation back into one interrupted.
    static func recordIsNewer(_ record: OperationRecord, than line: OperationRecord) -> Bool {
        record.attempts > line.attempts || (record.attempts == line.attempts && record.status.isFinished && !line.status.isFinished)
    }

    /// Live restore, or a remote queue: takes job `id` over from what its executor left (still
    /// running, or ended while no daemon ran, with its real result). False when there is nothing:
    /// it is recovered as interrupted.
    private func adopt(_ id: JobID) -> Bool {
        // Already finished (a crash after its record, before its running/ file went): nothing to adopt.
        guard !store.exists(JobFiles.record(id), in: .done),
              var record = (try? store.read(id, in: .running)) ?? nil, record.spec?.isBatch != true else { return false }
        let queue = record.spec?.effectiveQueue ?? "default"
        guard let executor: any Executor = executor(for: queue) ?? supervised else { return false }
        let isRemote = options.remoteQueues[queue] != nil
        let found = executor.find(id, paused: record.status == .paused)
        let origin: AttemptOrigin
        switch found {
        case .none: return false
        case .running(_, let o), .ended(_, let o): origin = o
        }
        if record.status == .pending || record.attempts < origin.attempt {
            // Claimed and launched, but its running record was not rewritten before the daemon went.
            record.attempts = origin.attempt
            record.startedAt = origin.startedAt ?? Timestamp.now()
            record.stdout = "running/\(JobFiles.stdout(id))"
            record.stderr = "running/\(JobFiles.stderr(id))"
            record.progress = Progress(total: 1, running: 1)
        }
        if let pid = origin.pid { record.pid = pid }
        if let executor = origin.executor { record.executor = executor }
        let key = AttemptKey(id)
        // It holds a worker: the permit is taken now (owed, if a reload left fewer workers than run).
        // A remote queue's job holds none.
        if !isRemote && slots.wait(timeout: .now()) != .success { lifecycle.withLock { $0.owedSlots += 1 } }
        send(.adopted(record))
        switch found {
        case .running(let attempt, _):
            core.withLock { $0.attempts[key] = attempt }
            watch(key, attempt, queue: queue)
        case .ended(let end, _):
            log.notice("job \(id): its attempt \(record.attempts) ended while no daemon ran")
            sendEnd(.attemptEnded(id, end, diskFull: false), queue: queue)
        case .none:
            break
        }
        return true
    }

    /// Live restore of a batch: its command operations whose attempts still run under their
    /// supervisors (or ended while no daemon ran) are taken over, and the batch goes on running;
    /// what else of it is left running is stopped. False when none is found: it is recovered as
    /// interrupted (back to pending, its finished operations kept).
    private func adoptBatch(_ record: JobRecord, leftovers: (any Leftovers)?) -> Bool {
        guard let supervised, let spec = record.spec, let specs = spec.operations else { return false }
        let id = record.id
        let ops = BatchState(spec: spec, operations: record.operations).operations
        var adopted: [AdoptedOperation] = []
        var watched: [(AttemptKey, any RunningAttempt, OperationOutputs)] = []
        for (p, op) in ops.enumerated() where !op.status.isFinished && p < specs.count {
            guard case .process = specs[p].kind else { continue }  // a built-in ran in the daemon
            let found = supervised.find(id, operation: op.index, paused: record.status == .paused)
            let origin: AttemptOrigin
            switch found {
            case .none: continue
            case .running(_, let o), .ended(_, let o): origin = o
            }
            // The attempt the record is at, or the next one (started, never recorded); an earlier
            // attempt's result is in the journal already, and its supervisor files are left over.
            guard origin.attempt == (op.status == .running ? op.attempts : op.attempts + 1) else { continue }
            let outputs = OperationOutputs(stdoutName: JobFiles.operationStdout(id, op.index), stderrName: JobFiles.operationStderr(id, op.index),
                                           attempt: origin.attempt, startedAt: origin.startedAt ?? Timestamp.now(), owner: record.owner,
                                           label: "job \(id) operations[\(op.index)]")
            var a = AdoptedOperation(position: p, attempt: origin.attempt, startedAt: origin.startedAt, state: .running)
            switch found {
            case .running(let attempt, _):
                watched.append((AttemptKey(id, operation: p), attempt, outputs))
            case .ended(let end, _):
                let (stdout, stderr) = placeOperationOutputs(outputs)
                a.state = end.teardown == .shutdown ? .interrupted
                    : .ended(Self.outcome(of: end.termination, teardown: end.teardown, label: outputs.label), stdout: stdout, stderr: stderr,
                             usage: end.usage, executor: supervised.info, endedAt: end.endedAt)
            case .none:
                continue
            }
            adopted.append(a)
        }
        guard !adopted.isEmpty else { return false }
        let kept = Set(watched.map { ops[$0.0.operation!].index })
        if let what = leftovers?.stop(id, where: { $0.map { !kept.contains($0) } ?? true }) {
            log.warning("job \(id): stopped \(what) left running by the previous daemon")
        }
        // Each running operation holds a worker: the permit is taken now (owed, if a reload left fewer workers than run).
        for _ in watched where slots.wait(timeout: .now()) != .success { lifecycle.withLock { $0.owedSlots += 1 } }
        send(.adoptedBatch(record, adopted))
        for (key, attempt, outputs) in watched {
            core.withLock { $0.attempts[key] = attempt }
            watchOperation(key, attempt, outputs, queue: record.spec?.effectiveQueue ?? "default")
        }
        return true
    }

    /// Hands pending/ to the engine: a job that only waits for its turn is parked (held by its place
    /// in line, PendingBacklog), the others are accepted with their records.
    func loadPending(now: Timestamp) {
        let began = Timestamp.now()
        var jobs: [JobRecord] = []
        var parked: [PendingBacklog.Parked] = []
        var found = 0
        var stopped = false
        InboxReader.scan(layout.fd(.pending), suffix: ".json", chunk: 4096) { names in
            // A stop during a long load: the rest stays in pending/ for the next start.
            if stopped || lifecycle.withLock({ $0.isStopping }) {
                stopped = true
                return
            }
            for name in names {
                guard let s = name.string, let id = JobID(String(s.dropLast(5))) else { continue }
                if store.exists(JobFiles.record(id), in: .done) {
                    log.warning("job \(id): found in pending/ and done/; keeping the finished record")
                    store.remove(s, from: .pending)
                    continue
                }
                do {
                    guard var r = try store.read(id, in: .pending) else { continue }
                    guard r.id == id else {
                        log.error("job \(id): pending/\(s) holds the record of job \(r.id); leaving it for an operator")
                        continue
                    }
                    if let kept = index.member(id) { r.id = kept }  // one copy of its text
                    sequence.observe(r.sequence)
                    if let p = Engine.parkable(r, now: now) { parked.append(p) } else { jobs.append(r) }
                } catch {
                    log.error("job \(id): pending/\(s) is unreadable (\(error)); leaving it for an operator")
                }
            }
            // Handed over a chunk at a time: a million entries in one array would be 50 MB more at once.
            found += parked.count
            send(.parkedAtStart(parked, last: false))
            parked.removeAll(keepingCapacity: true)
        }
        send(.parkedAtStart([], last: true))
        accept(jobs)
        found += jobs.count
        if found > 0 {
            log.info("spoold: \(plural(found, "pending job")) loaded from pending/ in \(String(format: "%.2f", Timestamp.now().seconds - began.seconds)) s")
        }
    }
}
