"""huey (FileStorage) as a peer: a task that runs a command with subprocess.

Used two ways:
  * imported by spoolbench/peers/huey.py, which enqueues tasks in-process (the producer side):
        huey, run_command = make(path); run_command(["/bin/true"])
  * run as the consumer:
        python3 huey_bench.py consume --path DIR --workers P [--target N]
                                       --ready FILE --marker FILE
    It starts huey's own Consumer with P thread workers (huey's defaults
    otherwise: 0.1 s initial poll delay, 1.15 backoff). After the first
    --target completions (SIGNAL_COMPLETE or SIGNAL_ERROR) it writes
    "<CLOCK_REALTIME ns> <completed> <failed>" to --marker, atomically, and
    stops gracefully. Without --target it runs until SIGINT/SIGTERM.
"""
import argparse
import logging
import os
import subprocess
import sys
import threading
import time


def make(path):
    from huey import FileHuey

    huey = FileHuey("bench", path=path)

    @huey.task()
    def run_command(argv):
        subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)

    return huey, run_command


def _write_atomically(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.rename(tmp, path)


def consume(args):
    from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR

    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    huey, _ = make(args.path)
    lock = threading.Lock()
    counts = {"complete": 0, "error": 0}
    state = {"consumer": None, "reported": False}

    @huey.signal(SIGNAL_COMPLETE, SIGNAL_ERROR)
    def on_finish(signal, task, *rest):
        now = time.time_ns()
        with lock:
            counts["complete" if signal == SIGNAL_COMPLETE else "error"] += 1
            done = counts["complete"] + counts["error"]
            if args.target and done >= args.target and not state["reported"]:
                state["reported"] = True
                _write_atomically(args.marker, "%d %d %d\n" % (now, counts["complete"], counts["error"]))
                os.kill(os.getpid(), 2)  # SIGINT: huey's graceful stop

    consumer = huey.create_consumer(workers=args.workers, worker_type="thread")
    state["consumer"] = consumer
    _write_atomically(args.ready, "%d\n" % time.time_ns())
    consumer.run()
    return 0


def main():
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="mode", required=True)
    c = sub.add_parser("consume")
    c.add_argument("--path", required=True)
    c.add_argument("--workers", type=int, default=1)
    c.add_argument("--target", type=int, default=0)
    c.add_argument("--ready", required=True)
    c.add_argument("--marker", required=True)
    args = parser.parse_args()
    return consume(args)


if __name__ == "__main__":
    # Tasks are registered as "<module>.<name>": run the consumer from the
    # imported module, so that the producer (spoolbench/peers/huey.py) and the consumer agree.
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import huey_bench
    sys.exit(huey_bench.main())
