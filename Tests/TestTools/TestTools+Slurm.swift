// A real Slurm for the Slurm executor's tests and bench: Debian's slurmctld, slurmd and
// slurm-client, installed with apt-get when missing (as root), and one single-node cluster on
// localhost per test process (scripts/slurm-test-cluster.sh: auth/none, no munge, no systemd),
// started on first use under .build/test-tools and stopped when the process exits.
import Foundation

/// A running test cluster: export `conf` as SLURM_CONF to reach it.
public struct SlurmCluster: Sendable {
    public var conf: String
    public var directory: String
    public var script: String
    /// SLURM_CONF, for spoold and the client programs.
    public var environment: [String: String] { ["SLURM_CONF": conf] }

    /// Runs the cluster script with `command` ("restart-controller").
    public func control(_ command: String) -> TestTools.Outcome {
        TestTools.run("/bin/bash", [script, command, directory], timeout: 120)
    }

    /// Runs a Slurm client program (`squeue`, `scancel`...) against this cluster.
    public func client(_ program: String, _ args: [String]) -> TestTools.Outcome {
        TestTools.run(TestTools.which(program) ?? "/usr/bin/\(program)", args, environment: environment, timeout: 60)
    }
}

extension TestTools {
    /// The test cluster of this process, started on first use; or why it cannot be had.
    public static let slurm: Result<SlurmCluster, ToolUnavailable> = startSlurm()

    private static func startSlurm() -> Result<SlurmCluster, ToolUnavailable> {
        func found() -> Bool { ["slurmctld", "slurmd", "sbatch", "squeue", "scancel"].allSatisfy { which($0) != nil } }
        let installed: Bool = found() || withInstallLock("slurm") {
            if found() { return true }
            if let failure = aptInstall(["slurmctld", "slurmd", "slurm-client"]) {
                say("test-tools: \(failure)")
                return false
            }
            return found()
        }
        guard installed else {
            return .failure(ToolUnavailable("slurmctld, slurmd or slurm-client is missing and could not be installed with apt-get"))
        }
        let pid = Int(getpid())
        let dir = "\(directory)/slurm-\(pid)"
        let script = "\(root)/scripts/slurm-test-cluster.sh"
        // A port of this process's own, so that test processes of several checkouts never meet.
        let port = 20_000 + (pid % 10_000) * 2
        let started = run("/bin/bash", [script, "start", dir, String(port)], timeout: 120)
        guard started.status == 0 else {
            return .failure(ToolUnavailable("the test Slurm cluster did not start: \(started.lastLine)"))
        }
        slurmDirectory.withLock { $0 = dir }
        atexit {
            if let dir = TestTools.slurmDirectory.withLock({ $0 }) {
                _ = TestTools.run("/bin/bash", ["\(TestTools.root)/scripts/slurm-test-cluster.sh", "stop", dir], timeout: 60)
                try? FileManager.default.removeItem(atPath: dir)
            }
        }
        return .success(SlurmCluster(conf: "\(dir)/slurm.conf", directory: dir, script: script))
    }

    fileprivate static let slurmDirectory = LockedValue<String?>(nil)
}
