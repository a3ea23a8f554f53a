"""Running the scenarios: which tool takes part where, what is installed, the machine, the rounds.

RUNNERS maps (scenario, tool) to the function that measures one round (spoold's, raw's and
the peers' modules); detect_tools finds the tools, tool_versions and machine_info describe them
for the report, measure runs one round and turns exceptions into statuses, run_all runs every
round of every scenario.
"""
import datetime
import importlib.util
import os
import re
import shutil
import subprocess
import sys

from spoolbench.common import REPO_ROOT, Failed, NotAvailable, TimedOut, log, now, scrub, show_path
from spoolbench.peers.huey import huey_drained, huey_latency, huey_sleep, huey_steady
from spoolbench.peers.nq import nq_drained, nq_latency
from spoolbench.peers.oneshot import parallel_run, xargs_run
from spoolbench.peers.tsp import tsp_binary, tsp_drained, tsp_latency, tsp_sleep, tsp_steady
from spoolbench.raw import raw_drained, raw_latency, raw_sleep
from spoolbench import spoold
from spoolbench.report import METRICS
from spoolbench.spoold import (spoold_backlog, spoold_batch_ops, spoold_drained, spoold_latency, spoold_sleep,
                               spoold_steady)

# Backlogs this large run one round only (each takes minutes).
BIG_BACKLOG = 50_000
# Which tools take part in which scenario (raw first: it is the ratio base).
# "baseline" is a second spoold binary (--baseline PATH, e.g. the last commit's build), run in the
# same rounds as spoold so that a change is measured against what it replaces in one run.
# "live" is the same spoold with "live_restore": true in the spool's config.json (--live-restore):
# every command attempt runs under its own supervisor, so the pair gives the supervisor's cost.
SCENARIO_TOOLS = {
    "drained": ["raw", "spoold", "live", "baseline", "tsp", "huey", "xargs", "parallel", "nq"],
    "steady": ["spoold", "live", "baseline", "tsp", "huey"],
    "sleep": ["raw", "spoold", "live", "baseline", "tsp", "huey", "xargs", "parallel"],
    "latency": ["raw", "spoold", "live", "baseline", "tsp", "huey", "nq"],
    "backlog": ["spoold"],
    "batch": ["spoold", "baseline"],
}


RUNNERS = {
    ("drained", "raw"): raw_drained, ("drained", "spoold"): spoold_drained, ("drained", "tsp"): tsp_drained,
    ("drained", "nq"): nq_drained, ("drained", "huey"): huey_drained,
    ("drained", "parallel"): lambda c: parallel_run(c, c.jobs, ["/bin/true"], "parallel-drained"),
    ("drained", "xargs"): lambda c: xargs_run(c, c.jobs, ["/bin/true"], "xargs-drained"),
    ("steady", "spoold"): spoold_steady, ("steady", "tsp"): tsp_steady, ("steady", "huey"): huey_steady,
    ("sleep", "raw"): raw_sleep, ("sleep", "spoold"): spoold_sleep, ("sleep", "tsp"): tsp_sleep,
    ("sleep", "huey"): huey_sleep,
    ("sleep", "parallel"): lambda c: parallel_run(c, c.sleep_jobs, ["/bin/sleep", "0.01"], "parallel-sleep"),
    ("sleep", "xargs"): lambda c: xargs_run(c, c.sleep_jobs, ["/bin/sleep", "0.01"], "xargs-sleep"),
    ("latency", "raw"): raw_latency, ("latency", "spoold"): spoold_latency, ("latency", "tsp"): tsp_latency,
    ("latency", "nq"): nq_latency, ("latency", "huey"): huey_latency,
    ("batch", "spoold"): spoold_batch_ops,
}


def as_baseline(runner):
    """The spoold runner, with the --baseline binary in place of spoold."""
    def run(ctx):
        saved = ctx.spoold
        ctx.spoold = ctx.baseline
        try:
            return runner(ctx)
        finally:
            ctx.spoold = saved
    return run


def as_live(runner):
    """The spoold runner on spools whose config.json turns live restore on."""
    def run(ctx):
        spoold.SPOOL_CONFIG = {"live_restore": True}
        try:
            return runner(ctx)
        finally:
            spoold.SPOOL_CONFIG = None
    return run


for (_scenario, _tool), _runner in list(RUNNERS.items()):
    if _tool == "spoold" and _scenario != "backlog":
        RUNNERS[(_scenario, "baseline")] = as_baseline(_runner)
        if _scenario != "batch":
            RUNNERS[(_scenario, "live")] = as_live(_runner)


class Context:
    pass


def detect_tools(ctx, wanted):
    tools, skipped = {}, {}
    bin_ok = os.access(ctx.spawnloop, os.X_OK) and os.access(ctx.stamp, os.X_OK)
    for tool in wanted:
        if tool == "spoold":
            if ctx.spoold and os.access(ctx.spoold, os.X_OK):
                tools[tool] = ctx.spoold
            else:
                skipped[tool] = scrub(ctx.spoold_note, ctx.tmpdir) or \
                    ("%s is not an executable" % (show_path(ctx.spoold, ctx.tmpdir) or "spoold"))
        elif tool == "live":
            if ctx.spoold and os.access(ctx.spoold, os.X_OK):
                tools[tool] = ctx.spoold
            else:
                skipped[tool] = "no spoold for --live-restore"
        elif tool == "baseline":
            if ctx.baseline and os.access(ctx.baseline, os.X_OK):
                tools[tool] = ctx.baseline
            else:
                skipped[tool] = "%s is not an executable" % (show_path(ctx.baseline, ctx.tmpdir) or "--baseline")
        elif tool == "raw":
            if bin_ok:
                tools[tool] = ctx.spawnloop
            else:
                skipped[tool] = "bench/spawnloop.c was not compiled"
        elif tool == "tsp":
            b = tsp_binary()
            if b:
                tools[tool] = b
            else:
                skipped[tool] = "task-spooler not installed (apt-get install task-spooler)"
        elif tool == "huey":
            if importlib.util.find_spec("huey"):
                tools[tool] = "huey"
            else:
                skipped[tool] = "huey not installed (pip install huey)"
        elif tool == "parallel":
            b = shutil.which("parallel")
            try:
                gnu = b and "GNU parallel" in subprocess.run([b, "--version"], stdout=subprocess.PIPE,
                                                             stderr=subprocess.DEVNULL, text=True, timeout=20).stdout
            except Exception:
                gnu = False
            if gnu:
                tools[tool] = b
            else:
                skipped[tool] = "GNU parallel not installed (apt-get install parallel)" if not b else \
                    "%s is not GNU parallel (moreutils?)" % b
        else:
            b = shutil.which(tool)
            if b:
                tools[tool] = b
            else:
                skipped[tool] = "%s not installed" % tool
    return tools, skipped


def tool_versions(ctx):
    v = {}

    def first_line(argv):
        try:
            cp = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=20,
                                env=dict(os.environ, TS_SOCKET="/nonexistent/ts.sock"))
            return cp.stdout.strip().splitlines()[0] if cp.stdout.strip() else ""
        except Exception:
            return ""

    def dpkg(pkg):
        return first_line(["dpkg-query", "-W", "-f", "${Version}", pkg])

    if "tsp" in ctx.tools:
        v["tsp"] = first_line([ctx.tools["tsp"], "-V"])
    if "nq" in ctx.tools:
        v["nq"] = "nq " + dpkg("nq")
    if "parallel" in ctx.tools:
        v["parallel"] = first_line(["parallel", "--version"])
    if "xargs" in ctx.tools:
        v["xargs"] = first_line(["xargs", "--version"])
    if "huey" in ctx.tools:
        try:
            import huey
            v["huey"] = "huey %s (FileStorage, thread workers)" % huey.__version__
        except Exception:
            pass
    if "baseline" in ctx.tools:
        built = datetime.datetime.fromtimestamp(os.path.getmtime(ctx.baseline)).strftime("%Y-%m-%d %H:%M")
        # Named by the commit of the work tree it was built in (no machine's path goes into the report).
        commit = first_line(["git", "--no-optional-locks", "-C", os.path.dirname(ctx.baseline), "rev-parse", "--short", "HEAD"])
        v["baseline"] = "spoold built %s%s" % (built, " in a work tree at commit %s" % commit if commit else "")
    if "spoold" in ctx.tools:
        commit = first_line(["git", "-C", REPO_ROOT, "rev-parse", "--short", "HEAD"])
        # --no-optional-locks: read-only, never refreshes the index of a work tree someone else is using.
        dirty = first_line(["git", "--no-optional-locks", "-C", REPO_ROOT, "status", "--porcelain",
                            "--untracked-files=no", "--", "Sources", "Package.swift"])
        if dirty:
            commit += " plus uncommitted changes in Sources/"
        built = datetime.datetime.fromtimestamp(os.path.getmtime(ctx.spoold)).strftime("%Y-%m-%d %H:%M")
        v["spoold"] = "%s (built %s, work tree at commit %s)" % (show_path(ctx.spoold, ctx.tmpdir), built, commit)
    if "raw" in ctx.tools:
        v["raw"] = "bench/spawnloop.c, cc -O2: %d spawner threads, posix_spawn + waitpid(pid)" % ctx.workers
    return v


def machine_info(tmpdir):
    def out(argv):
        try:
            return subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=20).stdout.rstrip()
        except Exception as e:
            return "(%s)" % e

    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            m = re.search(r"model name\s*:\s*(.*)", f.read())
            cpu = m.group(1).strip() if m else ""
    except OSError:
        pass
    with open("/proc/loadavg") as f:
        load = " ".join(f.read().split()[:3])
    return {"nproc": out(["nproc"]), "cpu": cpu, "free": out(["free", "-h"]), "kernel": out(["uname", "-r"]),
            "df": out(["df", "-T", tmpdir]), "loadavg_before": load, "python": sys.version.split()[0]}


# ---------------------------------------------------------------------------
# Running


def measure(ctx, scenario, tool, label, fn):
    """One round of one (scenario, tool): a dict of metrics, or {"status": ..., "reason": ...}."""
    t = now()
    try:
        r = fn()
        r["status"] = "ok"
    except NotAvailable as e:
        r = {"status": "n/a", "reason": str(e)}
    except TimedOut as e:
        r = {"status": "timeout", "reason": str(e)}
    except Failed as e:
        r = {"status": "error", "reason": str(e)}
    except KeyboardInterrupt:
        raise
    except Exception as e:  # a harness bug must not lose the other results
        r = {"status": "error", "reason": "%s: %s" % (type(e).__name__, e)}
    shown = ", ".join("%s %s" % (k, METRICS[k][2].format(v)) for k, v in r.items() if k in METRICS and v is not None)
    log("%-8s %-16s %s  (%.1f s)%s" % (scenario, label, shown or r["status"], now() - t,
                                        "" if r["status"] == "ok" else ": " + r["reason"]))
    # What is kept goes into the report and latest.json: paths in it relative to the repo, $TMPDIR/...
    for k in ("reason", "note"):
        if r.get(k):
            r[k] = scrub(r[k], ctx.tmpdir)
    return r


def run_all(ctx):
    results = {}
    for scenario in ctx.scenarios:
        results[scenario] = {}
        if scenario == "backlog":
            entries = [("spoold", "spoold@%d" % size, (lambda s: (lambda: spoold_backlog(ctx, s)))(size))
                       for size in ctx.backlog_sizes]
        else:
            entries = [(tool, tool, (lambda f: (lambda: f(ctx)))(RUNNERS[(scenario, tool)]))
                       for tool in SCENARIO_TOOLS[scenario] if (scenario, tool) in RUNNERS]
        for tool, label, fn in entries:
            if tool not in ctx.wanted:
                continue
            if tool not in ctx.tools:
                results[scenario][label] = {"skipped": ctx.skipped.get(tool, "not available"), "rounds": []}
                continue
            results[scenario][label] = {"rounds": []}
        for rnd in range(ctx.rounds):
            for tool, label, fn in entries:
                entry = results[scenario].get(label)
                if entry is None or "skipped" in entry:
                    continue
                prev = entry["rounds"]
                if prev and prev[-1]["status"] == "n/a":
                    prev.append(dict(prev[-1]))  # a missing feature stays missing: do not retry every round
                    continue
                if scenario == "backlog" and prev and int(label.split("@")[1]) >= BIG_BACKLOG:
                    continue  # one round of a huge backlog takes minutes; the report says n=1

                log_label = label + ("" if ctx.rounds == 1 else " r%d/%d" % (rnd + 1, ctx.rounds))
                prev.append(measure(ctx, scenario, tool, log_label, fn))
    return results
