// Pearson, Spearman and Kendall tau-b coefficients with their two-sided p-values, shared by
// `correlation` and `correlation_matrix`. Pearson and Spearman p-values use the t distribution
// with n − 2 degrees of freedom; Kendall's uses the normal approximation with tie corrections.

/// A correlation method, by its `method` param spelling.
enum CorrelationMethod: String, Sendable, CaseIterable {
    case pearson, spearman, kendall
}

/// A correlation coefficient and its two-sided p-value.
struct CorrelationEstimate: Sendable {
    var coefficient: Double
    var pValue: Double
}

enum Correlations {
    /// The `method` correlation of x and y (same length, at least 3, neither constant).
    static func estimate(_ method: CorrelationMethod, _ x: [Double], _ y: [Double]) -> CorrelationEstimate {
        switch method {
        case .pearson: return pearson(x, y)
        case .spearman: return pearson(Ranks.average(x), Ranks.average(y))
        case .kendall: return kendallTauB(x, y)
        }
    }

    /// Whether every value is the same (the correlation is then undefined).
    static func isConstant(_ values: [Double]) -> Bool {
        guard let first = values.first else { return true }
        return values.allSatisfy { $0 == first }
    }

    /// Pearson's r, with deviations scaled by their largest magnitude (as scipy) to avoid overflow.
    static func pearson(_ x: [Double], _ y: [Double]) -> CorrelationEstimate {
        let dx = scaledDeviations(x), dy = scaledDeviations(y)
        var sxy = 0.0, sxx = 0.0, syy = 0.0
        for i in dx.indices {
            sxy += dx[i] * dy[i]
            sxx += dx[i] * dx[i]
            syy += dy[i] * dy[i]
        }
        let r = max(-1, min(1, sxy / (sxx.squareRoot() * syy.squareRoot())))
        let df = Double(x.count - 2)
        // P(|T| > |t|) for t = r·√(df/(1−r²)) is I_{1−r²}(df/2, 1/2).
        let a = abs(r)
        let p = SpecialFunctions.incompleteBeta(a: df / 2, b: 0.5, x: (1 - a) * (1 + a), y: a * a)
        return CorrelationEstimate(coefficient: r, pValue: min(1, p))
    }

    private static func scaledDeviations(_ values: [Double]) -> [Double] {
        let mean = Summary.mean(values)
        let d = values.map { $0 - mean }
        let scale = d.reduce(0) { max($0, abs($1)) }
        return scale > 0 ? d.map { $0 / scale } : d
    }

    /// Kendall's tau-b and its asymptotic two-sided p-value, as scipy.stats.kendalltau(method='asymptotic').
    /// Discordant pairs are counted by merge sort in O(n log n).
    static func kendallTauB(_ x: [Double], _ y: [Double]) -> CorrelationEstimate {
        let n = x.count
        let order = x.indices.sorted { x[$0] != x[$1] ? x[$0] < x[$1] : y[$0] < y[$1] }
        var ySequence = order.map { y[$0] }
        let discordant = countInversions(&ySequence)
        let xTies = TieCounts(sortedValues: order.map { x[$0] })
        let yTies = TieCounts(sortedValues: ySequence)
        let jointTies = TieCounts(sortedPairs: order.map { (x[$0], y[$0]) }).pairs

        let total = n * (n - 1) / 2
        let concordantMinusDiscordant = total - xTies.pairs - yTies.pairs + jointTies - 2 * discordant
        let cmd = Double(concordantMinusDiscordant)
        let tau = cmd / Double(total - xTies.pairs).squareRoot() / Double(total - yTies.pairs).squareRoot()

        let size = Double(n), m = size * (size - 1)
        let variance = (m * (2 * size + 5) - xTies.v1 - yTies.v1) / 18
            + 2 * Double(xTies.pairs) * Double(yTies.pairs) / m
            + xTies.v0 * yTies.v0 / (9 * m * (size - 2))
        let z = cmd / variance.squareRoot()
        let p = 2 * SpecialFunctions.normalSurvival(abs(z))
        return CorrelationEstimate(coefficient: max(-1, min(1, tau)), pValue: min(1, p))
    }

    /// Sorts `values` ascending and returns the number of pairs i < j with values[i] > values[j].
    static func countInversions(_ values: inout [Double]) -> Int {
        var buffer = values
        var inversions = 0
        var width = 1
        let n = values.count
        while width < n {
            var start = 0
            while start < n {
                let mid = min(start + width, n), end = min(start + 2 * width, n)
                var i = start, j = mid, k = start
                while i < mid && j < end {
                    if values[j] < values[i] {
                        inversions += mid - i
                        buffer[k] = values[j]; j += 1
                    } else {
                        buffer[k] = values[i]; i += 1
                    }
                    k += 1
                }
                while i < mid { buffer[k] = values[i]; i += 1; k += 1 }
                while j < end { buffer[k] = values[j]; j += 1; k += 1 }
                start = end
            }
            swap(&values, &buffer)
            width *= 2
        }
        return inversions
    }
}

/// Tie statistics of sorted values: tied pairs Σt(t−1)/2 and scipy's v0 = Σt(t−1)(t−2), v1 = Σt(t−1)(2t+5).
struct TieCounts {
    var pairs = 0
    var v0 = 0.0
    var v1 = 0.0

    init(sortedValues: [Double]) {
        self.init(runs: Self.runLengths(sortedValues.count) { sortedValues[$0] == sortedValues[$0 - 1] })
    }

    init(sortedPairs: [(Double, Double)]) {
        self.init(runs: Self.runLengths(sortedPairs.count) { sortedPairs[$0] == sortedPairs[$0 - 1] })
    }

    private init(runs: [Int]) {
        for t in runs where t > 1 {
            let d = Double(t)
            pairs += t * (t - 1) / 2
            v0 += d * (d - 1) * (d - 2)
            v1 += d * (d - 1) * (2 * d + 5)
        }
    }

    private static func runLengths(_ count: Int, sameAsPrevious: (Int) -> Bool) -> [Int] {
        var runs: [Int] = []
        var run = 0
        for i in 0..<count {
            if i > 0 && sameAsPrevious(i) { run += 1 } else {
                if run > 0 { runs.append(run) }
                run = 1
            }
        }
        if run > 0 { runs.append(run) }
        return runs
    }
}
