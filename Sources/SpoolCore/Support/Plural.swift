// Counts in messages: "1 running job", "2 running jobs", never "1 jobs".

/// `n` and the noun phrase in the right number; `many` defaults to `one` + "s".
public func plural(_ n: Int, _ one: String, _ many: String? = nil) -> String {
    "\(n) \(n == 1 ? one : (many ?? one + "s"))"
}
