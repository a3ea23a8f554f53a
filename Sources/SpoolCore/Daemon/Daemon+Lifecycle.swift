// Signals and shutdown. SIGTERM/SIGINT: stop intake and starts, give running jobs the shutdown
// grace period, then stop their groups (SIGTERM, SIGKILL after the kill grace) and put them back
// by `on_interrupt`; exit 0 once every job has a durable record. A second SIGTERM/SIGINT skips
// the grace period. Timers: the --drain check, the safety-net rescan, running-state updates.
import Foundation

extension Daemon {
    func installSignalHandlers() {
        // SIGIO: a lease break (SparePool) must never kill the daemon; the lease is released at once anyway.
        for sig in [SIGTERM, SIGINT, SIGHUP, SIGPIPE, SIGIO] { signal(sig, SIG_IGN) }
        var made: [any DispatchSourceProtocol] = []
        for sig in [SIGTERM, SIGINT] {
            let s = DispatchSource.makeSignalSource(signal: sig, queue: timerQueue)
            s.setEventHandler { @Sendable [self] in shutdownRequested(by: sig) }
            s.resume()
            made.append(s)
        }
        let hup = DispatchSource.makeSignalSource(signal: SIGHUP, queue: timerQueue)
        hup.setEventHandler { @Sendable [self] in reload() }
        hup.resume()
        made.append(hup)
        sources.withLock { $0 += made }
    }

    func shutdownRequested(by sig: Int32) {
        let name = sig == SIGTERM ? "SIGTERM" : "SIGINT"
        let again = lifecycle.withLock { l -> Bool in
            defer { l.isStopping = true }
            return l.isStopping
        }
        if again {
            log.notice("spoold: \(name) again: stopping running jobs now")
            tearDownRunningJobs()
            return
        }
        beginStop(reason: name)
    }

    /// Stops intake and starts; running jobs get the grace period.
    func beginStop(reason: String) {
        lifecycle.withLock { $0.isStopping = true }
        _ = notify.stopping(status: "stopping (\(reason)): \(statusLine())",
                            expectedSeconds: options.shutdownGraceSeconds + options.killGraceSeconds + 5)
        watcher.withLock { w in
            w?.cancel()
            w = nil
        }
        scheduler.update { $0.stopRequested() }
        stopBatches()
        let running = scheduler.withLock { $0.runningCount }
        if running == 0 {
            // Let any batch in the finisher land first.
            finishQueue.async { [self] in
                log.info("spoold: \(reason): no job running; exiting")
                exit(0)
            }
            return
        }
        log.info("spoold: \(reason): stopping; \(options.shutdownGraceSeconds) s of grace for \(runningSummary()) to finish")
        timerQueue.asyncAfter(deadline: .now() + options.shutdownGraceSeconds) { [self] in tearDownRunningJobs() }
    }

    /// "2 running jobs" or "1 running job (a batch with 3 operations running)": a batch's
    /// operations are not jobs.
    func runningSummary() -> String {
        let (count, batches, operations) = jobs.withLock { j in
            (j.count, j.values.filter { $0.batch != nil }.count, j.values.reduce(0) { $0 + ($1.batch?.runningCount ?? 0) })
        }
        var text = plural(count, "running job")
        if batches > 0 { text += " (\(plural(batches, "batch", "batches")) with \(plural(operations, "operation")) running)" }
        return text
    }

    /// Stops every running job's group; they end as interrupted.
    func tearDownRunningJobs() {
        lifecycle.withLock { $0.isTearingDown = true }
        let attempts = jobs.withLock { $0.values.flatMap(\.attempts) }
        if !attempts.isEmpty {
            log.notice("spoold: stopping \(runningSummary()) (\(plural(attempts.count, "attempt")): SIGTERM, SIGKILL after \(options.killGraceSeconds) s)")
        }
        for a in attempts { a.tearDown(.shutdown) }
    }

    func startTimers() {
        let rescan = DispatchSource.makeTimerSource(queue: intakeQueue)
        rescan.schedule(deadline: .now() + options.rescanSeconds, repeating: options.rescanSeconds, leeway: .seconds(1))
        rescan.setEventHandler { @Sendable [self] in
            rescanInbox()
            rescanControl()
        }
        rescan.resume()

        let writer = DispatchSource.makeTimerSource(queue: finishQueue)
        writer.schedule(deadline: .now() + 0.5, repeating: 0.5, leeway: .milliseconds(100))
        writer.setEventHandler { @Sendable [self] in writeRunningStates() }
        writer.resume()
        var made: [any DispatchSourceProtocol] = [rescan, writer]

        if options.drain {
            let drain = DispatchSource.makeTimerSource(queue: intakeQueue)
            drain.schedule(deadline: .now() + 0.05, repeating: 0.05, leeway: .milliseconds(20))
            drain.setEventHandler { @Sendable [self] in
                guard !lifecycle.withLock({ $0.isStopping }), isSpoolIdle() else { return }
                log.info("spoold: drained: inbox, pending and running are empty")
                beginStop(reason: "--drain")
            }
            drain.resume()
            made.append(drain)
        }
        sources.withLock { $0 += made }
    }

    /// Keeps live output files under max_output_bytes while their jobs run.
    private func capRunningOutputs() {
        guard let cap = options.maxOutputBytes else { return }
        let names = jobs.withLock { j -> [String] in
            var out: [String] = []
            for (id, job) in j {
                if job.attempt != nil { out += [JobFiles.stdout(id), JobFiles.stderr(id)] }
                for i in job.operationAttempts.keys {
                    let shown = job.batch?.operations[i].index ?? i  // output files carry the job file's index
                    out += [JobFiles.operationStdout(id, shown), JobFiles.operationStderr(id, shown)]
                }
            }
            return out
        }
        for n in names { OutputCap.apply(dirFD: layout.fd(.running), name: n, limit: cap) }
    }

    /// Rewrites running/<id>.json for jobs that have run a while and have news (status, pid);
    /// short jobs never pay for it. Runs on the finish queue, so it never races a final record.
    func writeRunningStates(force: JobID? = nil) {
        let now = Timestamp.now()
        readProgressFiles()
        capRunningOutputs()
        // The room each running batch really has, for its eta: worked out here, at most twice a
        // second, not at every operation's start and end.
        let batches = jobs.withLock { j in
            j.compactMap { e in e.value.batch != nil && e.value.isDirty ? (e.key, e.value.record.spec) : nil }
        }
        let room = batches.isEmpty ? [:] : scheduler.withLock { s in
            Dictionary(uniqueKeysWithValues: batches.map { id, spec in
                (id, s.room(for: id, queue: spec?.effectiveQueue ?? "default", cpus: spec?.effectiveCPUs ?? 1))
            })
        }
        let (due, journals, moved) = jobs.withLock { j -> ([JobRecord], [BatchJournal], [JobRecord]) in
            var out: [JobRecord] = []
            var moved: [JobRecord] = []  // progress changed since the last progress event
            for (id, job) in j where job.isDirty && (job.attempt != nil || job.batch != nil) {
                guard let started = job.record.startedAt, now.seconds - started.seconds >= 0.25 || id == force else { continue }
                j[id]?.isDirty = false
                j[id]?.stateWrites += 1
                if let room = room[id], j[id]?.batch != nil {
                    j[id]!.batch!.capacity = room
                    j[id]!.record.progress = j[id]!.batch!.progress(message: job.record.progress.message)
                }
                let job = j[id]!
                if job.progressEmitted != job.record.progress {
                    j[id]?.progressEmitted = job.record.progress
                    moved.append(job.record)
                }
                var record = job.record
                if let batch = job.batch { record.operations = batch.operations }  // materialized only here
                out.append(record)
            }
            return (out, j.values.compactMap(\.journal), moved)
        }
        // At most as often as the running states are written (twice a second), while progress changes.
        for r in moved { emitProgress(r) }
        for journal in journals { journal.sync() }
        guard !due.isEmpty else { return }
        var sync = DirectorySync()
        for r in due {
            // Only if the job is still in running/ (its end may be queued but not yet written).
            guard store.exists(JobFiles.record(r.id), in: .running) else { continue }
            do { try store.write(r, to: .running, sync: &sync) } catch {
                log.warning("job \(r.id): cannot update running/\(r.id).json: \(error)")
            }
        }
        try? store.commit(&sync)
    }
}
