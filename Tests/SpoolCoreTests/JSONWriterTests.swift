// The serializer writes the exact text records have always had (it moved from String appends to a
// byte buffer for speed): a table of values and the text each must give.
import Foundation
import Testing
import SpoolJSON

@Suite("JSON writer")
struct JSONWriterTests {
    static let compact: [(JSONValue, String)] = [
        (.null, "null"), (true, "true"), (false, "false"),
        (0, "0"), (-7, "-7"), (1234567890, "1234567890"),
        (.number(JSONNumber(Int(Int64.max))), "9223372036854775807"),
        (.number(JSONNumber(Int(Int64.min))), "-9223372036854775808"),
        (2.5, "2.5"), (-0.125, "-0.125"), (3.0, "3"), (1e20, "1e+20"), (0.1, "0.1"),
        (.number(JSONNumber(Double.nan)), "null"), (.number(JSONNumber(Double.infinity)), "null"),
        ("plain", "\"plain\""), ("", "\"\""),
        ("q\"b\\n\nr\rt\t", #""q\"b\\n\nr\rt\t""#),
        ("\u{01}\u{1f}x", #""\u0001\u001fx""#),
        ("héllo → 😀", "\"héllo → 😀\""),
        ([], "[]"), ([:], "{}"),
        ([1, "a", nil], #"[1,"a",null]"#),
        (["b": 1, "a": [true]], #"{"b":1,"a":[true]}"#),
    ]

    @Test("compact text, value by value")
    func compactText() {
        for (value, text) in Self.compact {
            #expect(value.serialized() == text, "\(value)")
            #expect(value.serializedBytes() == Array(text.utf8), "\(value)")
        }
    }

    @Test("pretty text: two spaces per level, the record style's \" : \"")
    func prettyText() {
        let v: JSONValue = ["id": "x", "ops": [["n": 1], []], "e": [:]]
        #expect(v.serialized(pretty: true, spaceBeforeColon: true) == """
        {
          "id" : "x",
          "ops" : [
            {
              "n" : 1
            },
            []
          ],
          "e" : {}
        }
        """)
        #expect(v.serialized(pretty: true) == "{\n  \"id\": \"x\",\n  \"ops\": [\n    {\n      \"n\": 1\n    },\n    []\n  ],\n  \"e\": {}\n}")
    }

    @Test("pretty text: an array of scalars only is written on one line; one holding a container is not")
    func prettyScalarArrays() {
        let v: JSONValue = ["data": [1, 2.5, "a, b", nil, true], "mixed": [1, []], "argv": ["sh", "-c", "echo\n"]]
        #expect(v.serialized(pretty: true, spaceBeforeColon: true) == """
        {
          "data" : [1, 2.5, "a, b", null, true],
          "mixed" : [
            1,
            []
          ],
          "argv" : ["sh", "-c", "echo\\n"]
        }
        """)
        #expect(v.serialized() == #"{"data":[1,2.5,"a, b",null,true],"mixed":[1,[]],"argv":["sh","-c","echo\n"]}"#)
    }

    @Test("a number is written as Swift's shortest text for it (few decimals without a String; the rest through description)")
    func numbersAsDescription() throws {
        var rng = SystemRandomNumberGenerator()
        var values: [Double] = [0.1, 0.2, 0.3, 97.8, -3.125, 0.001, 0.0015, 999_999_999.5, 1e-4, 1e9 + 0.5, 123_456.789_012,
                                2.5e-7, 1.7976931348623157e308, .leastNonzeroMagnitude, -0.0, 0.1 + 0.2, 1.0 / 3.0]
        for decimals in 1...7 {
            let scale = pow(10.0, Double(decimals))
            for _ in 0..<2_000 {
                values.append(Double(Int64.random(in: -10_000_000_000...10_000_000_000, using: &rng)) / scale)
            }
        }
        for _ in 0..<2_000 { values.append(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng))) }
        for d in values where d.isFinite {
            let text = JSONValue.number(JSONNumber(d)).serialized()
            #expect(Double(text) == d, "\(text) for \(d)")
            if d != d.rounded() { #expect(text == d.description, "\(text) for \(d)") }
        }
    }

    @Test("an array of numbers only (made in one buffer) is the numbers' own texts, joined")
    func arrayOfNumbers() throws {
        var rng = SystemRandomNumberGenerator()
        var numbers: [JSONNumber] = [JSONNumber(0), JSONNumber(-7), JSONNumber(Int(Int64.max)), JSONNumber(Int(Int64.min)),
                                     JSONNumber(97.8), JSONNumber(-0.001), JSONNumber(1.0 / 3.0), JSONNumber(-1.7976931348623157e308),
                                     JSONNumber(.nan), JSONNumber(-2.2250738585072014e-308)]
        for _ in 0..<500 {
            numbers.append(JSONNumber(Double(Int64.random(in: -10_000_000...10_000_000, using: &rng)) / 1000))
            numbers.append(JSONNumber(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng))))
        }
        let texts = numbers.map { JSONValue.number($0).serialized() }
        let array = JSONValue.array(numbers.map(JSONValue.number))
        #expect(array.serialized() == "[" + texts.joined(separator: ",") + "]")
        #expect(array.serialized(pretty: true) == "[" + texts.joined(separator: ", ") + "]")
        #expect(texts[2] == "9223372036854775807" && texts[3] == "-9223372036854775808" && texts[8] == "null")
        #expect(texts[5] == "-0.001" && texts[9] == "-2.2250738585072014e-308")
        // Longer than a buffer of numbers (4,096): the blocks join as one array.
        let long = (0..<10_000).map { JSONNumber(Double($0) / 8 - 600) }
        let longTexts = long.map { JSONValue.number($0).serialized() }
        #expect(JSONValue.array(long.map(JSONValue.number)).serialized(pretty: true) == "[" + longTexts.joined(separator: ", ") + "]")
    }

    @Test("what it writes parses back and writes the same text again")
    func roundTrip() throws {
        for (value, text) in Self.compact {
            let again = try JSONParser().parse(Array(value.serialized(pretty: true).utf8))
            #expect(again.serialized() == text, "\(value)")
        }
    }
}
