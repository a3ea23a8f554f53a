// What JSONStreamEncoder offers a value beyond Encoder, for the values whose encoding was most of
// a record's cost (bench `batch` and `drained`, perf):
// - a value written the same way into many documents may keep its bytes: a job's spec is written
//   into each of its records (pending, running, done), a million numbers for a big batch;
// - a value written very often may write its members straight to bytes: an operation's record is
//   written once in the batch's journal and once in its final record, 10,000 times each for a
//   10,000-operation batch, a command job's record twice per job, and Codable's containers cost
//   about a microsecond per member.
// The value's `encode(to:)` asks whether its encoder is a JSONBytesEncoder; the tree path's encoder
// is not one, and there the value encodes itself through Codable as usual, to the same bytes (the
// stream encoder's tests compare both). Only the records and the small objects in them
// (JSONObjectEncodable) look; a member written through JSONMembers is cast to see whether it is
// a JSONValue or such an object.

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

/// A value that writes itself as an object, its members straight to bytes (JSONMembers), in the
/// same bytes as its `encode(to:)`: such a value inside another one's members is written in place,
/// without a stream of its own (a record's `progress`, `usage`, `owner`).
public protocol JSONObjectEncodable: Encodable {
    func writeMembers(_ m: inout JSONMembers) throws
}

/// An object's members written straight to bytes, as a keyed container would write them:
/// `write` writes null for nil (as `encode`), `writeIfPresent` nothing (as `encodeIfPresent`).
/// Written into the buffer of a writer swapped in (a value: Swift checks its exclusive access at
/// compile time), not through the stream's containers: there an operation's record of 16 members
/// took about 9 µs, most of it the stream's bookkeeping and the run-time exclusivity checks of
/// its class (bench `batch`, perf).
public struct JSONMembers {
    var writer: JSONByteWriter
    /// The stream the object is written into, whose buffer `writer` holds meanwhile: a member that
    /// is not a JSONValue or a JSONObjectEncodable is written through it.
    let stream: ByteStream
    /// The object's own depth; its members are one deeper.
    let depth: Int
    private var count = 0

    init(stream: ByteStream, writer: JSONByteWriter, depth: Int) {
        self.stream = stream
        self.writer = writer
        self.depth = depth
        self.writer.out.append(UInt8(ascii: "{"))
    }

    /// The writer, the object closed.
    mutating func finish() -> JSONByteWriter {
        if count > 0 { writer.newline(depth) }
        writer.out.append(UInt8(ascii: "}"))
        return writer
    }

    private mutating func begin(_ key: String) {
        if count > 0 { writer.out.append(UInt8(ascii: ",")) }
        count += 1
        writer.newline(depth + 1)
        writer.writeString(key)
        writer.writeColon()
    }

    public mutating func write(_ key: String, _ value: Int?) throws {
        begin(key)
        if let value { writer.writeNumber(JSONNumber(value)) } else { writer.append("null") }
    }

    public mutating func write(_ key: String, _ value: Int32?) throws { try write(key, value.map(Int.init)) }

    public mutating func write(_ key: String, _ value: Int64?) throws { try write(key, value.map(Int.init)) }

    public mutating func write(_ key: String, _ value: UInt32?) throws { try write(key, value.map(Int.init)) }

    public mutating func write(_ key: String, _ value: Double?) throws {
        begin(key)
        if let value { writer.writeNumber(JSONNumber(value)) } else { writer.append("null") }
    }

    public mutating func write(_ key: String, _ value: String?) throws {
        begin(key)
        if let value { writer.writeString(value) } else { writer.append("null") }
    }

    public mutating func write<T: Encodable>(_ key: String, _ value: T?) throws {
        begin(key)
        if let value { try writeValue(value) } else { writer.append("null") }
    }

    public mutating func writeIfPresent(_ key: String, _ value: String?) {
        guard let value else { return }
        begin(key)
        writer.writeString(value)
    }

    public mutating func writeIfPresent(_ key: String, _ value: Int32?) {
        guard let value else { return }
        begin(key)
        writer.writeNumber(JSONNumber(Int(value)))
    }

    /// A JSONValue (an operation's result): written by the writer itself, without the generic
    /// path's cast and metadata lookups, which were most of writing a journal line.
    public mutating func writeIfPresent(_ key: String, _ value: JSONValue?) {
        guard let value else { return }
        begin(key)
        writer.write(value, indent: depth + 1)
    }

    public mutating func writeIfPresent<T: Encodable>(_ key: String, _ value: T?) throws {
        guard let value else { return }
        begin(key)
        try writeValue(value)
    }

    /// A member's value at the members' depth: a JSONValue by the writer itself; an object that
    /// writes its own members in place; anything else (a spec) through the stream, the buffer
    /// handed back to it meanwhile: a big value goes out in pieces and keeps its bytes as it
    /// would anywhere else, and one that cannot be streamed makes the whole document fall back
    /// to the tree, as in a container.
    private mutating func writeValue<T: Encodable>(_ value: T) throws {
        if let v = value as? JSONValue { return writer.write(v, indent: depth + 1) }
        if let object = value as? any JSONObjectEncodable {
            var nested = JSONMembers(stream: stream, writer: takeWriter(), depth: depth + 1)
            defer { writer = nested.finish() }
            return try object.writeMembers(&nested)
        }
        swap(&writer, &stream.writer)
        defer { swap(&writer, &stream.writer) }
        try stream.write(value, depth: depth + 1)
    }

    private mutating func takeWriter() -> JSONByteWriter {
        var taken = JSONByteWriter(pretty: writer.pretty, spaceBeforeColon: writer.spaceBeforeColon, reserving: 0)
        swap(&taken, &writer)
        return taken
    }
}
