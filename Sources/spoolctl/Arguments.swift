// A small argument reader for spoolctl's commands: flags with values, boolean flags, and
// positionals, with one-line usage errors (exit 64).

struct UsageError: Error {
    var message: String
}

/// The arguments of one command, consumed as they are read.
struct Arguments {
    private(set) var rest: [String]
    /// Everything after a bare `--`, kept verbatim.
    private(set) var trailing: [String]?

    init(_ args: [String]) {
        if let dash = args.firstIndex(of: "--") {
            rest = Array(args[..<dash])
            trailing = Array(args[(dash + 1)...])
        } else {
            rest = args
        }
    }

    /// Removes `--name VALUE` (or `--name=VALUE`) and returns VALUE.
    mutating func value(_ name: String) throws(UsageError) -> String? {
        for (i, a) in rest.enumerated() {
            if a == name {
                guard i + 1 < rest.count else { throw UsageError(message: "\(name) needs a value") }
                let v = rest[i + 1]
                rest.removeSubrange(i...(i + 1))
                return v
            }
            if a.hasPrefix(name + "=") {
                rest.remove(at: i)
                return String(a.dropFirst(name.count + 1))
            }
        }
        return nil
    }

    /// Removes every `--name VALUE` and returns the values.
    mutating func values(_ name: String) throws(UsageError) -> [String] {
        var out: [String] = []
        while let v = try value(name) { out.append(v) }
        return out
    }

    mutating func flag(_ name: String) -> Bool {
        guard let i = rest.firstIndex(of: name) else { return false }
        rest.remove(at: i)
        return true
    }

    mutating func int(_ name: String, min: Int = Int.min) throws(UsageError) -> Int? {
        guard let v = try value(name) else { return nil }
        guard let n = Int(v), n >= min else { throw UsageError(message: "\(name) must be an integer >= \(min), got \"\(v)\"") }
        return n
    }

    mutating func double(_ name: String, min: Double) throws(UsageError) -> Double? {
        guard let v = try value(name) else { return nil }
        guard let d = Double(v), d.isFinite, d >= min else { throw UsageError(message: "\(name) must be a number >= \(min), got \"\(v)\"") }
        return d
    }

    /// The remaining positionals; fails on leftover flags.
    func positionals() throws(UsageError) -> [String] {
        if let f = rest.first(where: { $0.hasPrefix("-") && $0 != "-" }) {
            throw UsageError(message: "unknown option \"\(f)\"")
        }
        return rest
    }
}
