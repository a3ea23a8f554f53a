// Parking beyond a queue's window (PendingBacklog, Engine+Backlog.swift): which accepted jobs are
// held by their place in line only, when their records are asked back, and that no job ever
// starts ahead of a parked one it ranks below.
import Testing
@testable import SpoolCore

@Suite("pending backlog")
struct PendingBacklogTests {
    typealias Entry = PendingBacklog.Entry
    static func place(_ id: String, priority: Int = 0, sequence: Int64) -> Entry {
        Entry(priority: priority, sequence: sequence, id: JobID(id)!)
    }

    @Test("park or not: table of (window queued, worst in window, best parked, new job) → parked", arguments: [
        // (queued in the window, worst windowed (priority, sequence), best parked, new job, parks)
        (3, (0, 30), nil, (0, 40), false),          // room in the window
        (4, (0, 30), nil, (0, 40), true),           // full, ranks below every windowed job
        (4, (0, 30), nil, (0, 20), false),          // full, but would pass the worst windowed job
        (4, (0, 30), nil, (1, 40), false),          // higher priority than the worst windowed job
        (4, (0, 30), (0, 35), (0, 40), true),       // below the best parked job
        (1, (0, 30), (0, 35), (0, 40), true),       // below the best parked job, whatever the window holds
        (4, (0, 30), (0, 35), (0, 33), false),      // above the best parked job: into the window
        (4, (0, 30), (0, 35), (5, 99), false),      // higher priority than every parked job
    ] as [(Int, (Int, Int64), (Int, Int64)?, (Int, Int64), Bool)])
    func parkTable(queued: Int, worst: (Int, Int64), bestParked: (Int, Int64)?, new: (Int, Int64), parks: Bool) {
        var b = PendingBacklog(window: 4)
        b.windowed(Self.place("w", priority: worst.0, sequence: worst.1), queue: "default")
        if let p = bestParked { b.park(Self.place("p", priority: p.0, sequence: p.1), queue: "default") }
        let parked = b.shouldPark(Self.place("n", priority: new.0, sequence: new.1), queue: "default", queued: queued)
        #expect(parked == parks)
    }

    @Test("parked jobs are asked back best first, once, when fewer than half a window is queued")
    func takeForLoading() {
        var b = PendingBacklog(window: 4)
        for (i, id) in ["e", "f", "g", "h", "i"].enumerated() { b.park(Self.place(id, sequence: Int64(10 + i)), queue: "default") }
        b.park(Self.place("x", priority: 3, sequence: 50), queue: "default")
        #expect(b.count == 6 && b.perQueue == ["default": 6])
        func take(_ queued: Int) -> [String] { b.takeForLoading(queued: { _ in queued }, bestReady: { _ in nil }).map(\.rawValue) }
        func loaded(_ ids: String...) -> [Bool] { ids.map { b.loaded(JobID($0)!) } }
        let aboveAll = b.takeForLoading(queued: { _ in 2 }, bestReady: { _ in Self.place("a", priority: 9, sequence: 1) })
        #expect(aboveAll == [])                   // half a window queued, its best above every parked job
        #expect(take(1) == ["x", "e", "f"])       // best first, up to a full window
        #expect(take(0) == [])                    // those are still being read
        #expect(b.count == 6 && b.holds(JobID("x")!) && !b.isParked(JobID("x")!))
        #expect(loaded("x", "e", "f") == [true, true, true])
        #expect(loaded("f") == [false])           // not twice
        // A control request takes a parked job out of line: its entry is skipped later.
        #expect(loaded("g") == [true])
        #expect(take(0) == ["h", "i"])
        #expect(loaded("h", "i") == [true, true])
        #expect(b.isEmpty && b.perQueue.isEmpty)
    }

    @Test("each queue has its own window: a full one does not park another queue's jobs")
    func perQueue() {
        var b = PendingBacklog(window: 2)
        b.windowed(Self.place("a", sequence: 1), queue: "busy")
        let busy = b.shouldPark(Self.place("b", sequence: 2), queue: "busy", queued: 2)
        let other = b.shouldPark(Self.place("c", sequence: 3), queue: "other", queued: 0)
        #expect(busy && !other)
        b.park(Self.place("b", sequence: 2), queue: "busy")
        let ready = Self.place("a", sequence: 1)
        let halfFull = b.takeForLoading(queued: { $0 == "busy" ? 1 : 0 }, bestReady: { _ in ready })  // 1 is half of 2, a ranks above b
        let empty = b.takeForLoading(queued: { _ in 0 }, bestReady: { _ in nil })
        #expect(halfFull == [] && empty == [JobID("b")!])
    }

    @Test("a job read back for a control request leaves a stale entry, also when its id is parked again later")
    func staleEntries() {
        var b = PendingBacklog(window: 4)
        b.park(Self.place("x", sequence: 10), queue: "default")
        let readBack = b.loaded(JobID("x")!)  // read back for a cancel; then deleted, and a new job takes the id
        #expect(readBack)
        b.park(Self.place("x", sequence: 50), queue: "default")
        b.park(Self.place("y", sequence: 20), queue: "default")
        let order = b.takeForLoading(queued: { _ in 0 }, bestReady: { _ in nil }).map(\.rawValue)
        #expect(order == ["y", "x"])  // the new x at its own place, not the old one's
    }

    // MARK: - In the engine

    /// Claims, launches and ends jobs one at a time, reading parked records back as asked; the start order.
    static func runAll(_ h: inout EngineHarness, limit: Int = 50) -> [String] {
        var order: [String] = []
        for _ in 0..<limit {
            guard case .claim(let next) = h.engine.next(now: h.now, pausedQueues: []) else { break }
            order.append(next.rawValue)
            var actions = h.on(.claimed(next))
            actions += h.on(.launched(AttemptKey(next), AttemptInfo(executor: .local, pid: 7)))
            actions += h.on(.attemptEnded(next, AttemptEnd(termination: .exited(0), teardown: nil, usage: nil), diskFull: false))
            actions += h.on(.written([next]))
            for load in actions where load.hasPrefix("loadParked") {
                let ids = load.dropFirst("loadParked ".count).split(separator: ",").map(String.init)
                h.on(.parkedLoaded(ids.map { Self.job($0) }, missing: []))
            }
        }
        return order
    }

    @Test("jobs freed by a dependency that rank below parked ones do not run first")
    func engineFanOutKeepsOrder() {
        var h = EngineHarness(engine: Engine(workers: 1, pendingWindow: 4))
        h.on(.accepted(["a", "b", "c", "d", "e", "f", "g", "h"].map { Self.job($0) }, finished: [:], unseen: []))
        #expect(h.engine.backlog.count == 4)  // e to h
        let waiting = ["w1", "w2", "w3", "w4"].map { EngineHarness.command($0, after: ["s"]) }
        h.on(.accepted(waiting, finished: [:], unseen: []))
        h.on(.dependencyFound(id("s"), .succeeded))  // they enter the window, later arrivals than e to h
        #expect(Self.runAll(&h) == ["a", "b", "c", "d", "e", "f", "g", "h", "w1", "w2", "w3", "w4"])
        #expect(h.engine.isIdle)
    }

    @Test("with two workers, a job ranking below one being read back is not picked meanwhile")
    func engineFloorDuringReadBack() {
        var h = EngineHarness(engine: Engine(workers: 2, pendingWindow: 4))
        h.on(.accepted(["a", "b", "c", "d", "e", "f", "g", "h"].map { Self.job($0) }, finished: [:], unseen: []))
        h.on(.accepted(["w1", "w2"].map { EngineHarness.command($0, after: ["s"]) }, finished: [:], unseen: []))
        h.on(.dependencyFound(id("s"), .succeeded))
        func start(_ name: String) -> [String] {
            h.on(.claimed(id(name))) + h.on(.launched(AttemptKey(id(name)), AttemptInfo(executor: .local, pid: 7)))
        }
        func end(_ name: String) {
            h.on(.attemptEnded(id(name), AttemptEnd(termination: .exited(0), teardown: nil, usage: nil), diskFull: false))
            h.on(.written([id(name)]))
        }
        #expect(h.dispatch() == ["claim a", "claim b"])
        _ = start("a") + start("b")
        end("a")
        #expect(h.dispatch() == ["claim c"])
        _ = start("c")
        end("b")
        #expect(h.dispatch() == ["claim d"])
        #expect(start("d").contains("loadParked e,f"))  // the window's best due job, w1, ranks below e
        end("c")
        #expect(h.dispatch() == [])  // a worker is free, and w1 is due: it waits for e and f
        h.on(.parkedLoaded([Self.job("e"), Self.job("f")], missing: []))
        #expect(h.dispatch() == ["claim e"])
    }

    @Test("a window full of jobs not due yet does not hold back parked jobs that are")
    func engineDelayedWindow() {
        var h = EngineHarness(engine: Engine(workers: 1, pendingWindow: 4))
        let later = ["a", "b", "c", "d"].map { name -> JobRecord in
            var r = Self.job(name)
            r.runAfter = h.now.adding(3600)
            return r
        }
        h.on(.accepted(later, finished: [:], unseen: []))
        h.on(.accepted(["e", "f"].map { Self.job($0) }, finished: [:], unseen: []))
        #expect(h.last.contains("loadParked e,f"), "\(h.last)")  // parked below them, and read back at once: none of the window is due
    }

    @Test("a job accepted while better ones are being read back waits behind them")
    func engineAcceptDuringLoad() {
        var h = EngineHarness(engine: Engine(workers: 3, pendingWindow: 4))
        h.on(.accepted(["a", "b", "c", "d", "e", "f", "g"].map { Self.job($0) }, finished: [:], unseen: []))
        _ = h.dispatch()
        #expect(h.on(.claimed(id("a"))).contains("loadParked e,f,g"))
        h.on(.accepted([Self.job("z")], finished: [:], unseen: []))
        #expect(h.state("z") == nil && h.engine.backlog.isParked(id("z")))
    }

    @Test("pause, resume and retry of a parked job leave it in line, unread")
    func engineHarmlessControlOfParked() {
        var h = EngineHarness(engine: Engine(workers: 1, pendingWindow: 2))
        h.on(.accepted(["a", "b", "c"].map { Self.job($0) }, finished: [:], unseen: []))
        let admin = Requester(uid: 0, isAdmin: true)
        for action in [ControlRequest.Action.pause, .resume, .retry] {
            let (answer, _) = h.engine.control(ControlRequest(action: action, id: id("c")), file: c1, by: admin, now: h.now)
            #expect(answer == .applied)
        }
        #expect(h.engine.backlog.isParked(id("c")))
    }

    static func job(_ id: String, priority: Int = 0, queue: String? = nil) -> JobRecord {
        let q = queue.map { #", "queue": "\#($0)""# } ?? ""
        return EngineHarness.record(#"{"id": "\#(id)", "priority": \#(priority), "command": ["true"]\#(q)}"#)
    }

    @Test("beyond the window jobs are parked, counted as pending, and read back as the window empties")
    func engineParksAndRefills() {
        var h = EngineHarness(engine: Engine(workers: 3, pendingWindow: 4))
        let jobs = ["a", "b", "c", "d", "e", "f", "g", "h"].map { Self.job($0) }
        h.on(.accepted(jobs, finished: [:], unseen: []))
        #expect(h.engine.jobs.count == 4 && h.engine.backlog.count == 4)
        #expect(h.engine.counts.pending == 8 && h.engine.countsPerQueue()[.pending]?["default"] == 8)
        #expect(h.engine.holds(id("g")) && h.state("g") == nil && !h.engine.isIdle)
        #expect(h.dispatch() == ["claim a", "claim b", "claim c"])
        // One queued job left of four: the three best parked ones are asked back.
        #expect(h.on(.claimed(id("a"))).contains("loadParked e,f,g"))
        #expect(!h.on(.claimed(id("b"))).contains { $0.hasPrefix("loadParked") })  // one read at a time per queue
        h.on(.parkedLoaded([Self.job("e"), Self.job("f")], missing: [id("g")]))
        #expect(h.state("e") == .queued && h.state("f") == .queued)
        #expect(!h.engine.holds(id("g")))  // its file could not be read: left for an operator
        #expect(h.engine.backlog.count == 1)
        // Read back twice (a control request got there first): held once.
        h.on(.parkedLoaded([Self.job("e")], missing: []))
        #expect(h.engine.jobs.count == 6)
    }

    @Test("a job ranking above the parked ones is not parked and starts before them; one below waits behind them")
    func engineKeepsOrder() {
        var h = EngineHarness(engine: Engine(workers: 1, pendingWindow: 2))
        h.on(.accepted(["a", "b", "c", "d"].map { Self.job($0) }, finished: [:], unseen: []))
        #expect(h.engine.backlog.count == 2)  // c and d
        h.on(.accepted([Self.job("x", priority: 5), Self.job("y")], finished: [:], unseen: []))
        #expect(h.state("x") == .queued && h.state("y") == nil)  // y arrived after c and d: parked behind them
        #expect(Self.runAll(&h) == ["x", "a", "b", "c", "d", "y"])
        #expect(h.engine.isIdle)
    }

    @Test("once stopping, no record is read back: parked jobs stay in pending/ for the next start")
    func engineStoppingReadsNothing() {
        var h = EngineHarness(engine: Engine(workers: 1, pendingWindow: 2))
        h.on(.accepted(["a", "b", "c", "d"].map { Self.job($0) }, finished: [:], unseen: []))
        h.on(.shutdown(reason: "SIGTERM", graceSeconds: 10))
        // Both jobs of the window end (cancelled): it is empty, yet nothing is read back.
        let admin = Requester(uid: 0, isAdmin: true)
        for name in ["a", "b"] {
            _ = h.engine.control(ControlRequest(action: .cancel, id: id(name)), file: FileName("\(name).json"), by: admin, now: h.now)
        }
        #expect(h.engine.scheduler.queuedJobs(in: "default") == 0)
        h.on(.written([id("a"), id("b")]))
        #expect(!h.last.contains { $0.hasPrefix("loadParked") }, "\(h.last)")
        #expect(h.engine.backlog.count == 2 && !h.engine.isIdle)
    }

    @Test("a control request for a parked job asks for its record, then applies")
    func engineControlOfParked() {
        var h = EngineHarness(engine: Engine(workers: 1, pendingWindow: 2))
        h.on(.accepted(["a", "b", "c"].map { Self.job($0) }, finished: [:], unseen: []))
        let cancel = ControlRequest(action: .cancel, id: id("c"))
        let admin = Requester(uid: 0, isAdmin: true)
        #expect(h.engine.control(cancel, file: c1, by: admin, now: h.now).0 == .parked)
        h.on(.parkedLoaded([Self.job("c")], missing: []))
        let (answer, actions) = h.engine.control(cancel, file: c1, by: admin, now: h.now)
        #expect(answer == .untilEnd(id("c")))
        #expect(actions.compactMap(spelled) == ["write c cancelled pending->done"])
    }

    @Test("at start every job that only waits for its turn is parked, and the best of each queue asked back")
    func engineParksAtStart() {
        var h = EngineHarness(engine: Engine(workers: 1, pendingWindow: 4))
        h.accept(Self.job("a"))  // held already (a requeued job found in pending/ too): not parked again
        let found = [("e", 0), ("b", 0), ("x", 0), ("q", 1), ("c", 0), ("a", 0), ("z", 0)].map { name, prio in
            PendingBacklog.Parked(place: Engine.place(of: Self.job(name, priority: prio)), queue: "default")
        }
        // In two chunks, as pending/ is read: nothing is asked back before the last, which holds
        // the best job of all.
        #expect(h.on(.parkedAtStart(Array(found[..<3]), last: false)) == [])
        #expect(h.on(.parkedAtStart(Array(found[3...]), last: true)) == ["loadParked q,b,c"])  // up to the window, a being queued
        #expect(h.engine.backlog.count == 6 && h.engine.counts.pending == 7)
        let other = PendingBacklog.Parked(place: Engine.place(of: Self.job("o", queue: "other")), queue: "other")
        #expect(h.on(.parkedAtStart([other], last: true)) == ["loadParked o"])  // another queue's window is empty
    }

    @Test("jobs with dependencies or a later start are never parked; one with earlier attempts is")
    func engineNeverParks() {
        var h = EngineHarness(engine: Engine(workers: 1, pendingWindow: 2))
        h.on(.accepted(["a", "b", "c"].map { Self.job($0) }, finished: [:], unseen: []))
        var retried = Self.job("r")
        retried.attempts = 1
        var later = Self.job("l")
        later.runAfter = h.now.adding(60)
        h.on(.accepted([EngineHarness.command("w", after: ["a"]), retried, later], finished: [:], unseen: []))
        #expect(h.state("w") == .blocked && h.state("l") == .queued)
        #expect(h.state("r") == nil && h.engine.backlog.isParked(id("r")))
        #expect(h.engine.backlog.count == 2)  // c and r
    }
}
