// Sums, means and sample variances shared by the analytics operations. Sums are compensated
// (Neumaier) and variances are two-pass, so long or offset data loses no precision against numpy.

enum Summary {
    /// The compensated sum of `values`.
    static func sum(_ values: [Double]) -> Double {
        var total = 0.0
        var compensation = 0.0
        for v in values {
            let t = total + v
            if abs(total) >= abs(v) { compensation += (total - t) + v } else { compensation += (v - t) + total }
            total = t
        }
        return total + compensation
    }

    /// The arithmetic mean; `values` must not be empty.
    static func mean(_ values: [Double]) -> Double {
        sum(values) / Double(values.count)
    }

    /// The sum of squared deviations from `mean`.
    static func sumOfSquares(_ values: [Double], mean: Double) -> Double {
        sum(values.map { ($0 - mean) * ($0 - mean) })
    }

    /// The sample variance (divisor n − 1); needs at least 2 values.
    static func sampleVariance(_ values: [Double]) -> Double {
        sumOfSquares(values, mean: mean(values)) / Double(values.count - 1)
    }
}
