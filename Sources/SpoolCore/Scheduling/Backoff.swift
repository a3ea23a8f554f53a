// Delay before retry k: base · 2^(k−1), capped at one hour, with ±25 % jitter so that jobs
// that failed together do not all retry in the same instant.

public enum Backoff {
    public static let cap = 3600.0

    /// Seconds to wait after the `failedAttempts`-th failure; `unit` is a random value in [0, 1).
    public static func delay(base: Double, failedAttempts: Int, unit: Double) -> Double {
        guard base > 0, failedAttempts > 0 else { return 0 }
        let exponent = Double(min(failedAttempts - 1, 30))
        let raw = min(base * pow2(exponent), cap)
        return raw * (0.75 + 0.5 * unit)
    }

    private static func pow2(_ e: Double) -> Double {
        var r = 1.0
        var i = 0.0
        while i < e { r *= 2; i += 1 }
        return r
    }
}
