// Pending jobs held by their place in line only, as a pure value. With a backlog of a million
// jobs, holding each one's record (about 2 KB) would take gigabytes; the record is in
// pending/<id>.json anyway. So beyond a window of queued jobs per queue, a job just accepted is
// "parked": the engine keeps its id, priority, arrival and queue, and reads its record back
// (`EngineAction.loadParked`) when its queue's window runs low, or when a control request names it.
//
// Order: every parked job of a queue ranks below every queued job of that queue the engine holds,
// so parking never lets a lower job start first. A job is parked only when it ranks no better
// than the best parked one, or, with none parked, below every job in the window (`windowWorst`,
// an upper bound kept as jobs enter it); parked jobs come back best first.

struct PendingBacklog: Sendable {
    /// A parked job's place in line: higher priority first, then earlier arrival (the scheduler's order).
    struct Entry: Comparable, Sendable {
        var priority: Int
        var sequence: Int64
        var id: JobID

        static func < (a: Entry, b: Entry) -> Bool {
            if a.priority != b.priority { return a.priority > b.priority }
            if a.sequence != b.sequence { return a.sequence < b.sequence }
            return a.id < b.id
        }
    }

    /// A job to park and its queue.
    struct Parked: Sendable {
        var place: Entry
        var queue: String
    }

    /// Queued jobs a queue keeps with their records before new ones are parked; parked jobs are
    /// read back when fewer than half that many are left.
    let window: Int
    /// Parked jobs per queue, best first. An entry whose id is no longer in `parkedQueue` (taken
    /// out for a control request) is stale and skipped.
    private var parked: [String: Heap<Entry>] = [:]
    /// The queue of each parked job, as its number in `queueNames` (a dictionary keeps its values
    /// apart from its keys: 4 bytes a bucket instead of a string's 16, 25 MB less for a million).
    private var parkedQueue: [JobID: UInt32] = [:]
    private var queueNames: [String] = []
    private var queueNumbers: [String: UInt32] = [:]
    /// Jobs found at start are being parked (`holdRefills`): nothing is read back until all are
    /// in, or the first ones found would take the window whatever their rank.
    private(set) var isHoldingRefills = false
    /// Jobs whose records are being read back, by queue, and how many per queue.
    private var loading: [JobID: String] = [:]
    private var loadingPerQueue: [String: Int] = [:]
    /// Parked and loading jobs per queue (for counts and metrics).
    private(set) var perQueue: [String: Int] = [:]
    /// The worst place among the queued jobs the engine held per queue since that queue's window
    /// was last empty: a job ranking below it may be parked without passing any of them.
    private var windowWorst: [String: Entry] = [:]

    init(window: Int) {
        self.window = max(2, window)
    }

    /// Parked or loading jobs.
    var count: Int { parkedQueue.count + loading.count }
    var isEmpty: Bool { parkedQueue.isEmpty && loading.isEmpty }

    /// Whether `id` is parked or being read back.
    func holds(_ id: JobID) -> Bool { parkedQueue[id] != nil || loading[id] != nil }
    func isParked(_ id: JobID) -> Bool { parkedQueue[id] != nil }

    /// Whether a job just accepted into `queue` at `place` should be parked, the queue's window
    /// holding `queued` jobs with records.
    mutating func shouldPark(_ place: Entry, queue: String, queued: Int) -> Bool {
        if let best = bestParked(in: queue) { return !(place < best) }
        guard queued >= window, let worst = windowWorst[queue] else { return false }
        return worst < place
    }

    mutating func park(_ place: Entry, queue: String) {
        parked[queue, default: Heap()].push(place)
        parkedQueue[place.id] = number(of: queue)
        perQueue[queue, default: 0] += 1
    }

    /// Start-up parks pending/ in chunks: refills wait until `holdRefills(false)`.
    mutating func holdRefills(_ hold: Bool) { isHoldingRefills = hold }

    private mutating func number(of queue: String) -> UInt32 {
        if let n = queueNumbers[queue] { return n }
        let n = UInt32(queueNames.count)
        queueNames.append(queue)
        queueNumbers[queue] = n
        return n
    }

    /// A queued job the engine holds with its record entered `queue`'s window at `place`.
    mutating func windowed(_ place: Entry, queue: String) {
        if let worst = windowWorst[queue], !(worst < place) { return }
        windowWorst[queue] = place
    }

    /// The jobs to read back now, best first, each queue's window holding `queued(queue)` jobs:
    /// for a queue with parked jobs, none being read, and fewer than half a window queued, enough
    /// to fill its window again. They count as loading until `loaded`.
    mutating func takeForLoading(queued: (String) -> Int) -> [JobID] {
        guard !parked.isEmpty, !isHoldingRefills else { return [] }
        var out: [JobID] = []
        for queue in parked.keys.sorted() {
            let inWindow = queued(queue)
            if inWindow == 0 { windowWorst[queue] = nil }
            guard inWindow < window / 2, loadingPerQueue[queue] == nil else { continue }
            var taken = 0
            // Popped in place: a copy of a million entries' heap would be made otherwise.
            while taken < window - inWindow, let top = parked[queue]!.pop() {
                guard parkedQueue.removeValue(forKey: top.id) != nil else { continue }  // stale
                loading[top.id] = queue
                loadingPerQueue[queue, default: 0] += 1
                out.append(top.id)
                taken += 1
            }
            if parked[queue]!.isEmpty { parked[queue] = nil }
        }
        return out
    }

    /// A job's record was read back (or its file was gone): it is no longer parked or loading.
    /// False if it was neither (read back already for a control request, or a second time).
    mutating func loaded(_ id: JobID) -> Bool {
        let queue: String
        if let q = loading.removeValue(forKey: id) {
            queue = q
            loadingPerQueue[q, default: 1] -= 1
            if loadingPerQueue[q] == 0 { loadingPerQueue[q] = nil }
        } else if let q = parkedQueue.removeValue(forKey: id) {
            queue = queueNames[Int(q)]  // its heap entry is stale now
        } else {
            return false
        }
        perQueue[queue, default: 1] -= 1
        if perQueue[queue] == 0 { perQueue[queue] = nil }
        return true
    }

    /// The best live parked job of `queue`, stale entries above it dropped.
    private mutating func bestParked(in queue: String) -> Entry? {
        while let top = parked[queue]?.min {
            if parkedQueue[top.id] != nil { return top }
            _ = parked[queue]!.pop()
            if parked[queue]!.isEmpty { parked[queue] = nil }
        }
        return nil
    }
}
