// admin_group and shared_results in config.json (issue 18): accepted values reach the access
// policy; who counts as an administrator (root, the daemon's user, a member of admin_group).
import Foundation
import Testing
@testable import SpoolCore

@Suite("access configuration")
struct AccessConfigTests {
    @Test("admin_group (a name or a gid) and shared_results reach the access policy, and SIGHUP applies them")
    func applied() throws {
        let c = try DaemonConfig.parse(Array(#"{"admin_group": "root", "shared_results": true}"#.utf8), file: "config.json")
        var options = DaemonOptions()
        c.apply(to: &options)
        #expect(options.intake.access.adminGroup == "root")
        #expect(options.intake.access.adminGID == 0)
        #expect(options.intake.access.sharedResults)
        let byGID = try DaemonConfig.parse(Array(#"{"admin_group": 0}"#.utf8), file: "config.json")
        #expect(byGID.adminGroup == "0")
        #expect(byGID.liveChanges(from: DaemonConfig()).applied == ["admin_group"])
        #expect(c.liveChanges(from: byGID).needsRestart.isEmpty)
    }

    @Test("administrators: root and the daemon's own user always; others only through admin_group")
    func admins() {
        var policy = AccessPolicy()
        #expect(policy.isAdmin(uid: 0))
        #expect(policy.isAdmin(uid: geteuid()))
        // nobody (65534) is in no admin group unless its primary group is the one named.
        #expect(!policy.isAdmin(uid: 65534))
        policy.adminGroup = "no-such-group-xq"
        #expect(policy.adminGID == nil)
        #expect(!policy.isAdmin(uid: 65534))
        if let pw = getpwuid(65534) {
            policy.adminGroup = String(pw.pointee.pw_gid)  // nobody's primary group
            #expect(policy.isAdmin(uid: 65534))
        }
    }
}
