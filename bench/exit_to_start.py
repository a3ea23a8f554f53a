#!/usr/bin/env python3
"""How long a worker slot stays empty between one job's end and the next job's start.

    bench/exit_to_start.py SPOOLD|raw WORKERS JOBS

Runs JOBS copies of a small C program (built here with cc -O2) that stamps CLOCK_REALTIME as its
main() starts, sleeps 10 ms, and stamps again just before it exits, appending both to one file.
With SPOOLD it drops them into a fresh spool and runs `SPOOLD --drain --workers WORKERS`; with
`raw` it runs them through bench/spawnloop.c (posix_spawn + waitpid, WORKERS spawners). Prints the
wall time, the time from exec to the first start and from the last end to the exit, and, for
every start after the first WORKERS, the gap since the latest end before it (p50, mean, p90):
the slot's bookkeeping, the spawn, the exec and the dynamic loader of the job. Figures only;
run each binary several times, alternating.
"""
import bisect
import os
import shutil
import subprocess
import sys
import tempfile
import time

from spoolbench.spoold import drain_argv, drop_jobs, make_spool

HERE = os.path.dirname(os.path.abspath(__file__))
STAMPER = r"""
#include <fcntl.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_REALTIME, &t); return t.tv_sec + t.tv_nsec / 1e9; }
int main(int argc, char **argv) {
    double start = now();
    struct timespec pause = {0, 10000000};
    nanosleep(&pause, 0);
    char line[64];
    int n = snprintf(line, sizeof line, "%.6f %.6f\n", start, now());
    int fd = open(argv[1], O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0 || write(fd, line, n) != n) return 1;
    return close(fd);
}
"""


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    target, workers, jobs = sys.argv[1], sys.argv[2], int(sys.argv[3])
    work = tempfile.mkdtemp(prefix="exit-to-start-")
    try:
        with open(os.path.join(work, "stamper.c"), "w") as f:
            f.write(STAMPER)
        stamper = os.path.join(work, "stamper")
        subprocess.run(["cc", "-O2", "-o", stamper, os.path.join(work, "stamper.c")], check=True)
        stamps = os.path.join(work, "stamps")
        if target == "raw":
            spawnloop = os.path.join(work, "spawnloop")
            subprocess.run(["cc", "-O2", "-pthread", "-o", spawnloop, os.path.join(HERE, "spawnloop.c")], check=True)
            t0 = time.time()
            subprocess.run([spawnloop, "-P", workers, "-n", str(jobs), "--", stamper, stamps],
                           check=True, stdout=subprocess.DEVNULL)
        else:
            spool = make_spool(work)
            drop_jobs(spool, jobs, {"command": [stamper, stamps]})
            argv = drain_argv(target, spool, workers)
            t0 = time.time()
            subprocess.run(argv, check=True, stderr=subprocess.DEVNULL)
        t1 = time.time()
        with open(stamps) as f:
            runs = sorted(tuple(map(float, line.split())) for line in f)
        if len(runs) != jobs:
            sys.exit("%d of %d jobs stamped" % (len(runs), jobs))
        ends = sorted(end for _, end in runs)
        gaps = sorted((start - ends[bisect.bisect_right(ends, start) - 1]) * 1e3 for start, _ in runs[int(workers):])
        print("%s workers=%s jobs=%d: %.0f ms; exec to first start %.1f ms; last end to exit %.1f ms; "
              "end to next start p50 %.3f mean %.3f p90 %.3f ms"
              % (os.path.basename(target), workers, jobs, (t1 - t0) * 1e3, (runs[0][0] - t0) * 1e3,
                 (t1 - ends[-1]) * 1e3, gaps[len(gaps) // 2], sum(gaps) / len(gaps), gaps[int(len(gaps) * 0.9)]))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
