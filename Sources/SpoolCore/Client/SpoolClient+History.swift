// What history commands read besides the index: one finished record by id (the record is the
// truth for what a page shows).
import Foundation

extension SpoolClient {
    /// The record of a finished job in done/; nil if it is not there (any more).
    public func finishedRecord(_ id: JobID) -> LocatedRecord? {
        guard let r = (try? store.read(id, in: .done)) ?? nil else { return nil }
        return LocatedRecord(record: r, folder: .done)
    }
}
