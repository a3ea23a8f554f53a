"""huey on FileStorage: its own Consumer with P thread workers (bench/huey_bench.py).

The producer side (enqueueing tasks) is huey_bench imported here; the consumer runs as
`huey_bench.py consume` in its own process.
"""
import os
import signal
import subprocess
import sys
import time

from spoolbench.common import BENCH_DIR, PROCS, Failed, RunDir, deadline_for, stamp_latency, tail, wait_for


class HueyConsumer:
    def __init__(self, ctx, rd, target):
        self.ctx, self.rd = ctx, rd
        self.path = os.path.join(rd.path, "huey")
        self.ready = os.path.join(rd.path, "huey.ready")
        self.marker = os.path.join(rd.path, "huey.done")
        self.log_path = os.path.join(rd.path, "huey.log")
        self.target = target
        sys.path.insert(0, BENCH_DIR)
        import huey_bench
        self.huey, self.task = huey_bench.make(self.path)

    def start(self):
        argv = [sys.executable, os.path.join(BENCH_DIR, "huey_bench.py"), "consume", "--path", self.path,
                "--workers", str(self.ctx.workers), "--target", str(self.target),
                "--ready", self.ready, "--marker", self.marker]
        with open(self.log_path, "ab") as logf:
            self.t0_wall = time.time_ns()
            self.p = PROCS.start(argv, env=self.rd.env, stdout=logf, stderr=subprocess.STDOUT)
        return self

    def alive(self):
        if self.p.poll() is not None:
            PROCS.live.pop(self.p.pid, None)
            raise Failed("huey consumer exited %d: %s" % (self.p.returncode, tail(self.log_path)))

    def wait_ready(self):
        wait_for(lambda: os.path.exists(self.ready), 30, 0.01, "huey consumer start", self.alive)
        time.sleep(0.2)  # the worker threads start right after the ready file

    def wait_done(self, timeout):
        wait_for(lambda: os.path.exists(self.marker), timeout, 0.005, "huey target completions", self.alive)
        with open(self.marker) as f:
            t_ns, ok, err = (int(x) for x in f.read().split())
        if err:
            raise Failed("huey: %d tasks failed" % err)
        return t_ns

    def stop(self):
        if self.p.returncode is None and self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGINT)
        code, _, timed_out = PROCS.wait(self.p, 15)
        return "" if not timed_out else "huey consumer killed after 15 s"


def huey_prefilled(ctx, n, argv, name):
    with RunDir(ctx, name) as rd:
        c = HueyConsumer(ctx, rd, n)
        for _ in range(n):
            c.task(argv)
        c.start()
        t_end = c.wait_done(deadline_for(ctx, n))
        c.stop()
        secs = (t_end - c.t0_wall) / 1e9
        return {"throughput": n / secs, "seconds": secs, "note": "consumer start-up included"}


def huey_drained(ctx):
    return huey_prefilled(ctx, ctx.jobs, ["/bin/true"], "huey-drained")


def huey_sleep(ctx):
    return huey_prefilled(ctx, ctx.sleep_jobs, ["/bin/sleep", "0.01"], "huey-sleep")


def huey_steady(ctx):
    n = ctx.jobs
    with RunDir(ctx, "huey-steady") as rd:
        c = HueyConsumer(ctx, rd, n).start()
        c.wait_ready()
        t0 = time.time_ns()
        for _ in range(n):
            c.task(["/bin/true"])
        t_end = c.wait_done(deadline_for(ctx, n))
        c.stop()
        secs = (t_end - t0) / 1e9
        return {"throughput": n / secs, "seconds": secs}


def huey_latency(ctx):
    with RunDir(ctx, "huey-latency") as rd:
        c = HueyConsumer(ctx, rd, 0).start()
        c.wait_ready()
        out = stamp_latency(ctx, rd, lambda argv: c.task(argv))
        c.stop()
        out["note"] = "huey polls an empty queue: 0.1 s, ×1.15 per miss"
        return out
