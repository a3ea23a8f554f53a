// Said once at start: what the spool's filesystem changes (SpoolFilesystem.swift) and which
// no-replace rename it takes (ExclusiveRename.swift, decided here by a probe in tmp/ so that no
// job file pays for a refused flag).
import Foundation

extension Daemon {
    func describeFilesystem() {
        if let warning = filesystem.warning(rescanSeconds: options.rescanSeconds, lockFile: options.lockFile) {
            log.warning(warning)
        }
        switch layout.exclusiveRename.probe(tmpFD: layout.fd(.tmp)) {
        case (.renameNoReplace, _)?:
            log.info("spoold: records and claims are placed with renameat2(RENAME_NOREPLACE) on \(filesystem.name)")
        case (.linkUnlink, let refused)?:
            let why = refused.map { "\(String(cString: strerror($0))), errno \($0)" } ?? "refused"
            log.info("spoold: \(filesystem.name) refuses renameat2(RENAME_NOREPLACE) (\(why)): new records and dropped files are placed with link() + unlink(), inbox files are claimed by a rename to a fresh name")
        case nil:
            log.info("spoold: cannot probe renames in \(layout.path(.tmp)); the first rename decides how files are placed")
        }
    }
}
