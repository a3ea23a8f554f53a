// spoold: read the command line and the configuration file, run the daemon, exit with its code.
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
        // The per-job supervisor of live restore is this same program (an upgrade replaces both at once).
        if CommandLine.arguments.count > 1 && CommandLine.arguments[1] == "supervise" {
            exit(Supervisor.main(arguments: Array(CommandLine.arguments.dropFirst(2))))
        }
        let options: DaemonOptions
        do {
            guard let o = try DaemonOptions.resolve(Array(CommandLine.arguments.dropFirst())) else {
                print(DaemonOptions.usage)
                exit(0)
            }
            options = o
        } catch let e as DaemonOptions.UsageError {
            fail("\(e.message)\nUsage: spoold [--spool DIR] [--workers N] [--drain] (see --help)", code: 64)
        } catch let e as ConfigError {
            fail("bad configuration: \(e)", code: 78)
        } catch {
            fail("\(error)", code: 1)
        }
        do {
            let daemon = try Daemon(options: options)
            exit(daemon.run())
        } catch {
            fail("\(error)", code: 1)
        }
    }

    static func fail(_ message: String, code: Int32) -> Never {
        FileHandle.standardError.write(Data("spoold: error: \(message)\n".utf8))
        exit(code)
    }
}
