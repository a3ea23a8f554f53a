#!/usr/bin/env python3
"""spoold against the tools people use instead, measured in one run.

Started by bench/run, which installs peers, compiles the C helpers and builds
spoold. This file runs the scenarios, prints the table, and writes
bench/results/latest.json, docs/performance.md and docs/performance.png.

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
import importlib.util
import json
import os
import random
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # huey_bench is imported from here: no __pycache__ in bench/
BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_ROOT = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, "results")

ALL_TOOLS = ["spoold", "raw", "tsp", "nq", "parallel", "xargs", "huey"]
ALL_SCENARIOS = ["drained", "steady", "sleep", "latency", "backlog", "batch"]
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
SCENARIO_TITLES = {
    "drained": "Drained throughput: N × /bin/true dropped before start",
    "steady": "Steady stream: N × /bin/true submitted one by one to a running queue",
    "sleep": "sleep 0.01 × {sleep_jobs}",
    "latency": "Latency: submit → job start, one job at a time on an idle queue",
    "backlog": "Backlog: jobs pending before start",
    "batch": "Built-in operations: one batch of {batch_ops:,} descriptive_stats operations",
}
SPOOL_DIRS = ["inbox", "pending", "running", "done", "control", "tmp"]
# The config.json the next spools get (set while a "live" round runs); None: no config.json.
SPOOL_CONFIG = None
MARKER_VAR = "SPOOLD_BENCH_RUN"


class NotAvailable(Exception):
    """The tool cannot do this (yet): reported as n/a with the reason."""


class TimedOut(Exception):
    """A wait passed its deadline; whatever hung was killed."""


class Failed(Exception):
    """The run finished but its result is wrong (jobs failed, daemon crashed)."""


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def now():
    return time.monotonic()


# ---------------------------------------------------------------------------
# Processes: start, wait with a deadline, kill by id or by run marker.

def _pids_with_env(marker):
    """Pids of processes whose environment holds marker (bytes, NAME=value)."""
    pids = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                env = f.read()
        except OSError:
            continue
        if (b"\0" + env).find(b"\0" + marker + b"\0") >= 0 or env.endswith(b"\0" + marker) or env == marker:
            pids.append(int(name))
    return pids


def kill_marked(marker, grace=2.0):
    """Kill every process that carries this run's marker: the ones we started and their descendants."""
    m = marker.encode()
    pids = _pids_with_env(m)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = now() + grace
    while pids and now() < deadline:
        time.sleep(0.05)
        pids = _pids_with_env(m)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return len(pids)


class Processes:
    def __init__(self):
        self.live = {}
        self.markers = set()

    def start(self, argv, **kw):
        kw.setdefault("start_new_session", True)
        kw.setdefault("stdin", subprocess.DEVNULL)
        p = subprocess.Popen(argv, **kw)
        self.live[p.pid] = p
        return p

    def wait(self, p, timeout):
        """Wait for p; returns (exit code, max RSS in KiB, timed out). Kills p's group at the deadline."""
        if p.returncode is not None:
            self.live.pop(p.pid, None)
            return p.returncode, 0, False
        fired = threading.Event()

        def on_deadline():
            fired.set()
            self.kill(p)

        timer = threading.Timer(timeout, on_deadline)
        timer.daemon = True
        timer.start()
        try:
            while True:
                try:
                    _, status, usage = os.wait4(p.pid, 0)
                    break
                except InterruptedError:
                    continue
                except ChildProcessError:
                    status, usage = 0, None
                    break
        finally:
            timer.cancel()
        p.returncode = os.waitstatus_to_exitcode(status)
        self.live.pop(p.pid, None)
        return p.returncode, (usage.ru_maxrss if usage else 0), fired.is_set()

    def kill(self, p):
        for target in (lambda: os.killpg(p.pid, signal.SIGKILL), lambda: os.kill(p.pid, signal.SIGKILL)):
            try:
                target()
            except (ProcessLookupError, PermissionError):
                pass

    def kill_all(self):
        for p in list(self.live.values()):
            if p.returncode is None:
                self.kill(p)
                try:
                    p.wait(timeout=5)
                except Exception:
                    pass
            self.live.pop(p.pid, None)
        for m in list(self.markers):
            kill_marked(m, grace=0.5)


PROCS = Processes()


def run_cmd(argv, env=None, timeout=60, input=None, check=True):
    """A short command with a deadline; returns CompletedProcess (text)."""
    try:
        cp = subprocess.run(argv, env=env, input=input, stdin=None if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TimedOut("%s did not finish within %.0f s" % (os.path.basename(argv[0]), timeout))
    if check and cp.returncode != 0:
        raise Failed("%s exited %d: %s" % (" ".join(argv[:3]), cp.returncode, (cp.stderr or cp.stdout).strip()[:200]))
    return cp


def wait_for(pred, timeout, interval=0.005, what="condition", alive=None):
    """Poll pred until true; returns monotonic time when it became true. alive() may raise."""
    deadline = now() + timeout
    while True:
        if pred():
            return now()
        if alive is not None:
            alive()
        if now() > deadline:
            raise TimedOut("%s not reached within %.0f s" % (what, timeout))
        time.sleep(interval)


class RunDir:
    """A fresh temporary directory for one measurement; everything in it dies and goes at exit."""

    def __init__(self, ctx, name):
        self.ctx, self.name = ctx, name

    def __enter__(self):
        self.path = tempfile.mkdtemp(prefix="spoold-bench-%s-" % self.name, dir=self.ctx.tmpdir)
        self.marker = "%s=%s" % (MARKER_VAR, self.path)
        PROCS.markers.add(self.marker)
        self.env = dict(os.environ)
        self.env.pop("NOTIFY_SOCKET", None)
        self.env[MARKER_VAR] = self.path
        return self

    def __exit__(self, *exc):
        left = kill_marked(self.marker)
        if left:
            log("%s: killed %d leftover process(es)" % (self.name, left))
        PROCS.markers.discard(self.marker)
        if not self.ctx.keep:
            shutil.rmtree(self.path, ignore_errors=True)
        return False


# ---------------------------------------------------------------------------
# Small helpers.

def write_file(path, data):
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def count_json(d):
    n = 0
    with os.scandir(d) as it:
        for e in it:
            if e.name.endswith(".json") and not e.name.startswith("."):
                n += 1
    return n


def read_stamp(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    if not data.endswith(b"\n"):
        return None
    return int(data)


def pct(values, q):
    s = sorted(values)
    if not s:
        return None
    k = (len(s) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def deadline_for(ctx, n, per_job=0.05, base=60.0):
    return (base + n * per_job) * ctx.timeout_scale


def tail(path, n=3):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4000))
            lines = f.read().decode("utf-8", "replace").strip().splitlines()
        return " | ".join(lines[-n:])[:300]
    except OSError:
        return ""


# ---------------------------------------------------------------------------
# spoold

def make_spool(root):
    spool = os.path.join(root, "spool")
    for d in SPOOL_DIRS:
        os.makedirs(os.path.join(spool, d), exist_ok=True)
    if SPOOL_CONFIG is not None:
        write_file(os.path.join(spool, "config.json"), json.dumps(SPOOL_CONFIG).encode())
    return spool


def drop_jobs(spool, n, job, prefix="job", via_tmp=False):
    payload = json.dumps(job).encode()
    inbox, tmp = os.path.join(spool, "inbox"), os.path.join(spool, "tmp")
    for i in range(n):
        name = "%s-%06d.json" % (prefix, i)
        if via_tmp:
            write_file(os.path.join(tmp, name), payload)
            os.rename(os.path.join(tmp, name), os.path.join(inbox, name))
        else:
            write_file(os.path.join(inbox, name), payload)


def drop_one(spool, name, job):
    """Write tmp/NAME, then rename it into inbox/; returns CLOCK_REALTIME ns taken just before the rename."""
    src = os.path.join(spool, "tmp", name)
    write_file(src, json.dumps(job).encode())
    t = time.time_ns()
    os.rename(src, os.path.join(spool, "inbox", name))
    return t


def records(spool):
    done = os.path.join(spool, "done")
    with os.scandir(done) as it:
        names = [e.name for e in it if e.name.endswith(".json") and not e.name.startswith(".")]
    for name in names:
        try:
            with open(os.path.join(done, name), "rb") as f:
                rec = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and "status" in rec:
            yield rec


def verify_records(spool, n, want="succeeded"):
    statuses, first_error = {}, None
    for rec in records(spool):
        st = rec.get("status")
        statuses[st] = statuses.get(st, 0) + 1
        if st != want and first_error is None:
            first_error = rec.get("error")
    ok = statuses.get(want, 0)
    if ok != n:
        raise Failed("%d of %d records %s (statuses %s; first error: %s)"
                     % (ok, n, want, statuses, json.dumps(first_error)[:200]))


class Spoold:
    """One spoold process on one spool, its log in the run dir."""

    def __init__(self, ctx, rd, spool, drain, notify=None, extra=()):
        self.ctx, self.rd, self.spool, self.drain, self.notify = ctx, rd, spool, drain, notify
        self.extra = list(extra)
        self.log_path = os.path.join(rd.path, "spoold.log")

    def start(self):
        env = dict(self.rd.env)
        if self.notify:
            env["NOTIFY_SOCKET"] = self.notify
        argv = [self.ctx.spoold, "--spool", self.spool, "--workers", str(self.ctx.workers)]
        if os.geteuid() == 0:
            # As root spoold runs each job as its file's owner and refuses root-owned files by default.
            argv.append("--allow-root-jobs")
        if self.drain:
            argv.append("--drain")
        argv += self.extra
        self.argv = argv
        with open(self.log_path, "ab") as logf:
            self.t0 = now()
            self.p = PROCS.start(argv, stdout=logf, stderr=subprocess.STDOUT, env=env, cwd=self.rd.path)
        return self

    def exited_early(self, code):
        """Turn an unexpected exit into n/a (usage error: flag not supported) or a failure."""
        msg = tail(self.log_path)
        if code in (2, 64) or re.search(r"unknown|unrecognized|usage|not supported|unexpected argument", msg, re.I):
            raise NotAvailable("spoold %s: exit %d: %s" % (" ".join(self.argv[1:]).replace(self.rd.path + "/", ""), code, msg))
        raise Failed("spoold exited %d: %s" % (code, msg))

    def alive(self):
        if self.p.poll() is not None:
            PROCS.live.pop(self.p.pid, None)
            self.exited_early(self.p.returncode)

    def wait(self, timeout):
        code, rss, timed_out = PROCS.wait(self.p, timeout)
        t = now() - self.t0
        if timed_out:
            raise TimedOut("spoold did not exit within %.0f s (killed); log: %s" % (timeout, tail(self.log_path)))
        if code != 0:
            self.exited_early(code)
        return t, rss

    def stop(self, timeout=30.0):
        """SIGTERM; exit 0 expected. Returns a note ('' if all is well)."""
        if self.p.returncode is not None or self.p.poll() is not None:
            PROCS.live.pop(self.p.pid, None)
            return "spoold had already exited %d" % self.p.returncode
        os.kill(self.p.pid, signal.SIGTERM)
        code, _, timed_out = PROCS.wait(self.p, timeout)
        if timed_out:
            return "spoold ignored SIGTERM for %.0f s and was killed" % timeout
        if code != 0:
            return "spoold exited %d after SIGTERM" % code
        return ""

    def warm_up(self, timeout=30.0):
        """Drop one /bin/true job and wait for its record: the daemon is up and has run a job."""
        drop_one(self.spool, "warmup.json", {"command": ["/bin/true"]})
        done = os.path.join(self.spool, "done")
        wait_for(lambda: count_json(done) >= 1, timeout, 0.005, "warm-up job record in done/", self.alive)
        return count_json(done)


def spoold_batch_of_commands(ctx, n, command, name):
    """Drop n command jobs into inbox/, run spoold --drain, time exec to exit."""
    with RunDir(ctx, name) as rd:
        spool = make_spool(rd.path)
        drop_jobs(spool, n, {"command": command})
        d = Spoold(ctx, rd, spool, drain=True).start()
        t, _ = d.wait(deadline_for(ctx, n))
        verify_records(spool, n)
        return {"throughput": n / t, "seconds": t}


def spoold_drained(ctx):
    return spoold_batch_of_commands(ctx, ctx.jobs, ["/bin/true"], "spoold-drained")


def spoold_sleep(ctx):
    return spoold_batch_of_commands(ctx, ctx.sleep_jobs, ["/bin/sleep", "0.01"], "spoold-sleep")


def spoold_steady(ctx):
    n = ctx.jobs
    with RunDir(ctx, "spoold-steady") as rd:
        spool = make_spool(rd.path)
        d = Spoold(ctx, rd, spool, drain=False).start()
        try:
            base = d.warm_up()
            done = os.path.join(spool, "done")
            t0 = now()
            drop_jobs(spool, n, {"command": ["/bin/true"]}, prefix="job", via_tmp=True)
            t1 = wait_for(lambda: count_json(done) >= base + n, deadline_for(ctx, n), 0.005,
                          "%d records in done/" % n, d.alive)
        finally:
            note = d.stop()
        verify_records(spool, n + 1)
        out = {"throughput": n / (t1 - t0), "seconds": t1 - t0}
        if note:
            out["note"] = note
        return out


def spoold_latency(ctx):
    samples = ctx.latency_samples
    with RunDir(ctx, "spoold-latency") as rd:
        spool = make_spool(rd.path)
        stamps = os.path.join(rd.path, "stamps")
        os.mkdir(stamps)
        d = Spoold(ctx, rd, spool, drain=False).start()
        lat = []
        try:
            base = d.warm_up()
            done = os.path.join(spool, "done")
            for i in range(samples):
                path = os.path.join(stamps, "ts-%d" % i)
                t = drop_one(spool, "lat-%06d.json" % i, {"command": [ctx.stamp, path]})
                wait_for(lambda: count_json(done) >= base + i + 1, 30.0, 0.001, "record of latency job %d" % i, d.alive)
                s = read_stamp(path)
                if s is None:
                    raise Failed("latency job %d has a record but wrote no stamp" % i)
                lat.append((s - t) / 1e6)
                time.sleep(ctx.idle_gap)
        finally:
            note = d.stop()
        out = latency_metrics(lat)
        if note:
            out["note"] = note
        return out


def latency_metrics(lat_ms):
    return {"p50": pct(lat_ms, 0.50), "p99": pct(lat_ms, 0.99), "samples": len(lat_ms), "max": max(lat_ms)}


class NotifyListener:
    """A NOTIFY_SOCKET, as systemd gives one: records when READY=1 arrives."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.setblocking(False)
        self.ready_at = None
        self.messages = []

    def poll(self):
        while True:
            try:
                data = self.sock.recv(65536)
            except BlockingIOError:
                return
            t = now()
            text = data.decode("utf-8", "replace")
            self.messages.append(text)
            if self.ready_at is None and re.search(r"(^|\n)READY=1", text):
                self.ready_at = t

    def close(self):
        self.sock.close()


def spoold_backlog(ctx, size):
    """Pending before start: accept rate, start rate, start-up time, peak RSS."""
    with RunDir(ctx, "spoold-backlog-%d" % size) as rd:
        spool = make_spool(rd.path)
        t_drop = now()
        drop_jobs(spool, size, {"command": ["/bin/true"]})
        drop_rate = size / (now() - t_drop)
        inbox, done = os.path.join(spool, "inbox"), os.path.join(spool, "done")
        listener = NotifyListener(os.path.join(rd.path, "notify.sock"))
        d = Spoold(ctx, rd, spool, drain=True, notify=listener.path).start()
        result = {}

        def waiter():
            try:
                result["t"], result["rss_kb"] = d.wait(deadline_for(ctx, size, per_job=0.03))
            except Exception as e:  # reported by the main thread
                result["error"] = e

        th = threading.Thread(target=waiter, daemon=True)
        th.start()
        t_accept = t_first_record = t_log_ready = None
        hwm_kb, log_pos = 0, 0
        interval = 0.005
        while th.is_alive():
            listener.poll()
            if t_log_ready is None:
                try:
                    with open(d.log_path, "rb") as f:
                        f.seek(log_pos)
                        chunk = f.read()
                    log_pos += len(chunk)
                    if re.search(rb"\bready\b", chunk, re.I):
                        t_log_ready = now()
                except OSError:
                    pass
            if t_first_record is None and count_json(done) > 0:
                t_first_record = now()
            if t_accept is None:
                t_scan = now()
                left = count_json(inbox)
                scan = now() - t_scan
                if left == 0:
                    t_accept = now()
                interval = min(0.2, max(0.005, 5 * scan))  # keep the poller below ~20 % of a core
            try:
                with open("/proc/%d/status" % d.p.pid) as f:
                    m = re.search(r"VmHWM:\s+(\d+)", f.read())
                    if m:
                        hwm_kb = max(hwm_kb, int(m.group(1)))
            except OSError:
                pass
            th.join(interval)
        listener.poll()
        listener.close()
        if "error" in result:
            raise result["error"]
        t_exit = result["t"]
        verify_records(spool, size)
        out = {"start_rate": size / t_exit, "seconds": t_exit, "drop_rate": drop_rate}
        if t_accept is not None:
            out["accept_rate"] = size / (t_accept - d.t0)
        else:
            out["accept_rate"] = size / t_exit
            out["note"] = "inbox emptied only at exit"
        if listener.ready_at is not None:
            out["startup_ms"], out["startup_method"] = (listener.ready_at - d.t0) * 1e3, "READY=1 on NOTIFY_SOCKET"
        elif t_log_ready is not None:
            out["startup_ms"], out["startup_method"] = (t_log_ready - d.t0) * 1e3, "log line containing 'ready'"
        elif t_first_record is not None:
            out["startup_ms"], out["startup_method"] = (t_first_record - d.t0) * 1e3, "first record in done/"
        out["peak_rss_mb"] = max(result.get("rss_kb", 0), hwm_kb) / 1024.0
        return out


def spoold_batch_ops(ctx):
    nops = ctx.batch_ops
    rng = random.Random(42)
    ops = [{"type": "descriptive_stats",
            "params": {"data": [round(rng.gauss(100, 15), 1) for _ in range(100)]}} for _ in range(nops)]
    job = {"operations": ops, "max_parallel": ctx.workers}
    payload = json.dumps(job, separators=(",", ":")).encode()
    # The file is several MB; spoold's default job size limit is 1 MiB, so raise it for this job.
    limit = ["--max-job-size", str(max(1 << 20, 2 * len(payload)))]
    with RunDir(ctx, "spoold-batch") as rd:
        spool = make_spool(rd.path)
        write_file(os.path.join(spool, "inbox", "batch.json"), payload)
        d = Spoold(ctx, rd, spool, drain=True, extra=limit).start()
        t, _ = d.wait(deadline_for(ctx, nops, per_job=0.02))
        recs = list(records(spool))
        if len(recs) != 1:
            raise Failed("expected 1 record in done/, found %d" % len(recs))
        rec = recs[0]
        if rec.get("status") == "rejected":
            err = rec.get("error") or {}
            parts = str(err.get("message")).split("; ")
            why = "%s: %s%s" % (err.get("code"), "; ".join(parts[:2])[:240], "; ..." if len(parts) > 2 else "")
            if err.get("code") in ("too_large", "invalid_json"):
                raise NotAvailable("batch job file rejected (%s)" % why)
            raise NotAvailable("batches not supported yet (record rejected: %s)" % why)
        if rec.get("status") != "succeeded":
            raise Failed("batch ended %s: %s" % (rec.get("status"), json.dumps(rec.get("error"))[:200]))
        opsrec = rec.get("operations") or []
        ok = sum(1 for o in opsrec if isinstance(o, dict) and o.get("status") == "succeeded")
        if ok != nops:
            raise Failed("%d of %d operations succeeded" % (ok, nops))
        return {"throughput": nops / t, "seconds": t,
                "note": "job file %.1f MB, run with %s" % (len(payload) / 1e6, " ".join(limit))}


# ---------------------------------------------------------------------------
# raw posix_spawn loop

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


# ---------------------------------------------------------------------------
# task-spooler

def tsp_binary():
    if shutil.which("tsp"):
        return shutil.which("tsp")
    ts = shutil.which("ts")
    if ts:
        try:
            cp = subprocess.run([ts, "-V"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=5,
                                env=dict(os.environ, TS_SOCKET="/nonexistent/ts.sock"))
            if "spooler" in cp.stdout.lower():
                return ts
        except Exception:
            pass
    return None


class Tsp:
    """A private task-spooler server (own TS_SOCKET, outputs under the run dir)."""

    QUEUE_FULL = 2  # tsp -B exit status when the server holds as many jobs as it can

    def __init__(self, ctx, rd, total):
        self.ctx, self.bin = ctx, ctx.tools["tsp"]
        self.env = dict(rd.env, TS_SOCKET=os.path.join(rd.path, "tsp.sock"), TMPDIR=rd.path,
                        TS_MAXFINISHED=str(total + 100), TS_MAXCONN=str(total + 100), TS_SLOTS=str(ctx.workers))
        self.env.pop("TS_ONFINISH", None)
        self.refused = 0  # `tsp -B` refusals; each still leaves a finished entry with a non-zero E-Level

    def cmd(self, *args, timeout=60, check=True):
        return run_cmd([self.bin] + list(args), env=self.env, timeout=timeout, check=check)

    def start(self):
        self.cmd("-S", str(self.ctx.workers))
        return self

    def add(self, argv, block=True):
        cp = self.cmd(*([] if block else ["-B"]), *argv, check=False, timeout=120)
        if cp.returncode == self.QUEUE_FULL and not block:
            self.refused += 1
            return False
        if cp.returncode != 0:
            raise Failed("tsp add exited %d: %s" % (cp.returncode, cp.stderr.strip()[:200]))
        return True

    def listing(self):
        states, bad = {}, 0
        for line in self.cmd("-l").stdout.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 2:
                continue
            states[parts[1]] = states.get(parts[1], 0) + 1
            if parts[1] == "finished" and (len(parts) < 4 or parts[3] != "0"):
                bad += 1
        return states, bad

    def wait_all(self, timeout):
        deadline = now() + timeout
        self.cmd("-w", timeout=timeout, check=False)
        while True:
            states, bad = self.listing()
            if not states.get("queued") and not states.get("running") and not states.get("allocating"):
                return states, bad
            if now() > deadline:
                raise TimedOut("tsp jobs not finished within %.0f s: %s" % (timeout, states))
            time.sleep(0.01)

    def verify(self, expected):
        states, bad = self.listing()
        if states.get("finished", 0) != expected + self.refused or bad != self.refused:
            raise Failed("tsp: %s, %d finished with a non-zero E-Level (expected %d finished, %d of them the "
                         "refused `tsp -B` adds)" % (states, bad, expected + self.refused, self.refused))

    def stop(self):
        self.cmd("-K", check=False, timeout=10)


def tsp_prefilled(ctx, n, argv, name):
    """Queue n jobs behind P gate jobs, open the gate, time until all finished.

    task-spooler holds about 1000 jobs; beyond that `tsp -B` says the queue is
    full, and the rest are added (blocking) while the queue drains."""
    P = ctx.workers
    with RunDir(ctx, name) as rd:
        t = Tsp(ctx, rd, n + P).start()
        gate = os.path.join(rd.path, "gate")
        os.mkfifo(gate)
        gfd = os.open(gate, os.O_RDWR)  # a writer exists, so the readers' open() does not block
        try:
            for _ in range(P):
                t.add(["/bin/sh", "-c", "read x < %s" % shlex.quote(gate)])
            wait_for(lambda: t.listing()[0].get("running", 0) >= P, 30, 0.01, "tsp gate jobs running")
            prefilled = 0
            while prefilled < n and t.add(argv, block=False):
                prefilled += 1
            t0 = now()
            os.write(gfd, b"\n" * P)
            for _ in range(n - prefilled):
                t.add(argv)
            t.wait_all(deadline_for(ctx, n))
            t1 = now()
        finally:
            os.close(gfd)
        t.verify(n + P)
        t.stop()
        out = {"throughput": n / (t1 - t0), "seconds": t1 - t0}
        if prefilled < n:
            out["note"] = "tsp queue held %d; %d added during the drain" % (prefilled, n - prefilled)
        return out


def tsp_drained(ctx):
    return tsp_prefilled(ctx, ctx.jobs, ["/bin/true"], "tsp-drained")


def tsp_sleep(ctx):
    return tsp_prefilled(ctx, ctx.sleep_jobs, ["/bin/sleep", "0.01"], "tsp-sleep")


def tsp_steady(ctx):
    n = ctx.jobs
    with RunDir(ctx, "tsp-steady") as rd:
        t = Tsp(ctx, rd, n).start()
        t0 = now()
        for _ in range(n):
            t.add(["/bin/true"])
        t.wait_all(deadline_for(ctx, n))
        t1 = now()
        t.verify(n)
        t.stop()
        return {"throughput": n / (t1 - t0), "seconds": t1 - t0}


def stamp_latency(ctx, rd, submit):
    """submit(argv) starts one job; returns latency metrics over ctx.latency_samples jobs."""
    stamps = os.path.join(rd.path, "stamps")
    os.makedirs(stamps, exist_ok=True)
    warm = os.path.join(stamps, "warm")
    submit([ctx.stamp, warm])
    wait_for(lambda: read_stamp(warm) is not None, 30, 0.001, "warm-up job")
    lat = []
    for i in range(ctx.latency_samples):
        path = os.path.join(stamps, "ts-%d" % i)
        t = time.time_ns()
        submit([ctx.stamp, path])
        wait_for(lambda: read_stamp(path) is not None, 30, 0.0005, "latency job %d" % i)
        lat.append((read_stamp(path) - t) / 1e6)
        time.sleep(ctx.idle_gap)
    return latency_metrics(lat)


def tsp_latency(ctx):
    with RunDir(ctx, "tsp-latency") as rd:
        t = Tsp(ctx, rd, ctx.latency_samples + 10).start()
        out = stamp_latency(ctx, rd, t.add)
        t.stop()
        return out


# ---------------------------------------------------------------------------
# nq (no daemon; one job at a time per NQDIR)

def nq_env(rd):
    return dict(rd.env, NQDIR=os.path.join(rd.path, "nq"))


def nq_drained(ctx):
    n = ctx.jobs
    with RunDir(ctx, "nq-drained") as rd:
        env = nq_env(rd)
        t0 = now()
        for _ in range(n):
            run_cmd(["nq", "-q", "/bin/true"], env=env, timeout=60)
        run_cmd(["nq", "-w"], env=env, timeout=deadline_for(ctx, n, per_job=0.1))
        t1 = now()
        ok = 0
        for e in os.scandir(env["NQDIR"]):
            if e.name.startswith(","):
                with open(e.path, "rb") as f:
                    ok += b"[exited with status 0.]" in f.read()
        if ok != n:
            raise Failed("nq: %d of %d jobs exited 0" % (ok, n))
        return {"throughput": n / (t1 - t0), "seconds": t1 - t0, "note": "width 1 (nq is sequential); submission included"}


def nq_latency(ctx):
    with RunDir(ctx, "nq-latency") as rd:
        env = nq_env(rd)
        out = stamp_latency(ctx, rd, lambda argv: run_cmd(["nq", "-q"] + argv, env=env, timeout=60))
        run_cmd(["nq", "-w"], env=env, timeout=60)
        return out


# ---------------------------------------------------------------------------
# GNU parallel, xargs

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


# ---------------------------------------------------------------------------
# huey (FileStorage), consumer in bench/huey_bench.py

class HueyConsumer:
    def __init__(self, ctx, rd, target):
        self.ctx, self.rd = ctx, rd
        self.path = os.path.join(rd.path, "huey")
        self.ready = os.path.join(rd.path, "huey.ready")
        self.marker = os.path.join(rd.path, "huey.done")
        self.log_path = os.path.join(rd.path, "huey.log")
        self.target = target
        sys.path.insert(0, BENCH_DIR)
        import huey_bench
        self.huey, self.task = huey_bench.make(self.path)

    def start(self):
        argv = [sys.executable, os.path.join(BENCH_DIR, "huey_bench.py"), "consume", "--path", self.path,
                "--workers", str(self.ctx.workers), "--target", str(self.target),
                "--ready", self.ready, "--marker", self.marker]
        with open(self.log_path, "ab") as logf:
            self.t0_wall = time.time_ns()
            self.p = PROCS.start(argv, env=self.rd.env, stdout=logf, stderr=subprocess.STDOUT)
        return self

    def alive(self):
        if self.p.poll() is not None:
            PROCS.live.pop(self.p.pid, None)
            raise Failed("huey consumer exited %d: %s" % (self.p.returncode, tail(self.log_path)))

    def wait_ready(self):
        wait_for(lambda: os.path.exists(self.ready), 30, 0.01, "huey consumer start", self.alive)
        time.sleep(0.2)  # the worker threads start right after the ready file

    def wait_done(self, timeout):
        wait_for(lambda: os.path.exists(self.marker), timeout, 0.005, "huey target completions", self.alive)
        with open(self.marker) as f:
            t_ns, ok, err = (int(x) for x in f.read().split())
        if err:
            raise Failed("huey: %d tasks failed" % err)
        return t_ns

    def stop(self):
        if self.p.returncode is None and self.p.poll() is None:
            os.kill(self.p.pid, signal.SIGINT)
        code, _, timed_out = PROCS.wait(self.p, 15)
        return "" if not timed_out else "huey consumer killed after 15 s"


def huey_prefilled(ctx, n, argv, name):
    with RunDir(ctx, name) as rd:
        c = HueyConsumer(ctx, rd, n)
        for _ in range(n):
            c.task(argv)
        c.start()
        t_end = c.wait_done(deadline_for(ctx, n))
        c.stop()
        secs = (t_end - c.t0_wall) / 1e9
        return {"throughput": n / secs, "seconds": secs, "note": "consumer start-up included"}


def huey_drained(ctx):
    return huey_prefilled(ctx, ctx.jobs, ["/bin/true"], "huey-drained")


def huey_sleep(ctx):
    return huey_prefilled(ctx, ctx.sleep_jobs, ["/bin/sleep", "0.01"], "huey-sleep")


def huey_steady(ctx):
    n = ctx.jobs
    with RunDir(ctx, "huey-steady") as rd:
        c = HueyConsumer(ctx, rd, n).start()
        c.wait_ready()
        t0 = time.time_ns()
        for _ in range(n):
            c.task(["/bin/true"])
        t_end = c.wait_done(deadline_for(ctx, n))
        c.stop()
        secs = (t_end - t0) / 1e9
        return {"throughput": n / secs, "seconds": secs}


def huey_latency(ctx):
    with RunDir(ctx, "huey-latency") as rd:
        c = HueyConsumer(ctx, rd, 0).start()
        c.wait_ready()
        out = stamp_latency(ctx, rd, lambda argv: c.task(argv))
        c.stop()
        out["note"] = "huey polls an empty queue: 0.1 s, ×1.15 per miss"
        return out


# ---------------------------------------------------------------------------
# Scenario table

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
        global SPOOL_CONFIG
        SPOOL_CONFIG = {"live_restore": True}
        try:
            return runner(ctx)
        finally:
            SPOOL_CONFIG = None
    return run


for (_scenario, _tool), _runner in list(RUNNERS.items()):
    if _tool == "spoold" and _scenario != "backlog":
        RUNNERS[(_scenario, "baseline")] = as_baseline(_runner)
        RUNNERS[(_scenario, "live")] = as_live(_runner)


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
    "latency": ["p50", "p99"], "batch": ["throughput"],
    "backlog": ["accept_rate", "start_rate", "startup_ms", "peak_rss_mb"],
}


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
                skipped[tool] = ctx.spoold_note or ("%s is not an executable" % (ctx.spoold or "spoold"))
        elif tool == "live":
            if ctx.spoold and os.access(ctx.spoold, os.X_OK):
                tools[tool] = ctx.spoold
            else:
                skipped[tool] = "no spoold for --live-restore"
        elif tool == "baseline":
            if ctx.baseline and os.access(ctx.baseline, os.X_OK):
                tools[tool] = ctx.baseline
            else:
                skipped[tool] = "%s is not an executable" % (ctx.baseline or "--baseline")
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
        v["spoold"] = "%s (built %s, work tree at commit %s)" % (os.path.relpath(ctx.spoold, REPO_ROOT), built, commit)
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
# Running, summarising, reporting

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
             "until N results exist (spoold: N records counted in `done/`). spoold is stopped with SIGTERM "
             "afterwards (exit 0 expected). The ratio base is raw drained.")
    L.append("- **sleep**: like drained with %d jobs of `/bin/sleep 0.01`; at width %d the ideal is %d jobs/s. "
             "The ratio base is the raw loop running the same sleeps." % (ctx.sleep_jobs, ctx.workers,
                                                                        ctx.workers / 0.01))
    L.append("- **latency**: %d jobs, one at a time, on an idle running queue (%d ms pause between jobs). "
             "The job is bench/stamp.c, which writes `CLOCK_REALTIME` in ns at its start; latency = that stamp "
             "minus a `time.time_ns()` taken just before the submission (spoold: just before the `rename` into "
             "`inbox/`; the next job is dropped after the previous job's record is in `done/`; tsp/nq: before "
             "running the client; huey: before `task()`). raw: `posix_spawn` of the same stamp program from C."
             % (ctx.latency_samples, ctx.idle_gap * 1000))
    L.append("- **backlog**: %s `/bin/true` jobs in `inbox/` before `spoold --drain` starts. accept rate: jobs / "
             "time from exec until `inbox/` is empty; start rate: jobs / time from exec until exit; start-up: time "
             "from exec until READY=1 arrives on a NOTIFY_SOCKET the harness provides (else a log line containing "
             "'ready', else the first record in `done/`; the notes say which); peak RSS: the larger of wait4's "
             "ru_maxrss and VmHWM polled from /proc. The ratio base is raw drained."
             % ", ".join("{:,}".format(s) for s in ctx.backlog_sizes))
    L.append("- **batch**: one job file with {:,} `descriptive_stats` operations of 100 numbers each and "
             "`\"max_parallel\": P`, run with `--drain` (and `--max-job-size` raised to fit the file); operations "
             "per second from exec to exit, ratio to raw drained jobs/s.".format(ctx.batch_ops))
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
    L.append("- spool filesystem (`df -T %s`):" % ctx.tmpdir)
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
    ctx.spawnloop = os.path.join(internal.bin_dir, "spawnloop")
    ctx.stamp = os.path.join(internal.bin_dir, "stamp")
    # The report names paths relative to the repo: no machine's absolute path goes into docs/.
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ctx.command_line = internal.command_line.replace(repo + os.sep, "")
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
    with open(os.path.join(RESULTS_DIR, "latest.json"), "w") as f:
        json.dump({"date": ctx.date, "command_line": ctx.command_line, "quick": ctx.quick,
                   "config": {"jobs": ctx.jobs, "workers": ctx.workers, "rounds": ctx.rounds,
                              "latency_samples": ctx.latency_samples, "sleep_jobs": ctx.sleep_jobs,
                              "backlog_sizes": ctx.backlog_sizes, "batch_ops": ctx.batch_ops,
                              "tools": ctx.wanted, "scenarios": ctx.scenarios},
                   "machine": ctx.machine, "versions": ctx.versions, "skipped": ctx.skipped,
                   "results": results}, f, indent=1)
    log("wrote %s, %s, %s" % (os.path.relpath(out_md, REPO_ROOT),
                              "(no plot)" if plot_error else os.path.relpath(png, REPO_ROOT),
                              os.path.relpath(os.path.join(RESULTS_DIR, "latest.json"), REPO_ROOT)))
    if plot_error and not ctx.quick:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
