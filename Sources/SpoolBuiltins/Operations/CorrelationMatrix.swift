// `correlation_matrix`: pairwise correlations of named columns, in the order the columns
// appear in the `columns` object; the diagonal is exactly 1.
import SpoolJSON

/// Pairwise correlation coefficients of several columns.
public struct CorrelationMatrix: BuiltinOperation {
    /// The `type` string of this operation.
    public static let typeName = "correlation_matrix"

    static let columnsExpected = "an object of at least 2 named arrays of numbers"

    /// Its params, checked at submit time and again by `run`.
    public static let schema = ParamSchema([
        .parsed("columns", required: true, expected: columnsExpected, columns),
        Correlation.methodParam,
    ])

    /// Creates the operation; it holds no state.
    public init() {}

    /// The `columns` object, checked for what needs no data: an object of at least 2 arrays of numbers.
    static func columns(_ v: JSONValue) throws(BuiltinError) -> JSONObject {
        guard case .object(let columns) = v else {
            throw BuiltinError("param \"columns\" must be \(columnsExpected), got \(v.typeDescription)")
        }
        guard columns.count >= 2 else {
            throw BuiltinError("param \"columns\" must be \(columnsExpected), got \(columns.count)")
        }
        for (name, value) in columns.members {
            if let e = Params.numberElementsProblem(value, label: "column \"\(shortened(name))\"", minCount: 3) { throw e }
        }
        return columns
    }

    public func run(params: JSONValue) throws(BuiltinError) -> JSONValue {
        let p = try Params(params, schema: Self.schema)
        let method = try Correlation.method(p)
        let columns = try Self.columns(p.value("columns") ?? .null)
        var names: [String] = []
        var data: [[Double]] = []
        for (name, value) in columns.members {
            let values = try Params.numbers(value, label: "column \"\(name)\"", minCount: 3)
            if let first = data.first, first.count != values.count {
                throw BuiltinError("column \"\(name)\" has \(values.count) values but column \"\(names[0])\" has \(first.count); all columns must have the same length")
            }
            if Correlations.isConstant(values) {
                throw BuiltinError("column \"\(name)\" has zero variance; its correlation is undefined")
            }
            names.append(name)
            data.append(values)
        }

        var matrix = [[Double]](repeating: [Double](repeating: 1, count: data.count), count: data.count)
        for i in data.indices {
            for j in data.indices where j > i {
                let c = Correlations.estimate(method, data[i], data[j]).coefficient
                matrix[i][j] = c
                matrix[j][i] = c
            }
        }
        var r = ResultFields()
        r.set("names", .array(names.map { .string($0) }))
        var rows: [JSONValue] = []
        for row in matrix { rows.append(try finiteArray(row, field: "matrix")) }
        r.set("matrix", .array(rows))
        r.set("method", .string(method.rawValue))
        r.integer("n", data[0].count)
        return r.value
    }
}
