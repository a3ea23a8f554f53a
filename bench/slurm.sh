#!/usr/bin/env bash
# The Slurm executor's bench (issue 13): on the single-node test cluster
# (scripts/slurm-test-cluster.sh), in one run,
#   1. jobs per second handed to Slurm: N job files dropped into a spool whose queue runs on
#      Slurm, from spoold's start until N Slurm jobs exist, against a plain `sbatch` loop of the
#      same N `/bin/true` jobs and one `sbatch --array=1-N` (what a batch as one array would
#      cost). The partition is held (State=DOWN: jobs are accepted, none starts) while they are
#      handed over, so that the jobs' own runs do not slow the submissions on this small machine;
#      then it is released and the time until all N records are written is printed too;
#   2. the end-to-end overhead per job over `sbatch --wait`: M jobs one after another, each
#      `spoolctl submit --queue hpc -- true` + `spoolctl wait`, against `sbatch --wait --wrap true`.
# Prints figures, asserts nothing. Usage: bench/slurm.sh [N=1000] [M=10] (as root: it starts slurmd).
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000}
M=${2:-10}
bin=${SPOOLD_BIN:-.build/debug}
work=$(mktemp -d /tmp/spoold-slurm-bench.XXXXXX)
cluster="$work/cluster"
scripts/slurm-test-cluster.sh start "$cluster" 17817 >/dev/null
export SLURM_CONF="$cluster/slurm.conf"
trap 'kill $daemon 2>/dev/null || true; scripts/slurm-test-cluster.sh stop "$cluster"; rm -rf "$work"' EXIT
daemon=0
now() { date +%s.%N; }
count_in() { squeue -h -t all -o '%Z' | grep -cx "$1" || true; }
hold() { scontrol update PartitionName=debug State=DOWN; }
release() { scontrol update PartitionName=debug State=UP; }
hold

# 1a. plain sbatch loop
mkdir -p "$work/plain"
t0=$(now)
for _ in $(seq 1 "$N"); do sbatch --parsable --chdir="$work/plain" --output=/dev/null --wrap true >/dev/null; done
t1=$(now)
plain=$(echo "$N / ($t1 - $t0)" | bc -l)
mkdir -p "$work/array"
t0=$(now)
sbatch --parsable --array=1-"$N" --chdir="$work/array" --output=/dev/null --wrap true >/dev/null
t1=$(now)
array=$(echo "$t1 - $t0" | bc -l)
scancel --partition=debug --state=PENDING

# 1b. spoold: N drops, then the daemon starts; time until N Slurm jobs exist
spool="$work/spool"
mkdir -p "$spool/inbox" "$spool/tmp"
echo '{"queues": {"hpc": {"executor": "slurm"}}}' > "$spool/config.json"
for i in $(seq 1 "$N"); do echo "{\"id\": \"j$i\", \"queue\": \"hpc\", \"command\": [\"true\"]}" > "$spool/tmp/j$i.json"; mv "$spool/tmp/j$i.json" "$spool/inbox/"; done
t0=$(now)
"$bin/spoold" --spool "$spool" --workers 2 --allow-root-jobs 2>"$work/spoold.log" &
daemon=$!
while [ "$(count_in "$spool")" -lt "$N" ]; do sleep 0.2; done
t1=$(now)
spoold_rate=$(echo "$N / ($t1 - $t0)" | bc -l)
release
while [ "$(ls "$spool/done" | grep -c '\.json$')" -lt "$N" ]; do sleep 0.5; done
t2=$(now)
printf 'handed to Slurm, %d jobs (partition held): plain sbatch loop %.0f jobs/s; one sbatch --array=1-%d %.2f s; spoold %.0f jobs/s\n' \
    "$N" "$plain" "$N" "$array" "$spoold_rate"
printf 'then run (partition released): all %d spoold records written %.1f s after spoold started\n' "$N" "$(echo "$t2 - $t0" | bc -l)"

# 2. end-to-end, one at a time
t0=$(now)
for _ in $(seq 1 "$M"); do sbatch --wait --chdir="$work/plain" --output=/dev/null --wrap true >/dev/null; done
t1=$(now)
for i in $(seq 1 "$M"); do
    id=$("$bin/spoolctl" --spool "$spool" submit --queue hpc -- true | awk '{print $NF}')
    "$bin/spoolctl" --spool "$spool" wait "$id" >/dev/null
done
t2=$(now)
wait_each=$(echo "($t1 - $t0) / $M" | bc -l)
spool_each=$(echo "($t2 - $t1) / $M" | bc -l)
printf 'end to end, %d jobs one after another: sbatch --wait %.2f s/job; spoolctl submit + wait %.2f s/job; overhead %.2f s/job\n' \
    "$M" "$wait_each" "$spool_each" "$(echo "$spool_each - $wait_each" | bc -l)"
