// Control requests that have been applied to a running job but stay in control/ until that job
// has ended: if the daemon dies before, the next one applies them again (SPEC §5: a request is
// never silently dropped).

/// Request files waiting for their job's end, by job.
struct OpenControls: Sendable {
    private(set) var names: Set<FileName> = []
    private var byJob: [JobID: [FileName]] = [:]

    mutating func add(_ name: FileName, for id: JobID) {
        guard names.insert(name).inserted else { return }
        byJob[id, default: []].append(name)
    }

    /// Forgets one request (it did not have to wait after all).
    mutating func remove(_ name: FileName) {
        guard names.remove(name) != nil else { return }
        for (id, list) in byJob where list.contains(name) {
            let rest = list.filter { $0 != name }
            byJob[id] = rest.isEmpty ? nil : rest
        }
    }

    /// The files waiting for `id`, forgotten here.
    mutating func take(_ id: JobID) -> [FileName] {
        let taken = byJob.removeValue(forKey: id) ?? []
        for n in taken { names.remove(n) }
        return taken
    }
}
