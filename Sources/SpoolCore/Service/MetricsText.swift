// SpoolMetrics in the Prometheus text exposition format (version 0.0.4), as node_exporter's
// textfile collector reads it: HELP and TYPE before each family, escaped label values, no
// timestamps (the collector refuses them), and a fixed order (families as below, series by
// state or status order then queue name), so the same figures always give the same bytes.
import Foundation

extension SpoolMetrics {
    /// The content of metrics.prom.
    public func prometheusText() -> String {
        var out = MetricsWriter(spool: spool)
        out.family("spoold_start_time_seconds", "gauge", "Start time of the spoold process in seconds since 1970.")
        out.sample("spoold_start_time_seconds", [], startTimeSeconds)
        out.family("spoold_intake_paused", "gauge", "1 while intake is paused (low disk space), else 0.")
        out.sample("spoold_intake_paused", [], isIntakePaused ? 1 : 0)

        let queues = queueNames
        out.family("spoold_jobs", "gauge", "Jobs now in the spool by state and queue.")
        for state in Self.jobStates {
            for queue in queues {
                out.sample("spoold_jobs", [("state", state.rawValue), ("queue", queue)], Double(jobs[state.rawValue]?[queue] ?? 0))
            }
        }
        out.family("spoold_jobs_finished_total", "counter", "Jobs that reached a terminal status since start, by status and queue.")
        for status in Self.terminalStatuses {
            for queue in queues {
                out.sample("spoold_jobs_finished_total", [("status", status.rawValue), ("queue", queue)],
                           Double(finished[status.rawValue]?[queue] ?? 0))
            }
        }
        out.family("spoold_rejected_files_total", "counter", "Inbox files rejected since start, by error code.")
        let codes = Set(Self.rejectionCodes.map(\.rawValue)).union(rejected.keys).sorted()
        for code in codes {
            out.sample("spoold_rejected_files_total", [("code", code)], Double(rejected[code] ?? 0))
        }

        out.family("spoold_job_duration_seconds", "histogram", "Run time of finished jobs in seconds.")
        for (bound, n) in zip(duration.upperBounds, duration.counts) {
            out.sample("spoold_job_duration_seconds_bucket", [("le", MetricsWriter.number(bound))], Double(n))
        }
        out.sample("spoold_job_duration_seconds_bucket", [("le", "+Inf")], Double(duration.count))
        out.sample("spoold_job_duration_seconds_sum", [], duration.sum)
        out.sample("spoold_job_duration_seconds_count", [], Double(duration.count))
        return out.text
    }
}

/// Builds exposition-format lines.
struct MetricsWriter {
    let spool: String?
    var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(Self.escapeHelp(help))\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)], _ value: Double) {
        let all = (spool.map { [("spool", $0)] } ?? []) + labels
        text += name
        if !all.isEmpty {
            text += "{" + all.map { "\($0.0)=\"\(Self.escapeLabel($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " \(Self.number(value))\n"
    }

    /// Integers without a fraction, others in Swift's shortest round-trip form; +Inf, -Inf, NaN as Prometheus spells them.
    static func number(_ d: Double) -> String {
        if d.isNaN { return "NaN" }
        if d.isInfinite { return d > 0 ? "+Inf" : "-Inf" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }

    static func escapeLabel(_ s: String) -> String {
        var out = ""
        for ch in s.unicodeScalars {
            switch ch {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    static func escapeHelp(_ s: String) -> String {
        s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n")
    }
}
