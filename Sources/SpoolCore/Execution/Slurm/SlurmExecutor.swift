// The Slurm executor (SPEC §9): every attempt of a `"executor": "slurm"` queue is one Slurm batch
// job. What runs on the node is this same program as a wrapper (`spoold supervise --stem`, the
// supervisor of live restore): the job in its own process group, `timeout_seconds` and the kill
// grace counted from its own start, outputs written into the shared spool, the result written
// atomically and durably into running/ before it exits. Slurm's `--time` is only a backstop.
//
// The order that makes a restart safe: the submission file with a fresh name token is made
// durable, then sbatch runs with `--job-name=TOKEN`, then Slurm's id is added to the file. A
// daemon that dies anywhere in between finds the job by name (`find`) and adopts it; a token that
// Slurm never saw means the job was never submitted. Ends are learnt by one poller (SlurmPoller)
// from the result files, and from squeue for jobs that ended without one (node failure,
// preemption, a cancel before the start).
import Foundation

final class SlurmExecutor: Executor {
    let store: StateStore
    let commands: SlurmCommands
    private let environment: [String: String]
    private let grace: @Sendable () -> Double
    /// sbatch arguments per queue (`sbatch_args`).
    private let queues: [String: RemoteQueue]
    /// This daemon's own binary: the wrapper on the node (the spool's filesystem, or the same path there).
    private let program: String
    let poller: SlurmPoller
    private let cancels = DispatchQueue(label: "spoold.slurm.scancel")

    init(store: StateStore, commands: SlurmCommands, environment: [String: String], queues: [String: RemoteQueue],
         grace: @escaping @Sendable () -> Double, log: Log) {
        self.store = store
        self.commands = commands
        self.environment = environment
        self.queues = queues
        self.grace = grace
        program = OwnExecutable.path
        poller = SlurmPoller(commands: commands, runningFD: store.layout.fd(.running), log: log)
    }

    var info: ExecutorInfo { ExecutorInfo(type: "slurm") }
    private var dir: Int32 { store.layout.fd(.running) }

    func leftovers() -> any Leftovers { SlurmLeftovers(executor: self) }

    func start(_ plan: ProcessPlan) -> Result<any RunningAttempt, SpoolError> {
        let id = plan.id
        let subName = SlurmSubmission.name(id, operation: plan.operation)
        let stem = SlurmSubmission.stem(id, operation: plan.operation, attempt: plan.attempt)
        for name in SupervisorFiles.all(stem: stem) + [stem + ".out"] { unlinkat(dir, name, 0) }  // an earlier try's
        var submission = SlurmSubmission(token: SlurmSubmission.newToken(), attempt: plan.attempt, stem: stem,
                                         submittedAt: Timestamp.now(), jobID: nil)
        do {
            try SupervisorFiles.write(SupervisedPlan(plan, environment: environment, killGraceSeconds: grace(),
                                                     privacy: store.privacy.withLock { $0 }),
                                      name: SupervisorFiles.plan(stem: stem), dirFD: dir, durable: false)
            // Durable before sbatch (it makes the plan durable too: same folder, fsynced after it).
            try SupervisorFiles.write(submission, name: subName, dirFD: dir, durable: true)
        } catch {
            return .failure(SpoolError(.spawnFailed, "\(plan.label): cannot write its Slurm submission: \(error)"))
        }
        FaultInjection.hit(.beforeSubmit)
        let o = commands.run(commands.sbatch, sbatchArguments(plan, token: submission.token, stem: stem))
        guard o.status == 0, let jobID = o.stdout.split(separator: "\n").first.map({ String($0.split(separator: ";")[0]) }),
              !jobID.isEmpty, jobID.allSatisfy(\.isNumber) else {
            unlinkat(dir, subName, 0)
            for name in SupervisorFiles.all(stem: stem) { unlinkat(dir, name, 0) }
            return .failure(SpoolError(.spawnFailed, "\(plan.label): sbatch refused it: \(o.reason)"))
        }
        FaultInjection.hit(.afterSubmit)
        submission.jobID = jobID
        try? SupervisorFiles.write(submission, name: subName, dirFD: dir, durable: false)  // the token alone finds it again
        return .success(SlurmAttempt(id: id, submission: submission, executor: self, operation: plan.operation))
    }

    /// The sbatch command line of one attempt (resources as SPEC §3, the queue's own arguments last so they win).
    func sbatchArguments(_ plan: ProcessPlan, token: String, stem: String) -> [String] {
        let running = store.layout.path(.running)
        // --no-requeue: Slurm must never run an attempt again by itself (after a node failure):
        // spoold decides, by on_interrupt, and an `on_interrupt: fail` job never runs twice.
        var args = ["--parsable", "--job-name=\(token)", "--output=\(running)/\(stem).out", "--open-mode=append",
                    "--chdir=\(store.layout.root)", "--no-requeue"]
        if let timeout = plan.timeoutSeconds {
            // Minute-grained, so only a backstop: the wrapper stops the job to the second.
            args.append("--time=\(Int(((timeout + grace() + 60) / 60).rounded(.up)))")
        }
        if let cpus = plan.resources?.cpus { args.append("--cpus-per-task=\(cpus)") }
        if let mb = plan.resources?.memoryMB { args.append("--mem=\(mb)") }
        if let gpus = plan.resources?.gpus, gpus > 0 { args.append("--gres=gpu:\(gpus)") }
        args += queues[plan.queue]?.sbatchArgs ?? []
        let wrap = [program, "supervise", "--spool", store.layout.root, "--id", plan.id.rawValue, "--stem", stem]
            .map(Self.shellQuoted).joined(separator: " ")
        args.append("--wrap=exec \(wrap)")
        return args
    }

    static func shellQuoted(_ s: String) -> String {
        "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }

    /// Job `id`'s command attempt as an earlier daemon left it: still queued or running on the
    /// cluster (adopted), ended with a result, or never submitted.
    func find(_ id: JobID, paused: Bool) -> FoundAttempt {
        let subName = SlurmSubmission.name(id, operation: nil)
        guard let sub = SupervisorFiles.read(SlurmSubmission.self, name: subName, dirFD: dir) else { return .none }
        var origin = AttemptOrigin(attempt: sub.attempt, startedAt: sub.submittedAt, pid: nil,
                                   executor: ExecutorInfo(type: "slurm", jobID: sub.jobID))
        if let result = SupervisorFiles.read(SupervisorResult.self, name: SupervisorFiles.result(stem: sub.stem), dirFD: dir) {
            if let info = SupervisorFiles.read(SupervisorInfo.self, name: SupervisorFiles.supervisor(stem: sub.stem), dirFD: dir) {
                origin.startedAt = info.startedAt
                origin.executor?.host = info.host
            }
            return .ended(result.end, origin)
        }
        guard let listed = commands.list([sub.token]) else {
            // The controller does not answer: the job may be alive. Watched until it does, never submitted again.
            return .running(SlurmAttempt(id: id, submission: sub, executor: self), origin)
        }
        guard let job = listed[sub.token] else {
            if sub.jobID == nil {
                unlinkat(dir, subName, 0)
                return .none  // sbatch never took it: the attempt never began, and is recovered as interrupted
            }
            // Submitted, but Slurm has forgotten it (MinJobAge passed) without a result: interrupted.
            return .ended(AttemptEnd(termination: .signaled(SIGKILL), teardown: .shutdown, usage: nil), origin)
        }
        var known = sub
        known.jobID = job.jobID
        origin.executor = ExecutorInfo(type: "slurm", jobID: job.jobID)
        return .running(SlurmAttempt(id: id, submission: known, executor: self), origin)
    }

    /// Asks Slurm to stop job `jobID` (or, before sbatch answered, the job named `token`).
    func cancel(jobID: String?, token: String) {
        cancels.async { [commands] in
            _ = commands.run(commands.scancel, jobID.map { [$0] } ?? ["--name=\(token)"])
        }
    }

    /// Removes the files of job `id`'s last Slurm attempt (`operation`: of that operation), once its
    /// end is durable: for a command job after its record is written (until then they are what a
    /// restart finds it by), for an operation as it ends (a restarted batch reruns running ones).
    func cleanUp(_ id: JobID, operation: Int?) {
        let subName = SlurmSubmission.name(id, operation: operation)
        guard let sub = SupervisorFiles.read(SlurmSubmission.self, name: subName, dirFD: dir) else { return }
        for name in SupervisorFiles.all(stem: sub.stem) + [sub.stem + ".out"] { unlinkat(dir, name, 0) }
        unlinkat(dir, subName, 0)
    }

    /// The last lines the wrapper (or Slurm) wrote to the job's own output, for a message.
    func wrapperOutput(stem: String) -> String? {
        let fd = openat(dir, stem + ".out", O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        guard let read = readUpTo(fd, limit: 1 << 16) else { return nil }
        let lines = String(decoding: read.bytes, as: UTF8.self).split(separator: "\n").suffix(3)
        return lines.isEmpty ? nil : lines.joined(separator: " / ")
    }
}

/// Slurm jobs of a job an earlier daemon left behind and that will not be adopted (batch
/// operations: the batch is requeued): cancelled, so that they cannot run beside their rerun.
struct SlurmLeftovers: Leftovers {
    let executor: SlurmExecutor

    func stop(_ id: JobID) -> String? {
        var subs: [SlurmSubmission] = []
        InboxReader.scan(executor.store.layout.fd(.running), suffix: ".sub") { names in
            for n in names {
                guard let s = n.string, SlurmSubmission.isSubmission(s, of: id),
                      let sub = SupervisorFiles.read(SlurmSubmission.self, name: s, dirFD: executor.store.layout.fd(.running)) else { continue }
                subs.append(sub)
            }
        }
        guard !subs.isEmpty else { return nil }
        let listed = executor.commands.list(subs.map(\.token)) ?? [:]
        let alive = subs.compactMap { sub in listed[sub.token].flatMap { SlurmCommands.finished.contains($0.state) ? nil : $0.jobID } }
        guard !alive.isEmpty else { return nil }
        _ = executor.commands.run(executor.commands.scancel, alive)
        return "Slurm job\(alive.count == 1 ? "" : "s") \(alive.joined(separator: ", ")) (scancel)"
    }
}
