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

    @Test("what it writes parses back and writes the same text again")
    func roundTrip() throws {
        for (value, text) in Self.compact {
            let again = try JSONParser().parse(Array(value.serialized(pretty: true).utf8))
            #expect(again.serialized() == text, "\(value)")
        }
    }
}
