"""nq: no daemon and no width; jobs run one at a time per NQDIR."""
import os

from spoolbench.common import Failed, RunDir, deadline_for, now, run_cmd, stamp_latency


def nq_env(rd):
    return dict(rd.env, NQDIR=os.path.join(rd.path, "nq"))


def nq_drained(ctx):
    n = ctx.jobs
    with RunDir(ctx, "nq-drained") as rd:
        env = nq_env(rd)
        t0 = now()
        for _ in range(n):
            run_cmd(["nq", "-q", "/bin/true"], env=env, timeout=60)
        run_cmd(["nq", "-w"], env=env, timeout=deadline_for(ctx, n, per_job=0.1))
        t1 = now()
        ok = 0
        for e in os.scandir(env["NQDIR"]):
            if e.name.startswith(","):
                with open(e.path, "rb") as f:
                    ok += b"[exited with status 0.]" in f.read()
        if ok != n:
            raise Failed("nq: %d of %d jobs exited 0" % (ok, n))
        return {"throughput": n / (t1 - t0), "seconds": t1 - t0, "note": "width 1 (nq is sequential); submission included"}


def nq_latency(ctx):
    with RunDir(ctx, "nq-latency") as rd:
        env = nq_env(rd)
        out = stamp_latency(ctx, rd, lambda argv: run_cmd(["nq", "-q"] + argv, env=env, timeout=60))
        run_cmd(["nq", "-w"], env=env, timeout=60)
        return out
