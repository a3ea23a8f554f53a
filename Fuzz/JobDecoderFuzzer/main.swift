// libFuzzer target for the job-file decoder: random bytes go to the strict JSON parser and to
// JobSpec.parse (decoding + validation), and the results are checked against invariants the
// daemon relies on. Built by scripts/fuzz.sh (swiftc -sanitize=fuzzer,address), never by SwiftPM;
// control files are the second entry, compiled in (-D FUZZ_CONTROL) when ControlRequest.swift exists.
import Foundation
import SpoolJSON

/// The name the decoder is told; every problem message must mention it (SPEC §4).
private let fileLabel = "inbox/fuzz.json"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes: [UInt8] = (data == nil || size == 0) ? [] : Array(UnsafeBufferPointer(start: data, count: size))
    checkParser(bytes)
    checkDecoder(bytes)
    #if FUZZ_CONTROL
    checkControl(bytes)
    #endif
    return 0
}

/// The parser either throws a located error or returns a value that survives its own writer.
private func checkParser(_ bytes: [UInt8]) {
    let value: JSONValue
    do {
        value = try JSONParser().parse(bytes)
    } catch {
        check(error.offset >= 0 && error.offset <= bytes.count, "error offset \(error.offset) outside the input (\(bytes.count) bytes)")
        return
    }
    // What the writer prints (spoolctl submit uses it for job files) must parse back to the same
    // document. Numbers are compared by value: the writer prints 2.0 as 2 by design.
    let text = value.serialized()
    guard let again = try? JSONParser().parse(text) else {
        fail("writer output does not parse: \(text.prefix(200))")
    }
    check(sameDocument(value, again), "writer round trip changed the document: \(text.prefix(200))")
}

/// JobSpec.parse agrees with the parser, names the file in every problem, and an accepted job
/// survives the trip through a state file (JobRecord encode/decode, as pending/ and done/ use it).
private func checkDecoder(_ bytes: [UInt8]) {
    let parsedOK = (try? JSONParser().parse(bytes)) != nil
    switch JobSpec.parse(bytes, file: fileLabel) {
    case .failure(let problems):
        check(!problems.problems.isEmpty, "a failure without problems")
        for p in problems.problems {
            check(p.message.contains(fileLabel), "message does not name the file: \(p.message)")
        }
        if !parsedOK {
            check(problems.problems.count == 1 && problems.combined.code == .invalidJSON,
                         "unparsable input not reported as one invalid_json problem: \(problems.combined)")
        } else {
            check(problems.problems.allSatisfy { $0.code == .invalidJob }, "parsable input with a non-invalid_job problem")
        }
    case .success(let spec):
        check(parsedOK, "JobSpec.parse accepted bytes the JSON parser rejects")
        let actions = [spec.command != nil, spec.shell != nil, spec.operations != nil].filter { $0 }.count
        check(actions == 1, "accepted job has \(actions) of command/shell/operations")
        if let c = spec.command { check(!c.isEmpty && !c[0].isEmpty, "accepted an empty argv") }
        if let id = spec.id { check(JobID.isValid(id.rawValue), "accepted an invalid id") }
        checkRecordRoundTrip(spec)
    }
}

/// The accepted spec written into a record and read back the way recovery and spoolctl read it.
private func checkRecordRoundTrip(_ spec: JobSpec) {
    var record = JobRecord(id: spec.id ?? JobID("fuzz-1")!, name: spec.name ?? "fuzz", status: .pending, spec: spec,
                           source: "fuzz.json", submittedAt: Timestamp(seconds: 1_700_000_000), sequence: 1)
    record.runAfter = spec.notBefore
    let encoded = record.encoded()
    let decoded: JobRecord
    do {
        decoded = try JobRecord.decode(encoded)
    } catch {
        fail("a state file for an accepted job cannot be read back: \(error)\n\(String(decoding: encoded.prefix(600), as: UTF8.self))")
    }
    guard var back = decoded.spec else { fail("spec lost in the record") }
    // Times are stored with microseconds: compare them with that tolerance, the rest exactly.
    if let a = spec.notBefore, let b = back.notBefore {
        check(abs(a.seconds - b.seconds) < 2e-6, "not_before changed: \(a.seconds) -> \(b.seconds)")
        back.notBefore = a
    }
    check(back == spec, "spec changed in the record round trip: \(spec) -> \(back)")
    // The spec must also still be a valid job file (spoolctl retry resubmits it).
    let specJSON = JSONEncoderBox().encode(spec)
    if case .failure(let p) = JobSpec.parse(specJSON, file: fileLabel) {
        fail("an accepted spec, re-encoded, is rejected: \(p.combined)\n\(String(decoding: specJSON.prefix(600), as: UTF8.self))")
    }
}

#if FUZZ_CONTROL
/// A control request is rejected naming the file, or accepted and written back unchanged.
private func checkControl(_ bytes: [UInt8]) {
    let file = "control/fuzz.json"
    switch ControlRequest.parse(bytes, file: file) {
    case .failure(let e):
        check(e.message.contains(file), "control message does not name the file: \(e.message)")
    case .success(let request):
        guard case .success(let again) = ControlRequest.parse(request.encoded(), file: file) else {
            fail("an accepted control request, re-encoded, is rejected")
        }
        check(again == request, "control request changed in a round trip: \(request) -> \(again)")
    }
}
#endif

/// A broken invariant: say which (preconditions lose their message under -O) and abort, which
/// libFuzzer reports as a crash and saves the input for.
private func check(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fail(message()) }
}

private func fail(_ message: String) -> Never {
    var line = "fuzz invariant broken: \(message)\n"
    line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    abort()
}

/// Structural equality with numbers compared by value.
private func sameDocument(_ a: JSONValue, _ b: JSONValue) -> Bool {
    switch (a, b) {
    case (.null, .null): return true
    case (.bool(let x), .bool(let y)): return x == y
    case (.number(let x), .number(let y)): return x.double == y.double
    case (.string(let x), .string(let y)): return x == y
    case (.array(let x), .array(let y)): return x.count == y.count && zip(x, y).allSatisfy { sameDocument($0, $1) }
    case (.object(let x), .object(let y)):
        return x.count == y.count && zip(x.members, y.members).allSatisfy { $0.key == $1.key && sameDocument($0.value, $1.value) }
    default: return false
    }
}
