#!/usr/bin/env python3
"""What the spool's file moves alone cost: the raw loop, bench/floor.c and spoold, in turns.

    bench/floor.py SPOOLD [JOBS] [ROUNDS] [-- PROGRAM [ARGS...]]

Each round runs, in this order, JOBS (default 2000) jobs of PROGRAM (default `/bin/true`;
`-- /bin/sleep 0.01` for the sleep scenario) at width 2:
  raw       bench/spawnloop.c: posix_spawn and waitpid, no files;
  floor -r  bench/floor.c: the same loop plus only the file moves the contract asks for per job
            (claim, pending record, running, two outputs, done record), inodes recycled as
            spoold's spare pool does, nothing fsynced;
  floor -rs the same, durable as spoold is (bench/floor.c says which fsyncs), one job at a time;
  spoold    SPOOLD --drain --workers 2 on a fresh spool holding the jobs, timed from exec to exit
            (its start-up and clean stop included).
Each in a fresh directory, after a `sync` and a second's pause (the last one's writeback lands
first). Prints each round, then the median jobs/s of each and its ratio to raw's median. ROUNDS
defaults to 5. floor.c is compiled into bench/results/bin when missing or older than its sources.
"""
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in bench/ (as bench.py)
from spoolbench.spoold import drain_argv, drop_jobs, make_spool, verify_records  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "results", "bin")


def helper(name):
    """bench/results/bin/NAME, compiled from bench/NAME.c when missing or older than its sources."""
    src, exe = os.path.join(HERE, name + ".c"), os.path.join(BIN, name)
    newest = max(os.path.getmtime(src), os.path.getmtime(os.path.join(HERE, "jobloop.h")))
    if not os.path.exists(exe) or os.path.getmtime(exe) < newest:
        os.makedirs(BIN, exist_ok=True)
        subprocess.run([os.environ.get("CC", "cc"), "-O2", "-Wall", "-Wextra", "-o", exe, src, "-lpthread"], check=True)
    return exe


def settle():
    os.sync()
    time.sleep(1)


def run_loop(argv):
    """Seconds a spawnloop or floor run reports (its own clock, set-up excluded)."""
    p = subprocess.run(argv, capture_output=True, text=True)
    name = os.path.basename(argv[0])
    try:
        result = json.loads(p.stdout)
    except ValueError:
        sys.exit("%s exited with %d: %s" % (name, p.returncode, p.stderr.strip()[-300:]))
    if result["failed"]:
        sys.exit("%s: %d of %d jobs failed" % (name, result["failed"], result["jobs"]))
    return result["seconds"]


def run_spoold(binary, jobs, program, work):
    spool = make_spool(work)
    drop_jobs(spool, jobs, {"command": program})
    argv = drain_argv(binary, spool, 2)
    settle()
    t0 = time.monotonic()
    subprocess.run(argv, check=True, stderr=subprocess.DEVNULL)
    seconds = time.monotonic() - t0
    verify_records(spool, jobs)  # every job's record in done/, succeeded
    return seconds


def main():
    args, program = sys.argv[1:], ["/bin/true"]
    if "--" in args:
        args, program = args[:args.index("--")], args[args.index("--") + 1:]
    if not 1 <= len(args) <= 3 or not program:
        sys.exit(__doc__)
    spoold = os.path.abspath(args[0])
    jobs = int(args[1]) if len(args) > 1 else 2000
    rounds = int(args[2]) if len(args) > 2 else 5
    if jobs < 1 or rounds < 1:
        sys.exit("JOBS and ROUNDS must be at least 1")
    # The loops posix_spawn the path as given; spoold looks a bare name up in PATH.
    found = shutil.which(program[0])
    if found is None:
        sys.exit("%s: not found" % program[0])
    program = [found] + program[1:]
    spawnloop, floor = helper("spawnloop"), helper("floor")
    rates = {"raw": [], "floor -r": [], "floor -rs": [], "spoold": []}
    for r in range(1, rounds + 1):
        for label in rates:
            work = tempfile.mkdtemp(prefix="floor-")
            try:
                if label == "raw":
                    settle()
                    seconds = run_loop([spawnloop, "-P", "2", "-n", str(jobs), "--"] + program)
                elif label == "spoold":
                    seconds = run_spoold(spoold, jobs, program, work)
                else:
                    flags = ["-r", "-s"] if label == "floor -rs" else ["-r"]
                    settle()
                    seconds = run_loop([floor, "-P", "2", "-n", str(jobs), "-d", os.path.join(work, "spool")] + flags
                                       + ["--"] + program)
            finally:
                shutil.rmtree(work, ignore_errors=True)
            rates[label].append(jobs / seconds)
            print("round %d  %-9s %6.0f jobs/s" % (r, label, jobs / seconds), flush=True)
    raw = statistics.median(rates["raw"])
    print("\nmedians of %d rounds, %d jobs of %s, width 2:" % (rounds, jobs, " ".join(program)))
    for label, values in rates.items():
        m = statistics.median(values)
        print("  %-9s %6.0f jobs/s (%.0f-%.0f)  %.2fx raw" % (label, m, min(values), max(values), m / raw))


if __name__ == "__main__":
    main()
