#!/usr/bin/env bash
# Installs spoold and spoolctl, the systemd units, the sysusers.d and tmpfiles.d entries, the
# operations guide, the man pages and spoolctl's shell completions (bash, zsh, fish). Idempotent:
# files already up to date are left alone, changed ones are replaced by rename (so a running
# spoold keeps its binary until it restarts), and running it again is safe.
#
#   scripts/install.sh [--prefix DIR] [--destdir DIR] [--no-build] [--bin-dir DIR]
#                      [--instance NAME]... [--no-activate]
#
# PREFIX (default /usr/local) and DESTDIR (default empty) may also come from the environment.
# Units, sysusers.d and tmpfiles.d go to /etc/... unless PREFIX is /usr (then /usr/lib/...);
# UNIT_DIR, SYSUSERS_DIR and TMPFILES_DIR override that. Without DESTDIR, and as root, it also
# creates the group and folders (systemd-sysusers, systemd-tmpfiles) and runs systemctl daemon-reload.
# It never enables or starts the service: see docs/operations.md.
set -euo pipefail

usage() { sed -n '2,14s/^# \{0,1\}//p' "$0"; }
die() { echo "install.sh: error: $*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
prefix=${PREFIX:-/usr/local}
destdir=${DESTDIR:-}
build=1
bin_dir=""
activate=1
instances=()

while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) [ $# -ge 2 ] || die "--prefix needs a value"; prefix=$2; shift ;;
        --prefix=*) prefix=${1#*=} ;;
        --destdir) [ $# -ge 2 ] || die "--destdir needs a value"; destdir=$2; shift ;;
        --destdir=*) destdir=${1#*=} ;;
        --no-build) build=0 ;;
        --bin-dir) [ $# -ge 2 ] || die "--bin-dir needs a value"; bin_dir=$2; shift ;;
        --bin-dir=*) bin_dir=${1#*=} ;;
        --instance) [ $# -ge 2 ] || die "--instance needs a value"; instances+=("$2"); shift ;;
        --instance=*) instances+=("${1#*=}") ;;
        --no-activate) activate=0 ;;
        -h|--help) usage; exit 0 ;;
        *) usage >&2; die "unknown option \"$1\"" ;;
    esac
    shift
done

case "$prefix" in /*) ;; *) die "--prefix must be an absolute path, got \"$prefix\"" ;; esac
case "$prefix" in *'|'*|*'&'*|*'\'*) die "--prefix must not contain |, & or \\" ;; esac
prefix=${prefix%/}   # "/" becomes "", so that paths read /bin/spoold
for name in "${instances[@]+"${instances[@]}"}"; do
    [[ "$name" =~ ^[A-Za-z0-9_]+$ ]] || die "--instance must be letters, digits and _, got \"$name\""
done

if [ "$prefix" = /usr ]; then sys=/usr/lib; else sys=/etc; fi
unit_dir=${UNIT_DIR:-$sys/systemd/system}
sysusers_dir=${SYSUSERS_DIR:-$sys/sysusers.d}
tmpfiles_dir=${TMPFILES_DIR:-$sys/tmpfiles.d}
doc_dir=$prefix/share/doc/spoold
man_dir=$prefix/share/man
# zsh looks in vendor-completions for distribution packages, in site-functions elsewhere.
if [ "$prefix" = /usr ]; then zsh_dir=$prefix/share/zsh/vendor-completions; else zsh_dir=$prefix/share/zsh/site-functions; fi

# Build, or find what was built.
if [ -z "$bin_dir" ]; then
    if [ "$build" = 1 ]; then
        # Static Swift runtime: the installed service does not depend on where the toolchain is.
        echo "install.sh: scripts/build-release.sh (swift build -c release -static-stdlib)"
        bin_dir=$("$repo/scripts/build-release.sh" | tail -n 1)
    elif [ -x "$repo/.build-release/release/spoold" ]; then
        # --no-build must work where no toolchain is installed: what build-release.sh built, or --bin-dir.
        bin_dir="$repo/.build-release/release"
    else
        bin_dir="$repo/.build/release"
    fi
elif [ "$build" = 1 ]; then
    die "--bin-dir names binaries built elsewhere: add --no-build"
fi
for b in spoold spoolctl; do
    [ -x "$bin_dir/$b" ] || die "$bin_dir/$b is missing: build with scripts/build-release.sh, or drop --no-build"
done

changed=0
# put SOURCE DEST MODE: install unless DEST already has the same bytes and mode.
put() {
    local src=$1 dst=$2 mode=$3
    local target=$destdir$dst
    if [ -f "$target" ] && cmp -s "$src" "$target" && [ "$(stat -c %a "$target")" = "${mode#0}" ]; then
        echo "  unchanged  $dst"
        return
    fi
    install -d -m 0755 "$(dirname "$target")"
    local tmp
    tmp=$(mktemp "$(dirname "$target")/.install.XXXXXX")
    if ! install -m "$mode" "$src" "$tmp" || ! mv -f "$tmp" "$target"; then
        rm -f "$tmp"
        die "cannot install $target"
    fi
    echo "  installed  $dst"
    changed=1
}

# The units name /usr/local; point them at this prefix.
rewrite() {
    sed -e "s|/usr/local/bin/spoold|$prefix/bin/spoold|g" \
        -e "s|/usr/local/share/doc/spoold|$doc_dir|g" "$1"
}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "install.sh: installing into ${destdir:-/} with prefix ${prefix:-/}"
put "$bin_dir/spoold" "$prefix/bin/spoold" 0755
put "$bin_dir/spoolctl" "$prefix/bin/spoolctl" 0755
for unit in spoold.service spoold@.service; do
    rewrite "$repo/systemd/$unit" > "$work/$unit"
    put "$work/$unit" "$unit_dir/$unit" 0644
done
put "$repo/systemd/spoold.sysusers.conf" "$sysusers_dir/spoold.conf" 0644
put "$repo/systemd/spoold.tmpfiles.conf" "$tmpfiles_dir/spoold.conf" 0644
tmpfiles=("$tmpfiles_dir/spoold.conf")
for name in "${instances[@]+"${instances[@]}"}"; do
    # The same folders for /var/spool/spoold-NAME, without the commented node_exporter line (and
    # without /var/lib/spoold, which entries of older versions had).
    grep -v -e '^#L' -e '/var/lib/spoold' "$repo/systemd/spoold.tmpfiles.conf" \
        | sed -e "s|/var/spool/spoold|/var/spool/spoold-$name|g" \
              -e "s|^# tmpfiles.d(5) entry for spoold:|# tmpfiles.d(5) entry for spoold@$name:|" > "$work/spoold-$name.conf"
    put "$work/spoold-$name.conf" "$tmpfiles_dir/spoold-$name.conf" 0644
    tmpfiles+=("$tmpfiles_dir/spoold-$name.conf")
done
put "$repo/docs/operations.md" "$doc_dir/operations.md" 0644
put "$repo/docs/spec.md" "$doc_dir/spec.md" 0644
# The drop-in that live restore needs (docs/operations.md, "Live restore"): copied by the operator, never enabled here.
put "$repo/systemd/live-restore.conf" "$doc_dir/live-restore.conf" 0644
# Man pages (gzip -n: the same bytes every time, so an unchanged page stays unchanged).
for page in "$repo"/man/*.[1-8]; do
    section=${page##*.}
    gzip -9nc "$page" > "$work/$(basename "$page").gz"
    put "$work/$(basename "$page").gz" "$man_dir/man$section/$(basename "$page").gz" 0644
done
# Shell completions, made by spoolctl itself from its command table.
"$bin_dir/spoolctl" completions bash > "$work/spoolctl.bash"
"$bin_dir/spoolctl" completions zsh > "$work/_spoolctl"
"$bin_dir/spoolctl" completions fish > "$work/spoolctl.fish"
put "$work/spoolctl.bash" "$prefix/share/bash-completion/completions/spoolctl" 0644
put "$work/_spoolctl" "$zsh_dir/_spoolctl" 0644
put "$work/spoolctl.fish" "$prefix/share/fish/vendor_completions.d/spoolctl.fish" 0644

if [ -n "$destdir" ] || [ "$activate" = 0 ]; then
    echo "install.sh: done (files only; on the target run systemd-sysusers, systemd-tmpfiles --create, systemctl daemon-reload)"
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install.sh: not root: skipped systemd-sysusers, systemd-tmpfiles and daemon-reload; run them as root"
    exit 0
fi
echo "install.sh: creating the group spool and the spool folders"
systemd-sysusers "$sysusers_dir/spoold.conf"
systemd-tmpfiles --create "${tmpfiles[@]}"
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload
    if [ "$changed" = 1 ] && systemctl is-active --quiet spoold.service; then
        echo "install.sh: spoold is running the previous files: systemctl restart spoold"
    fi
    if [ ${#instances[@]} -gt 0 ]; then
        for name in "${instances[@]}"; do echo "install.sh: done; start it with: systemctl enable --now spoold@$name"; done
    else
        echo "install.sh: done; start it with: systemctl enable --now spoold"
    fi
else
    echo "install.sh: done (systemd is not running here: no daemon-reload)"
fi
