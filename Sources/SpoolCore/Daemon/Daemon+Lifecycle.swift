// Signals and shutdown. SIGTERM/SIGINT: stop intake and hand the engine the shutdown (no new
// starts; running jobs get the grace period, then are stopped and put back by `on_interrupt`);
// exit 0 once every job has a durable record. A second SIGTERM/SIGINT skips the grace period.
// Timers: the --drain check, the safety-net rescan, running-state updates.
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
        signalSources.withLock { $0 += made }
    }

    /// Waits (at most 2 s) until libdispatch has put its handlers in place of SIG_IGN for the signals
    /// the daemon acts on. It does that on its manager thread some time after `resume()`, and a signal
    /// that comes before is discarded (SIG_IGN): a SIGHUP sent as soon as the daemon said it was
    /// ready was lost on a loaded machine (ServiceTests.reloadWorkers, in CI). So "ready" is said only
    /// once they are caught (/proc/self/status, SigCgt).
    func awaitSignalHandlers() {
        let wanted = [SIGTERM, SIGINT, SIGHUP].reduce(UInt64(0)) { $0 | (UInt64(1) << UInt64($1 - 1)) }
        let deadline = Date().addingTimeInterval(2)
        while let caught = Self.caughtSignals(), caught & wanted != wanted {
            guard Date() < deadline else {
                log.warning("spoold: signal handlers not in place after 2 s; a signal sent now may be lost")
                return
            }
            usleep(1000)
        }
    }

    /// The signals this process catches (SigCgt of /proc/self/status); nil where it cannot be read.
    static func caughtSignals() -> UInt64? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("SigCgt:") })
        else { return nil }
        return UInt64(line.dropFirst("SigCgt:".count).trimmingCharacters(in: .whitespaces), radix: 16)
    }

    func shutdownRequested(by sig: Int32) {
        let name = sig == SIGTERM ? "SIGTERM" : "SIGINT"
        let again = lifecycle.withLock { l -> Bool in
            defer { l.isStopping = true }
            return l.isStopping
        }
        if again {
            log.notice("spoold: \(name) again: stopping running jobs now")
            send(.tearDown)
            return
        }
        beginStop(reason: name)
    }

    /// Stops intake and starts; running jobs get the grace period, then are stopped (SIGTERM,
    /// SIGKILL after the kill grace) and put back by `on_interrupt`.
    func beginStop(reason: String) {
        let status = "stopping (\(reason)): \(statusLine())"
        let expected = options.shutdownGraceSeconds + options.killGraceSeconds + 5
        notifyOrder.withLock { _ in
            lifecycle.withLock { $0.isStopping = true }
            _ = notify.stopping(status: status, expectedSeconds: expected)
        }
        watcher.withLock { w in
            w?.cancel()
            w = nil
        }
        send(.shutdown(reason: reason, graceSeconds: options.shutdownGraceSeconds))
    }

    func startTimers() {
        let rescan = DispatchSource.makeTimerSource(queue: intakeQueue)
        Self.schedule(rescan: rescan, every: options.rescanSeconds)
        rescan.setEventHandler { @Sendable [self] in
            rescanInbox()
            rescanControl()
            sweepControlAnswers(now: Timestamp.now())
        }
        rescan.resume()
        rescanTimer.withLock { $0 = rescan }

        let writer = DispatchSource.makeTimerSource(queue: finishQueue)
        writer.schedule(deadline: .now() + 0.5, repeating: 0.5, leeway: .milliseconds(100))
        writer.setEventHandler { @Sendable [self] in writeRunningStates() }
        writer.resume()
        var made: [any DispatchSourceProtocol] = [rescan, writer]

        if options.drain {
            // Also looked at once ready (run()) and as each batch of records is written (finishBatch);
            // the timer is for what ends otherwise (a rejected file).
            let drain = DispatchSource.makeTimerSource(queue: intakeQueue)
            drain.schedule(deadline: .now() + 0.05, repeating: 0.05, leeway: .milliseconds(20))
            drain.setEventHandler { @Sendable [self] in drainIfIdle() }
            drain.resume()
            made.append(drain)
        }
        sources.withLock { $0 += made }
    }

    /// --drain: stops once the spool is idle (on the intake queue, which moves files into it), and
    /// only after READY=1 and the start-up load of pending/.
    func drainIfIdle() {
        guard lifecycle.withLock({ $0.isReady && $0.isLoaded && !$0.isStopping }), isSpoolIdle() else { return }
        log.info("spoold: drained: inbox, pending and running are empty")
        beginStop(reason: "--drain")
    }

    /// Sets the period of the inbox and control/ rescan: the safety net where inotify works, and
    /// what finds files other hosts drop on a network filesystem, where it does not (SpoolFilesystem).
    /// The leeway is a tenth of the period, at most a second, so a short period stays short.
    static func schedule(rescan: any DispatchSourceTimer, every seconds: Double) {
        let leeway = DispatchTimeInterval.milliseconds(Int(min(1.0, seconds / 10) * 1000))
        rescan.schedule(deadline: .now() + seconds, repeating: seconds, leeway: leeway)
    }

    /// Keeps live output files under max_output_bytes while their jobs run.
    private func capRunningOutputs() {
        guard let cap = options.maxOutputBytes else { return }
        let attempts = core.withLock { $0.engine.runningAttempts() }
        for a in attempts {
            OutputCap.apply(dirFD: layout.fd(.running), name: a.stdout, limit: cap)
            OutputCap.apply(dirFD: layout.fd(.running), name: a.stderr, limit: cap)
        }
    }

    /// Rewrites running/<id>.json for jobs that have run a while and have news (status, pid,
    /// progress); short jobs never pay for it. Runs on the finish queue, so it never races a final record.
    func writeRunningStates() {
        let now = Timestamp.now()
        readProgressFiles()
        capRunningOutputs()
        let (due, progressed) = core.update { $0.engine.runningStates(now: now) }
        // At most as often as the running states are written (twice a second), while progress changes.
        for (id, progress) in progressed { emitProgress(id, progress) }
        // Synced before the states below are written. (An operation's end the engine took a moment
        // ago may be in a state and not yet in its journal: its loop writes the line just after.)
        for journal in journals.withLock({ Array($0.values) }) { journal.sync() }
        writeRunningRecords(due)
    }
}
