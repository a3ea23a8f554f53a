// Student's t distribution tails through the incomplete beta function, and the p-value of a
// t statistic for each alternative hypothesis (as scipy's t.sf / t.cdf).

/// Which side(s) of the null distribution count as evidence, as scipy's `alternative`.
enum Alternative: String, Sendable, CaseIterable {
    case twoSided = "two-sided"
    case less
    case greater
}

enum StudentT {
    /// P(|T| > |t|) with `df` degrees of freedom: I_{df/(df+t²)}(df/2, 1/2).
    static func twoTailed(_ t: Double, df: Double) -> Double {
        let t2 = t * t
        guard t2.isFinite else { return 0 }
        let x = df / (df + t2), y = t2 / (df + t2)
        return min(1, SpecialFunctions.incompleteBeta(a: df / 2, b: 0.5, x: x, y: y))
    }

    /// P(T > t).
    static func survival(_ t: Double, df: Double) -> Double {
        let half = twoTailed(t, df: df) / 2
        return t > 0 ? half : 1 - half
    }

    /// P(T ≤ t).
    static func cdf(_ t: Double, df: Double) -> Double {
        let half = twoTailed(t, df: df) / 2
        return t < 0 ? half : 1 - half
    }

    /// The p-value of statistic `t` under `alternative`.
    static func pValue(_ t: Double, df: Double, _ alternative: Alternative) -> Double {
        switch alternative {
        case .twoSided: return twoTailed(t, df: df)
        case .less: return cdf(t, df: df)
        case .greater: return survival(t, df: df)
        }
    }
}
