// Serializes a JSONValue. Keys are written in the object's order; numbers that are not finite
// (NaN, infinity) are written as null, because JSON has no spelling for them.

import Foundation

extension JSONValue {
    /// The compact JSON text of this value. `pretty` puts each member on its own line, indented by
    /// two spaces, with `": "` between key and value, or `" : "` with `spaceBeforeColon` (the style of
    /// Foundation's JSONEncoder, which spool records have always used).
    public func serialized(pretty: Bool = false, spaceBeforeColon: Bool = false) -> String {
        var out = ""
        write(to: &out, pretty: pretty, indent: 0, colon: pretty ? (spaceBeforeColon ? " : " : ": ") : ":")
        return out
    }

    func write(to out: inout String, pretty: Bool, indent: Int, colon: String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(let n): out += Self.format(n)
        case .string(let s): Self.writeString(s, to: &out)
        case .array(let a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            let pad = pretty ? "\n" + String(repeating: "  ", count: indent + 1) : ""
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                out += pad
                v.write(to: &out, pretty: pretty, indent: indent + 1, colon: colon)
            }
            if pretty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "]"
        case .object(let o):
            if o.isEmpty { out += "{}"; return }
            out += "{"
            let pad = pretty ? "\n" + String(repeating: "  ", count: indent + 1) : ""
            for (i, m) in o.members.enumerated() {
                if i > 0 { out += "," }
                out += pad
                Self.writeString(m.key, to: &out)
                out += colon
                m.value.write(to: &out, pretty: pretty, indent: indent + 1, colon: colon)
            }
            if pretty { out += "\n" + String(repeating: "  ", count: indent) }
            out += "}"
        }
    }

    static func format(_ n: JSONNumber) -> String {
        if let i = n.integer { return String(i) }
        let d = n.double
        guard d.isFinite else { return "null" }
        if d == d.rounded(), abs(d) < 1e15 { return String(Int64(d)) }
        return "\(d)"
    }

    static func writeString(_ s: String, to out: inout String) {
        out += "\""
        if !s.utf8.contains(where: { $0 < 0x20 || $0 == 0x22 || $0 == 0x5C }) {
            out += s  // nothing to escape: one append rather than one per scalar
            out += "\""
            return
        }
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }
}
