// A spool in a temporary folder with an Intake on it, as the intake tests drive it directly (no
// daemon): files settle at once, and root-owned files are allowed (the tests run as root).
import Foundation
@testable import SpoolCore

final class IntakeTestSpool {
    let root: String
    let store: StateStore
    let intake: Intake

    init(_ name: String) throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID().uuidString.prefix(8))").path
        store = StateStore(layout: try SpoolLayout(path: root))
        var config = IntakeConfig()
        config.settleSeconds = 0
        config.access.allowRoot = true
        intake = Intake(store: store, index: JobIndex(), idGenerator: JobIDGenerator(), sequence: SequenceClock(),
                        config: config, log: Log(minimum: .error))
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }
}
