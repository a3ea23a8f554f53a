// Special functions behind the p-values: log-gamma (Lanczos, as in Numerical Recipes 3rd ed.),
// the regularized incomplete beta function (Lentz continued fraction) and the standard normal
// tail. Written in Swift so results do not depend on a platform's libm extensions.
import Foundation

enum SpecialFunctions {
    private static let lanczos: [Double] = [
        57.1562356658629235, -59.5979603554754912, 14.1360979747417471, -0.491913816097620199,
        0.339946499848118887e-4, 0.465236289270485756e-4, -0.983744753048795646e-4,
        0.158088703224912494e-3, -0.210264441724104883e-3, 0.217439618115212643e-3,
        -0.164318106536763890e-3, 0.844182239838527433e-4, -0.261908384015814087e-4,
        0.368991826595316234e-5,
    ]

    /// ln Γ(x) for x > 0.
    static func logGamma(_ x: Double) -> Double {
        var y = x
        var tmp = x + 671.0 / 128.0
        tmp = (x + 0.5) * log(tmp) - tmp
        var series = 0.999999999999997092
        for c in lanczos {
            y += 1
            series += c / y
        }
        return tmp + log(2.5066282746310005 * series / x)
    }

    /// ln B(a, b) for a, b > 0.
    static func logBeta(_ a: Double, _ b: Double) -> Double {
        logGamma(a) + logGamma(b) - logGamma(a + b)
    }

    /// The regularized incomplete beta I_x(a, b). `y` must be 1 − x, passed separately so that
    /// callers that know it exactly (t and F tails) keep full precision near x = 1.
    static func incompleteBeta(a: Double, b: Double, x: Double, y: Double) -> Double {
        if x <= 0 { return 0 }
        if y <= 0 { return 1 }
        let front = exp(a * log(x) + b * log(y) - logBeta(a, b))
        if x < (a + 1) / (a + b + 2) {
            return front * continuedFraction(a: a, b: b, x: x) / a
        }
        return 1 - front * continuedFraction(a: b, b: a, x: y) / b
    }

    /// The continued fraction for I_x(a, b), evaluated by the modified Lentz method.
    private static func continuedFraction(a: Double, b: Double, x: Double) -> Double {
        let tiny = 1e-300
        let epsilon = 1e-16
        let qab = a + b, qap = a + 1, qam = a - 1
        var c = 1.0
        var d = 1 - qab * x / qap
        if abs(d) < tiny { d = tiny }
        d = 1 / d
        var h = d
        for step in 1...200_000 {
            let m = Double(step), m2 = 2 * m
            var aa = m * (b - m) * x / ((qam + m2) * (a + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            h *= d * c
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
            d = 1 + aa * d
            if abs(d) < tiny { d = tiny }
            c = 1 + aa / c
            if abs(c) < tiny { c = tiny }
            d = 1 / d
            let delta = d * c
            h *= delta
            if abs(delta - 1) <= epsilon { break }
        }
        return h
    }

    /// P(Z > z) for a standard normal Z.
    static func normalSurvival(_ z: Double) -> Double {
        0.5 * erfc(z / 2.0.squareRoot())
    }

    /// P(Z ≤ z) for a standard normal Z.
    static func normalCDF(_ z: Double) -> Double {
        0.5 * erfc(-z / 2.0.squareRoot())
    }
}
