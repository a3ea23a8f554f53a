// A spoold running as root runs jobs as other users, and members of the spool's group may create
// files in the spool root: a config.json that such a user could write would let them name
// themselves administrators (admin_group) or open everyone's results (shared_results). So a root
// daemon takes its configuration only from a file root owns and root alone may write.
import Foundation
import Testing

@Suite("configuration file ownership", .serialized)
struct ConfigOwnershipTests {
    @Test("as root, a config.json owned by another user or writable by others is refused at start (exit 78) and at reload",
          .enabled(if: geteuid() == 0, "ownership of the configuration matters only to a daemon running as root"))
    func foreignConfigRefused() throws {
        let spool = try TempSpool()
        let nobody: uid_t = 65534
        try spool.write("config.json", #"{"workers": 3, "admin_group": "0"}"#)
        #expect(chown(spool.path("config.json"), nobody, gid_t(nobody)) == 0)
        let foreign = runCommand(Binaries.spoold, ["--spool", spool.root])
        #expect(foreign.status == 78, "\(foreign.stderr)")
        #expect(foreign.stderr.contains("config.json: cannot read the configuration file: it is owned by uid 65534")
                && foreign.stderr.contains("must be owned by root and writable by root alone"), "\(foreign.stderr)")

        // Root's, but group-writable: refused as well.
        #expect(chown(spool.path("config.json"), 0, 0) == 0 && chmod(spool.path("config.json"), 0o664) == 0)
        let writable = runCommand(Binaries.spoold, ["--spool", spool.root])
        #expect(writable.status == 78 && writable.stderr.contains("with mode 664"), "\(writable.stderr)")

        // Root's and 0644: taken.
        #expect(chmod(spool.path("config.json"), 0o644) == 0)
        let d = DaemonProcess(spool: spool, workers: nil)
        d.waitReady()
        #expect(d.log.contains("with 3 workers"), "\(d.log)")

        // A file another user slipped in later is ignored at reload; the running configuration stays.
        try spool.write("config.json", #"{"workers": 5}"#)
        #expect(chown(spool.path("config.json"), nobody, gid_t(nobody)) == 0)
        d.signal(SIGHUP)
        poll(timeout: 10, "the reload refused") { d.log.contains("it is owned by uid 65534") }
        #expect(!d.log.contains("applied: workers"), "\(d.log)")
    }
}
