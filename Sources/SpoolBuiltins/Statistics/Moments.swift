// Bias-corrected sample skewness and excess kurtosis, as scipy.stats.skew / kurtosis with
// bias=False. Both are undefined (nil) for too few values or (numerically) zero variance.

enum Moments {
    /// Central moments m2, m3, m4 (divisor n) and whether the variance is numerically zero,
    /// using scipy's test m2 <= (eps·mean)².
    static func central(_ values: [Double]) -> (m2: Double, m3: Double, m4: Double, zeroVariance: Bool) {
        let n = Double(values.count)
        let mean = Summary.mean(values)
        let d = values.map { $0 - mean }
        let m2 = Summary.sum(d.map { $0 * $0 }) / n
        let m3 = Summary.sum(d.map { $0 * $0 * $0 }) / n
        let m4 = Summary.sum(d.map { $0 * $0 * $0 * $0 }) / n
        let eps = Double.ulpOfOne * mean
        return (m2, m3, m4, m2 <= eps * eps)
    }

    /// The adjusted Fisher–Pearson skewness G1; nil when n < 3 or the variance is zero.
    static func skewness(_ values: [Double]) -> Double? {
        let n = Double(values.count)
        guard values.count >= 3 else { return nil }
        let m = central(values)
        guard !m.zeroVariance else { return nil }
        let g1 = m.m3 / (m.m2 * m.m2.squareRoot())
        return ((n - 1) * n).squareRoot() / (n - 2) * g1
    }

    /// The bias-corrected excess kurtosis G2; nil when n < 4 or the variance is zero.
    static func excessKurtosis(_ values: [Double]) -> Double? {
        let n = Double(values.count)
        guard values.count >= 4 else { return nil }
        let m = central(values)
        guard !m.zeroVariance else { return nil }
        let ratio = m.m4 / (m.m2 * m.m2)
        return 1 / (n - 2) / (n - 3) * ((n * n - 1) * ratio - 3 * (n - 1) * (n - 1))
    }
}
