// What JSONStreamEncoder offers a value beyond Encoder, for the two values whose encoding was most
// of a big batch's cost (bench `batch`, perf):
// - a value written the same way into many documents may keep its bytes: a job's spec is written
//   into each of its records (pending, running, done), a million numbers for a big batch;
// - a value written very often may write its members straight to bytes: an operation's record is
//   written once in the batch's journal and once in its final record, 10,000 times each for a
//   10,000-operation batch, and Codable's containers cost about a microsecond per member.
// The value's `encode(to:)` asks whether its encoder is a JSONBytesEncoder; the tree path's encoder
// is not one, and there the value encodes itself through Codable as usual, to the same bytes (the
// stream encoder's tests compare both). Only these values look: no cast on the path of any other.

/// How a value's bytes are laid out: the same value at another depth or in another style is other bytes.
public struct JSONLayout: Hashable, Sendable {
    public let pretty: Bool
    public let spaceBeforeColon: Bool
    public let depth: Int
}

/// JSONStreamEncoder's encoder, as a value that writes itself to bytes sees it.
public protocol JSONBytesEncoder: Encoder {
    /// The layout of the value written here.
    var layout: JSONLayout { get }
    /// Writes the value as `bytes`, which it kept from a write in the same layout.
    func writeKept(_ bytes: [UInt8]) throws
    /// Writes the value through `encode` (its own `encode(to:)` with this encoder); returns the bytes
    /// written when they are at least `minimum` (fewer are not copied); nil also when the value
    /// could not be streamed (the bytes are not the value's then), or when another value's bytes are
    /// being kept around it (one at a time).
    func writeKeeping(atLeast minimum: Int, _ encode: () throws -> Void) throws -> [UInt8]?
    /// Writes the value as an object whose members `body` writes, in order, each key once.
    func writeObject(_ body: (inout JSONMembers) throws -> Void) throws
}

/// An object's members written straight to bytes, as a keyed container would write them:
/// `write` writes null for nil (as `encode`), `writeIfPresent` nothing (as `encodeIfPresent`).
public struct JSONMembers {
    let stream: ByteStream
    let token: Int?

    private func begin(_ key: String) throws -> Bool {
        guard let token else { return false }
        return try stream.member(token, key: key, unique: true)
    }

    public mutating func write(_ key: String, _ value: Int?) throws {
        guard try begin(key) else { return }
        if let value { stream.number(value) } else { stream.writer.append("null") }
    }

    public mutating func write(_ key: String, _ value: Int32?) throws { try write(key, value.map(Int.init)) }

    public mutating func write(_ key: String, _ value: Double?) throws {
        guard try begin(key) else { return }
        if let value { stream.number(value) } else { stream.writer.append("null") }
    }

    public mutating func write(_ key: String, _ value: String?) throws {
        guard try begin(key) else { return }
        if let value { stream.writer.writeString(value) } else { stream.writer.append("null") }
    }

    public mutating func write<T: Encodable>(_ key: String, _ value: T?) throws {
        guard try begin(key) else { return }
        if let value { try stream.write(value, depth: depth + 1) } else { stream.writer.append("null") }
    }

    public mutating func writeIfPresent<T: Encodable>(_ key: String, _ value: T?) throws {
        guard let value, try begin(key) else { return }
        try stream.write(value, depth: depth + 1)
    }

    private var depth: Int { stream.frame(token)?.depth ?? 0 }
}
