// A small argument reader for spoolctl's commands: flags with values, boolean flags, and
// positionals. A flag that may appear once and is given twice is a usage error that says so;
// flags that may repeat are read with `values`. Usage errors exit 64 with the command's usage.

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

    /// Removes the first `--name VALUE` (or `--name=VALUE`) and returns VALUE.
    private mutating func take(_ name: String) throws(UsageError) -> String? {
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

    private func has(_ name: String) -> Bool {
        rest.contains { $0 == name || $0.hasPrefix(name + "=") }
    }

    /// Removes `--name VALUE` (or `--name=VALUE`) and returns VALUE; given twice is an error.
    mutating func value(_ name: String) throws(UsageError) -> String? {
        guard let v = try take(name) else { return nil }
        if has(name) { throw UsageError(message: "\(name) given twice") }
        return v
    }

    /// Removes every `--name VALUE` and returns the values (a flag that may repeat).
    mutating func values(_ name: String) throws(UsageError) -> [String] {
        var out: [String] = []
        while let v = try take(name) { out.append(v) }
        return out
    }

    /// Removes a boolean flag (or any of its spellings); given twice is an error.
    mutating func flag(_ names: String...) throws(UsageError) -> Bool {
        var seen: String?
        for name in names {
            while let i = rest.firstIndex(of: name) {
                if seen != nil { throw UsageError(message: "\(name) given twice") }
                rest.remove(at: i)
                seen = name
            }
        }
        return seen != nil
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
