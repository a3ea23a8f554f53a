"""task-spooler (tsp): drained (pre-filled behind gate jobs), sleep, steady and latency."""
import os
import shlex
import shutil
import subprocess
import time

from spoolbench.common import Failed, RunDir, TimedOut, deadline_for, now, run_cmd, stamp_latency, wait_for


def tsp_binary():
    if shutil.which("tsp"):
        return shutil.which("tsp")
    ts = shutil.which("ts")
    if ts:
        try:
            cp = subprocess.run([ts, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=5,
                                env=dict(os.environ, TS_SOCKET="/nonexistent/ts.sock"))
            if "spooler" in cp.stdout.lower():
                return ts
        except Exception:
            pass
    return None


class Tsp:
    """A private task-spooler server (own TS_SOCKET, outputs under the run dir)."""

    QUEUE_FULL = 2  # tsp -B exit status when the server holds as many jobs as it can

    def __init__(self, ctx, rd, total):
        self.ctx, self.bin = ctx, ctx.tools["tsp"]
        self.env = dict(rd.env, TS_SOCKET=os.path.join(rd.path, "tsp.sock"), TMPDIR=rd.path,
                        TS_MAXFINISHED=str(total + 100), TS_MAXCONN=str(total + 100), TS_SLOTS=str(ctx.workers))
        self.env.pop("TS_ONFINISH", None)
        self.refused = 0  # `tsp -B` refusals; each still leaves a finished entry with a non-zero E-Level

    def cmd(self, *args, timeout=60, check=True):
        return run_cmd([self.bin] + list(args), env=self.env, timeout=timeout, check=check)

    def start(self):
        self.cmd("-S", str(self.ctx.workers))
        return self

    def add(self, argv, block=True):
        cp = self.cmd(*([] if block else ["-B"]), *argv, check=False, timeout=120)
        if cp.returncode == self.QUEUE_FULL and not block:
            self.refused += 1
            return False
        if cp.returncode != 0:
            raise Failed("tsp add exited %d: %s" % (cp.returncode, cp.stderr.strip()[:200]))
        return True

    def listing(self):
        states, bad = {}, 0
        for line in self.cmd("-l").stdout.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 2:
                continue
            states[parts[1]] = states.get(parts[1], 0) + 1
            if parts[1] == "finished" and (len(parts) < 4 or parts[3] != "0"):
                bad += 1
        return states, bad

    def wait_all(self, timeout):
        deadline = now() + timeout
        self.cmd("-w", timeout=timeout, check=False)
        while True:
            states, bad = self.listing()
            if not states.get("queued") and not states.get("running") and not states.get("allocating"):
                return states, bad
            if now() > deadline:
                raise TimedOut("tsp jobs not finished within %.0f s: %s" % (timeout, states))
            time.sleep(0.01)

    def verify(self, expected):
        states, bad = self.listing()
        if states.get("finished", 0) != expected + self.refused or bad != self.refused:
            raise Failed("tsp: %s, %d finished with a non-zero E-Level (expected %d finished, %d of them the "
                         "refused `tsp -B` adds)" % (states, bad, expected + self.refused, self.refused))

    def stop(self):
        self.cmd("-K", check=False, timeout=10)


def tsp_prefilled(ctx, n, argv, name):
    """Queue n jobs behind P gate jobs, open the gate, time until all finished.

    task-spooler holds about 1000 jobs; beyond that `tsp -B` says the queue is
    full, and the rest are added (blocking) while the queue drains."""
    P = ctx.workers
    with RunDir(ctx, name) as rd:
        t = Tsp(ctx, rd, n + P).start()
        gate = os.path.join(rd.path, "gate")
        os.mkfifo(gate)
        gfd = os.open(gate, os.O_RDWR)  # a writer exists, so the readers' open() does not block
        try:
            for _ in range(P):
                t.add(["/bin/sh", "-c", "read x < %s" % shlex.quote(gate)])
            wait_for(lambda: t.listing()[0].get("running", 0) >= P, 30, 0.01, "tsp gate jobs running")
            prefilled = 0
            while prefilled < n and t.add(argv, block=False):
                prefilled += 1
            t0 = now()
            os.write(gfd, b"\n" * P)
            for _ in range(n - prefilled):
                t.add(argv)
            t.wait_all(deadline_for(ctx, n))
            t1 = now()
        finally:
            os.close(gfd)
        t.verify(n + P)
        t.stop()
        out = {"throughput": n / (t1 - t0), "seconds": t1 - t0}
        if prefilled < n:
            out["note"] = "tsp queue held %d; %d added during the drain" % (prefilled, n - prefilled)
        return out


def tsp_drained(ctx):
    return tsp_prefilled(ctx, ctx.jobs, ["/bin/true"], "tsp-drained")


def tsp_sleep(ctx):
    return tsp_prefilled(ctx, ctx.sleep_jobs, ["/bin/sleep", "0.01"], "tsp-sleep")


def tsp_steady(ctx):
    n = ctx.jobs
    with RunDir(ctx, "tsp-steady") as rd:
        t = Tsp(ctx, rd, n).start()
        t0 = now()
        for _ in range(n):
            t.add(["/bin/true"])
        t.wait_all(deadline_for(ctx, n))
        t1 = now()
        t.verify(n)
        t.stop()
        return {"throughput": n / (t1 - t0), "seconds": t1 - t0}


def tsp_latency(ctx):
    with RunDir(ctx, "tsp-latency") as rd:
        t = Tsp(ctx, rd, ctx.latency_samples + 10).start()
        out = stamp_latency(ctx, rd, t.add)
        t.stop()
        return out
