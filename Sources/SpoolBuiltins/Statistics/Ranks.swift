// Ranks with ties given the average of the positions they span (scipy.stats.rankdata 'average'),
// used by Spearman's correlation.

enum Ranks {
    /// 1-based ranks of `values`; equal values share the mean of their ranks.
    static func average(_ values: [Double]) -> [Double] {
        let order = values.indices.sorted { values[$0] < values[$1] }
        var ranks = [Double](repeating: 0, count: values.count)
        var start = 0
        while start < order.count {
            var end = start
            while end + 1 < order.count, values[order[end + 1]] == values[order[start]] { end += 1 }
            let rank = Double(start + end) / 2 + 1
            for i in start...end { ranks[order[i]] = rank }
            start = end + 1
        }
        return ranks
    }
}
