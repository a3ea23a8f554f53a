// spoolctl: the command-line client. It works on the spool's files directly, so it works while
// the daemon is down (requests wait in the spool). One file per command under Commands/.
import Foundation
import SpoolCore

let mainUsage = """
    Usage: spoolctl [--spool DIR] COMMAND [ARGS]

    Commands:
      submit FILE | submit [flags] -- CMD ARGS...   drop a job; prints its id
      status ID [--json]                            show one job
      list [--json] [--state S] [--status S] [--limit N]   list jobs, newest first
      wait ID... [--timeout SECONDS]                block until the jobs end; exit 0 if all succeeded
      logs ID [--stderr] [--follow]                 print a job's output
      cancel ID...                                  cancel pending or running jobs
      pause [ID...] / resume [ID...]                stop/continue running jobs, or hold/release the spool
      retry ID [--failed-only]                      run a finished job again under a new id
      stats [--json]                                counts, success rate, durations, throughput
      prune --older-than DURATION [--status S]      remove old finished records and their files
      estimate FILE [--json]                        expected duration and finish time
      watch [--once]                                live view: progress bars, queues, failures
      validate FILE                                 check a job file, print every problem

    The spool is --spool DIR, else $SPOOL_DIR, else ./spool.
    Exit codes: 0 ok, 1 a job failed or was not found, 64 usage error.
    Run `spoolctl COMMAND --help` for a command's flags.
    """

protocol Command: Sendable {
    static var name: String { get }
    static var usage: String { get }
    static func run(_ args: inout Arguments, spool: String) throws -> Int32
}

let commands: [any Command.Type] = [Submit.self, Status.self, List.self, Wait.self, Logs.self, Cancel.self, Pause.self, Resume.self,
                                    Stats.self, Prune.self, Estimate.self, Watch.self,
                                    Retry.self, Validate.self]

@main
struct Spoolctl {
    static func main() {
        var args = Array(CommandLine.arguments.dropFirst())
        var spool = ProcessInfo.processInfo.environment["SPOOL_DIR"] ?? "spool"
        while let first = args.first, first.hasPrefix("-") {
            if first == "--spool", args.count > 1 {
                spool = args[1]
                args.removeFirst(2)
            } else if first.hasPrefix("--spool=") {
                spool = String(first.dropFirst("--spool=".count))
                args.removeFirst()
            } else if first == "-h" || first == "--help" {
                print(mainUsage)
                exit(Exit.ok)
            } else {
                fail(usage: "unknown option \"\(first)\"", help: mainUsage)
            }
        }
        guard let name = args.first else { fail(usage: "no command given", help: mainUsage) }
        guard let command = commands.first(where: { $0.name == name }) else {
            fail(usage: "unknown command \"\(name)\"", help: mainUsage)
        }
        var rest = Arguments(Array(args.dropFirst()))
        if rest.flag("--help") || rest.flag("-h") {
            print(command.usage)
            exit(Exit.ok)
        }
        do {
            exit(try command.run(&rest, spool: spool))
        } catch let e as UsageError {
            fail(usage: e.message, help: command.usage)
        } catch let e as CommandFailure {
            printError(e.message)
            exit(e.code)
        } catch {
            printError("\(error)")
            exit(Exit.failure)
        }
    }

    static func fail(usage message: String, help: String) -> Never {
        printError(message)
        let first = help.split(separator: "\n").first.map(String.init) ?? ""
        FileHandle.standardError.write(Data("\(first)\n".utf8))
        exit(Exit.usage)
    }
}

/// Opens the spool for reading, with a clear error if it is not one.
func openSpool(_ path: String, create: Bool = false) throws -> SpoolClient {
    do {
        return try SpoolClient(spoolPath: path, create: create)
    } catch {
        throw CommandFailure(message: "cannot open spool \"\(path)\": \(error) (use --spool DIR or $SPOOL_DIR)")
    }
}
