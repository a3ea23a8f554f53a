// Maps an operation's `type` string to its implementation.

public enum BuiltinRegistry {
    /// Every built-in type, by `typeName`.
    public static let all: [String: any BuiltinOperation] = {
        let types: [any BuiltinOperation] = [
            DescriptiveStats(),
            TTest(),
            Correlation(),
            CorrelationMatrix(),
            AnomalyDetection(),
            Forecast(),
            HTTPCall(),
        ]
        return Dictionary(uniqueKeysWithValues: types.map { (type(of: $0).typeName, $0) })
    }()

    public static func operation(named name: String) -> (any BuiltinOperation)? { all[name] }
}
