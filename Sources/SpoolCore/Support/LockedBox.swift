// The one escape hatch for shared mutable state: a value behind a lock, reached only through
// `withLock`. Work under the lock stays pure; I/O happens after it is released.
// Never a bare closure as the value (or its optional): `withLock` passes the value inout through
// this generic class, and Swift reabstracts a function value both ways, writing it back wrapped in
// one more thunk at every call; a closure read at each event grew one level deeper each time
// (EventLog). Wrap it in a struct, whose fields are not reabstracted.
import Foundation

/// A value guarded by a condition lock; waiters can sleep until it changes.
public final class LockedBox<Value>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Value

    public init(_ value: Value) {
        self.value = value
    }

    @discardableResult
    public func withLock<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        condition.lock()
        defer { condition.unlock() }
        return try body(&value)
    }

    /// Changes the value and wakes every thread waiting in `wait(until:)`.
    @discardableResult
    public func update<R>(_ body: (inout Value) throws -> R) rethrows -> R {
        condition.lock()
        defer {
            condition.broadcast()
            condition.unlock()
        }
        return try body(&value)
    }

    /// What a waiting loop does after looking at the value.
    public enum WaitStep<R> {
        case done(R)
        /// Sleep until the value changes or the time passes (nil: until it changes).
        case sleep(until: Date?)
    }

    /// Runs `body` under the lock until it returns `.done`, sleeping in between as it asks.
    /// The look and the sleep are atomic: an `update` in between cannot be missed.
    public func wait<R>(_ body: (inout Value) -> WaitStep<R>) -> R {
        condition.lock()
        defer { condition.unlock() }
        while true {
            switch body(&value) {
            case .done(let r): return r
            case .sleep(let until):
                if let until { _ = condition.wait(until: until) } else { condition.wait() }
            }
        }
    }
}
