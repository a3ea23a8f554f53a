// The engine's jitter generator: the reference sequence, and draws spread over [0, 1).
import Testing
@testable import SpoolCore

@Suite("SplitMix64")
struct SplitMix64Tests {
    @Test("seed 0 gives the published first outputs")
    func referenceSequence() {
        var g = SplitMix64(seed: 0)
        #expect([g.next(), g.next(), g.next()] == [0xE220_A839_7B1D_CDAF, 0x6E78_9E6A_A1B9_65F4, 0x06C4_5D18_8009_454F])
    }

    @Test("jitter draws fall in [0, 1) and fill its tenths")
    func drawsSpread() {
        var g = SplitMix64(seed: 42)
        var tenths = Set<Int>()
        for _ in 0..<1_000 {
            let d = Double.random(in: 0..<1, using: &g)
            #expect(d >= 0 && d < 1)
            tenths.insert(Int(d * 10))
        }
        #expect(tenths.count == 10)
    }
}
