#!/usr/bin/env bash
# Builds spoold and spoolctl for machines without a Swift toolchain: release mode, with the Swift
# runtime and Foundation linked in (Package.swift links both programs with -static-stdlib), so that
# they need only libc and libstdc++ (and libcurl for http operations, loaded when one runs).
# Prints the folder that holds them as its last line.
#
#   scripts/build-release.sh [--scratch-path DIR]     (default: .build-release in the repo)
#
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

# -z now: all symbols bound at start, so the GOT can be read-only (full RELRO; lintian's bindnow).
flags=(-c release --scratch-path "$scratch" -Xlinker -z -Xlinker now ${SWIFT_BUILD_FLAGS:-})
cd "$repo"
# One product at a time: the test-support target is not built in release mode (it imports Testing).
for product in spoold spoolctl; do
    swift build "${flags[@]}" --product "$product" >&2
done
swift build "${flags[@]}" --show-bin-path
