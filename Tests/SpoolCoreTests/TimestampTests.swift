// Record times: the fixed-width text written without String interpolation is the padded text,
// and it parses back to the same microsecond.
import Foundation
import Glibc
import Testing
@testable import SpoolCore

@Suite("timestamps")
struct TimestampTests {
    @Test("RFC 3339 text: known instants")
    func knownInstants() {
        #expect(Timestamp(seconds: 0).rfc3339 == "1970-01-01T00:00:00.000000Z")
        #expect(Timestamp(seconds: 1_700_000_000.25).rfc3339 == "2023-11-14T22:13:20.250000Z")
        #expect(Timestamp(seconds: 1_799_999_999.9999996).rfc3339 == "2027-01-15T08:00:00.000000Z")  // micros round up into the next second
        #expect(Timestamp(seconds: 253_402_300_800).rfc3339 == "10000-01-01T00:00:00.000000Z")  // past 9999: the padded form
    }

    @Test("RFC 3339 text: the buffer's text is the padded text, and parses back", arguments: 0..<4)
    func randomInstants(seed: Int) throws {
        var rng = SystemRandomNumberGenerator()
        for _ in 0..<2_500 {
            let t = Timestamp(seconds: Double.random(in: 0..<253_402_300_799, using: &rng))
            var whole = Int(t.seconds.rounded(.down))
            var micros = Int(((t.seconds - Double(whole)) * 1_000_000).rounded())
            if micros >= 1_000_000 { whole += 1; micros -= 1_000_000 }
            var tt = time_t(whole)
            var parts = tm()
            gmtime_r(&tt, &parts)
            #expect(t.rfc3339 == Timestamp.rfc3339Padded(parts, micros))
            let back = try #require(Timestamp(rfc3339: t.rfc3339))
            #expect(abs(back.seconds - t.seconds) <= 0.000_000_5 + abs(t.seconds) * 1e-15)
        }
    }
}
