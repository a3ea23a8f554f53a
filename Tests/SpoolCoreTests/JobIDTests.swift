import Testing
@testable import SpoolCore

@Suite("job ids")
struct JobIDTests {
    @Test("the id alphabet", arguments: [("a", true), ("A-1.b_c", true), ("../x", false), (".x", false), ("-x", false),
                                         ("", false), ("a b", false), ("é", false)])
    func alphabet(text: String, valid: Bool) {
        #expect(JobID.isValid(text) == valid)
        #expect(JobID.isValid(String(repeating: "a", count: 128)))
        #expect(!JobID.isValid(String(repeating: "a", count: 129)))
    }

    @Test("stems come from the file name with unsafe characters replaced", arguments: [
        ("report.json", "report"), ("my job!.json", "my_job_"), ("-x.json", "job-x"), ("naïve.json", "na__ve"),
    ])
    func stems(name: String, stem: String) {
        #expect(JobID.stem(of: FileName(name)) == stem)
    }

    @Test("generated ids start with the stem, are valid, unique and time-ordered")
    func generated() {
        let g = JobIDGenerator()
        let ids = (0..<1000).map { _ in g.next(stem: "x") }
        #expect(Set(ids).count == 1000)
        #expect(ids.allSatisfy { $0.rawValue.hasPrefix("x-") && JobID.isValid($0.rawValue) })
        let stamps = ids.map { String($0.rawValue.dropFirst(2).prefix(13)) }
        #expect(stamps == stamps.sorted())
    }

    @Test("non-UTF-8 file names render with escapes")
    func escapedNames() {
        #expect(FileName(bytes: [0x61, 0x0A, 0xFF]).description == "a\\n\\xff")
    }
}
