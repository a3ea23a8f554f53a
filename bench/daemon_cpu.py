#!/usr/bin/env python3
"""The daemon's own CPU per job in a drain, without its jobs' CPU.

    bench/daemon_cpu.py SPOOLD JOBS [WORKERS]

Drops JOBS job files of `/bin/true` into a fresh spool, runs `SPOOLD --drain --workers WORKERS`
(default 2), and reads utime + stime of the daemon from /proc/<pid>/stat every 2 ms until it
exits (the threads' CPU, not that of the children it reaped: those go to cutime). Prints the wall
time, jobs/s and the daemon's CPU per job. The drained scenario is bound by that CPU (a drain with
--no-fsync was no faster), and it is a steadier figure than throughput on a shared machine,
though runs still differ by 15 %: run the two builds alternately, several times each. The last
2 ms before exit and the clock tick (10 ms) are lost, a few hundredths of a millisecond per job.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

from spoolbench.spoold import drain_argv, drop_jobs, make_spool, verify_records


def main():
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    binary, jobs = sys.argv[1], int(sys.argv[2])
    workers = sys.argv[3] if len(sys.argv) == 4 else "2"
    work = tempfile.mkdtemp(prefix="daemon-cpu-")
    try:
        spool = make_spool(work)
        drop_jobs(spool, jobs, {"command": ["/bin/true"]})
        argv = drain_argv(binary, spool, workers)
        ticks = 0
        t0 = time.time()
        p = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
        while p.poll() is None:
            try:
                with open("/proc/%d/stat" % p.pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                ticks = int(fields[11]) + int(fields[12])  # utime, stime
            except (OSError, IndexError, ValueError):
                pass
            time.sleep(0.002)
        wall = time.time() - t0
        if p.returncode != 0:
            sys.exit("%s exited with %d" % (binary, p.returncode))
        verify_records(spool, jobs)  # every job's record in done/, succeeded
        cpu = ticks / os.sysconf("SC_CLK_TCK")
        print("%s workers=%s jobs=%d: %.2f s, %.0f jobs/s; daemon CPU %.2f s = %.3f ms per job"
              % (os.path.basename(binary), workers, jobs, wall, jobs / wall, cpu, cpu / jobs * 1e3))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
