// Command-line parsing for spoold. Usage errors print one line and exit 64.
import Foundation
import SpoolCore

let usage = """
    Usage: spoold [--spool DIR] [--workers N] [--drain] [options]

    Runs the job spool daemon in the foreground, logging to stderr.

    Options:
      --spool DIR               spool directory (default: ./spool)
      --workers N               jobs running at once (default: number of CPUs)
      --drain                   exit 0 once inbox, pending and running are empty
      --max-job-size BYTES      largest accepted job file (default: 1048576)
      --settle SECONDS          how long an unparsable file must be unchanged before it is rejected (default: 2)
      --kill-grace SECONDS      SIGTERM to SIGKILL delay when a job is stopped (default: 5)
      --shutdown-grace SECONDS  how long running jobs may finish after SIGTERM (default: 10)
      --rescan SECONDS          safety-net inbox rescan interval (default: 10)
      --queue-limit QUEUE=N     at most N jobs of QUEUE at once (repeatable; also in config.json)
      --log-level LEVEL         trace, debug, info, notice, warning, error (default: info)
      --no-fsync                skip fsync (only to measure its cost; a crash may lose records)
      -h, --help                show this help
    """

struct UsageError: Error {
    var message: String
}

func parseOptions(_ args: [String]) throws(UsageError) -> DaemonOptions? {
    var o = DaemonOptions()
    var i = 0
    func value(_ flag: String) throws(UsageError) -> String {
        i += 1
        guard i < args.count else { throw UsageError(message: "\(flag) needs a value") }
        return args[i]
    }
    func number(_ flag: String, min: Double) throws(UsageError) -> Double {
        let v = try value(flag)
        guard let d = Double(v), d.isFinite, d >= min else { throw UsageError(message: "\(flag) must be a number >= \(min), got \"\(v)\"") }
        return d
    }
    while i < args.count {
        let a = args[i]
        switch a {
        case "-h", "--help": return nil
        case "--spool": o.spoolPath = try value(a)
        case "--workers":
            let v = try value(a)
            guard let n = Int(v), n >= 1, n <= 10_000 else { throw UsageError(message: "--workers must be an integer from 1 to 10000, got \"\(v)\"") }
            o.workers = n
        case "--drain": o.drain = true
        case "--max-job-size":
            let v = try value(a)
            guard let n = Int(v), n >= 64 else { throw UsageError(message: "--max-job-size must be an integer >= 64, got \"\(v)\"") }
            o.intake.maxJobBytes = n
        case "--settle": o.intake.settleSeconds = try number(a, min: 0)
        case "--kill-grace": o.killGraceSeconds = try number(a, min: 0)
        case "--shutdown-grace": o.shutdownGraceSeconds = try number(a, min: 0)
        case "--rescan": o.rescanSeconds = try number(a, min: 0.1)
        case "--log-level":
            let v = try value(a)
            guard let l = Log.Level(name: v) else { throw UsageError(message: "--log-level must be one of trace, debug, info, notice, warning, error; got \"\(v)\"") }
            o.logLevel = l
        case "--no-fsync": o.durable = false
        case "--queue-limit":
            let v = try value(a)
            let parts = v.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, JobID.isValid(parts[0]), let n = Int(parts[1]), n >= 1 else {
                throw UsageError(message: "--queue-limit must be QUEUE=N with N >= 1, got \"\(v)\"")
            }
            o.queueLimits[parts[0]] = n
        default:
            throw UsageError(message: "unknown option \"\(a)\"")
        }
        i += 1
    }
    return o
}
