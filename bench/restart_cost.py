#!/usr/bin/env python3
"""What a daemon restart costs running jobs, with live restore on and off.

    python3 bench/restart_cost.py --spoold PATH [--jobs 8] [--seconds 20] [--tmpdir /tmp]

For each setting: a fresh spool, --workers = --jobs, that many `sleep SECONDS` jobs; once all run,
SIGTERM (time to exit), a new daemon (time until every job is adopted, or started again), then
the records' attempts. Both daemons run with --shutdown-grace 2: off, the jobs do not finish
within it, so they are stopped, requeued and run again from the start (their work so far lost);
on, they keep running and are adopted.
"""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def wait_for(pred, timeout, what):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return
        time.sleep(0.01)
    raise SystemExit("restart_cost: timed out waiting for " + what)


def run(spoold, jobs, seconds, tmpdir, live):
    root = tempfile.mkdtemp(prefix="spoold-restart-", dir=tmpdir)
    spool = os.path.join(root, "spool")
    for d in ["inbox", "pending", "running", "done", "control", "tmp"]:
        os.makedirs(os.path.join(spool, d))
    if live:
        with open(os.path.join(spool, "config.json"), "w") as f:
            json.dump({"live_restore": True}, f)
    marks = os.path.join(root, "marks")
    os.makedirs(marks)
    for i in range(jobs):
        job = {"id": "j%d" % i, "shell": "touch %s/j%d.$SPOOL_ATTEMPT; sleep %s" % (marks, i, seconds)}
        tmp = os.path.join(spool, "tmp", "j%d.json" % i)
        with open(tmp, "w") as f:
            json.dump(job, f)
        os.rename(tmp, os.path.join(spool, "inbox", "j%d.json" % i))
    log = open(os.path.join(root, "spoold.log"), "ab")
    argv = [spoold, "--spool", spool, "--workers", str(jobs), "--shutdown-grace", "2"] + (["--allow-root-jobs"] if os.geteuid() == 0 else [])
    first = subprocess.Popen(argv, stdout=log, stderr=log)
    wait_for(lambda: len(os.listdir(marks)) >= jobs, 60, "every job to start")
    t0 = time.monotonic()
    first.send_signal(signal.SIGTERM)
    first.wait(timeout=120)
    stop = time.monotonic() - t0
    t1 = time.monotonic()
    second = subprocess.Popen(argv + ["--drain"], stdout=log, stderr=log)
    text = lambda: open(os.path.join(root, "spoold.log"), errors="replace").read()
    if live:
        wait_for(lambda: text().count(": adopted") >= jobs, 60, "every job to be adopted")
    else:
        wait_for(lambda: len(os.listdir(marks)) >= 2 * jobs, 60, "every job to start again")
    resume = time.monotonic() - t1
    second.wait(timeout=seconds * 3 + 60)
    recs = [json.load(open(os.path.join(spool, "done", "j%d.json" % i))) for i in range(jobs)]
    attempts = sorted(r["attempts"] for r in recs)
    statuses = sorted(set(r["status"] for r in recs))
    shutil.rmtree(root)
    return {"live_restore": live, "stop_seconds": stop, "resume_seconds": resume,
            "attempts": attempts, "statuses": statuses}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--spoold", required=True)
    p.add_argument("--jobs", type=int, default=8)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--tmpdir", default="/tmp")
    a = p.parse_args()
    for live in (True, False):
        r = run(os.path.abspath(a.spoold), a.jobs, a.seconds, a.tmpdir, live)
        print("live_restore %-5s: SIGTERM to exit %.2f s; new daemon to %s %.2f s; attempts %s; %s"
              % (str(r["live_restore"]).lower(), r["stop_seconds"], "every job adopted" if live else "every job started again",
                 r["resume_seconds"], r["attempts"], ",".join(r["statuses"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
