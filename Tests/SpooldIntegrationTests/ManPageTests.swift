// The man pages in man/ and the shell completions of spoolctl, checked against the programs
// themselves so that neither can drift: every command and flag that `spoolctl help` names is in
// spoolctl(1) and completed by bash, zsh and fish; every option of `spoold --help` is in spoold(8).
// Pages are rendered with man -l (warnings on); bash completion is run, fish's is asked for
// candidates, zsh's is parsed. man, groff, zsh and fish are installed by the tests (TestTools).
import Foundation
import Testing
import TestTools

private let manDir = ReleaseBinaries.root + "/man"

/// The commands of `spoolctl --help` (lines "  NAME ..." in its Commands section).
private func spoolctlCommands() -> [String] {
    let help = runCommand(Binaries.spoolctl, ["--help"]).stdout
    return help.split(separator: "\n").compactMap { line -> String? in
        guard line.hasPrefix("  "), !line.hasPrefix("   ") else { return nil }
        return line.dropFirst(2).split(separator: " ").first.map(String.init)
    }
}

/// Every `--flag` in the synopsis (first paragraph) of `spoolctl help COMMAND`.
private func spoolctlFlags(_ command: String) -> [String] {
    let usage = runCommand(Binaries.spoolctl, ["help", command]).stdout
    let synopsis = usage.components(separatedBy: "\n\n").first ?? ""
    return flags(in: synopsis)
}

private func flags(in text: String) -> [String] {
    var out: [String] = []
    for word in text.split(whereSeparator: { " \n[]|,".contains($0) }) where word.hasPrefix("--") && word.count > 2 {
        let flag = String(word.prefix { $0 == "-" || $0.isLetter || $0.isNumber })
        if !out.contains(flag) { out.append(flag) }
    }
    return out
}

/// A page rendered by man -l, 80 columns wide, with groff's warnings; fails on any warning.
private func render(_ page: String, man: ManTools) -> String {
    let r = TestTools.run(man.man, ["--warnings", "-l", "\(manDir)/\(page)"],
                          environment: ["MANWIDTH": "80", "LC_ALL": "C.UTF-8", "MANPAGER": "cat", "PAGER": "cat"])
    #expect(r.status == 0 && r.stderr.isEmpty, "man -l \(page): exit \(r.status)\n\(r.stderr)")
    return r.stdout
}

@Suite("man pages and completions")
struct ManPageTests {
    @Test("spoolctl --help lists at least the commands the README and SPEC use")
    func commandTable() {
        let commands = spoolctlCommands()
        for c in ["submit", "status", "list", "wait", "logs", "cancel", "retry", "validate", "completions"] {
            #expect(commands.contains(c), "\(commands)")
        }
    }

    @Test("man -l renders spoold(8), spoolctl(1) and spool-job(5) without a warning")
    func renders() throws {
        let man = try TestTools.man.orSkip()
        for (page, title) in [("spoold.8", "SPOOLD(8)"), ("spoolctl.1", "SPOOLCTL(1)"), ("spool-job.5", "SPOOL-JOB(5)")] {
            let text = render(page, man: man)
            #expect(text.hasPrefix(title) && text.contains("NAME") && text.contains("SEE ALSO"), "\(page):\n\(text.prefix(400))")
        }
    }

    @Test("spoolctl(1) documents every command and flag of spoolctl help; spoold(8) every option of spoold --help")
    func noDrift() throws {
        let man = try TestTools.man.orSkip()
        let spoolctl = render("spoolctl.1", man: man)
        let commands = spoolctlCommands()
        #expect(commands.count >= 10)
        for command in commands {
            // Its own subsection, and its synopsis with every flag.
            #expect(spoolctl.contains("\n   \(command)\n"), "spoolctl(1) has no section for \(command)")
            let lines = spoolctl.split(separator: "\n", omittingEmptySubsequences: false)
            let start = lines.firstIndex { $0 == "   \(command)" } ?? lines.endIndex
            // Up to the next subsection ("   name") or section ("NAME").
            let body = lines[start...].dropFirst().prefix { !$0.hasPrefix("   ") || $0.hasPrefix("    ") || $0.isEmpty }
                .prefix { $0.isEmpty || $0.hasPrefix(" ") }
            let section = body.joined(separator: "\n")
            for flag in spoolctlFlags(command) {
                #expect(section.contains(flag), "spoolctl(1), \(command): \(flag) is missing")
            }
        }
        let spoold = render("spoold.8", man: man)
        let options = flags(in: runCommand(Binaries.spoold, ["--help"]).stdout)
        #expect(options.count >= 10)
        for option in options {
            #expect(spoold.contains(option), "spoold(8): \(option) is missing")
        }
    }

    @Test("bash completion offers every command, and every flag of each command")
    func bash() throws {
        let script = runCommand(Binaries.spoolctl, ["completions", "bash"]).stdout
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("spoolctl-\(UUID().uuidString).bash").path
        try script.write(toFile: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: file) }
        func complete(_ words: [String]) -> [String] {
            let quoted = words.map { "'\($0)'" }.joined(separator: " ")
            let r = runCommand("/bin/bash", ["-c", "source \(file); COMP_WORDS=(\(quoted)); COMP_CWORD=\(words.count - 1); _spoolctl; "
                                             + "printf '%s\\n' \"${COMPREPLY[@]}\""])
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout.split(separator: "\n").map(String.init)
        }
        let commands = spoolctlCommands()
        #expect(Set(complete(["spoolctl", ""])) == Set(commands + ["help", "--spool", "--help"]))
        #expect(complete(["spoolctl", "--spool", "/x", "sub"]) == ["submit"])
        for command in commands {
            let offered = Set(complete(["spoolctl", command, "--"]))
            for flag in spoolctlFlags(command) { #expect(offered.contains(flag), "bash: \(command) \(flag) not offered") }
        }
        #expect(Set(complete(["spoolctl", "help", ""])) == Set(commands + ["help"]))
    }

    @Test("fish offers every command and flag; zsh's script parses and names them all")
    func fishAndZsh() throws {
        let shells = try TestTools.shells.orSkip()
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("spoolctl-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let commands = spoolctlCommands()

        let fish = "\(dir)/spoolctl.fish"
        try runCommand(Binaries.spoolctl, ["completions", "fish"]).stdout.write(toFile: fish, atomically: true, encoding: .utf8)
        func fishComplete(_ line: String) -> [String] {
            let r = runCommand(shells.fish, ["--no-config", "-c", "source \(fish); complete -C'\(line)'"])
            #expect(r.status == 0, "fish: \(r.stderr)")
            return r.stdout.split(separator: "\n").map { String($0.split(separator: "\t").first ?? "") }
        }
        #expect(Set(fishComplete("spoolctl ")).isSuperset(of: commands + ["help"]), "\(fishComplete("spoolctl "))")
        for command in commands {
            let offered = Set(fishComplete("spoolctl \(command) --"))
            for flag in spoolctlFlags(command) { #expect(offered.contains(flag), "fish: \(command) \(flag) not offered") }
        }

        let zsh = "\(dir)/_spoolctl"
        let script = runCommand(Binaries.spoolctl, ["completions", "zsh"]).stdout
        try script.write(toFile: zsh, atomically: true, encoding: .utf8)
        let parsed = runCommand(shells.zsh, ["-n", zsh])
        #expect(parsed.status == 0 && parsed.stderr.isEmpty, "zsh -n: \(parsed.stderr)")
        #expect(script.hasPrefix("#compdef spoolctl\n"))
        for command in commands {
            #expect(script.contains("'\(command):"), "zsh: \(command) not described")
            let line = script.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("\(command)) flags=(") } ?? ""
            for flag in spoolctlFlags(command) { #expect(line.contains(" \(flag)") || line.contains("(\(flag)"), "zsh: \(command) \(flag)") }
        }
    }
}
