#!/usr/bin/env python3
"""Memory of finished jobs that had a long timeout (issue 17): a timeout's timer must go with its
job, not stay queued until the deadline. Runs one spoold per case on a fresh spool, drops N
/bin/true jobs (with `timeout_seconds` of a day, or none), waits until all are in done/ and
prints the daemon's RSS then. Flat means: the RSS with timeouts stays that without them, at
every N.

    bench/timeout_memory.py --spoold .build-release/release/spoold [--counts 2000,20000]
"""
import argparse, json, os, shutil, subprocess, sys, tempfile, time


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def run_case(spoold, n, timeout):
    root = tempfile.mkdtemp(prefix="spoold-timeout-mem-")
    try:
        for d in ("inbox", "pending", "running", "done", "control", "tmp"):
            os.makedirs(os.path.join(root, d))
        for i in range(n):
            job = {"id": "j%06d" % i, "command": ["/bin/true"]}
            if timeout:
                job["timeout_seconds"] = 86400
            with open(os.path.join(root, "inbox", "j%06d.json" % i), "w") as f:
                json.dump(job, f)
        # settle: the files are older than the settle period once the daemon looks at them.
        old = time.time() - 10
        for name in os.listdir(os.path.join(root, "inbox")):
            os.utime(os.path.join(root, "inbox", name), (old, old))
        args = [spoold, "--spool", root, "--workers", "2"]
        if os.geteuid() == 0:
            args.append("--allow-root-jobs")  # root-owned job files are refused otherwise
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        deadline = time.time() + 600
        while time.time() < deadline:
            done = sum(1 for x in os.listdir(os.path.join(root, "done")) if x.endswith(".json"))
            if done >= n:
                break
            time.sleep(0.2)
        else:
            p.kill()
            raise SystemExit("timed out: %d of %d done" % (done, n))
        with open(os.path.join(root, "done", "j000000.json")) as f:
            status = json.load(f).get("status")
        if status != "succeeded":
            p.kill()
            raise SystemExit("job j000000 ended %s, not succeeded" % status)
        time.sleep(1.0)  # let the finisher and the metrics writer settle before reading RSS
        rss = rss_kib(p.pid)
        p.terminate()
        p.wait(timeout=60)
        return rss
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spoold", required=True)
    ap.add_argument("--counts", default="2000,20000")
    a = ap.parse_args()
    print("| jobs | RSS, no timeout | RSS, timeout_seconds 86400 | ratio |")
    print("|---|---|---|---|")
    for n in [int(x) for x in a.counts.split(",")]:
        without = run_case(a.spoold, n, False)
        with_t = run_case(a.spoold, n, True)
        print("| %d | %.1f MiB | %.1f MiB | %.2f |" % (n, without / 1024, with_t / 1024, with_t / max(1, without)))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
