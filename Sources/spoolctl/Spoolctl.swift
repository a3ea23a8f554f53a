// spoolctl: the command-line client. It works on the spool's files directly, so it works while
// the daemon is down (requests wait in the spool). One file per command under Commands/.
import Foundation
import SpoolCore

/// `spoolctl --help`: every command's synopsis, taken from the command's own usage so that no
/// flag is forgotten, with its one-line summary.
var mainUsage: String {
    var lines = ["Usage: spoolctl [--spool DIR] COMMAND [ARGS]", "", "Commands:"]
    for c in commands {
        for s in synopses(c.usage) { lines += wrap(s, width: 100, first: "  ", rest: String(repeating: " ", count: 3 + c.name.count)) }
        lines.append("      " + c.summary)
    }
    lines += ["",
              "The spool is --spool DIR, else $SPOOL_DIR, else ./spool.",
              "Every command takes --json (anywhere after the command) for output made for programs.",
              "Exit codes: 0 ok, 1 a job failed, was not found, or a request was refused, 64 usage error.",
              "`spoolctl help COMMAND` (or `spoolctl COMMAND --help`) shows a command's usage."]
    return lines.joined(separator: "\n")
}

/// Words laid out in lines of at most `width` characters; a bracketed group (`[--queue Q]`) is
/// one word, and a word longer than a line stands alone.
func wrap(_ text: String, width: Int, first: String, rest: String) -> [String] {
    var words: [String] = []
    var depth = 0
    for part in text.split(separator: " ") {
        if depth > 0 { words[words.count - 1] += " " + part } else { words.append(String(part)) }
        depth += part.filter { $0 == "[" }.count - part.filter { $0 == "]" }.count
        depth = max(0, depth)
    }
    var lines: [String] = []
    var line = first
    var empty = true
    for word in words {
        if !empty && line.count + 1 + word.count > width {
            lines.append(line)
            line = rest
            empty = true
        }
        line += (empty ? "" : " ") + word
        empty = false
    }
    lines.append(line)
    return lines
}

/// The synopsis lines of a usage text (its first paragraph), without "Usage: spoolctl ", with
/// wrapped lines joined.
func synopses(_ usage: String) -> [String] {
    var out: [String] = []
    for raw in usage.split(separator: "\n", omittingEmptySubsequences: false) {
        var line = raw.trimmingCharacters(in: .whitespaces)
        if line.isEmpty { break }
        if line.hasPrefix("Usage: ") { line = String(line.dropFirst("Usage: ".count)) }
        if line.hasPrefix("spoolctl ") {
            out.append(String(line.dropFirst("spoolctl ".count)))
        } else if !out.isEmpty {
            out[out.count - 1] += " " + line
        }
    }
    return out
}

protocol Command: Sendable {
    static var name: String { get }
    static var usage: String { get }
    /// One line for `spoolctl --help`.
    static var summary: String { get }
    static func run(_ args: inout Arguments, spool: String) throws -> Int32
}

let commands: [any Command.Type] = [Submit.self, Status.self, List.self, Wait.self, Logs.self, Cancel.self, Pause.self, Resume.self,
                                    Retry.self, Delete.self, Stats.self, Prune.self, Estimate.self, Watch.self, Events.self, Report.self, Validate.self,
                                    Completions.self]

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
        if name == "help" {
            guard args.count > 1 else {
                print(mainUsage)
                exit(Exit.ok)
            }
            guard args.count == 2, let command = commands.first(where: { $0.name == args[1] }) else {
                fail(usage: args.count == 2 ? "unknown command \"\(args[1])\"" : "help takes one COMMAND", help: mainUsage)
            }
            print(command.usage)
            exit(Exit.ok)
        }
        guard let command = commands.first(where: { $0.name == name }) else {
            fail(usage: "unknown command \"\(name)\"", help: mainUsage)
        }
        var rest = Arguments(Array(args.dropFirst()))
        if (try? rest.flag("--help", "-h")) != false {
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

    /// A usage error: the reason, then the command's whole usage, on stderr; exit 64.
    static func fail(usage message: String, help: String) -> Never {
        printError(message)
        FileHandle.standardError.write(Data("\n\(help)\n".utf8))
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
