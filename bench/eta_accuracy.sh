#!/usr/bin/env bash
# How far a batch's eta_seconds is from the truth: 100 operations of 0.3-0.8 s, max_parallel 20,
# --workers 2 (the case of issue 10). Prints the ETA read from the running record at 10 % and the
# time that really remained. Usage: bench/eta_accuracy.sh [PERCENT]   (needs `swift build` first;
# SPOOLD_BIN_DIR=DIR takes spoold and spoolctl from DIR instead of .build/debug)
set -euo pipefail
cd "$(dirname "$0")/.."
at="${1:-10}"
bin="${SPOOLD_BIN_DIR:-.build/debug}"
work=$(mktemp -d)
trap 'kill "$daemon" 2>/dev/null || true; rm -rf "$work"' EXIT
python3 - "$work/eta.json" <<'PY'
import json, random, sys
random.seed(1)
ops = [{"shell": f"sleep {random.uniform(0.3, 0.8):.2f}"} for _ in range(100)]
json.dump({"id": "eta", "max_parallel": 20, "operations": ops}, open(sys.argv[1], "w"))
PY
"$bin/spoold" --spool "$work/s" --workers 2 --allow-root-jobs 2>"$work/daemon.log" &
daemon=$!
"$bin/spoolctl" --spool "$work/s" submit "$work/eta.json" >/dev/null
while :; do
    read -r percent eta < <(python3 -c 'import json,sys
try:
    p = json.load(open(sys.argv[1]))["progress"]; print(p["percent"], p["eta_seconds"])
except Exception: print(0, None)' "$work/s/running/eta.json")
    if python3 -c "import sys; sys.exit(0 if float('$percent') >= $at else 1)"; then break; fi
    sleep 0.1
done
start=$(date +%s.%N)
"$bin/spoolctl" --spool "$work/s" wait eta >/dev/null || true
end=$(date +%s.%N)
python3 -c "
eta, real = float('$eta'), $end - $start
print(f'at {float(\"$percent\"):.0f} %: eta_seconds {eta:.1f}, really remaining {real:.1f} s, error {100 * (eta - real) / real:+.0f} %')"
