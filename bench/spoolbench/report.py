"""The report: medians and ranges per entry, ratios to raw, the table, the plot, the markdown page, the JSON.

No machine's absolute path goes into the page or latest.json: the command line, tool paths,
reasons and notes are printed relative to the repo root, and the temporary directory as
$TMPDIR (common.show_path, scrub and show_command_line, applied where they are made).
"""
import json
import os
import statistics

from spoolbench.common import ALL_TOOLS

SCENARIO_TITLES = {
    "drained": "Drained throughput: N × /bin/true dropped before start",
    "steady": "Steady stream: N × /bin/true submitted one by one to a running queue",
    "sleep": "sleep 0.01 × {sleep_jobs}",
    "latency": "Latency: submit → job start, one job at a time on an idle queue",
    "backlog": "Backlog: jobs pending before start",
    "batch": "Built-in operations: one batch of {batch_ops:,} descriptive_stats operations",
}


# metric -> (label, unit, format, ratio kind)
METRICS = {
    "throughput": ("throughput", "jobs/s", "{:,.0f}", "rate"),
    "accept_rate": ("accept rate", "jobs/s", "{:,.0f}", "rate"),
    "start_rate": ("start rate (until drained)", "jobs/s", "{:,.0f}", "rate"),
    "startup_ms": ("start-up", "ms", "{:,.1f}", None),
    "peak_rss_mb": ("peak RSS", "MiB", "{:,.1f}", None),
    "p50": ("p50", "ms", "{:,.2f}", "latency"),
    "p99": ("p99", "ms", "{:,.2f}", "latency"),
}
SCENARIO_METRICS = {
    "drained": ["throughput"], "steady": ["throughput"], "sleep": ["throughput"],
    "latency": ["p50", "p99"], "batch": ["throughput", "peak_rss_mb"],
    "backlog": ["accept_rate", "start_rate", "startup_ms", "peak_rss_mb"],
}


def summarise(results):
    """Adds {"summary": {metric: {median, min, max, n}}, "status", "reason"} to each entry."""
    for scenario, entries in results.items():
        for label, entry in entries.items():
            if "skipped" in entry:
                entry["status"], entry["reason"] = "skipped", entry["skipped"]
                continue
            ok = [r for r in entry["rounds"] if r["status"] == "ok"]
            bad = [r for r in entry["rounds"] if r["status"] != "ok"]
            entry["summary"] = {}
            for metric in SCENARIO_METRICS[scenario]:
                vals = [r[metric] for r in ok if r.get(metric) is not None]
                if vals:
                    entry["summary"][metric] = {"median": statistics.median(vals), "min": min(vals),
                                                "max": max(vals), "n": len(vals)}
            notes = sorted({r["note"] for r in ok if r.get("note")})
            methods = sorted({r["startup_method"] for r in ok if r.get("startup_method")})
            if methods:
                notes.append("start-up = " + "/".join(methods))
            if ok:
                entry["status"] = "ok"
                if bad:
                    notes.append("%d of %d rounds failed: %s: %s" % (len(bad), len(entry["rounds"]),
                                                                     bad[0]["status"], bad[0]["reason"]))
            else:
                entry["status"] = bad[0]["status"] if bad else "error"
                entry["reason"] = bad[0]["reason"] if bad else "no rounds"
            entry["notes"] = notes
    return results


def ratio_base(results, scenario, metric):
    kind = METRICS[metric][3]
    if kind == "latency":
        src = results.get("latency", {}).get("raw", {})
        return src.get("summary", {}).get(metric, {}).get("median"), "raw latency"
    if kind == "rate":
        if scenario == "sleep":
            src = results.get("sleep", {}).get("raw", {})
            return src.get("summary", {}).get("throughput", {}).get("median"), "raw sleep"
        src = results.get("drained", {}).get("raw", {})
        return src.get("summary", {}).get("throughput", {}).get("median"), "raw drained"
    return None, None


def table_rows(ctx, results):
    """Rows: scenario, tool, metric label, median, min–max, unit, ratio, notes (all strings)."""
    rows = []
    for scenario in ctx.scenarios:
        for label, entry in results.get(scenario, {}).items():
            if entry["status"] != "ok":
                rows.append([scenario, label, "", entry["status"], "", "", "", entry["reason"]])
                continue
            for metric in SCENARIO_METRICS[scenario]:
                s = entry["summary"].get(metric)
                mlabel, unit, fmt, _ = METRICS[metric]
                if s is None:
                    rows.append([scenario, label, mlabel, "n/a", "", "", "", "not measured"])
                    continue
                base, _ = ratio_base(results, scenario, metric)
                ratio = "%.2f×" % (s["median"] / base) if base else "—"
                rng = "%s–%s" % (fmt.format(s["min"]), fmt.format(s["max"]))
                rows.append([scenario, label, mlabel, fmt.format(s["median"]), rng, unit, ratio, ""])
            if entry["notes"]:
                rows[-1][7] = "; ".join(entry["notes"])
    return rows


HEADER = ["scenario", "tool", "metric", "median", "min–max", "unit", "× raw", "notes"]


def print_table(rows):
    widths = [max(len(r[i]) for r in rows + [HEADER]) for i in range(7)]
    line = lambda r: "  ".join(c.rjust(widths[i]) if i in (3, 4, 6) else c.ljust(widths[i])
                               for i, c in enumerate(r[:7])) + ("  " + r[7] if r[7] else "")
    print(line(HEADER))
    print("  ".join("-" * w for w in widths))
    last = None
    for r in rows:
        if last and r[0] != last:
            print()
        last = r[0]
        print(line(r))


def plot(ctx, results, png):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not installed (pip install matplotlib)"
    fig, (a, b) = plt.subplots(1, 2, figsize=(12, 4.6))
    fig.suptitle("spoold vs peers: %d × /bin/true, width %d, %d round(s) — %s%s"
                 % (ctx.jobs, ctx.workers, ctx.rounds, ctx.date[:10],
                    " — quick smoke run, not for quoting" if ctx.quick else ""), fontsize=11)

    drained = [(t, e["summary"]["throughput"]) for t, e in results.get("drained", {}).items()
               if e.get("status") == "ok" and "throughput" in e.get("summary", {})]
    drained.sort(key=lambda x: -x[1]["median"])
    if drained:
        names = [t for t, _ in drained]
        med = [s["median"] for _, s in drained]
        err = [[s["median"] - s["min"] for _, s in drained], [s["max"] - s["median"] for _, s in drained]]
        colors = ["#888888" if t == "raw" else "#d62728" if t == "spoold" else "#1f77b4" for t in names]
        bars = a.bar(names, med, yerr=err, capsize=4, color=colors)
        for bar, v in zip(bars, med):
            a.annotate("%.0f" % v, (bar.get_x() + bar.get_width() / 2, bar.get_height()),
                       ha="center", va="bottom", fontsize=8, xytext=(0, 2), textcoords="offset points")
        a.set_ylabel("jobs/s (median, min–max)")
    else:
        a.text(0.5, 0.5, "no drained results", ha="center", transform=a.transAxes)
    a.set_title("Drained throughput (higher is better)", fontsize=10)

    lat = [(t, e["summary"]) for t, e in results.get("latency", {}).items()
           if e.get("status") == "ok" and "p50" in e.get("summary", {})]
    lat.sort(key=lambda x: x[1]["p50"]["median"])
    if lat:
        names = [t for t, _ in lat]
        xs = range(len(names))
        w = 0.38
        p50 = [s["p50"]["median"] for _, s in lat]
        p99 = [s["p99"]["median"] for _, s in lat]
        b.bar([x - w / 2 for x in xs], p50, w, label="p50", color="#1f77b4")
        b.bar([x + w / 2 for x in xs], p99, w, label="p99", color="#ff7f0e")
        for x, v in zip(xs, p50):
            b.annotate("%.2f" % v, (x - w / 2, v), ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                       textcoords="offset points")
        for x, v in zip(xs, p99):
            b.annotate("%.2f" % v, (x + w / 2, v), ha="center", va="bottom", fontsize=7, xytext=(0, 2),
                       textcoords="offset points")
        b.set_xticks(list(xs))
        b.set_xticklabels(names)
        b.set_yscale("log")
        b.set_ylabel("ms, submit → job start (log scale)")
        b.legend()
    else:
        b.text(0.5, 0.5, "no latency results", ha="center", transform=b.transAxes)
    b.set_title("Latency, one job at a time (lower is better)", fontsize=10)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)
    return None


def md_escape(s):
    return s.replace("|", "\\|")


def write_markdown(ctx, results, rows, path, png, plot_error):
    m = ctx.machine
    L = []
    L.append("# spoold performance")
    L.append("")
    L.append("_Generated by `bench/run` on %s. Do not edit by hand: run the command below again._" % ctx.date)
    L.append("")
    L.append("```")
    L.append(ctx.command_line)
    L.append("```")
    L.append("")
    if ctx.quick:
        L.append("> **Quick (smoke) run**: N=%d, one round, %d latency samples, backlogs of %s. "
                 "The figures show that the harness works, not how fast anything is; "
                 "run `bench/run` without `--quick` for numbers to quote."
                 % (ctx.jobs, ctx.latency_samples, " and ".join(str(s) for s in ctx.backlog_sizes)))
        L.append("")
    L.append("Width P = %d (spoold `--workers`, `tsp -S`, `xargs -P`, `parallel -j`, huey workers, "
             "spawner threads of the raw loop). Every figure is the median of %d round(s), with the min–max "
             "range, and a ratio (× raw) to the raw `posix_spawn`+`waitpid` loop measured in the same run: "
             "throughput against raw drained `/bin/true` jobs/s (the sleep scenario against raw `sleep 0.01`), "
             "latency against the raw spawn-to-start latency. Only ratios from one run are comparable; "
             "this is a shared, noisy 2-core machine." % (ctx.workers, ctx.rounds))
    L.append("")

    # Summary lines for spoold.
    def med(scn, tool, metric):
        return results.get(scn, {}).get(tool, {}).get("summary", {}).get(metric, {}).get("median")

    raw = med("drained", "raw", "throughput")
    summary = []
    for scn, metric, what in (("drained", "throughput", "drained /bin/true"), ("steady", "throughput", "steady stream"),
                              ("sleep", "throughput", "sleep 0.01")):
        v = med(scn, "spoold", metric)
        base, _ = ratio_base(results, scn, metric)
        if v is not None and base:
            peers = [(t, med(scn, t, metric)) for t in results.get(scn, {}) if t not in ("spoold", "raw")]
            peers = ", ".join("%s %.2f" % (t, v / pv) for t, pv in peers if pv)
            summary.append("- %s: spoold %s jobs/s = %.2f× raw%s" % (what, "{:,.0f}".format(v), v / base,
                                                                  "; spoold ÷ peer: %s" % peers if peers else ""))
    p50, p99 = med("latency", "spoold", "p50"), med("latency", "spoold", "p99")
    if p50 is not None:
        summary.append("- latency: spoold p50 %.2f ms, p99 %.2f ms (raw p50 %.2f ms)"
                       % (p50, p99, med("latency", "raw", "p50") or float("nan")))
    if summary:
        L.append("## Summary")
        L.append("")
        L.extend(summary)
        L.append("")

    L.append("## Results")
    L.append("")
    for scenario in ctx.scenarios:
        srows = [r for r in rows if r[0] == scenario]
        if not srows:
            continue
        L.append("### " + SCENARIO_TITLES[scenario].format(sleep_jobs=ctx.sleep_jobs, batch_ops=ctx.batch_ops))
        L.append("")
        L.append("| tool | metric | median | min–max | unit | × raw | notes |")
        L.append("|---|---|---:|---:|---|---:|---|")
        for r in srows:
            L.append("| " + " | ".join(md_escape(c) for c in r[1:]) + " |")
        L.append("")

    L.append("## Plot")
    L.append("")
    if plot_error:
        L.append("No plot: %s." % plot_error)
    else:
        L.append("![Drained throughput and latency per tool](%s)" % os.path.basename(png))
    L.append("")

    L.append("## What is measured")
    L.append("")
    L.append("- **drained**: N = %d `/bin/true` jobs are queued before the runner starts; the time is from start "
             "to the last job finished. spoold: N job files `{\"command\": [\"/bin/true\"]}` in a fresh spool's "
             "`inbox/`, timed from exec of `spoold --spool DIR --workers P --drain` to its exit (start-up "
             "included), then N records in `done/` with `\"status\": \"succeeded\"` are checked. tsp: P gate jobs "
             "hold the slots while the jobs are queued (`tsp -B`; tsp holds about 1000 jobs, the rest are added "
             "while it drains), timed from opening the gate until `tsp -l` shows all finished with E-Level 0. "
             "huey: N tasks enqueued into FileStorage, timed from exec of the consumer (P thread workers, each task "
             "runs the command with `subprocess.run`) to the N-th completion signal. `xargs -P P -n1` (one input "
             "line per job), `parallel -j P -N0 CMD ::: 1..N`: one process, exec to exit. nq: no daemon and no width (one job at a time per "
             "NQDIR), timed from the first `nq` call to the end of `nq -w`. raw: bench/spawnloop.c." % ctx.jobs)
    L.append("- **steady**: the queue runs first; N jobs are then submitted one at a time as fast as the "
             "submitter can go (spoold: write `tmp/x.json`, `rename` into `inbox/` from a Python loop; tsp: one "
             "`tsp /bin/true` process per job; huey: `task()` calls from Python), timed from the first submission "
             "until N results exist (spoold: N records arrived in `done/`, counted from inotify; the folder is not "
             "listed while spoold runs). spoold is stopped with SIGTERM "
             "afterwards (exit 0 expected). The ratio base is raw drained.")
    L.append("- **sleep**: like drained with %d jobs of `/bin/sleep 0.01`; at width %d the ideal is %d jobs/s. "
             "The ratio base is the raw loop running the same sleeps." % (ctx.sleep_jobs, ctx.workers,
                                                                        ctx.workers / 0.01))
    L.append("- **latency**: %d jobs, one at a time, on an idle running queue (%d ms pause between jobs). "
             "The job is bench/stamp.c, which writes `CLOCK_REALTIME` in ns at its start; latency = that stamp "
             "minus a `time.time_ns()` taken just before the submission (spoold: just before the `rename` into "
             "`inbox/`; the harness waits for the stamp file, as for the peers, then for the record in `done/` "
             "before the next job; tsp/nq: before running the client; huey: before `task()`). raw: `posix_spawn` "
             "of the same stamp program from C."
             % (ctx.latency_samples, ctx.idle_gap * 1000))
    L.append("- **backlog**: %s `/bin/true` jobs in `inbox/` before `spoold --drain` starts. accept rate: jobs / "
             "time from exec until `inbox/` is empty (the folder's mtime after the exit: the last claim's rename out of "
             "it; the folder is not listed while spoold runs, as a listing of a folder that held a million names "
             "takes the CPU spoold is measured on, and its renames wait for each of the listing's reads); "
             "start rate: jobs / time from exec until exit; start-up: time from exec until READY=1 arrives on a NOTIFY_SOCKET the harness provides (else a log line containing "
             "'ready', else the first record in `done/`; the notes say which); peak RSS: spoold's VmHWM, polled from "
             "/proc until it exits (not wait4's ru_maxrss, which Linux seeds with the harness's own peak at fork). "
             "The ratio base is raw drained."
             % ", ".join("{:,}".format(s) for s in ctx.backlog_sizes))
    L.append("- **batch**: one job file with {:,} `descriptive_stats` operations of 100 numbers each and "
             "`\"max_parallel\": P`, run with `--drain` (and `--max-job-size` raised to fit the file); operations "
             "per second from exec to exit, ratio to raw drained jobs/s; peak RSS as for backlog.".format(ctx.batch_ops))
    L.append("")

    L.append("## Machine")
    L.append("")
    L.append("- CPUs (`nproc`): %s, %s" % (m["nproc"], m["cpu"]))
    L.append("- kernel (`uname -r`): %s" % m["kernel"])
    L.append("- load average before the run: %s; Python %s" % (m["loadavg_before"], m["python"]))
    L.append("- memory (`free -h`):")
    L.append("")
    L.append("```")
    L.append(m["free"])
    L.append("```")
    L.append("")
    L.append("- spool filesystem (`df -T $TMPDIR`, `$TMPDIR` being the `--tmpdir` directory the temporary "
             "spools live in):")
    L.append("")
    L.append("```")
    L.append(m["df"])
    L.append("```")
    L.append("")

    L.append("## Tools")
    L.append("")
    for tool in ALL_TOOLS:
        if tool in ctx.versions:
            L.append("- %s: %s" % (tool, ctx.versions[tool]))
    for tool, why in ctx.skipped.items():
        L.append("- %s: **skipped**: %s" % (tool, why))
    not_wanted = [t for t in ALL_TOOLS if t not in ctx.wanted]
    if not_wanted:
        L.append("- not selected (`--only`): %s" % ", ".join(not_wanted))
    L.append("- incron: not measured (optional peer): incrond has no concurrency limit and no completion "
             "signal, so neither width P nor \"drained\" can be defined for it.")
    L.append("")
    na = [(r[0], r[1], r[7]) for r in rows if r[3] in ("n/a", "timeout", "error")]
    if na:
        L.append("## Not measured in this run")
        L.append("")
        for scn, tool, why in na:
            L.append("- %s / %s: %s" % (scn, tool, md_escape(why)))
        L.append("")
    L.append("Raw per-round figures: `bench/results/latest.json` (not in git).")
    L.append("")
    with open(path, "w") as f:
        f.write("\n".join(L))


def write_json(ctx, results, path):
    """Every round of every measurement, with the configuration, machine and versions (bench/results/latest.json)."""
    with open(path, "w") as f:
        json.dump({"date": ctx.date, "command_line": ctx.command_line, "quick": ctx.quick,
                   "config": {"jobs": ctx.jobs, "workers": ctx.workers, "rounds": ctx.rounds,
                              "latency_samples": ctx.latency_samples, "sleep_jobs": ctx.sleep_jobs,
                              "backlog_sizes": ctx.backlog_sizes, "batch_ops": ctx.batch_ops,
                              "tools": ctx.wanted, "scenarios": ctx.scenarios},
                   "machine": ctx.machine, "versions": ctx.versions, "skipped": ctx.skipped,
                   "results": results}, f, indent=1)
