// Pending jobs held by their place in line only, as a pure value. With a backlog of a million
// jobs, holding each one's record (about 2 KB) would take gigabytes; the record is in
// pending/<id>.json anyway. So beyond a window of queued jobs per queue, a job just accepted is
// "parked": the engine keeps its id, priority, arrival and queue, and reads its record back
// (`EngineAction.loadParked`) when its queue's window runs low, or when a control request names it.
//
// Order: at acceptance a job is parked only when it ranks no better than the best parked one (or
// one being read back), or, with none parked, below every job in the window (`windowWorst`, an
// upper bound kept as jobs enter it); parked jobs come back best first. A job can still enter the
// window below parked ones later (a dependency's success, a requeue, a control request read it
// back), or the window can fill with jobs not due yet (`not_before`, a retry's backoff): so parked
// jobs are also read back whenever the best ready job of the window ranks below the best parked
// one, or none is ready. Nothing is ever left waiting behind a job it outranks.

struct PendingBacklog: Sendable {
    /// A parked job's place in line (the scheduler's order, `SchedulerState.Place`), and its id.
    struct Entry: Comparable, Sendable {
        var priority: Int
        var sequence: Int64
        var id: JobID
        var place: SchedulerState.Place { SchedulerState.Place(priority: priority, sequence: sequence) }

        static func < (a: Entry, b: Entry) -> Bool {
            a.place != b.place ? a.place < b.place : a.id < b.id
        }
    }

    /// A job to park and its queue.
    struct Parked: Sendable {
        var place: Entry
        var queue: String
    }

    /// Queued jobs a queue keeps with their records before new ones are parked; parked jobs are
    /// read back when fewer than half that many are left (or the window's best due job ranks below
    /// the best parked one: `takeForLoading`).
    let window: Int
    /// Parked jobs per queue, best first. An entry without a matching slot in `parkedQueue` is stale
    /// and skipped.
    private var parked: [String: Heap<Entry>] = [:]
    /// Each parked job's queue, as its number in `queueNames` (a dictionary keeps its values apart
    /// from its keys: 16 bytes a bucket with the sequence, no string per job), and its sequence: a heap
    /// entry is live only while both match (one left by a job read back for a control request is
    /// stale, also if the id is parked again later, after a delete and a new job under that id).
    private struct Slot {
        var queue: UInt32
        var sequence: Int64
    }
    private var parkedQueue: [JobID: Slot] = [:]
    private var queueNames: [String] = []
    private var queueNumbers: [String: UInt32] = [:]
    /// Jobs found at start are being parked (`holdRefills`): nothing is read back until all are
    /// in, or the first ones found would take the window whatever their rank.
    private(set) var isHoldingRefills = false
    /// Jobs whose records are being read back, by queue, how many per queue, and the worst of them:
    /// a job accepted meanwhile that ranks below it is parked, not put ahead of them.
    private var loading: [JobID: String] = [:]
    private var loadingPerQueue: [String: Int] = [:]
    private var loadingWorst: [String: Entry] = [:]
    private var loadingBest: [String: Entry] = [:]
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
        if let worst = loadingWorst[queue], worst < place { return true }
        if let best = bestParked(in: queue) { return !(place < best) }
        guard queued >= window, let worst = windowWorst[queue] else { return false }
        return worst < place
    }

    mutating func park(_ place: Entry, queue: String) {
        parked[queue, default: Heap()].push(place)
        parkedQueue[place.id] = Slot(queue: number(of: queue), sequence: place.sequence)
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

    /// The jobs to read back now, best first, each queue's window holding `queued(queue)` jobs of
    /// which the best ready one is `bestReady(queue)` (nil: none is ready). For a queue with parked
    /// jobs and none being read: when fewer than half a window is queued, when none is ready, or
    /// when the best parked job outranks the best ready one; enough to fill the window again, and
    /// at least half a window. They count as loading until `loaded`.
    mutating func takeForLoading(queued: (String) -> Int, bestReady: (String) -> Entry?) -> [JobID] {
        guard !parked.isEmpty, !isHoldingRefills else { return [] }
        var out: [JobID] = []
        for queue in parked.keys.sorted() where loadingPerQueue[queue] == nil {
            guard let best = bestParked(in: queue) else { continue }
            let inWindow = queued(queue)
            if inWindow == 0 { windowWorst[queue] = nil }
            if inWindow >= window / 2, let ready = bestReady(queue), ready < best { continue }
            var taken = 0
            // Popped in place: a copy of a million entries' heap would be made otherwise.
            while taken < max(window - inWindow, window / 2), let top = parked[queue]?.pop() {
                guard let slot = parkedQueue[top.id], slot.sequence == top.sequence else { continue }  // stale
                parkedQueue[top.id] = nil
                loading[top.id] = queue
                loadingPerQueue[queue, default: 0] += 1
                loadingWorst[queue] = top
                if loadingBest[queue] == nil { loadingBest[queue] = top }
                out.append(top.id)
                taken += 1
            }
            if parked[queue]?.isEmpty == true { parked[queue] = nil }
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
            if loadingPerQueue[q] == 0 {
                loadingPerQueue[q] = nil
                loadingWorst[q] = nil
                loadingBest[q] = nil
            }
        } else if let slot = parkedQueue.removeValue(forKey: id) {
            queue = queueNames[Int(slot.queue)]  // its heap entry is stale now
        } else {
            return false
        }
        perQueue[queue, default: 1] -= 1
        if perQueue[queue] == 0 { perQueue[queue] = nil }
        return true
    }

    /// Per queue with jobs parked or being read back, the best of them: the scheduler starts nothing
    /// of that queue ranking below it (a job freed late, or picked while a read-back is on its way,
    /// must not pass them).
    mutating func floors() -> [String: SchedulerState.Place] {
        var out = loadingBest.mapValues(\.place)
        for queue in Array(parked.keys) {
            guard let best = bestParked(in: queue)?.place else { continue }
            if let other = out[queue], other < best { continue }
            out[queue] = best
        }
        return out
    }

    /// The best live parked job of `queue`, stale entries above it dropped.
    private mutating func bestParked(in queue: String) -> Entry? {
        while let top = parked[queue]?.min {
            if parkedQueue[top.id]?.sequence == top.sequence { return top }
            _ = parked[queue]!.pop()
            if parked[queue]!.isEmpty { parked[queue] = nil }
        }
        return nil
    }
}
