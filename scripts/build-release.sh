#!/usr/bin/env bash
# Builds spoold and spoolctl for machines without a Swift toolchain: release mode with the Swift
# runtime linked in (-static-stdlib), so that they need only libc, libstdc++ and libcurl
# (FoundationNetworking). Prints the folder that holds them as its last line.
#
#   scripts/build-release.sh [--scratch-path DIR]     (default: .build-release in the repo)
#
# Linking FoundationNetworking statically needs libcurl's development files: as root on Debian
# this installs libcurl4-openssl-dev when it is missing; otherwise it says what to install.
# Extra flags for swift build may come from SWIFT_BUILD_FLAGS.
set -euo pipefail

die() { echo "build-release.sh: error: $*" >&2; exit 1; }

repo=$(cd "$(dirname "$0")/.." && pwd)
scratch="$repo/.build-release"
while [ $# -gt 0 ]; do
    case "$1" in
        --scratch-path) [ $# -ge 2 ] || die "--scratch-path needs a value"; scratch=$2; shift ;;
        --scratch-path=*) scratch=${1#*=} ;;
        -h|--help) sed -n '2,10s/^# \{0,1\}//p' "$0"; exit 0 ;;
        *) die "unknown option \"$1\"" ;;
    esac
    shift
done

command -v swift >/dev/null 2>&1 || die "no swift in PATH (a Swift 6 toolchain is needed to build)"

# libcurl.so (the development symlink) is what the static link of FoundationNetworking asks for.
if ! ls /usr/lib/*/libcurl.so /usr/lib/libcurl.so >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        echo "build-release.sh: installing libcurl4-openssl-dev (to link FoundationNetworking statically)" >&2
        # A lock held by another apt is waited for, not failed on.
        DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300 install -y --no-install-recommends \
            libcurl4-openssl-dev >/dev/null 2>&1 \
        || { DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300 update \
             && DEBIAN_FRONTEND=noninteractive apt-get -qq -o DPkg::Lock::Timeout=300 install -y --no-install-recommends \
                libcurl4-openssl-dev >/dev/null; } \
        || die "apt-get install libcurl4-openssl-dev failed"
    else
        die "libcurl's development files are missing: install libcurl4-openssl-dev (Debian, Ubuntu) or libcurl-devel"
    fi
fi

# -z now: all symbols bound at start, so the GOT can be read-only (full RELRO; lintian's bindnow).
flags=(-c release --scratch-path "$scratch" -Xswiftc -static-stdlib -Xlinker -z -Xlinker now ${SWIFT_BUILD_FLAGS:-})
cd "$repo"
# One product at a time: the test-support target is not built in release mode (it imports Testing).
for product in spoold spoolctl; do
    swift build "${flags[@]}" --product "$product" >&2
done
swift build "${flags[@]}" --show-bin-path
