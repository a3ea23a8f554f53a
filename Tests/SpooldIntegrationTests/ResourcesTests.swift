// SPEC §3 `resources` on the local executor: `cpus` takes that many worker slots (measured from
// the jobs' own timestamps), `gpus` hands out configured devices through CUDA_VISIBLE_DEVICES,
// and a job that can never fit is rejected at intake naming the field.
import Foundation
import Testing

@Suite("resources", .serialized)
struct ResourcesTests {
    @Test("a job with cpus 2 on 2 workers never runs beside another job")
    func cpusTakeSlots() throws {
        let spool = try TempSpool()
        let log = spool.path("intervals")
        func line(_ tag: String) -> String { #"s=$(date +%s.%N); sleep 0.3; echo \"\#(tag) $s $(date +%s.%N)\" >> \#(log)"# }
        try spool.drop("a.json", #"{"id": "a", "shell": "\#(line("small"))"}"#)
        try spool.drop("big.json", #"{"id": "big", "resources": {"cpus": 2}, "shell": "\#(line("big"))"}"#)
        for i in 0..<3 { try spool.drop("s\(i).json", #"{"id": "s\#(i)", "shell": "\#(line("small"))"}"#) }
        drain(spool, workers: 2)
        let rows = (spool.read("intervals") ?? "").split(separator: "\n").map { $0.split(separator: " ") }
        #expect(rows.count == 5)
        let big = try #require(rows.first { $0.first == "big" }).dropFirst().compactMap { Double($0) }
        for r in rows where r.first == "small" {
            let t = r.dropFirst().compactMap { Double($0) }
            #expect(t[1] <= big[0] || t[0] >= big[1], "a small job ran beside the 2-slot one: \(t) vs \(big)")
        }
        #expect(spool.record("big")?["spec"].flatMap { ($0 as? [String: Any])?["resources"] as? [String: Any] }?["cpus"] as? Int == 2)
    }

    @Test("what can never fit is rejected at intake naming the field; nothing runs")
    func neverFits() throws {
        let spool = try TempSpool()
        let marker = spool.path("ran")
        let cases = [
            ("cpus", #"{"cpus": 3}"#, "resources.cpus", "runs 2 at most"),
            ("gpus", #"{"gpus": 1}"#, "resources.gpus", "no GPUs configured"),
            ("memory", #"{"memory_mb": 999999999}"#, "resources.memory_mb", "MiB"),
            ("unknown", #"{"disk_gb": 5}"#, "resources.disk_gb", "allowed: cpus, memory_mb, gpus"),
            ("zero", #"{"cpus": 0}"#, "resources.cpus", "from 1"),
        ]
        for (id, resources, _, _) in cases {
            try spool.drop("\(id).json", #"{"id": "\#(id)", "resources": \#(resources), "shell": "touch \#(marker)"}"#)
        }
        drain(spool, workers: 2)
        for (id, _, field, text) in cases {
            let r = try #require(spool.record(id), "\(id)")
            #expect(r.status == "rejected" && r.errorCode == "invalid_job", "\(id): \(r)")
            #expect(r.errorMessage?.contains(field) == true && r.errorMessage?.contains(text) == true, "\(id): \(r.errorMessage ?? "")")
        }
        #expect(!FileManager.default.fileExists(atPath: marker))
    }

    @Test("configured GPUs go one per asking job through CUDA_VISIBLE_DEVICES; a job asking none sees none")
    func gpus() throws {
        let spool = try TempSpool()
        try spool.write("config.json", #"{"gpus": ["0", "1"]}"#)
        // Both GPU jobs wait (up to 20 s) until both have started: they hold their devices at the same time.
        let barrier = #"echo \"$CUDA_VISIBLE_DEVICES\" > \#(spool.path("dev"))$SPOOL_JOB_ID; n=0; while [ $(ls \#(spool.root) | grep -c '^devg') -lt 2 ] && [ $n -lt 200 ]; do sleep 0.1; n=$((n+1)); done"#
        try spool.drop("g1.json", #"{"id": "g1", "resources": {"gpus": 1}, "shell": "\#(barrier)"}"#)
        try spool.drop("g2.json", #"{"id": "g2", "resources": {"gpus": 1}, "shell": "\#(barrier)"}"#)
        try spool.drop("p.json", #"{"id": "p", "shell": "echo \"[$CUDA_VISIBLE_DEVICES]\""}"#)
        drain(spool, workers: 4)
        let devices = Set(["g1", "g2"].compactMap { spool.read("dev\($0)")?.trimmingCharacters(in: .whitespacesAndNewlines) })
        #expect(devices == ["0", "1"], "\(devices)")
        #expect(spool.read("done/p.stdout") == "[]\n")
    }

    @Test("spoolctl validate knows the spool's workers and GPUs from config.json")
    func validateKnowsTheSpool() throws {
        let spool = try TempSpool()
        try spool.write("config.json", #"{"workers": 2}"#)
        let file = spool.path("job.json")
        try Data(#"{"resources": {"cpus": 4, "gpus": 1}, "command": ["true"]}"#.utf8).write(to: URL(fileURLWithPath: file))
        let v = runCommand(Binaries.spoolctl, ["--spool", spool.root, "validate", file])
        #expect(v.status == 1)
        #expect(v.stdout.contains("resources.cpus") && v.stdout.contains("resources.gpus"), "\(v.stdout)\(v.stderr)")
    }
}
