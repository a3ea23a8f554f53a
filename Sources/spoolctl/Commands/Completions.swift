// spoolctl completions SHELL: a completion script for bash, zsh or fish, made from the command
// table and each command's usage (its synopsis lines), so that a new command or flag is
// completed as soon as it is documented in its usage. The packages install the output.

enum Completions: Command {
    static let name = "completions"
    static let summary = "print a shell completion script (bash, zsh or fish) made from this command table"
    static let usage = """
        Usage: spoolctl completions bash|zsh|fish

        Prints a completion script for the shell. Install it where the shell looks:
          bash: /usr/share/bash-completion/completions/spoolctl
          zsh:  /usr/share/zsh/vendor-completions/_spoolctl
          fish: /usr/share/fish/vendor_completions.d/spoolctl.fish
        The packages (scripts/install.sh, packaging/build-deb.sh) do this.
        """

    static func run(_ args: inout Arguments, spool: String) throws -> Int32 {
        let shells = try args.positionals()
        guard shells.count == 1 else { throw UsageError(message: "give one shell: bash, zsh or fish") }
        switch shells[0] {
        case "bash": print(bash(), terminator: "")
        case "zsh": print(zsh(), terminator: "")
        case "fish": print(fish(), terminator: "")
        default: throw UsageError(message: "unknown shell \"\(shells[0])\": bash, zsh or fish")
        }
        return Exit.ok
    }

    /// A command's flags from its synopsis lines: (flag, takes a value).
    static func flags(_ usage: String) -> [(flag: String, value: Bool)] {
        var out: [(String, Bool)] = []
        for line in synopses(usage) {
            let words = line.replacingOccurrences(of: "[", with: " ").replacingOccurrences(of: "]", with: " ")
                .replacingOccurrences(of: "...", with: " ").split(separator: " ").map(String.init)
            for (i, w) in words.enumerated() where w.hasPrefix("--") && w.count > 2 && !out.contains(where: { $0.0 == w }) {
                let next = i + 1 < words.count ? words[i + 1] : ""
                let takesValue = !next.isEmpty && !next.hasPrefix("-") && next.first!.isLetter && (next == next.uppercased() || next.contains("|"))
                out.append((w, takesValue))
            }
        }
        return out + [("--help", false)]
    }

    static var names: [String] { commands.map { $0.name } + ["help"] }

    static func bash() -> String {
        var cases = ""
        for c in commands {
            let f = flags(c.usage)
            cases += "        \(c.name)) flags=\"\(f.map(\.flag).joined(separator: " "))\"; "
                + "valued=\"\(f.filter(\.value).map(\.flag).joined(separator: " "))\" ;;\n"
        }
        return """
            # bash completion for spoolctl, made by `spoolctl completions bash` from its command table.
            _spoolctl() {
                local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
                local commands="\(names.joined(separator: " "))"
                local i cmd="" flags="" valued=""
                for ((i = 1; i < COMP_CWORD; i++)); do
                    case ${COMP_WORDS[i]} in
                        --spool) ((i++)) ;;
                        -*) ;;
                        *) cmd=${COMP_WORDS[i]}; break ;;
                    esac
                done
                if [[ $prev == --spool ]]; then
                    COMPREPLY=($(compgen -d -- "$cur")); return
                fi
                if [[ -z $cmd ]]; then
                    COMPREPLY=($(compgen -W "$commands --spool --help" -- "$cur")); return
                fi
                case $cmd in
            \(cases)        help) COMPREPLY=($(compgen -W "$commands" -- "$cur")); return ;;
                esac
                if [[ " $valued " == *" $prev "* ]]; then
                    COMPREPLY=($(compgen -f -- "$cur"))
                elif [[ $cur == -* ]]; then
                    COMPREPLY=($(compgen -W "$flags" -- "$cur"))
                else
                    COMPREPLY=($(compgen -f -- "$cur"))
                fi
            }
            complete -F _spoolctl spoolctl

            """
    }

    static func zsh() -> String {
        func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let described = (commands.map { (name: $0.name, summary: $0.summary) } + [("help", "show a command's usage")])
            .map { quoted("\($0.name):\($0.summary.replacingOccurrences(of: ":", with: "\\:"))") }
        var cases = ""
        for c in commands {
            cases += "    \(c.name)) flags=(\(flags(c.usage).map(\.flag).joined(separator: " "))) ;;\n"
        }
        return """
            #compdef spoolctl
            # zsh completion for spoolctl, made by `spoolctl completions zsh` from its command table.
            _spoolctl() {
              local -a commands flags
              commands=(\(described.joined(separator: " ")))
              local i cmd=
              for ((i = 2; i < CURRENT; i++)); do
                case ${words[i]} in
                  --spool) ((i++)) ;;
                  -*) ;;
                  *) cmd=${words[i]}; break ;;
                esac
              done
              if [[ ${words[CURRENT-1]} == --spool ]]; then _files -/; return; fi
              if [[ -z $cmd ]]; then
                if [[ $PREFIX == -* ]]; then compadd -- --spool --help; else _describe command commands; fi
                return
              fi
              case $cmd in
            \(cases)    help) _describe command commands; return ;;
              esac
              if [[ $PREFIX == -* ]]; then compadd -- $flags; else _files; fi
            }
            _spoolctl "$@"

            """
    }

    static func fish() -> String {
        func quoted(_ s: String) -> String { "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'" }
        var lines = ["# fish completion for spoolctl, made by `spoolctl completions fish` from its command table.",
                     "complete -c spoolctl -l spool -r -f -a '(__fish_complete_directories)' -d 'the spool folder'",
                     "complete -c spoolctl -n __fish_use_subcommand -f -a help -d \(quoted("show a command's usage"))",
                     "complete -c spoolctl -n '__fish_seen_subcommand_from help' -f -a \(quoted(commands.map { $0.name }.joined(separator: " ")))"]
        for c in commands {
            lines.append("complete -c spoolctl -n __fish_use_subcommand -f -a \(c.name) -d \(quoted(c.summary))")
            for f in flags(c.usage) {
                lines.append("complete -c spoolctl -n '__fish_seen_subcommand_from \(c.name)' -l \(f.flag.dropFirst(2))\(f.value ? " -r" : "")")
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
