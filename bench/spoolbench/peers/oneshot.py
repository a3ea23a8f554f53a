"""GNU parallel and xargs: one process runs all N jobs at width P, timed from exec to exit."""
import os
import subprocess
import threading

from spoolbench.common import PROCS, Failed, RunDir, TimedOut, deadline_for, now, tail


def one_shot(ctx, name, argv, n, input=None):
    with RunDir(ctx, name) as rd:
        t0 = now()
        p = PROCS.start(argv, env=rd.env, stdin=subprocess.PIPE if input else subprocess.DEVNULL,
                        stdout=subprocess.DEVNULL, stderr=open(os.path.join(rd.path, "stderr"), "wb"))
        if input:
            def feed():
                try:
                    p.stdin.write(input)
                    p.stdin.close()
                except BrokenPipeError:
                    pass
            threading.Thread(target=feed, daemon=True).start()
        code, _, timed_out = PROCS.wait(p, deadline_for(ctx, n))
        t1 = now()
        if timed_out:
            raise TimedOut("%s did not finish within %.0f s" % (name, deadline_for(ctx, n)))
        if code != 0:
            raise Failed("%s exited %d: %s" % (name, code, tail(os.path.join(rd.path, "stderr"))))
        return {"throughput": n / (t1 - t0), "seconds": t1 - t0}


def parallel_run(ctx, n, argv, name):
    # -N0: take one argument per job but insert none, so the command runs as given.
    args = [str(i) for i in range(n)]
    return one_shot(ctx, name, ["parallel", "--will-cite", "-N0", "-j", str(ctx.workers)] + argv + [":::"] + args, n)


def xargs_run(ctx, n, argv, name):
    # xargs -P P -n1 PROG: one job per input line, the line appended as the last argument:
    # "/bin/true" gets a line number (ignored), "/bin/sleep" gets "0.01".
    prog, last = (argv[:-1], [argv[-1].encode()] * n) if len(argv) > 1 else (argv, [b"%d" % i for i in range(n)])
    data = b"\n".join(last) + b"\n"
    return one_shot(ctx, name, ["xargs", "-P", str(ctx.workers), "-n1"] + prog, n, input=data)
