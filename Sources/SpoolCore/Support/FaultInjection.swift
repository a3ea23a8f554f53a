// Crash-anywhere testing. When SPOOLD_CRASH_AT names a point ("after_tmp_write", or
// "after_tmp_write:3" for its third hit), the daemon kills itself with SIGKILL right there, as a
// power cut or OOM kill would. Unset, a hit is one load of a constant. Features add their own
// points to `CrashPoint`; the crash tests walk every case.
// Failing syncs: SPOOLD_FAIL_FSYNC=<kind>[:<n>] (kind: file, folder, syncfs, journal, supervisor or
// any; see `SyncKind`; each process counts its own) makes the n-th sync of that kind fail with EIO instead of being made.
import Foundation

/// A named step of a state transition where a test may make the daemon die.
public enum CrashPoint: String, CaseIterable, Sendable {
    // Durable writes (AtomicFile).
    case afterTmpWrite = "after_tmp_write"
    case afterTmpFsync = "after_tmp_fsync"
    case afterRename = "after_rename"
    case afterDirFsync = "after_dir_fsync"
    // Intake.
    case afterClaim = "after_claim"
    case beforeClaimRemoved = "before_claim_removed"
    case afterRejectRecord = "after_reject_record"
    // Starting and finishing a job.
    case afterStartRename = "after_start_rename"
    case afterSpawn = "after_spawn"
    case afterReap = "after_reap"
    case afterOutputsMoved = "after_outputs_moved"
    case afterFinalRecord = "after_final_record"
    case afterRequeueRecord = "after_requeue_record"
    // Batches: around the checkpoint of a finished operation.
    case beforeCheckpoint = "before_checkpoint"
    case afterCheckpoint = "after_checkpoint"
    // Recovery at start.
    case duringRecovery = "during_recovery"
    // The Slurm executor: the submission file is durable, sbatch has not run / has answered.
    case beforeSubmit = "before_submit"
    case afterSubmit = "after_submit"

    /// Points reached only with a Slurm queue (SlurmTests walks them against a real cluster).
    public static let slurmOnly: Set<CrashPoint> = [.beforeSubmit, .afterSubmit]
}

/// Kills the process at a configured crash point.
public enum FaultInjection {
    /// The variable that names the point.
    static let environmentKey = "SPOOLD_CRASH_AT"

    private static let target: (point: String, hit: Int)? = {
        guard let spec = ProcessInfo.processInfo.environment[environmentKey], !spec.isEmpty else { return nil }
        let parts = spec.split(separator: ":", maxSplits: 1)
        let hit = parts.count > 1 ? Int(parts[1]) ?? 1 : 1
        return (String(parts[0]), max(1, hit))
    }()
    private static let hits = LockedBox(0)

    private static let failSync: (kind: String, hit: Int)? = {
        guard let spec = ProcessInfo.processInfo.environment["SPOOLD_FAIL_FSYNC"], !spec.isEmpty else { return nil }
        let parts = spec.split(separator: ":", maxSplits: 1)
        return (String(parts[0]), max(1, parts.count > 1 ? Int(parts[1]) ?? 1 : 1))
    }()
    private static let syncHits = LockedBox(0)

    /// True when this sync of `kind` is the one SPOOLD_FAIL_FSYNC says must fail.
    static func failsSync(_ kind: SyncKind) -> Bool {
        guard let failSync, failSync.kind == kind.rawValue || failSync.kind == "any" else { return false }
        return syncHits.withLock { n -> Bool in
            n += 1
            return n == failSync.hit
        }
    }

    public static var isEnabled: Bool { target != nil }

    /// Dies with SIGKILL if `point` is the configured one and this is its configured hit.
    @inline(__always)
    public static func hit(_ point: CrashPoint) {
        guard let target, target.point == point.rawValue else { return }
        let n = hits.withLock { count -> Int in
            count += 1
            return count
        }
        if n == target.hit {
            let msg = "spoold: crash injected at \(point.rawValue) (hit \(n))\n"
            _ = msg.withCString { write(2, $0, strlen($0)) }
            kill(getpid(), SIGKILL)
            pause()
        }
    }
}
