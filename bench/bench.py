#!/usr/bin/env python3
"""spoold against the tools people use instead, measured in one run.

Started by bench/run, which installs peers, compiles the C helpers and builds
spoold. This file parses the arguments and runs the scenarios, prints the table, and
writes bench/results/latest.json, docs/performance.md and docs/performance.png; the
work is in the package beside it, bench/spoolbench/ (see its __init__ and
bench/README.md): common, spoold, raw, peers/, runner, report.

Every figure is the median over R rounds (min-max shown) and a ratio to the
raw posix_spawn+waitpid loop (bench/spawnloop.c) measured in the same run:
    throughput figures   / raw drained /bin/true jobs/s (sleep: / raw sleep jobs/s)
    latency figures      / raw spawn-to-start latency (same percentile)

What can go wrong, and what happens then: a tool that is missing is skipped
with a note; a flag or feature spoold lacks gives "n/a: <reason>"; a run that
does not finish within its deadline is killed and reported as "timeout"; a run
whose jobs did not all succeed is reported as "error: <what was found>". All
processes started here carry SPOOLD_BENCH_RUN=<run dir> in their environment,
and every run ends by killing whatever still carries its marker, so nothing is
left behind, including daemonised tsp servers and setsid'ed job processes.
"""
import argparse
import atexit
import datetime
import os
import signal
import sys

sys.dont_write_bytecode = True  # the package and huey_bench are imported from here: no __pycache__ in bench/
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from spoolbench.common import (ALL_SCENARIOS, ALL_TOOLS, PROCS, REPO_ROOT, RESULTS_DIR, log,  # noqa: E402
                               show_command_line, show_path)
from spoolbench.report import plot, print_table, summarise, table_rows, write_json, write_markdown  # noqa: E402
from spoolbench.runner import Context, detect_tools, machine_info, run_all, tool_versions  # noqa: E402


class UsageParser(argparse.ArgumentParser):
    def error(self, message):
        self.print_usage(sys.stderr)
        print("Error: %s" % message, file=sys.stderr)
        sys.exit(64)


def parse_args(argv):
    p = UsageParser(prog="bench/run", description="spoold against its peers; see bench/README.md")
    p.add_argument("--jobs", type=int)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--rounds", type=int)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--only", default=",".join(ALL_TOOLS))
    p.add_argument("--scenarios", default=",".join(ALL_SCENARIOS))
    p.add_argument("--spoold")
    p.add_argument("--baseline", help="a second spoold binary, run in the same rounds (labelled baseline)")
    p.add_argument("--live-restore", action="store_true",
                   help="also run spoold with live restore on (config.json), labelled live")
    p.add_argument("--out", default=os.path.join(REPO_ROOT, "docs", "performance.md"))
    p.add_argument("--tmpdir", default="/tmp")
    p.add_argument("--no-install", action="store_true")
    p.add_argument("--latency-samples", type=int)
    p.add_argument("--sleep-jobs", type=int, default=500)
    p.add_argument("--backlog-sizes")
    p.add_argument("--batch-ops", type=int, default=10000)
    p.add_argument("--timeout-scale", type=float, default=1.0)
    p.add_argument("--keep", action="store_true", help="keep the temporary run directories")
    return p.parse_args(argv)


def main():
    # bench/run passes: --bin-dir D --resolved-spoold S --spoold-note X --command-line C -- <user args>
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--bin-dir", required=True)
    pre.add_argument("--resolved-spoold", default="")
    pre.add_argument("--spoold-note", default="")
    pre.add_argument("--command-line", default="bench/run")
    pre.add_argument("--validate", action="store_true")
    argv = sys.argv[1:]
    split = argv.index("--") if "--" in argv else len(argv)
    internal, user = pre.parse_args(argv[:split]), argv[split + 1:]
    a = parse_args(user)

    ctx = Context()
    ctx.quick = a.quick
    ctx.jobs = a.jobs or (200 if a.quick else 2000)
    ctx.rounds = a.rounds or (1 if a.quick else 5)
    ctx.workers = a.workers
    ctx.latency_samples = a.latency_samples or (50 if a.quick else 500)
    ctx.sleep_jobs = a.sleep_jobs
    ctx.batch_ops = a.batch_ops
    ctx.backlog_sizes = [int(x) for x in a.backlog_sizes.split(",")] if a.backlog_sizes else \
        ([100, 1000] if a.quick else [100, 10000, 100000])
    ctx.timeout_scale = a.timeout_scale
    ctx.keep = a.keep
    ctx.idle_gap = 0.02
    ctx.tmpdir = os.path.abspath(a.tmpdir)
    ctx.spoold = internal.resolved_spoold or a.spoold or ""
    if ctx.spoold:
        ctx.spoold = os.path.abspath(ctx.spoold)
    ctx.spoold_note = internal.spoold_note
    ctx.baseline = os.path.abspath(a.baseline) if a.baseline else ""
    # Absolute: spoold runs the stamp job from its run directory.
    ctx.spawnloop = os.path.join(os.path.abspath(internal.bin_dir), "spawnloop")
    ctx.stamp = os.path.join(os.path.abspath(internal.bin_dir), "stamp")
    # The report names paths relative to the repo (and $TMPDIR/...): no machine's absolute path goes into docs/.
    ctx.command_line = show_command_line(internal.command_line, ctx.tmpdir)
    ctx.wanted = [t.strip() for t in a.only.split(",") if t.strip()]
    ctx.scenarios = [s.strip() for s in a.scenarios.split(",") if s.strip()]
    for t in ctx.wanted:
        if t not in ALL_TOOLS:
            print("Error: unknown tool %r in --only (known: %s)" % (t, ", ".join(ALL_TOOLS)), file=sys.stderr)
            return 64
    for s in ctx.scenarios:
        if s not in ALL_SCENARIOS:
            print("Error: unknown scenario %r (known: %s)" % (s, ", ".join(ALL_SCENARIOS)), file=sys.stderr)
            return 64
    if ctx.jobs < 1 or ctx.workers < 1 or ctx.rounds < 1:
        print("Error: --jobs, --workers and --rounds must be at least 1", file=sys.stderr)
        return 64
    if ctx.latency_samples < 1 or ctx.sleep_jobs < 1 or ctx.batch_ops < 1 or min(ctx.backlog_sizes) < 1:
        print("Error: scenario sizes must be at least 1", file=sys.stderr)
        return 64
    if internal.validate:
        return 0
    os.makedirs(ctx.tmpdir, exist_ok=True)
    ctx.date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if ctx.baseline and "spoold" in ctx.wanted:
        ctx.wanted.append("baseline")
    if a.live_restore and "spoold" in ctx.wanted:
        ctx.wanted.append("live")
    ctx.tools, ctx.skipped = detect_tools(ctx, ctx.wanted)
    for tool, why in ctx.skipped.items():
        log("skipping %s: %s" % (tool, why))
    ctx.versions = tool_versions(ctx)
    ctx.machine = machine_info(ctx.tmpdir)

    def on_signal(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)
    atexit.register(PROCS.kill_all)
    # tsp and nq keep one process per waiting job; make room for them.
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except Exception:
        pass

    log("N=%d P=%d R=%d, latency samples %d, backlog %s, tools %s, scenarios %s"
        % (ctx.jobs, ctx.workers, ctx.rounds, ctx.latency_samples, ctx.backlog_sizes,
           ",".join(t for t in ctx.wanted if t in ctx.tools), ",".join(ctx.scenarios)))
    try:
        results = run_all(ctx)
    except KeyboardInterrupt:
        log("interrupted; cleaning up")
        PROCS.kill_all()
        return 130
    summarise(results)
    rows = table_rows(ctx, results)
    print()
    print_table(rows)
    print()

    os.makedirs(RESULTS_DIR, exist_ok=True)
    out_md = os.path.abspath(a.out)
    os.makedirs(os.path.dirname(out_md), exist_ok=True)
    png = os.path.splitext(out_md)[0] + ".png"
    plot_error = plot(ctx, results, png)
    if plot_error:
        log("no plot: " + plot_error)
    write_markdown(ctx, results, rows, out_md, png, plot_error)
    write_json(ctx, results, os.path.join(RESULTS_DIR, "latest.json"))
    log("wrote %s, %s, %s" % (show_path(out_md, ctx.tmpdir), "(no plot)" if plot_error else show_path(png, ctx.tmpdir),
                              show_path(os.path.join(RESULTS_DIR, "latest.json"), ctx.tmpdir)))
    if plot_error and not ctx.quick:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
