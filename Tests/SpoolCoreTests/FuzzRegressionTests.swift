// Replays what the job-decoder fuzzer (scripts/fuzz.sh) found, plus its seed corpus: the decoder
// never traps, answers with a spec or a non-empty problem list naming the file, and an accepted
// job survives being written into a state file and read back (what restarts and spoolctl do).
import Foundation
import SpoolJSON
import Testing
@testable import SpoolCore

@Suite("fuzz regressions")
struct FuzzRegressionTests {
    /// Fuzz/ at the package root, from this file: Tests/SpoolCoreTests/FuzzRegressionTests.swift.
    static let fuzzRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fuzz")

    /// Every input in Fuzz/regressions/ (crashes found so far) and Fuzz/corpus/ (the seeds).
    static let inputs: [String] = ["regressions", "corpus"].flatMap { folder -> [String] in
        let dir = fuzzRoot.appendingPathComponent(folder).path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { "\(folder)/\($0)" }
    }

    @Test("the fuzz seed corpus is there to replay")
    func corpusExists() {
        #expect(Self.inputs.contains { $0.hasPrefix("corpus/") }, "no seed inputs under \(Self.fuzzRoot.path)/corpus")
    }

    @Test("each fuzz input is decoded without trapping into a spec or problems naming the file", arguments: inputs)
    func replay(_ input: String) throws {
        let bytes = try [UInt8](Data(contentsOf: Self.fuzzRoot.appendingPathComponent(input)))
        let file = "inbox/fuzz.json"
        switch JobSpec.parse(bytes, file: file) {
        case .failure(let problems):
            #expect(!problems.problems.isEmpty)
            for p in problems.problems { #expect(p.message.contains(file), "\(p.message)") }
        case .success(let spec):
            // What the daemon writes to pending/ must be readable at the next start.
            var record = JobRecord(id: spec.id ?? JobID("fuzz-1")!, name: spec.name ?? "fuzz", status: .pending, spec: spec,
                                   source: "fuzz.json", submittedAt: Timestamp(seconds: 1_700_000_000), sequence: 1)
            record.runAfter = spec.notBefore
            let encoded = record.encoded()
            let back = try #require(try? JobRecord.decode(encoded),
                                    "accepted, but its state file cannot be read back:\n\(String(decoding: encoded, as: UTF8.self))")
            #expect(back.spec?.command == spec.command && back.spec?.shell == spec.shell)
            if let a = spec.notBefore, let b = back.spec?.notBefore { #expect(abs(a.seconds - b.seconds) < 2e-6) }
        }
        // The raw parser on the same bytes must not trap either.
        _ = try? JSONParser().parse(bytes)
    }
}
