// What spoold keeps in running/ about one Slurm submission: `<id>.slurm.job.sub` for a command
// job, `<id>.slurm.op<N>.sub` for a batch operation. It is written durably BEFORE sbatch runs,
// with the name token the job is submitted under, so that a daemon that dies anywhere around
// sbatch finds the job again by that name (`squeue --name=TOKEN`) and never submits it twice;
// Slurm's job id is added once sbatch has answered. The wrapper's own files (plan, result) are
// named after `stem` (Supervisor.swift, SupervisorFiles.swift).
import Foundation

struct SlurmSubmission: Codable, Sendable {
    /// The Slurm job name: unique per attempt, random, so that no other submission carries it.
    var token: String
    var attempt: Int
    /// Stem of the wrapper's files in running/ (`<id>.slurm.job.<attempt>`).
    var stem: String
    var submittedAt: Timestamp
    /// Slurm's job id, once sbatch has printed it.
    var jobID: String?

    enum CodingKeys: String, CodingKey {
        case token, attempt, stem
        case submittedAt = "submitted_at"
        case jobID = "job_id"
    }

    /// The submission file of job `id`'s command attempt, or of its operation `operation`.
    static func name(_ id: JobID, operation: Int?) -> String {
        "\(id.rawValue).slurm.\(operation.map { "op\($0)" } ?? "job").sub"
    }

    /// Every submission file of job `id` in a listing of running/.
    static func isSubmission(_ name: String, of id: JobID) -> Bool {
        name.hasPrefix("\(id.rawValue).slurm.") && name.hasSuffix(".sub")
    }

    static func stem(_ id: JobID, operation: Int?, attempt: Int) -> String {
        "\(id.rawValue).slurm.\(operation.map { "op\($0)" } ?? "job").\(attempt)"
    }

    /// A fresh token: `spoold-` and 16 random hex digits.
    static func newToken() -> String {
        "spoold-" + String(UInt64.random(in: 0...UInt64.max), radix: 16).leftPadded(to: 16)
    }
}

private extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
