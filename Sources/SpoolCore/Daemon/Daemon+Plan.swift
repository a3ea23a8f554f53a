// The plan of a single command or shell job's attempt, for the executor (Execution/), and the
// devices (GPUs) a run was given.
import Foundation

extension Daemon {
    /// The plan for a single command or shell job.
    func plan(for record: JobRecord) -> ProcessPlan? {
        guard let spec = record.spec, !spec.isBatch else { return nil }
        return ProcessPlan(id: record.id, action: spec.action, cwd: spec.cwd, env: spec.env ?? [:], attempt: record.attempts,
                           stdoutName: JobFiles.stdout(record.id), stderrName: JobFiles.stderr(record.id),
                           extraEnv: deviceEnvironment(for: .job(record.id)), label: "job \(record.id)",
                           owner: record.owner, timeoutSeconds: spec.timeoutSeconds)
    }

    /// CUDA_VISIBLE_DEVICES when the spool has GPUs: the ones the scheduler gave this run, or
    /// none (an empty list) for a run that asked for none, so that it cannot use another's.
    func deviceEnvironment(for item: WorkItem) -> [String: String] {
        guard !options.gpus.isEmpty else { return [:] }
        return ["CUDA_VISIBLE_DEVICES": scheduler.withLock { $0.gpus(of: item) }.joined(separator: ",")]
    }
}
