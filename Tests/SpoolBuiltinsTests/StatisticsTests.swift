// Unit checks of the shared math helpers against independent computations: log-gamma against
// libm, the incomplete beta against closed forms, and the O(n log n) Kendall count against the
// O(n²) definition on data with many ties.
import Foundation
import Testing
@testable import SpoolBuiltins

@Suite struct StatisticsTests {
    @Test func logGammaMatchesLibm() {
        for x in [0.001, 0.5, 1, 1.5, 2, 3.7, 10, 42.5, 171, 1e4, 1e7] {
            let expected: Double = Foundation.lgamma(x)
            #expect(abs(SpecialFunctions.logGamma(x) - expected) <= 1e-12 * max(1, abs(expected)), "x = \(x)")
        }
    }

    @Test func incompleteBetaMatchesClosedForms() {
        // I_x(1, b) = 1 − (1 − x)^b and I_x(a, 1) = x^a.
        for x in [0.01, 0.3, 0.5, 0.9, 0.999] {
            let y = 1 - x
            #expect(abs(SpecialFunctions.incompleteBeta(a: 1, b: 3.5, x: x, y: y) - (1 - pow(y, 3.5))) < 1e-13)
            #expect(abs(SpecialFunctions.incompleteBeta(a: 2.5, b: 1, x: x, y: y) - pow(x, 2.5)) < 1e-13)
        }
        // Student t with 1 degree of freedom is Cauchy: P(|T| > t) = 1 − 2·atan(t)/π.
        for t in [0.1, 1, 3, 50] {
            let expected = 1 - 2 * atan(t) / Double.pi
            #expect(abs(StudentT.twoTailed(t, df: 1) - expected) <= 1e-12 * expected, "t = \(t)")
        }
    }

    @Test func largeDegreesOfFreedomApproachTheNormal() {
        let p = StudentT.twoTailed(1.96, df: 1e7)
        #expect(abs(p - 2 * SpecialFunctions.normalSurvival(1.96)) < 1e-6)
    }

    @Test func quantilesFollowNumpyLinear() {
        let sorted: [Double] = [1, 2, 4, 8]
        #expect(Quantile.linear(sorted: sorted, 0.25) == 1.75)
        #expect(Quantile.linear(sorted: sorted, 0.75) == 5)
        #expect(Quantile.linear(sorted: sorted, 1) == 8)
        #expect(Quantile.median(sorted: sorted) == 3)
    }

    @Test func averageRanksShareTies() {
        #expect(Ranks.average([10, 20, 10, 30, 20, 20]) == [1.5, 4, 1.5, 6, 4, 4])
    }

    @Test func kendallMatchesTheQuadraticDefinition() {
        var generator = SplitMix(seed: 7)
        for n in [3, 10, 57, 200] {
            let x = (0..<n).map { _ in Double(generator.next() % 9) }
            let y = (0..<n).map { i in x[i] + Double(generator.next() % 5) }
            guard !Correlations.isConstant(x), !Correlations.isConstant(y) else { continue }
            var sum = 0.0, xPairs = 0.0, yPairs = 0.0
            for i in 0..<n {
                for j in (i + 1)..<n {
                    let dx = (x[i] - x[j]).sign == .minus ? -1.0 : (x[i] == x[j] ? 0 : 1)
                    let dy = (y[i] - y[j]).sign == .minus ? -1.0 : (y[i] == y[j] ? 0 : 1)
                    sum += dx * dy
                    xPairs += dx * dx
                    yPairs += dy * dy
                }
            }
            let expected = sum / (xPairs * yPairs).squareRoot()
            #expect(abs(Correlations.kendallTauB(x, y).coefficient - expected) < 1e-12, "n = \(n)")
        }
    }
}

/// A small deterministic generator for test data.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
