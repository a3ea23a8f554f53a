#!/usr/bin/env python3
"""A batch of `http` operations against a local server, through the real daemon.

Starts Tests/SpoolBuiltinsTests/Fixtures/http_server.py, drops one batch job of N GET operations
(max_parallel W) into a fresh spool, runs `spoold --drain`, and prints the wall time of the batch
and the per-operation durations from the record. Prints figures only; asserts nothing.

    swift build && python3 bench/http_batch.py [--spoold .build/debug/spoold] [--ops 50] [--parallel 5,10] [--workers 10]
"""
import argparse, json, os, shutil, statistics, subprocess, sys, tempfile, time

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--spoold", default=os.path.join(root, ".build/debug/spoold"))
    ap.add_argument("--ops", type=int, default=50)
    ap.add_argument("--parallel", default="1,2,5,10")
    ap.add_argument("--workers", type=int, default=10)
    args = ap.parse_args()
    server = subprocess.Popen([sys.executable, os.path.join(root, "Tests/SpoolBuiltinsTests/Fixtures/http_server.py")],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    port = int(server.stdout.readline())
    try:
        for width in [int(w) for w in args.parallel.split(",")]:
            spool = tempfile.mkdtemp(prefix="http-bench-")
            try:
                os.makedirs(os.path.join(spool, "inbox"))
                ops = [{"type": "http", "params": {"method": "GET", "url": f"http://127.0.0.1:{port}/json"}}
                       for _ in range(args.ops)]
                with open(os.path.join(spool, "inbox", "h.json"), "w") as f:
                    json.dump({"id": "h", "max_parallel": width, "operations": ops}, f)
                t0 = time.monotonic()
                subprocess.run([args.spoold, "--spool", spool, "--workers", str(args.workers), "--drain"] + (["--allow-root-jobs"] if os.geteuid() == 0 else []),
                               check=True, stderr=subprocess.DEVNULL)
                wall = time.monotonic() - t0
                with open(os.path.join(spool, "done", "h.json")) as f:
                    record = json.load(f)
                durations = [op["duration_seconds"] for op in record["operations"]]
                batch = record.get("duration_seconds") or 0
                print(f"{args.ops} http ops, max_parallel {width:2d}: batch {batch:7.3f} s "
                      f"(spoold run {wall:6.3f} s), per op median {statistics.median(durations) * 1000:7.1f} ms, "
                      f"max {max(durations) * 1000:7.1f} ms, status {record['status']}")
            finally:
                shutil.rmtree(spool, ignore_errors=True)
    finally:
        server.stdin.close()
        server.wait()


if __name__ == "__main__":
    main()
