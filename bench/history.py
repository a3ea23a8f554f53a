#!/usr/bin/env python3
"""History at a million records (issue 15): what `spoolctl list --limit 10`, `stats`,
`watch --once` (one frame) and `estimate` cost with 10 finished records and with N, as a ratio,
and spoolctl's peak RSS; plus how long spoold takes to build its history index at start.

Records: a real spoold runs a few real jobs first (a command job that succeeds, one that fails,
a batch); their records in done/ are the templates. The generator then writes N records by
copying those templates with a new id, name, times and sequence (the same files the daemon
writes, only faster than running N jobs), and spoold is started on the spool: it finds no
index and builds it from the records (timed from spawn to its "index ... built" log line).

Usage: bench/history [--records 10,100000,1000000] [--repeat 3] [--tmpdir DIR] [--keep]
(bench/history builds the release binaries, then runs this with --bin DIR.)
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

NAMES = ["etl-%02d" % i for i in range(40)] + ["report", "backup", "resize", "index", "train"]


def log(msg):
    print("history-bench: " + msg, file=sys.stderr, flush=True)


def run_measured(argv, env=None):
    """Runs argv; returns (seconds, CPU seconds (user + system), max RSS in KiB, stdout)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    dt = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise RuntimeError("%s exited %d" % (argv, os.waitstatus_to_exitcode(status)))
    return dt, ru.ru_utime + ru.ru_stime, ru.ru_maxrss, out


def make_templates(spoold, spoolctl, tmp):
    """Real records from a real daemon: succeeded, failed, batch."""
    spool = os.path.join(tmp, "templates")
    os.makedirs(spool)
    jobs = {
        "ok": {"id": "tpl-ok", "name": "tpl", "shell": "true"},
        "failed": {"id": "tpl-failed", "name": "tpl", "shell": "exit 3"},
        "batch": {"id": "tpl-batch", "name": "tpl", "max_parallel": 2,
                  "operations": [{"shell": "true"}, {"shell": "true"}, {"shell": "exit 1"}]},
    }
    for job in jobs.values():
        path = os.path.join(tmp, job["id"] + ".json")
        with open(path, "w") as f:
            json.dump(job, f)
        subprocess.run([spoolctl, "--spool", spool, "submit", path], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    extra = ["--allow-root-jobs"] if os.geteuid() == 0 else []
    subprocess.run([spoold, "--spool", spool, "--drain", "--workers", "2"] + extra, check=True, stderr=subprocess.DEVNULL, timeout=120)
    out = {}
    for key, job in jobs.items():
        with open(os.path.join(spool, "done", job["id"] + ".json")) as f:
            out[key] = f.read()
    return out


def rfc3339(t):
    whole = int(t)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + ".%06dZ" % int((t - whole) * 1e6)


def generate(spool, n, templates):
    """Writes n records into done/ (oldest first, spread over the last 30 days)."""
    done = os.path.join(spool, "done")
    now = time.time()
    span = 30 * 86400
    # Each template once as a format string with the fields that change as placeholders.
    forms = []
    for key, text in templates.items():
        rec = json.loads(text)
        form = text.replace("{", "{{").replace("}", "}}")
        form = form.replace(rec["id"], "{id}").replace('"name" : "tpl"', '"name" : "{name}"')
        form = form.replace(rec["submitted_at"], "{sub}").replace(rec["started_at"], "{start}").replace(rec["finished_at"], "{fin}")
        form = form.replace('"sequence" : %d' % rec["sequence"], '"sequence" : {seq}')
        form = re.sub(r'("duration_seconds" : )[0-9.e-]+(,\n  "wait_reason")', r"\g<1>{dur}\2", form)
        forms.append(form)
    t0 = time.perf_counter()
    for i in range(n):
        # 1 in 50 failed, 1 in 20 a batch, the rest succeeded.
        form = forms[1 if i % 50 == 7 else (2 if i % 20 == 3 else 0)]
        submitted = now - span + span * i / max(1, n)
        dur = 0.5 + (i % 97) / 10.0
        jid = "h%08d" % i
        body = form.format(id=jid, name=NAMES[i % len(NAMES)], sub=rfc3339(submitted), start=rfc3339(submitted + 0.05),
                           fin=rfc3339(submitted + 0.05 + dur), seq=int(submitted * 1e6), dur=repr(dur))
        fd = os.open(os.path.join(done, jid + ".json"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.write(fd, body.encode())
        os.close(fd)
        if n >= 100000 and i and i % 100000 == 0:
            log("  %d records written (%.0f s)" % (i, time.perf_counter() - t0))
    return time.perf_counter() - t0


def start_daemon(spoold, spool, logpath, expect_built):
    """Starts spoold; returns (process, seconds until its index is ready)."""
    t0 = time.perf_counter()
    f = open(logpath, "w")
    p = subprocess.Popen([spoold, "--spool", spool, "--workers", "2"], stdout=f, stderr=f)
    pattern = re.compile(r"history: index of [0-9]+ finished jobs? (built|is up to date)")
    while True:
        with open(logpath) as g:
            text = g.read()
        if pattern.search(text):
            return p, time.perf_counter() - t0, text
        if p.poll() is not None:
            raise RuntimeError("spoold exited: " + text[-2000:])
        if time.perf_counter() - t0 > 3600:
            raise RuntimeError("no index after an hour")
        time.sleep(0.05)


def shown_command(argv):
    """The command as a person typed it: without what bench/history adds, and without paths of
    this machine (--tmpdir)."""
    out, skip = ["bench/history"], False
    for arg in argv:
        if skip:
            skip = False
            continue
        if arg in ("--bin", "--json-out", "--out", "--tmpdir", "--workdir"):
            skip = True
            continue
        if arg.split("=", 1)[0] in ("--bin", "--json-out", "--out", "--tmpdir", "--workdir"):
            continue
        out.append(arg)
    return " ".join(out)


def cpu_ticks(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def wait_idle(pid, limit=900):
    """Waits until spoold has used no CPU for 2 s (its start-up work in the background is over:
    the index check, reading done/ for ttl_seconds), so that commands are measured in steady state."""
    t0 = time.perf_counter()
    last, quiet = cpu_ticks(pid), 0
    while time.perf_counter() - t0 < limit:
        time.sleep(0.5)
        now = cpu_ticks(pid)
        quiet = quiet + 1 if now - last <= 1 else 0
        last = now
        if quiet >= 4:
            return time.perf_counter() - t0
    return None


def measure(spoolctl, spool, est_file, repeat):
    cmds = {
        "list --limit 10": ["list", "--limit", "10"],
        "list --limit 10 --json": ["list", "--limit", "10", "--json"],
        "stats": ["stats"],
        "stats --json": ["stats", "--json"],
        "watch --once (frame)": ["watch", "--once"],
        "estimate": ["estimate", est_file, "--json"],
    }
    out = {}
    for label, args in cmds.items():
        times, cpu, rss = [], [], []
        for _ in range(repeat):
            dt, c, kb, _ = run_measured([spoolctl, "--spool", spool] + args)
            times.append(dt)
            cpu.append(c)
            rss.append(kb)
        out[label] = {"seconds": statistics.median(times), "cpu_seconds": statistics.median(cpu), "rss_kib": max(rss)}
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True, help="folder holding spoold and spoolctl (release)")
    ap.add_argument("--records", default="10,1000000")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each command (the median is reported)")
    ap.add_argument("--tmpdir", default=tempfile.gettempdir())
    ap.add_argument("--keep", action="store_true", help="keep the spools (and the work folder)")
    ap.add_argument("--workdir", default=None,
                    help="work in this folder; spools of an earlier --keep run found there are used again "
                         "(their records kept, their index removed so that spoold builds it again)")
    ap.add_argument("--json-out", default=None)
    ap.add_argument("--out", default=None, help="markdown report (bench/history: docs/history-performance.md)")
    a = ap.parse_args()
    spoold, spoolctl = os.path.join(a.bin, "spoold"), os.path.join(a.bin, "spoolctl")
    order = [int(x) for x in a.records.split(",")]  # measured in this order
    sizes = sorted(order)
    tmp = a.workdir or tempfile.mkdtemp(prefix="spoold-history-", dir=a.tmpdir)
    os.makedirs(tmp, exist_ok=True)
    results = {"sizes": {}, "command": shown_command(sys.argv[1:])}
    try:
        if os.path.exists(os.path.join(tmp, "templates")):
            templates = {}
            for key in ["ok", "failed", "batch"]:
                with open(os.path.join(tmp, "templates", "done", "tpl-%s.json" % key)) as f:
                    templates[key] = f.read()
        else:
            templates = make_templates(spoold, spoolctl, tmp)
        est_file = os.path.join(tmp, "estimate.json")
        with open(est_file, "w") as f:
            json.dump({"name": NAMES[0], "shell": "true"}, f)
        for n in order:
            spool = os.path.join(tmp, "spool-%d" % n)
            if os.path.isdir(os.path.join(spool, "done")):
                gen = 0.0
                subprocess.run(["rm", "-rf", os.path.join(spool, "history")])
                log("%d records: using the records of an earlier run; starting spoold (it builds the index)" % n)
            else:
                for d in ["inbox", "pending", "running", "done", "control", "tmp"]:
                    os.makedirs(os.path.join(spool, d))
                log("%d records: generating" % n)
                gen = generate(spool, n, templates)
                log("%d records: written in %.1f s; starting spoold (it builds the index)" % (n, gen))
            subprocess.run(["sync"])
            p, build, text = start_daemon(spoold, spool, os.path.join(spool, "daemon.log"), True)
            log("%d records: index ready %.2f s after spawn" % (n, build))
            idle = wait_idle(p.pid)
            log("%d records: spoold idle %s s later" % (n, "%.1f" % idle if idle is not None else "(not within 900)"))
            m = measure(spoolctl, spool, est_file, a.repeat)
            p.terminate()
            p.wait(timeout=60)
            # A second start finds the index up to date: the cheap check.
            p2, again, _ = start_daemon(spoold, spool, os.path.join(spool, "daemon2.log"), False)
            p2.terminate()
            p2.wait(timeout=60)
            index_bytes = sum(os.path.getsize(os.path.join(spool, "history", f)) for f in os.listdir(os.path.join(spool, "history")))
            results["sizes"][n] = {"generate_seconds": gen, "index_build_seconds": build, "restart_seconds": again,
                                   "index_bytes": index_bytes, "commands": m}
            log("%d records: restart with the index in place %.2f s" % (n, again))
            for label, r in m.items():
                log("%d records: %-24s %.3f s (CPU %.3f s), RSS %.1f MB" % (n, label, r["seconds"], r["cpu_seconds"], r["rss_kib"] / 1024))
            if not a.keep:
                subprocess.run(["rm", "-rf", spool])  # faster than shutil at a million files
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    results["load"] = " ".join("%.1f" % x for x in os.getloadavg())
    lo, hi = min(sizes), max(sizes)
    small, big = results["sizes"][lo]["commands"], results["sizes"][hi]["commands"]
    print("spoolctl at %d vs %d finished records (median of %d runs; RSS = peak of any run)" % (lo, hi, a.repeat))
    print("%-24s %10s %10s %7s %10s %10s %7s %10s %10s" % ("command", "t@%d" % lo, "t@%d" % hi, "ratio", "cpu@%d" % lo, "cpu@%d" % hi,
                                                         "ratio", "RSS@%d" % lo, "RSS@%d" % hi))
    for label in small:
        s, b = small[label], big[label]
        print("%-24s %9.3fs %9.3fs %6.2fx %9.3fs %9.3fs %6.2fx %7.1f MB %7.1f MB"
              % (label, s["seconds"], b["seconds"], b["seconds"] / s["seconds"], s["cpu_seconds"], b["cpu_seconds"],
                 b["cpu_seconds"] / max(1e-6, s["cpu_seconds"]), s["rss_kib"] / 1024, b["rss_kib"] / 1024))
    for n in sizes:
        r = results["sizes"][n]
        print("%d records: index built in %.2f s at start (%.1f MB), restart with the index in place %.2f s"
              % (n, r["index_build_seconds"], r["index_bytes"] / 1e6, r["restart_seconds"]))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(results, f, indent=2)
    if a.out:
        write_markdown(a.out, results, sizes, a.repeat)


def write_markdown(path, results, sizes, repeat):
    """docs/history-performance.md: the tables above, with nothing of this machine's paths."""
    lo, hi = min(sizes), max(sizes)
    lines = ["# History at a million records", "",
             "Written by `%s` (bench/history.py) on %s, %d CPUs; median of %d runs per command, RSS the peak of any run."
             % (results["command"], time.strftime("%Y-%m-%d"), os.cpu_count() or 0, repeat), "",
             "Records are copies of real records made by spoold (a succeeded command job, a failed one, a batch of three",
             "operations), written into done/ by a generator; spoold then builds its history index from them at start.", "",
             "Wall time is what a person waits; CPU time (user + system of spoolctl) is what the command costs,",
             "and moves less when other work shares the machine (load average: %s at the end of the run)." % results.get("load", "?"), "",
             "| command | " + " | ".join("%d records" % n for n in sizes) + " | ratio %d / %d | " % (hi, lo)
             + " | ".join("CPU at %d" % n for n in sizes) + " | CPU ratio | "
             + " | ".join("RSS at %d" % n for n in sizes) + " |",
             "|---|" + "---:|" * (3 * len(sizes) + 2)]
    for label in results["sizes"][lo]["commands"]:
        t = [results["sizes"][n]["commands"][label]["seconds"] for n in sizes]
        c = [results["sizes"][n]["commands"][label].get("cpu_seconds", 0) for n in sizes]
        r = [results["sizes"][n]["commands"][label]["rss_kib"] / 1024 for n in sizes]
        lines.append("| `spoolctl %s` | " % label + " | ".join("%.3f s" % x for x in t) + " | %.2f× | " % (t[-1] / t[0])
                     + " | ".join("%.3f s" % x for x in c) + " | %.2f× | " % (c[-1] / max(1e-6, c[0]))
                     + " | ".join("%.1f MB" % x for x in r) + " |")
    lines += ["", "| records | index built at first start | index size | start with the index in place |", "|---:|---:|---:|---:|"]
    for n in sizes:
        x = results["sizes"][n]
        lines.append("| %d | %.2f s | %.1f MB | %.2f s |" % (n, x["index_build_seconds"], x["index_bytes"] / 1e6, x["restart_seconds"]))
    lines += ["", "Both start times run from spawning spoold to its log line saying the index is ready (built, or found up to",
              "date); the daemon is ready for jobs before the build ends (it runs in the background).", ""]
    with open(path, "w") as f:
        f.write("\n".join(lines))


if __name__ == "__main__":
    main()
