// spoolctl events: the daemon's event log (SPEC §8), oldest first; --follow keeps printing new
// events as they come, so a program can follow a batch without polling records and resume with
// --since the last seq it saw.
import Foundation
import SpoolCore
import SpoolJSON

enum Events: Command {
    static let name = "events"
    static let summary = "print the event log (accepted, started, progress, finished...); --follow for new ones"
    static let usage = """
        Usage: spoolctl events [--follow] [--since SEQ] [--id ID] [--json]

        Prints the events the daemon logged in events/, oldest first: one line per change of a job
        (accepted, rejected, started, progress, paused, resumed, retrying, requeued, finished,
        deleted). --since SEQ prints only events after SEQ; --id ID only those of one job;
        --follow prints the retained log (or what follows --since), then new events as they come,
        until interrupted.
        --json: each event as the JSON line the daemon wrote: {"seq", "time", "id", "event", "status", ...}
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let json = try args.flag("--json")
        let follow = try args.flag("--follow", "-f")
        let since = try args.int("--since", min: 0) ?? 0
        let id = try args.value("--id").map { (t: String) throws(UsageError) -> JobID in try jobID(t) }
        guard try args.positionals().isEmpty else { throw UsageError(message: "events takes no positional arguments") }
        let client = try openSpool(spool)
        let reader = EventReader(root: client.layout.root)
        var last = Int64(since)
        while true {
            for e in reader.events(since: last, id: id) {
                print(json ? e.line : human(e.object))
                last = e.seq
            }
            guard follow else { break }
            fflush(nil)
            // Events of other jobs move the position too, so --id does not reread them.
            if id != nil, let newest = reader.events(since: last).last?.seq { last = newest }
            usleep(200_000)
        }
        return Exit.ok
    }

    /// `12  2026-12-01T04:00:00.123456Z  job-id  finished  succeeded  exit_code=0`
    static func human(_ o: JSONObject) -> String {
        let fixed = ["seq", "time", "id", "event", "status"]
        var parts = fixed.map { key -> String in
            switch o[key] {
            case .string(let s)?: return s
            case .number(let n)?: return n.integer.map(String.init) ?? String(n.double)
            default: return "-"
            }
        }
        for m in o.members where !fixed.contains(m.key) {
            switch m.value {
            case .null: continue
            case .string(let s): parts.append("\(m.key)=\(s)")
            case .object(let p) where m.key == "progress":
                let percent = p["percent"]?.doubleValue.map { String(format: "%.1f%%", $0) } ?? "-"
                parts.append("progress=\(percent)")
            default: parts.append("\(m.key)=\(m.value.serialized())")
            }
        }
        return parts.joined(separator: "  ")
    }
}
