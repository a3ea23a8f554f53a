// spoold: parse the command line, run the daemon, exit with its code.
import Foundation
import SpoolCore

@main
struct Spoold {
    static func main() {
        // A parent may have started us with signals blocked (a Dispatch thread's mask is inherited):
        // SIGTERM must reach the daemon, so start from an empty mask.
        var none = sigset_t()
        sigemptyset(&none)
        sigprocmask(SIG_SETMASK, &none, nil)
        let options: DaemonOptions
        do {
            guard let o = try parseOptions(Array(CommandLine.arguments.dropFirst())) else {
                print(usage)
                exit(0)
            }
            options = o
        } catch {
            FileHandle.standardError.write(Data("spoold: error: \(error.message)\nUsage: spoold [--spool DIR] [--workers N] [--drain] (see --help)\n".utf8))
            exit(64)
        }
        do {
            let daemon = try Daemon(options: options)
            exit(daemon.run())
        } catch {
            FileHandle.standardError.write(Data("spoold: error: \(error)\n".utf8))
            exit(1)
        }
    }
}
