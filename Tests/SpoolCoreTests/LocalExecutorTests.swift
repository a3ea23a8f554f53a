// The executor seam's local implementation, on its own: an attempt's end is reported once with
// how it ended, why the daemon stopped it and what it used; a start that cannot happen says why.
import Foundation
import Testing
@testable import SpoolCore

@Suite("local executor")
struct LocalExecutorTests {
    final class Fixture: @unchecked Sendable {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("executor-\(UUID().uuidString)").path
        let executor: LocalExecutor
        init() throws {
            let layout = try SpoolLayout(path: root)
            executor = LocalExecutor(store: StateStore(layout: layout, durable: false), environment: ProcessInfo.processInfo.environment,
                                     timers: DispatchQueue(label: "test.timers"), grace: { 0.5 })
        }
        deinit { try? FileManager.default.removeItem(atPath: root) }

        func plan(_ shell: String, timeout: Double? = nil) -> ProcessPlan {
            ProcessPlan(id: JobID("t")!, action: .shell(shell), cwd: nil, env: [:], attempt: 1, stdoutName: "t.stdout",
                        stderrName: "t.stderr", label: "job t", timeoutSeconds: timeout)
        }

        /// Starts `plan`, lets `meanwhile` act on the attempt, and waits (with a deadline) for its end.
        func run(_ plan: ProcessPlan, meanwhile: (any RunningAttempt) -> Void = { _ in }) throws -> AttemptEnd {
            let attempt = try executor.start(plan).get()
            let ended = LockedBox<AttemptEnd?>(nil)
            let done = DispatchSemaphore(value: 0)
            attempt.awaitEnd { end in
                ended.withLock { $0 = end }
                done.signal()
            }
            meanwhile(attempt)
            #expect(done.wait(timeout: .now() + 30) == .success, "the attempt's end was reported")
            return try #require(ended.withLock { $0 })
        }
    }

    @Test("an exit status, with the attempt's usage, and its output in running/")
    func exitStatus() throws {
        let f = try Fixture()
        let end = try f.run(f.plan("echo out; exit 3"))
        #expect(end.termination == .exited(3) && end.teardown == nil)
        #expect(end.usage != nil)
        #expect(try String(contentsOfFile: "\(f.root)/running/t.stdout", encoding: .utf8) == "out\n")
    }

    @Test("a cancel stops the group with SIGTERM and says why; pause and resume answer once each")
    func cancelPauseResume() throws {
        let f = try Fixture()
        let end = try f.run(f.plan("exec sleep 30")) { a in
            #expect(a.pause() && !a.pause())
            #expect(a.resume() && !a.resume())
            a.tearDown(.cancel)
        }
        #expect(end.termination == .signaled(SIGTERM) && end.teardown == .cancel)
    }

    @Test("a timeout stops the attempt and is reported as the reason")
    func timeout() throws {
        let f = try Fixture()
        let end = try f.run(f.plan("exec sleep 30", timeout: 0.2))
        #expect(end.teardown == .timeout(seconds: 0.2))
    }

    @Test("a program that does not exist is refused before anything starts, naming it")
    func missingProgram() throws {
        let f = try Fixture()
        var plan = f.plan("")
        plan.action = .command(["no-such-program-xyz"])
        guard case .failure(let e) = f.executor.start(plan) else {
            Issue.record("started a program that does not exist")
            return
        }
        #expect(e.code == .spawnFailed && e.message.contains("no-such-program-xyz"), "\(e)")
    }

    @Test("info names the local executor and the attempt's process")
    func info() throws {
        let f = try Fixture()
        _ = try f.run(f.plan("true")) { a in
            #expect(a.info.executor == .local && (a.info.pid ?? 0) > 0)
        }
    }

    @Test("forty attempts ending at once: each end is reported once, with its own status")
    func manyEndsAtOnce() throws {
        let f = try Fixture()
        let ends = LockedBox<[Int: [AttemptEnd]]>([:])
        let done = DispatchSemaphore(value: 0)
        let count = 40
        for i in 0..<count {
            let plan = ProcessPlan(id: JobID("t\(i)")!, action: .shell("sleep 0.2; exit \(i % 7)"), cwd: nil, env: [:], attempt: 1,
                                   stdoutName: "t\(i).stdout", stderrName: "t\(i).stderr", label: "job t\(i)", timeoutSeconds: nil)
            let attempt = try f.executor.start(plan).get()
            attempt.awaitEnd { end in
                ends.withLock { $0[i, default: []].append(end) }
                done.signal()
            }
        }
        for _ in 0..<count { #expect(done.wait(timeout: .now() + 30) == .success, "an end was reported") }
        let seen = ends.withLock { $0 }
        #expect(seen.count == count && seen.values.allSatisfy { $0.count == 1 })
        for (i, e) in seen { #expect(e.first?.termination == .exited(Int32(i % 7)), "attempt \(i)") }
    }
}
