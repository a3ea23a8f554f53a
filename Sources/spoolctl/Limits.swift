// The limits a job file must keep: the daemon's defaults, or what the spool's configuration
// (`<spool>/config.json`, or `--config FILE`) sets for `max_job_bytes`, `max_operations`, and
// what a run may ask for (`workers`, `gpus`),
// so that `validate` and `submit` refuse what the daemon would reject.
import Foundation
import SpoolCore

struct JobLimits {
    var spec = JobSpec.Limits()
    var maxJobBytes = IntakeConfig().maxJobBytes
    /// The configuration file the limits came from, if any.
    var source: String?

    /// Reads `--config FILE` (which must exist and be valid) or else `<spool>/config.json` if
    /// present; a spool configuration that cannot be read is reported and the defaults are used.
    static func load(spool: String, config: String?) throws -> JobLimits {
        var limits = JobLimits()
        let loaded: DaemonConfig?
        let path = config ?? "\(spool)/\(DaemonConfig.defaultFileName)"
        do {
            loaded = config != nil ? try DaemonConfig.load(path: path) : try DaemonConfig.loadIfPresent(path: path)
        } catch {
            if config != nil { throw CommandFailure(message: "\(error)") }
            printNote("warning: \(error); checking against the default limits")
            return limits
        }
        guard let loaded else { return limits }
        limits.source = path
        if let n = loaded.maxJobBytes { limits.maxJobBytes = n }
        if let n = loaded.maxOperations { limits.spec.maxOperations = n }
        // What a run may ask for (`resources`): the configured workers, and the configured GPUs
        // (none unless the file lists them). A --workers flag of the daemon is not seen here.
        if let n = loaded.workers { limits.spec.maxCPUs = n }
        limits.spec.gpuCount = loaded.gpus?.count ?? 0
        return limits
    }

    /// The problem of a file larger than `max_job_bytes`, as the daemon words it.
    func sizeProblem(_ file: String, size: Int) -> SpoolError? {
        guard size > maxJobBytes else { return nil }
        return SpoolError(.tooLarge, "\(file) is \(size) bytes; the limit is \(maxJobBytes) bytes (max_job_bytes\(source.map { " in \($0)" } ?? ""))")
    }

    /// Parses and validates job file bytes against these limits; a too-many-operations message
    /// names the configuration field too.
    /// Every problem of the file; empty when the daemon would accept it.
    func problems(_ bytes: [UInt8], file: String) -> [SpoolError] {
        if let p = sizeProblem(file, size: bytes.count) { return [p] }
        switch JobSpec.parse(bytes, file: file, limits: spec) {
        case .success: return []
        case .failure(let problems):
            return problems.problems.map { p in
                let daemonWords = "(max_operations in config.json, or --max-operations)"
                guard p.message.contains(daemonWords), let source else { return p }
                return SpoolError(p.code, p.message.replacingOccurrences(of: daemonWords, with: "(max_operations in \(source), or spoold --max-operations)"))
            }
        }
    }
}
