// Running as a service (SPEC §6): sd_notify (READY, STATUS, WATCHDOG from a timer that stops
// when the queues stall, RELOADING/READY around a reload, STOPPING), metrics.prom and stats.json
// rewritten every few seconds, the timers of retention and ttl (Daemon+Retention.swift), the
// free-space floor for intake,
// and SIGHUP: the configuration is read again and what can change live does; a bad file keeps
// the old settings and says why.
import Foundation

extension Daemon {
    /// "3 running, 12 pending" (+ waiting, paused) for STATUS= and logs.
    func statusLine() -> String {
        let (running, pending, _) = core.withLock { $0.engine.counts }
        var parts = ["\(running) running", "\(pending) pending"]
        if lifecycle.withLock({ $0.lowSpaceLogged || $0.diskFullLogged }) { parts.append("intake paused: low disk space") }
        if pauseFiles.spoolPaused(layout, access: options.intake.access, log: log) { parts.append("spool paused") }
        return parts.joined(separator: ", ")
    }

    func startServiceTimers() {
        var made: [any DispatchSourceProtocol] = []
        let metricsTimer = DispatchSource.makeTimerSource(queue: timerQueue)
        let interval = max(0.5, options.metricsIntervalSeconds)
        metricsTimer.schedule(deadline: .now(), repeating: interval, leeway: .milliseconds(200))
        metricsTimer.setEventHandler { @Sendable [self] in
            writeMetrics()
            _ = notify.status(statusLine())
        }
        metricsTimer.resume()
        made.append(metricsTimer)

        if let every = notify.watchdogInterval {
            let watchdog = DispatchSource.makeTimerSource(queue: timerQueue)
            watchdog.schedule(deadline: .now(), repeating: every, leeway: .milliseconds(100))
            // The ping has to pass through the intake and finish queues: if either stalls, it stops.
            watchdog.setEventHandler { @Sendable [self] in
                intakeQueue.async { [self] in finishQueue.async { [self] in _ = notify.watchdog() } }
            }
            watchdog.resume()
            made.append(watchdog)
        }

        let retention = DispatchSource.makeTimerSource(queue: finishQueue)
        retention.schedule(deadline: .now() + 2, repeating: 60, leeway: .seconds(5))
        retention.setEventHandler { @Sendable [self] in pruneExpiredRecords() }
        retention.resume()
        made.append(retention)

        // ttl_seconds promises removal at most a minute late: a sweep every 10 s is well inside it.
        let ttl = DispatchSource.makeTimerSource(queue: finishQueue)
        ttl.schedule(deadline: .now() + 1, repeating: 10, leeway: .seconds(1))
        ttl.setEventHandler { @Sendable [self] in removeDueRecords() }
        ttl.resume()
        made.append(ttl)
        DispatchQueue.global(qos: .utility).async { [self] in loadExpiries() }
        sources.withLock { $0 += made }
    }

    /// metrics.prom and stats.json, written atomically (tmp + rename) and readable by node_exporter.
    func writeMetrics() {
        let counts = core.withLock { $0.engine.countsPerQueue() }
        let intakePaused = isIntakeStopped
        let snapshot = metrics.withLock { m -> SpoolMetrics in
            m.setJobCounts(counts)
            m.isIntakePaused = intakePaused
            return m
        }
        do {
            try store.writeRootFile(Array(snapshot.prometheusText().utf8), name: "metrics.prom")
            try store.writeRootFile(snapshot.statsJSON(), name: "stats.json")
        } catch {
            log.warning("metrics: cannot write metrics.prom/stats.json: \(error)")
        }
    }

    /// Counts a job's end in the metrics.
    func recordFinished(_ r: JobRecord) {
        history?.recordFinished(r)
        if ExpirySchedule.expiry(of: r) != nil { expiries.withLock { $0.add(r) } }
        metrics.withLock { m in
            if r.status == .rejected {
                m.recordRejected(code: r.error?.code ?? .invalidJob)
            } else {
                m.recordFinished(status: r.status, queue: r.spec?.effectiveQueue ?? "default", duration: r.durationSeconds)
            }
        }
    }

    /// False (and intake paused, with a warning) while free space is under the configured floor.
    func hasFreeSpace() -> Bool {
        let floor = options.minFreeBytes
        guard floor > 0 else { return true }
        var vfs = statvfs()
        guard statvfs(layout.root, &vfs) == 0 else { return true }
        let free = Int(vfs.f_bavail) * Int(vfs.f_frsize)
        let low = free < floor
        let (wasLow, changed) = lifecycle.withLock { l -> (Bool, Bool) in
            defer { l.lowSpaceLogged = low }
            return (l.lowSpaceLogged, l.lowSpaceLogged != low)
        }
        if changed {
            if low {
                log.warning("intake: only \(free) bytes free on the spool's filesystem, under the floor of \(floor) (min_free_bytes); intake paused, files stay in the inbox")
            } else if wasLow {
                log.notice("intake: \(free) bytes free again; intake resumed")
            }
            _ = notify.status(statusLine())
        }
        if low {
            intakeQueue.asyncAfter(deadline: .now() + 2) { [self] in rescanInbox() }
        }
        return !low
    }

    /// SIGHUP: read the configuration again; apply what can change live, log what cannot.
    /// RELOADING=1 and its READY=1 only between the start-up's READY=1 and STOPPING=1: before, the
    /// start-up has yet to say it is ready; after, a READY=1 would tell systemd a stopping daemon
    /// runs again. Told under `notifyOrder`, as the start-up's and `beginStop`'s are.
    func reload() {
        let announced = notifyOrder.withLock { _ -> Bool? in
            let (stopping, ready) = lifecycle.withLock { ($0.isStopping, $0.isReady) }
            guard !stopping else { return nil }
            guard ready else { return false }
            _ = notify.reloading(status: "reloading configuration")
            return true
        }
        guard let announced else {
            log.notice("reload: SIGHUP ignored: the daemon is stopping")
            return
        }
        defer {
            if announced {
                let status = statusLine()
                notifyOrder.withLock { _ in
                    if !lifecycle.withLock({ $0.isStopping }) { _ = notify.ready(status: status) }
                }
            }
        }
        let old = options
        var next: DaemonOptions
        do {
            guard let n = try DaemonOptions.resolve(old.commandLine) else { return }
            next = n
        } catch {
            log.error("reload: \(error); keeping the previous configuration")
            return
        }
        let oldConfig = old.config ?? DaemonConfig()
        let newConfig = next.config ?? DaemonConfig()
        var (applied, restart) = newConfig.liveChanges(from: oldConfig)
        // Where a queue's jobs run is fixed for the daemon's life: its running jobs were handed there.
        if next.remoteQueues != old.remoteQueues {
            restart.append("queues' executor and sbatch_args")
            next.remoteQueues = old.remoteQueues
            next.intake.limits.remoteQueues = old.intake.limits.remoteQueues
        }
        settings.withLock { o in
            var n = next
            n.durable = o.durable      // fixed for the daemon's life
            n.drain = o.drain
            o = n
        }
        log.minimum = next.logLevel
        intake.update(config: next.intake)
        store.privacy.withLock { $0 = ResultPrivacy(access: next.intake.access) }
        send(.reload(queueLimits: next.queueLimits, workers: next.workers))
        resizeWorkers(to: max(1, next.workers))
        if next.rescanSeconds != old.rescanSeconds, let rescan = rescanTimer.withLock({ $0 }) {
            Self.schedule(rescan: rescan, every: next.rescanSeconds)
        }
        history?.configure(workers: max(1, next.workers), queueLimits: next.queueLimits)
        if !restart.isEmpty { log.warning("reload: \(restart.joined(separator: ", ")) change only after a restart") }
        log.notice("reload: configuration read from \(next.configPath ?? "-"); \(applied.isEmpty ? "nothing changed" : "applied: " + applied.joined(separator: ", "))")
    }

    /// Grows or shrinks the worker semaphore. Shrinking leaves permits owed: the dispatcher, the
    /// semaphore's only waiter, drops that many as running work gives them back (and an end that
    /// would hand its permit on drops it instead when one is owed: a loop of built-ins,
    /// Daemon+Builtins.swift; a command job's end, `endHandingOn`).
    private func resizeWorkers(to target: Int) {
        let release = lifecycle.withLock { l -> Int in
            defer { l.workers = target }
            if target >= l.workers {
                let grow = target - l.workers
                let repaid = min(grow, l.owedSlots)  // a shrink not yet carried out is undone first
                l.owedSlots -= repaid
                return grow - repaid
            }
            l.owedSlots += l.workers - target
            return 0
        }
        for _ in 0..<release { slots.signal() }
    }

    /// True (and one fewer owed) when a permit just got or freed is owed to a shrink.
    func payOwedSlot() -> Bool {
        lifecycle.withLock { l in
            guard l.owedSlots > 0 else { return false }
            l.owedSlots -= 1
            return true
        }
    }
}
