// spoold's command line, applied over the defaults and the configuration file: flags win over
// the file, on start and again on every reload. Usage errors exit 64; a bad configuration file
// exits 78 (EX_CONFIG, which the systemd unit does not restart on).
import Foundation

extension DaemonOptions {
    public static let usage = """
        Usage: spoold [--spool DIR] [--workers N] [--drain] [options]

        Runs the job spool daemon in the foreground, logging to stderr.

        Options:
          --spool DIR               spool directory (default: ./spool)
          --config FILE             configuration file (default: DIR/config.json if it exists)
          --workers N               jobs (and batch operations) running at once (default: number of CPUs)
          --drain                   exit 0 once inbox, pending and running are empty
          --max-job-size BYTES      largest accepted job file (default: 1048576)
          --max-operations N        most operations in one batch (default: 10000)
          --settle SECONDS          how long an unparsable file must be unchanged before it is rejected (default: 2)
          --kill-grace SECONDS      SIGTERM to SIGKILL delay when a job is stopped (default: 5)
          --shutdown-grace SECONDS  how long running jobs may finish after SIGTERM (default: 10)
          --rescan SECONDS          inbox and control/ rescan interval; finds other hosts' files on a network filesystem (default: 10)
          --queue-limit QUEUE=N     at most N jobs of QUEUE at once (repeatable; also in config.json)
          --log-level LEVEL         trace, debug, info, notice, warning, error (default: info)
          --lock-file PATH          lock another file than DIR/spoold.lock (daemons on several hosts sharing a spool)
          --allow-root-jobs         as root: let files owned by root run jobs as root (default: forbidden)
          --allow-world-writable-inbox  start even if anyone may drop jobs (inbox mode o+w without sticky bit)
          --no-fsync                skip fsync (only to measure its cost; a crash may lose records)
          -h, --help                show this help
        """

    public struct UsageError: Error, Sendable {
        public var message: String
    }

    /// The --spool and --config values of a command line (needed before the file can be read).
    public static func locations(_ args: [String]) -> (spool: String, config: String?) {
        var spool = "spool"
        var config: String?
        var i = 0
        while i < args.count {
            if args[i] == "--spool", i + 1 < args.count { spool = args[i + 1]; i += 1 }
            else if args[i] == "--config", i + 1 < args.count { config = args[i + 1]; i += 1 }
            i += 1
        }
        return (spool, config)
    }

    /// Defaults, then the configuration file, then the flags. Nil means --help was asked for.
    public static func resolve(_ args: [String]) throws -> DaemonOptions? {
        let (spool, configFlag) = locations(args)
        var o = DaemonOptions()
        o.spoolPath = spool
        let path = configFlag ?? "\(spool)/\(DaemonConfig.defaultFileName)"
        let config = configFlag != nil ? try DaemonConfig.load(path: path) : try DaemonConfig.loadIfPresent(path: path)
        if let config {
            config.apply(to: &o)
            o.config = config
        }
        o.configPath = path
        o.commandLine = args
        guard try o.applyFlags(args) else { return nil }
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), pageSize = sysconf(Int32(_SC_PAGESIZE))
        o.intake.limits.offer(workers: o.workers, gpus: o.gpus.count,
                              memoryMB: pages > 0 && pageSize > 0 ? pages * pageSize / 1_048_576 : nil)
        o.intake.limits.remoteQueues = Set(o.remoteQueues.keys)
        return o
    }

    /// Applies command-line flags; false for --help.
    public mutating func applyFlags(_ args: [String]) throws(UsageError) -> Bool {
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
        func integer(_ flag: String, range: ClosedRange<Int>) throws(UsageError) -> Int {
            let v = try value(flag)
            guard let n = Int(v), range.contains(n) else {
                throw UsageError(message: "\(flag) must be an integer from \(range.lowerBound) to \(range.upperBound), got \"\(v)\"")
            }
            return n
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "-h", "--help": return false
            case "--spool": spoolPath = try value(a)
            case "--config": configPath = try value(a)
            case "--workers": workers = try integer(a, range: 1...10_000)
            case "--drain": drain = true
            case "--max-job-size": intake.maxJobBytes = try integer(a, range: 64...(1 << 30))
            case "--max-operations": intake.limits.maxOperations = try integer(a, range: 1...1_000_000)
            case "--settle": intake.settleSeconds = try number(a, min: 0)
            case "--kill-grace": killGraceSeconds = try number(a, min: 0)
            case "--shutdown-grace": shutdownGraceSeconds = try number(a, min: 0)
            case "--rescan": rescanSeconds = try number(a, min: 0.1)
            case "--log-level":
                let v = try value(a)
                guard let l = Log.Level(name: v) else {
                    throw UsageError(message: "--log-level must be one of trace, debug, info, notice, warning, error; got \"\(v)\"")
                }
                logLevel = l
            case "--no-fsync": durable = false
            case "--allow-world-writable-inbox": allowWorldWritableInbox = true
            case "--allow-root-jobs": intake.access.allowRoot = true
            case "--lock-file": lockFile = try value(a)
            case "--queue-limit":
                let v = try value(a)
                let parts = v.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2, JobID.isValid(parts[0]), let n = Int(parts[1]), n >= 1 else {
                    throw UsageError(message: "--queue-limit must be QUEUE=N with N >= 1, got \"\(v)\"")
                }
                queueLimits[parts[0]] = n
            default:
                throw UsageError(message: "unknown option \"\(a)\"")
            }
            i += 1
        }
        return true
    }
}
