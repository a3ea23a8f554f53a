import Testing
@testable import SpoolJSON

@Suite("JSON parser")
struct JSONParserTests {
    @Test("parses every JSON type and keeps key order and integer-ness")
    func parsesTypes() throws {
        let v = try JSONParser().parse(#"{"b": 1, "a": [true, false, null, 1.5, -2e3, "x\n\u00e9\ud83d\ude00"]}"#)
        let o = try #require(v.objectValue)
        #expect(o.keys == ["b", "a"])
        #expect(o["b"] == .number(JSONNumber(1)))
        #expect(o["b"]?.typeDescription == "an integer")
        let a = try #require(o["a"]?.arrayValue)
        #expect(a[0] == .bool(true) && a[2] == .null)
        #expect(a[3].typeDescription == "a number")
        #expect(a[4].doubleValue == -2000)
        #expect(a[5].stringValue == "x\né😀")
    }

    @Test("rejects malformed input with a reason and an offset", arguments: [
        ("", "empty file"),
        ("{", "unexpected end of input"),
        (#"{"a": 1,}"#, "expected a string key"),
        (#"{"a": 1} x"#, "unexpected data after"),
        (#"{"a": 01}"#, "leading zero"),
        (#"{"a": "\x"}"#, "invalid escape"),
        (#"{"a": 1, "a": 2}"#, "duplicate key"),
        ("[1 2]", "expected ',' or ']'"),
        ("\"a\tb\"", "control character"),
        (#"{"a": "\ud800"}"#, "lone surrogate"),
        ("nul", "unexpected"),
        ("1e999", "out of range"),
    ])
    func rejects(input: String, fragment: String) {
        #expect {
            _ = try JSONParser().parse(input)
        } throws: { error in
            "\(error)".contains(fragment)
        }
    }

    @Test("rejects invalid UTF-8 in strings")
    func invalidUTF8() {
        let bytes: [UInt8] = Array(#"{"a": ""#.utf8) + [0xFF, 0xFE] + Array("\"}".utf8)
        #expect(throws: JSONParseError.self) { try JSONParser().parse(bytes) }
    }

    @Test("100,000 levels of nesting are an error, not a stack overflow")
    func deepNesting() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        #expect {
            _ = try JSONParser().parse(deep)
        } throws: { error in
            "\(error)".contains("nesting deeper than 64 levels")
        }
    }

    @Test("numbers read as Double(text) and Int64(text) read them (the digits-only fast path included)")
    func numbersAsSwiftReadsThem() throws {
        var texts = ["0", "-0", "0.5", "-0.05", "97.8", "123456789012345", "1234567890123456", "12345678901234567890",
                     "0.000000000000001", "0.1234567890123456", "9007199254740993", "1e3", "-2.5E-3", "1.7976931348623157e308",
                     "999999999999999.9", "100", "-100", "0.30000000000000004"]
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<5_000 {
            let whole = UInt64.random(in: 0...UInt64(1) << UInt64.random(in: 1...60, using: &rng), using: &rng)
            let sign = Bool.random(using: &rng) ? "-" : ""
            let decimals = Int.random(in: 0...17, using: &rng)
            let fraction = (0..<decimals).map { _ in String(Int.random(in: 0...9, using: &rng)) }.joined()
            texts.append(sign + String(whole) + (decimals > 0 ? "." + fraction : ""))
        }
        for text in texts {
            guard case .number(let n) = try JSONParser().parse(text) else {
                Issue.record("\(text): not a number")
                continue
            }
            let expected = try #require(Double(text))
            #expect(n.double == expected && n.double.sign == expected.sign, "\(text): \(n.double) against \(expected)")
            let isInteger = !text.contains(".") && !text.lowercased().contains("e")
            #expect(n.integer == (isInteger ? Int64(text) : nil), "\(text)")
        }
    }

    @Test("serialization round-trips")
    func roundTrip() throws {
        let text = #"{"a":[1,2.5,"q\"\\",null,true],"b":{}}"#
        let v = try JSONParser().parse(text)
        #expect(v.serialized() == text)
        #expect(try JSONParser().parse(v.serialized(pretty: true)) == v)
    }
}
