// Quantiles as numpy computes them by default (method "linear": the virtual index q·(n−1),
// interpolated between its neighbours), and the median as numpy.median (mean of the middle pair).

enum Quantile {
    /// The q-quantile (0 ≤ q ≤ 1) of ascending `sorted` values, as numpy.percentile(..., 100·q).
    static func linear(sorted: [Double], _ q: Double) -> Double {
        let n = sorted.count
        let index = q * Double(n - 1)
        let lower = min(max(Int(index.rounded(.down)), 0), n - 1)
        let upper = min(lower + 1, n - 1)
        let t = index - Double(lower)
        let a = sorted[lower], b = sorted[upper]
        let diff = b - a
        // numpy's _lerp: interpolate from the nearer end for accuracy.
        return t >= 0.5 ? b - diff * (1 - t) : a + diff * t
    }

    /// The median of ascending `sorted` values, as numpy.median.
    static func median(sorted: [Double]) -> Double {
        let n = sorted.count
        if n % 2 == 1 { return sorted[n / 2] }
        return (sorted[n / 2 - 1] + sorted[n / 2]) / 2
    }

    /// The median of unsorted `values`.
    static func median(_ values: [Double]) -> Double {
        median(sorted: values.sorted())
    }
}
