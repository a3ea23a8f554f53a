// The forecasting models: an ordinary least-squares line on the index 0..n−1, simple
// exponential smoothing (level starts at the first value) and Holt's linear trend method
// (level starts at y0, trend at y1 − y0).

enum Smoothing {
    /// The least-squares line through (i, data[i]); needs at least 2 values.
    static func leastSquaresLine(_ data: [Double]) -> (slope: Double, intercept: Double) {
        let n = Double(data.count)
        let meanT = (n - 1) / 2
        let meanY = Summary.mean(data)
        var sty = 0.0, stt = 0.0
        for (i, y) in data.enumerated() {
            let dt = Double(i) - meanT
            sty += dt * (y - meanY)
            stt += dt * dt
        }
        let slope = sty / stt
        return (slope, meanY - slope * meanT)
    }

    /// The final level of simple exponential smoothing: ℓ ← α·y + (1 − α)·ℓ from ℓ = y0.
    static func exponential(_ data: [Double], alpha: Double) -> Double {
        var level = data[0]
        for y in data.dropFirst() { level = alpha * y + (1 - alpha) * level }
        return level
    }

    /// The final level and trend of Holt's method over y1..y(n−1), from ℓ = y0 and b = y1 − y0.
    static func holt(_ data: [Double], alpha: Double, beta: Double) -> (level: Double, trend: Double) {
        var level = data[0]
        var trend = data[1] - data[0]
        for y in data.dropFirst() {
            let previous = level
            level = alpha * y + (1 - alpha) * (level + trend)
            trend = beta * (level - previous) + (1 - beta) * trend
        }
        return (level, trend)
    }
}
