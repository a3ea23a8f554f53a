#!/usr/bin/env bash
# Fuzzes the job-file decoder (Fuzz/JobDecoderFuzzer) with libFuzzer for SECONDS (default 60):
# builds it with -sanitize=fuzzer,address, runs it on a corpus seeded from Fuzz/corpus/, prints
# executions and crashes, and copies crashing inputs to Fuzz/regressions/ (FuzzRegressionTests).
#
# Usage: scripts/fuzz.sh [SECONDS]        env: FUZZ_JOBS (parallel fuzzers, default 1), FUZZ_MAX_LEN (default 16384)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="/opt/swift/usr/bin:$PATH"

SECONDS_TO_RUN="${1:-60}"
JOBS="${FUZZ_JOBS:-1}"
MAX_LEN="${FUZZ_MAX_LEN:-16384}"
BUILD=.build-fuzz
mkdir -p "$BUILD/corpus" "$BUILD/artifacts" Fuzz/regressions

# The decoder and what it needs from SpoolCore: every file of Sources/SpoolCore/Job (spec,
# validation, ids, errors, records, control requests) plus the support types they use. SpoolJSON
# and SpoolBuiltins (the validator asks the builtin registry about operation types) are built as
# instrumented static modules first, so their `import`s resolve as in the package.
CORE_FILES=(Sources/SpoolCore/Job/*.swift Sources/SpoolCore/Support/Timestamp.swift
            Sources/SpoolCore/Support/LockedBox.swift Sources/SpoolCore/Support/FileName.swift)
FLAGS=(-O -g -parse-as-library -sanitize=fuzzer,address -swift-version 6)
EXTRA=()
# The control-file decoder is fuzzed too once it exists (the second entry in main.swift).
if [[ -f Sources/SpoolCore/Job/ControlRequest.swift ]]; then EXTRA+=(-D FUZZ_CONTROL); fi

# Compiler and linker output goes to a log (ld.gold warns about every ASan symbol); shown on failure.
: >"$BUILD/build.log"
build() { "$@" >>"$BUILD/build.log" 2>&1 || { grep -v 'ld.gold: warning' "$BUILD/build.log" | tail -40; exit 1; }; }

echo "fuzz: building SpoolJSON and SpoolBuiltins (static, instrumented)"
build swiftc "${FLAGS[@]}" -emit-library -static -emit-module -module-name SpoolJSON \
    -emit-module-path "$BUILD/SpoolJSON.swiftmodule" -o "$BUILD/libSpoolJSON.a" Sources/SpoolJSON/*.swift
build swiftc "${FLAGS[@]}" -I "$BUILD" -emit-library -static -emit-module -module-name SpoolBuiltins \
    -emit-module-path "$BUILD/SpoolBuiltins.swiftmodule" -o "$BUILD/libSpoolBuiltins.a" \
    $(find Sources/SpoolBuiltins -name '*.swift' | sort)
echo "fuzz: building the fuzzer ${EXTRA[*]:-}"
build swiftc "${FLAGS[@]}" ${EXTRA[@]+"${EXTRA[@]}"} -module-name JobDecoderFuzzer -I "$BUILD" -L "$BUILD" -lSpoolBuiltins -lSpoolJSON \
    Fuzz/JobDecoderFuzzer/main.swift "${CORE_FILES[@]}" -o "$BUILD/job-decoder-fuzzer"

echo "fuzz: running for ${SECONDS_TO_RUN} s (${JOBS} job(s), inputs up to ${MAX_LEN} bytes)"
LOG="$BUILD/fuzz.log"
# Fork mode keeps going after a crash, so one run reports every distinct crash it finds.
# New interesting inputs go to the first corpus folder (the build's), never into Fuzz/corpus/.
set +e
SWIFT_BACKTRACE=enable=no ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1" \
"$BUILD/job-decoder-fuzzer" "$BUILD/corpus" Fuzz/corpus \
    -fork="$JOBS" -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time="$SECONDS_TO_RUN" -max_len="$MAX_LEN" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$BUILD/artifacts/" -print_final_stats=1 >"$LOG" 2>&1
STATUS=$?
set -e

# The last fork-mode status line: "#EXECS: cov: ... exec/s: ... oom/timeout/crash: O/T/C time: ...".
LAST=$(grep -E '^#[0-9]+: cov:' "$LOG" | tail -1 || true)
EXECS=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$LAST")
CRASHES=$(sed -nE 's/.*oom\/timeout\/crash: ([0-9]+)\/([0-9]+)\/([0-9]+).*/\1 OOM, \2 timeouts, \3 crashes/p' <<<"$LAST")
shopt -s nullglob
found=0
for f in "$BUILD"/artifacts/crash-* "$BUILD"/artifacts/timeout-* "$BUILD"/artifacts/oom-* "$BUILD"/artifacts/leak-*; do
    cp "$f" Fuzz/regressions/
    found=$((found + 1))
    echo "fuzz: artifact $(basename "$f") -> Fuzz/regressions/ ($(wc -c <"$f") bytes)"
done
# What broke: fork mode keeps the children's messages out of the log, so replay each artifact.
for f in "$BUILD"/artifacts/crash-*; do
    why=$(SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 "$BUILD/job-decoder-fuzzer" "$f" 2>&1 \
        | grep -m1 -E 'fuzz invariant broken:|ERROR: AddressSanitizer|Fatal error|deadly signal' | cut -c1-300)
    echo "fuzz: $(basename "$f"): ${why:-did not reproduce}"
done
echo "fuzz: executions: ${EXECS:-unknown}; ${CRASHES:-no status line}; artifacts: ${found}; fuzzer exit ${STATUS}; log: ${LOG}"
echo "fuzz: corpus: $(ls "$BUILD/corpus" | wc -l) inputs in $BUILD/corpus (seeds: $(ls Fuzz/corpus | wc -l) in Fuzz/corpus)"
