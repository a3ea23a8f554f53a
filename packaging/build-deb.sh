#!/usr/bin/env bash
# Builds a Debian package of spoold with dpkg-deb: the static release binaries, the units, the
# sysusers.d and tmpfiles.d entries, the man pages, spoolctl's shell completions and the docs,
# all laid out by scripts/install.sh --prefix /usr, plus the maintainer scripts in packaging/debian/.
# Prints the path of the .deb as its last line.
#
#   packaging/build-deb.sh [--bin-dir DIR] [--version VERSION] [--out DIR] [--fast]
#
# Without --bin-dir it builds the binaries with scripts/build-release.sh (a Swift toolchain is
# needed then). VERSION defaults to packaging/VERSION; --out defaults to .build-deb/ in the repo.
# --fast compresses with gzip -1 instead of xz (seconds instead of minutes; for tests).
# DEB_MAINTAINER ("Name <address>") names the maintainer in the control file and changelog;
# without it, the author of the repository's last commit (git), who is who answers for the source.
# The package enables and starts nothing: see packaging/debian/postinst.
set -euo pipefail

die() { echo "build-deb.sh: error: $*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
bin_dir=""
version=$(tr -d ' \n' < "$repo/packaging/VERSION")
out="$repo/.build-deb"
compress=(-Zxz)
while [ $# -gt 0 ]; do
    case "$1" in
        --bin-dir) [ $# -ge 2 ] || die "--bin-dir needs a value"; bin_dir=$2; shift ;;
        --bin-dir=*) bin_dir=${1#*=} ;;
        --version) [ $# -ge 2 ] || die "--version needs a value"; version=$2; shift ;;
        --version=*) version=${1#*=} ;;
        --out) [ $# -ge 2 ] || die "--out needs a value"; out=$2; shift ;;
        --out=*) out=${1#*=} ;;
        --fast) compress=(-Zgzip -z1) ;;
        -h|--help) sed -n '2,14s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option \"$1\"" ;;
    esac
    shift
done
[[ "$version" =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || die "--version must be a Debian version, got \"$version\""
for tool in dpkg-deb dpkg gzip strip; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (dpkg-dev, binutils)"
done
if [ -z "$bin_dir" ]; then
    bin_dir=$("$repo/scripts/build-release.sh" | tail -n 1)
fi

arch=$(dpkg --print-architecture)
maintainer=${DEB_MAINTAINER:-$(git -C "$repo" log -1 --format='%an <%ae>' 2>/dev/null || true)}
[[ "$maintainer" =~ ^[^\<\>]+\ \<[^\<\>@\ ]+@[^\<\>\ ]+\>$ ]] \
    || die "no maintainer: set DEB_MAINTAINER=\"Name <address>\" (the repository's last commit has no author either)"
case "$maintainer" in *'|'*|*'&'*|*'\'*) die "DEB_MAINTAINER must not contain |, & or \\" ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
root="$work/root"

# The files, where a distribution package puts them (units and .d entries under /usr/lib).
"$repo/scripts/install.sh" --prefix /usr --destdir "$root" --no-build --bin-dir "$bin_dir" >&2
# Debug information is most of the binaries' size; the Swift metadata sections stay.
strip --strip-unneeded --remove-section=.comment --remove-section=.note "$root/usr/bin/spoold" "$root/usr/bin/spoolctl"

doc="$root/usr/share/doc/spoold"
install -m 0644 "$repo/packaging/debian/copyright" "$doc/copyright"
# A native package (no Debian revision in its version): the changelog is changelog.gz.
sed -e "s/@VERSION@/$version/" -e "s|@MAINTAINER@|$maintainer|" "$repo/packaging/debian/changelog" | gzip -9n > "$doc/changelog.gz"
chmod 0644 "$doc/changelog.gz"

install -d -m 0755 "$root/DEBIAN"
for script in postinst prerm postrm; do
    install -m 0755 "$repo/packaging/debian/$script" "$root/DEBIAN/$script"
done
size=$(du -sk --exclude=DEBIAN "$root" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s|@MAINTAINER@|$maintainer|" \
    "$repo/packaging/debian/control" > "$root/DEBIAN/control"
(cd "$root" && find . -path ./DEBIAN -prune -o -type f -printf '%P\n' | LC_ALL=C sort | xargs md5sum) > "$root/DEBIAN/md5sums"
chmod 0644 "$root/DEBIAN/md5sums" "$root/DEBIAN/control"

mkdir -p "$out"
deb="$out/spoold_${version}_${arch}.deb"
# Files owned by root whoever builds; the same bytes for the same input.
dpkg-deb --root-owner-group "${compress[@]}" --build "$root" "$deb" >&2
echo "$deb"
