"""The raw posix_spawn + waitpid loop (bench/spawnloop.c): the ratio base of every figure."""
import json

from spoolbench.common import RunDir, deadline_for, latency_metrics, run_cmd


def raw_loop(ctx, n, argv):
    cp = run_cmd([ctx.spawnloop, "-P", str(ctx.workers), "-n", str(n), "--"] + argv,
                 timeout=deadline_for(ctx, n))
    r = json.loads(cp.stdout)
    return {"throughput": n / r["seconds"], "seconds": r["seconds"]}


def raw_drained(ctx):
    return raw_loop(ctx, ctx.jobs, ["/bin/true"])


def raw_sleep(ctx):
    return raw_loop(ctx, ctx.sleep_jobs, ["/bin/sleep", "0.01"])


def raw_latency(ctx):
    with RunDir(ctx, "raw-latency") as rd:
        cp = run_cmd([ctx.spawnloop, "-L", str(ctx.latency_samples), "-d", rd.path, "--", ctx.stamp],
                     timeout=deadline_for(ctx, ctx.latency_samples))
        return latency_metrics([ns / 1e6 for ns in json.loads(cp.stdout)])
