// The plan of a single command or shell job's attempt, for the executor (Execution/).
import Foundation

extension Daemon {
    /// The plan for a single command or shell job.
    func plan(for record: JobRecord) -> ProcessPlan? {
        guard let spec = record.spec, !spec.isBatch else { return nil }
        return ProcessPlan(id: record.id, action: spec.action, cwd: spec.cwd, env: spec.env ?? [:], attempt: record.attempts,
                           stdoutName: JobFiles.stdout(record.id), stderrName: JobFiles.stderr(record.id), label: "job \(record.id)",
                           owner: record.owner, timeoutSeconds: spec.timeoutSeconds)
    }
}
