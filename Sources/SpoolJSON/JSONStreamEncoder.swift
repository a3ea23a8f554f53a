// Encodes an Encodable value straight to JSON bytes, in the same bytes as
// `JSONValueEncoder().encode(value).serializedBytes(...)` but without building the JSONValue tree
// in between: no node per value, no dictionary per object, no coding path per member. Every record
// write went through that tree, and for a batch's record (a million numbers in its params) or
// the journal line of each operation it was most of the cost (bench `batch`, perf).
//
// Streaming works because our types write each member once, in order, and finish a nested value
// before the next member: the value a member holds is written when `encode` is called, and a
// container is closed when the member that holds it returns, or when its parent writes again.
// A type that writes a key twice, goes back to a container already closed, or asks for a super
// encoder cannot be streamed: the encoder notices and encodes that value through the tree instead,
// so the bytes are the same either way.

/// Encodes Encodable values to JSON bytes without an intermediate JSONValue.
public struct JSONStreamEncoder {
    public let pretty: Bool
    public let spaceBeforeColon: Bool

    public init(pretty: Bool = false, spaceBeforeColon: Bool = false) {
        self.pretty = pretty
        self.spaceBeforeColon = spaceBeforeColon
    }

    public func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
        if let bytes = try streamed(value) { return bytes }
        return try JSONValueEncoder().encode(value).serializedBytes(pretty: pretty, spaceBeforeColon: spaceBeforeColon)
    }

    /// The bytes written straight, or nil where the value cannot be streamed.
    public func streamed<T: Encodable>(_ value: T) throws -> [UInt8]? {
        let stream = ByteStream(JSONByteWriter(pretty: pretty, spaceBeforeColon: spaceBeforeColon))
        try stream.write(value, depth: 0)
        return stream.failed ? nil : stream.writer.out
    }

    /// Encodes `value` in pieces of about `chunk` bytes handed to `write` as they are made, so that a
    /// big record (a batch's) is never whole in memory: its buffer, grown by doubling, was the peak
    /// of a 10,000-operation batch. A value that cannot be streamed (detected midway, after pieces
    /// went out) is written again whole from the tree, after `restart`, which must drop what was written.
    public func encode<T: Encodable>(_ value: T, chunk: Int, write: ([UInt8]) throws -> Void, restart: () throws -> Void) throws {
        let stream = ByteStream(JSONByteWriter(pretty: pretty, spaceBeforeColon: spaceBeforeColon))
        var flushed = false
        try withoutActuallyEscaping(write) { write in
            stream.flush = { bytes, always in
                guard always || bytes.count >= chunk else { return false }
                guard !bytes.isEmpty else { return true }
                try write(bytes)
                flushed = true
                return true
            }
            defer { stream.flush = nil }  // the closure must not outlive this call
            try stream.write(value, depth: 0)
        }
        if !stream.failed {
            if !stream.writer.out.isEmpty { try write(stream.writer.out) }
            return
        }
        if flushed { try restart() }
        try write(try JSONValueEncoder().encode(value).serializedBytes(pretty: pretty, spaceBeforeColon: spaceBeforeColon))
    }
}

/// The bytes written so far and the containers open, innermost last.
final class ByteStream {
    struct Frame {
        var token: Int
        var isObject: Bool
        var depth: Int
        var count = 0
        var keys: [String] = []
        /// Where its members begin in the buffer (just after "[" or "{").
        var start: Int
        /// An array none of whose members so far is an array or an object: written inline when it
        /// closes, as the tree writes an array of scalars (`JSONByteWriter.inlineScalars`).
        var onlyScalars: Bool
    }

    var writer: JSONByteWriter
    var frames: [Frame] = []
    var nextToken = 0
    /// Set when the value cannot be streamed (see the file's comment); the caller falls back.
    var failed = false
    /// Chunked output: takes the bytes so far when they are enough (true: taken, the buffer is emptied).
    /// `always`: takes them whatever their size.
    var flush: (([UInt8], _ always: Bool) throws -> Bool)?
    /// The bytes of the value being written whose bytes are to be kept (JSONBytesEncoder.writeKeeping)
    /// that were flushed already, and where the rest begins in the buffer.
    var kept: [UInt8]?
    var keptFrom = 0

    init(_ writer: JSONByteWriter) { self.writer = writer }

    /// The writer, its buffer moved out (an empty one left in its place, to be put back).
    func takeWriter() -> JSONByteWriter {
        var taken = JSONByteWriter(pretty: writer.pretty, spaceBeforeColon: writer.spaceBeforeColon, reserving: 0)
        swap(&taken, &writer)
        return taken
    }

    /// Hands the buffer out when chunked output wants it (between members, so about a chunk plus one
    /// member, such as a big `params` JSONValue, or an open array of scalars (until it closes) is
    /// buffered at a time; after a fallback, the rest).
    func flushIfDue() throws {
        // Not inside an array that may still be written inline: it is rewritten from its start.
        if let top = frames.last, top.onlyScalars { return }
        guard !failed, let flush, try flush(writer.out, false) else { return }
        if kept != nil {  // a value whose bytes are kept: they are collected as they go out
            kept!.append(contentsOf: writer.out[keptFrom...])
            keptFrom = 0
        }
        writer.out.removeAll(keepingCapacity: true)
    }

    /// Writes `value` as the value of the current member (or the document) at `depth`.
    func write<T: Encodable>(_ value: T, depth: Int) throws {
        if let v = value as? JSONValue {
            if !v.isScalar { notScalar() }
            writer.write(v, indent: depth)
            return
        }
        if let dictionary = value as? any StringKeyedDictionary {
            let token = open(isObject: true, depth: depth)
            for (key, element) in dictionary.sortedMembers() {
                // A dictionary's keys are unique: not checked (a look through all earlier keys per key
                // made a hostile file's 100,000 labels take minutes).
                guard try member(token, key: key, unique: true) else { return }
                try writeExistential(element, depth: depth + 1)
            }
            close(token)
            return
        }
        let slot = Slot(stream: self, depth: depth)
        try value.encode(to: SlotEncoder(slot: slot))
        switch slot.state {
        case .fresh:  // nothing encoded: an empty object, as the tree writes it
            notScalar()
            writer.append("{}")
        case .value: break
        case .container(let token): close(token)
        }
    }

    private func writeExistential(_ value: any Encodable, depth: Int) throws {
        try write(value, depth: depth)
    }

    /// The open container `token` (nil once closed, or for no token).
    func frame(_ token: Int?) -> Frame? {
        token.flatMap { t in frames.last(where: { $0.token == t }) }
    }

    /// Opens an object or array at `depth`; returns its token.
    func open(isObject: Bool, depth: Int) -> Int {
        notScalar()
        nextToken += 1
        writer.out.append(isObject ? UInt8(ascii: "{") : UInt8(ascii: "["))
        frames.append(Frame(token: nextToken, isObject: isObject, depth: depth, start: writer.out.count,
                            onlyScalars: !isObject && writer.pretty))
        return nextToken
    }

    /// The member being written into the innermost container is an array or an object.
    func notScalar() {
        if !frames.isEmpty { frames[frames.count - 1].onlyScalars = false }
    }

    /// Makes the container `token` the innermost one (closing the finished ones inside it); false
    /// (and the stream failed) when it was closed already.
    func reopen(_ token: Int) -> Bool {
        guard !failed, let i = frames.lastIndex(where: { $0.token == token }) else {
            failed = true
            return false
        }
        while frames.count > i + 1 { close(frames[frames.count - 1].token) }
        return true
    }

    /// Starts the next member of container `token` (a key for an object); false if it cannot.
    /// `unique`: the key is known not to repeat (a dictionary's); else it is checked, as a type's
    /// `encode(to:)` may write a key twice (it has few keys, so a look through them is cheap).
    func member(_ token: Int, key: String? = nil, unique: Bool = false) throws -> Bool {
        try flushIfDue()
        return memberWithoutFlush(token, key: key, unique: unique)
    }

    /// `member` where no error can be thrown (nested containers: Encoder's calls for them cannot throw).
    func memberWithoutFlush(_ token: Int?, key: String? = nil, unique: Bool = false) -> Bool {
        guard let token, reopen(token) else { return false }
        let top = frames.count - 1
        if let key, !unique {
            if frames[top].keys.contains(key) {  // the tree keeps the first place of a key written twice
                failed = true
                return false
            }
            frames[top].keys.append(key)
        }
        if frames[top].count > 0 { writer.out.append(UInt8(ascii: ",")) }
        frames[top].count += 1
        writer.newline(frames[top].depth + 1)
        if let key {
            writer.writeString(key)
            writer.writeColon()
        }
        return true
    }

    func close(_ token: Int) {
        guard let i = frames.lastIndex(where: { $0.token == token }) else { return }
        while frames.count > i {
            let f = frames.removeLast()
            if f.onlyScalars {
                writer.inlineScalars(from: f.start)
            } else if f.count > 0 {
                writer.newline(f.depth)
            }
            writer.out.append(f.isObject ? UInt8(ascii: "}") : UInt8(ascii: "]"))
        }
    }

    func number<N: BinaryInteger>(_ v: N) {
        if let i = Int(exactly: v) { writer.writeNumber(JSONNumber(i)) } else { writer.writeNumber(JSONNumber(Double(v))) }
    }

    func number(_ d: Double) { writer.writeNumber(JSONNumber(d)) }
}

/// One value's place: what its `encode(to:)` has made of it so far.
private final class Slot {
    enum State { case fresh, value, container(Int) }
    let stream: ByteStream
    let depth: Int
    var state = State.fresh

    init(stream: ByteStream, depth: Int) {
        self.stream = stream
        self.depth = depth
    }

    /// The container this value is (opened on first use); nil if it is something else already.
    func container(isObject: Bool) -> Int? {
        switch state {
        case .fresh:
            let token = stream.open(isObject: isObject, depth: depth)
            state = .container(token)
            return token
        case .container(let token):
            if stream.frame(token)?.isObject == isObject { return token }
        case .value: break
        }
        stream.failed = true
        return nil
    }

    /// Whether a single value may be written here now (once).
    func takeValue() -> Bool {
        guard case .fresh = state, !stream.failed else {
            stream.failed = true
            return false
        }
        state = .value
        return true
    }
}

private struct SlotEncoder: JSONBytesEncoder {
    let slot: Slot
    var codingPath: [any CodingKey] { [] }
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    var layout: JSONLayout {
        JSONLayout(pretty: slot.stream.writer.pretty, spaceBeforeColon: slot.stream.writer.spaceBeforeColon, depth: slot.depth)
    }

    func writeKept(_ bytes: [UInt8]) throws {
        guard slot.takeValue() else { return }
        let stream = slot.stream
        if let first = bytes.first, first == UInt8(ascii: "{") || first == UInt8(ascii: "[") { stream.notScalar() }
        // In pieces: handed out as they are, after the buffer, instead of copied into it.
        if let flush = stream.flush, !stream.failed, stream.kept == nil, !(stream.frames.last?.onlyScalars ?? false) {
            _ = try flush(stream.writer.out, true)
            stream.writer.out.removeAll(keepingCapacity: true)
            _ = try flush(bytes, true)
            return
        }
        stream.writer.out.append(contentsOf: bytes)
    }

    func writeKeeping(atLeast minimum: Int, _ encode: () throws -> Void) throws -> [UInt8]? {
        let stream = slot.stream
        guard case .fresh = slot.state, stream.kept == nil else {  // one at a time
            try encode()
            return nil
        }
        stream.kept = []
        stream.keptFrom = stream.writer.out.count
        defer { stream.kept = nil }
        try encode()
        if case .container(let token) = slot.state {  // closed here, so that its bytes are complete
            stream.close(token)
            slot.state = .value
        }
        guard !stream.failed, stream.kept!.count + stream.writer.out.count - stream.keptFrom >= minimum else { return nil }
        stream.kept!.append(contentsOf: stream.writer.out[stream.keptFrom...])
        return exactCopy(stream.kept!)  // the buffer grew by doubling
    }

    func writeObject(_ body: (inout JSONMembers) throws -> Void) throws {
        guard slot.takeValue() else { return }
        let stream = slot.stream
        stream.notScalar()
        // The stream's buffer, swapped into the members and back: written in place, not copied.
        var members = JSONMembers(stream: stream, writer: stream.takeWriter(), depth: slot.depth)
        defer { stream.writer = members.finish() }
        try body(&members)
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(StreamKeyedContainer<Key>(stream: slot.stream, token: slot.container(isObject: true)))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        StreamUnkeyedContainer(stream: slot.stream, token: slot.container(isObject: false))
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        StreamSingleContainer(slot: slot)
    }
}

/// An encoder that cannot be streamed (a super encoder): it marks the stream failed.
private func unstreamable(_ stream: ByteStream) -> any Encoder {
    stream.failed = true
    return SlotEncoder(slot: Slot(stream: stream, depth: 0))
}

private struct StreamKeyedContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let stream: ByteStream
    let token: Int?
    var codingPath: [any CodingKey] { [] }

    /// Starts member `key`; false if nothing may be written (the stream has failed).
    func begin(_ key: Key) throws -> Bool {
        guard let token else { return false }
        return try stream.member(token, key: key.stringValue)
    }

    mutating func encodeNil(forKey key: Key) throws { if try begin(key) { stream.writer.append("null") } }
    mutating func encode(_ value: Bool, forKey key: Key) throws { if try begin(key) { stream.writer.append(value ? "true" : "false") } }
    mutating func encode(_ value: String, forKey key: Key) throws { if try begin(key) { stream.writer.writeString(value) } }
    mutating func encode(_ value: Double, forKey key: Key) throws { if try begin(key) { stream.number(value) } }
    mutating func encode(_ value: Float, forKey key: Key) throws { if try begin(key) { stream.number(Double(value)) } }
    mutating func encode(_ value: Int, forKey key: Key) throws { if try begin(key) { stream.number(value) } }
    mutating func encode(_ value: Int8, forKey key: Key) throws { if try begin(key) { stream.number(value) } }
    mutating func encode(_ value: Int16, forKey key: Key) throws { if try begin(key) { stream.number(value) } }
    mutating func encode(_ value: Int32, forKey key: Key) throws { if try begin(key) { stream.number(value) } }
    mutating func encode(_ value: Int64, forKey key: Key) throws { if try begin(key) { stream.number(value) } }
    mutating func encode(_ value: UInt, forKey key: Key) throws { if try begin(key) { stream.number(value) } }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { if try begin(key) { stream.number(value) } }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { if try begin(key) { stream.number(value) } }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { if try begin(key) { stream.number(value) } }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { if try begin(key) { stream.number(value) } }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        guard try begin(key) else { return }
        try stream.write(value, depth: stream.frames[stream.frames.count - 1].depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let nested = stream.memberWithoutFlush(token, key: key.stringValue) ? stream.open(isObject: true, depth: depth + 1) : nil
        return KeyedEncodingContainer(StreamKeyedContainer<NestedKey>(stream: stream, token: nested))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let nested = stream.memberWithoutFlush(token, key: key.stringValue) ? stream.open(isObject: false, depth: depth + 1) : nil
        return StreamUnkeyedContainer(stream: stream, token: nested)
    }

    mutating func superEncoder() -> any Encoder { unstreamable(stream) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { unstreamable(stream) }

    private var depth: Int { stream.frame(token)?.depth ?? 0 }
}

private struct StreamUnkeyedContainer: UnkeyedEncodingContainer {
    let stream: ByteStream
    let token: Int?
    var codingPath: [any CodingKey] { [] }
    var count: Int { stream.frame(token)?.count ?? 0 }

    func begin() throws -> Bool {
        guard let token else { return false }
        return try stream.member(token)
    }

    private var depth: Int { stream.frame(token)?.depth ?? 0 }

    mutating func encodeNil() throws { if try begin() { stream.writer.append("null") } }
    mutating func encode(_ value: Bool) throws { if try begin() { stream.writer.append(value ? "true" : "false") } }
    mutating func encode(_ value: String) throws { if try begin() { stream.writer.writeString(value) } }
    mutating func encode(_ value: Double) throws { if try begin() { stream.number(value) } }
    mutating func encode(_ value: Float) throws { if try begin() { stream.number(Double(value)) } }
    mutating func encode(_ value: Int) throws { if try begin() { stream.number(value) } }
    mutating func encode(_ value: Int8) throws { if try begin() { stream.number(value) } }
    mutating func encode(_ value: Int16) throws { if try begin() { stream.number(value) } }
    mutating func encode(_ value: Int32) throws { if try begin() { stream.number(value) } }
    mutating func encode(_ value: Int64) throws { if try begin() { stream.number(value) } }
    mutating func encode(_ value: UInt) throws { if try begin() { stream.number(value) } }
    mutating func encode(_ value: UInt8) throws { if try begin() { stream.number(value) } }
    mutating func encode(_ value: UInt16) throws { if try begin() { stream.number(value) } }
    mutating func encode(_ value: UInt32) throws { if try begin() { stream.number(value) } }
    mutating func encode(_ value: UInt64) throws { if try begin() { stream.number(value) } }
    mutating func encode<T: Encodable>(_ value: T) throws {
        guard try begin() else { return }
        try stream.write(value, depth: depth + 1)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let nested = stream.memberWithoutFlush(token) ? stream.open(isObject: true, depth: depth + 1) : nil
        return KeyedEncodingContainer(StreamKeyedContainer<NestedKey>(stream: stream, token: nested))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let nested = stream.memberWithoutFlush(token) ? stream.open(isObject: false, depth: depth + 1) : nil
        return StreamUnkeyedContainer(stream: stream, token: nested)
    }

    mutating func superEncoder() -> any Encoder { unstreamable(stream) }
}

private struct StreamSingleContainer: SingleValueEncodingContainer {
    let slot: Slot
    var codingPath: [any CodingKey] { [] }
    var stream: ByteStream { slot.stream }

    mutating func encodeNil() throws { if slot.takeValue() { stream.writer.append("null") } }
    mutating func encode(_ value: Bool) throws { if slot.takeValue() { stream.writer.append(value ? "true" : "false") } }
    mutating func encode(_ value: String) throws { if slot.takeValue() { stream.writer.writeString(value) } }
    mutating func encode(_ value: Double) throws { if slot.takeValue() { stream.number(value) } }
    mutating func encode(_ value: Float) throws { if slot.takeValue() { stream.number(Double(value)) } }
    mutating func encode(_ value: Int) throws { if slot.takeValue() { stream.number(value) } }
    mutating func encode(_ value: Int8) throws { if slot.takeValue() { stream.number(value) } }
    mutating func encode(_ value: Int16) throws { if slot.takeValue() { stream.number(value) } }
    mutating func encode(_ value: Int32) throws { if slot.takeValue() { stream.number(value) } }
    mutating func encode(_ value: Int64) throws { if slot.takeValue() { stream.number(value) } }
    mutating func encode(_ value: UInt) throws { if slot.takeValue() { stream.number(value) } }
    mutating func encode(_ value: UInt8) throws { if slot.takeValue() { stream.number(value) } }
    mutating func encode(_ value: UInt16) throws { if slot.takeValue() { stream.number(value) } }
    mutating func encode(_ value: UInt32) throws { if slot.takeValue() { stream.number(value) } }
    mutating func encode(_ value: UInt64) throws { if slot.takeValue() { stream.number(value) } }
    mutating func encode<T: Encodable>(_ value: T) throws {
        // The value takes this place: written through its own encode(to:) at the same depth.
        guard slot.takeValue() else { return }
        try stream.write(value, depth: slot.depth)
    }
}
