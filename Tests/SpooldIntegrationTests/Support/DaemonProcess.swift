// A real spoold on a temporary spool: started with posix_spawn, its stderr kept in a file that
// failing tests print, stopped (SIGKILL) when the test drops it, like pueue's test daemon.
import Foundation
import Testing

final class DaemonProcess: @unchecked Sendable {
    let spool: TempSpool
    let pid: pid_t
    let logPath: String
    private var exitStatus: Int32?

    /// Starts `spoold --spool <spool> --workers N` plus `extra` arguments. Tests run as root and drop
    /// root-owned files, so `--allow-root-jobs` is passed unless `allowRoot` is false.
    /// `workers` nil: no --workers flag (the configuration file decides, as after a reload).
    /// `binary`: another spoold program (an upgrade installed elsewhere).
    init(spool: TempSpool, workers: Int? = 2, extra: [String] = [], environment: [String: String]? = nil, allowRoot: Bool = true,
         binary: String = Binaries.spoold) {
        self.spool = spool
        logPath = spool.path("daemon-\(UUID().uuidString.prefix(6)).log")
        let root = allowRoot && geteuid() == 0 ? ["--allow-root-jobs"] : []
        let workerFlag = workers.map { ["--workers", String($0)] } ?? []
        pid = spawnProcess(binary, ["--spool", spool.root, "--settle", "1"] + workerFlag + root + extra,
                           stdout: logPath, stderr: logPath, environment: environment)
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var st: Int32 = 0
            waitpid(pid, &st, 0)
        }
    }

    var log: String { spool.read(String(logPath.dropFirst(spool.root.count + 1))) ?? "" }

    /// Waits until the daemon logs that it is ready.
    func waitReady(timeout: Double = 30) {
        poll(timeout: timeout, "spoold ready\n\(log)") { log.contains("ready on") || hasExited }
    }

    var hasExited: Bool {
        if exitStatus != nil { return true }
        var st: Int32 = 0
        if waitpid(pid, &st, WNOHANG) == pid {
            exitStatus = (st & 0x7f) == 0 ? (st >> 8) & 0xff : 128 + (st & 0x7f)
            return true
        }
        return false
    }

    /// Waits for exit; returns the exit status (128+signal if killed).
    @discardableResult
    func waitExit(timeout: Double = 60) -> Int32? {
        if let exitStatus { return exitStatus }
        let s = waitForExit(pid, timeout: timeout)
        exitStatus = s
        return s
    }

    func signal(_ sig: Int32) { kill(pid, sig) }

    /// SIGKILL and reap.
    func crash() {
        kill(pid, SIGKILL)
        waitExit()
    }
}
