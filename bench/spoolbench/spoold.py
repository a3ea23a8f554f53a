"""The spoold scenarios: drained, sleep, steady, latency, backlog and batch, and the Spoold runner.

Each scenario function takes the run's Context and returns one round's metrics (or raises
NotAvailable / TimedOut / Failed from common). The spool is a fresh one in the round's RunDir;
records in done/ are checked after every round.
"""
import itertools
import json
import os
import random
import re
import signal
import socket
import subprocess
import threading
import time

from spoolbench.common import (PROCS, Failed, NotAvailable, RunDir, TimedOut, count_json, deadline_for,
                               Arrivals, latency_metrics, now, read_stamp, tail, wait_for, write_file)

SPOOL_DIRS = ["inbox", "pending", "running", "done", "control", "tmp"]
# The config.json the next spools get (set by runner.as_live while a "live" round runs); None: none.
SPOOL_CONFIG = None


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


def drain_argv(binary, spool, workers):
    """The command line of `binary --drain` on `spool` with `workers` workers (and, as root,
    --allow-root-jobs: spoold refuses root-owned job files otherwise), for the scripts beside
    bench.py that time one drain."""
    argv = [binary, "--spool", spool, "--workers", str(workers), "--drain"]
    if os.geteuid() == 0:
        argv.append("--allow-root-jobs")
    return argv


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


class HighWaterMark:
    """Polls a process's VmHWM (peak RSS, KiB) from /proc every 10 ms until stop(); returns the last seen."""

    def __init__(self, pid):
        self.pid, self.kb, self.done = pid, 0, threading.Event()
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self):
        while not self.done.is_set():
            try:
                with open("/proc/%d/status" % self.pid) as f:
                    m = re.search(r"VmHWM:\s+(\d+)", f.read())
                if m:
                    self.kb = max(self.kb, int(m.group(1)))
            except OSError:
                pass
            self.done.wait(0.01)

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.kb


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

    def wait(self, timeout, peak_rss=False):
        """Until the exit: (seconds since exec, peak RSS in KiB or None). The peak is polled only
        when asked for (`peak_rss`): reading /proc every 10 ms costs the machine spoold runs on."""
        hwm = HighWaterMark(self.p.pid) if peak_rss else None
        code, rss, timed_out = PROCS.wait(self.p, timeout)
        peak = hwm.stop() if hwm else None
        # wait4's ru_maxrss is not spoold's alone: Linux seeds a child's at fork with the forking
        # process's high-water mark and keeps the larger across exec, so after a big scenario (the
        # harness read a million records) every later spoold "peaked" at the harness's size. VmHWM
        # polled from /proc until the exit is spoold's own.
        rss = (peak or rss) if peak_rss else None
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
            # Counted from inotify, not by listing done/ every 5 ms, which took a tenth of a core,
            # and spoold's renames into done/ waited for each of its reads (Arrivals).
            arrivals = Arrivals(os.path.join(spool, "done"))
            try:
                t0 = now()
                drop_jobs(spool, n, {"command": ["/bin/true"]}, prefix="job", via_tmp=True)
                t1 = wait_for(lambda: arrivals.arrived(n, base), deadline_for(ctx, n), 0,
                              "%d records in done/" % n, d.alive)
            finally:
                arrivals.close()
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
                # The stamp is waited for as for the peers (stamp_latency): listing done/ every
                # millisecond while the job starts would take CPU from the path being measured.
                # Then its record, so that the next job is dropped on an idle queue.
                polls = itertools.count()
                # (done/ every 20th look: a job that failed before its stamp has a record and no stamp.)
                wait_for(lambda: read_stamp(path) is not None or (next(polls) % 20 == 19 and count_json(done) >= base + i + 1),
                         30.0, 0.0005, "stamp of latency job %d" % i, d.alive)
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


class NotifyListener:
    """A NOTIFY_SOCKET, as systemd gives one: records when READY=1 arrives. A thread of its own
    blocks on the socket, so the arrival is timed even while the harness is busy scanning a folder."""

    def __init__(self, path):
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(path)
        self.sock.settimeout(0.05)
        self.ready_at = None
        self.messages = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._listen, daemon=True)
        self.thread.start()

    def _listen(self):
        while not self.done.is_set():
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                return
            t = now()
            text = data.decode("utf-8", "replace")
            self.messages.append(text)
            if self.ready_at is None and re.search(r"(^|\n)READY=1", text):
                self.ready_at = t

    def close(self):
        self.done.set()
        self.thread.join()
        self.sock.close()


def emptied_at(inbox):
    """When inbox/ emptied, on now()'s clock: the last claim's rename out of it set the folder's
    mtime, however seldom the folder is looked at."""
    return now() - max(0.0, time.time() - os.stat(inbox).st_mtime)


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
                result["t"], result["rss_kb"] = d.wait(deadline_for(ctx, size, per_job=0.03), peak_rss=True)
            except Exception as e:  # reported by the main thread
                result["error"] = e

        th = threading.Thread(target=waiter, daemon=True)
        th.start()
        t_first_record = t_log_ready = None
        log_pos = 0
        # inbox/ is not listed while spoold runs: a folder that held a million names takes over
        # half a second to list (it does not shrink as it empties), and spoold's claims out of it
        # wait for each of the listing's reads. Listed a tenth of the time, the million started at
        # 0.89 of the 10,000's rate (two runs); not listed, at 0.87-1.00 (three runs, another day).
        # The time it emptied is its mtime after the exit (emptied_at).
        while th.is_alive():
            if t_log_ready is None and listener.ready_at is None:
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
            th.join(0.005 if t_first_record is None else 0.05)
        listener.close()
        if "error" in result:
            raise result["error"]
        t_exit = result["t"]
        # --drain exits only once inbox/ is empty: a file left there was never taken.
        left = count_json(inbox)
        if left:
            raise Failed("spoold --drain exited with %d job files still in inbox/" % left)
        t_accept = emptied_at(inbox)  # before the long read below, which a clock step could skew
        verify_records(spool, size)
        out = {"start_rate": size / t_exit, "seconds": t_exit, "drop_rate": drop_rate,
               "accept_rate": size / (t_accept - d.t0)}
        if listener.ready_at is not None:
            out["startup_ms"], out["startup_method"] = (listener.ready_at - d.t0) * 1e3, "READY=1 on NOTIFY_SOCKET"
        elif t_log_ready is not None:
            out["startup_ms"], out["startup_method"] = (t_log_ready - d.t0) * 1e3, "log line containing 'ready'"
        elif t_first_record is not None:
            out["startup_ms"], out["startup_method"] = (t_first_record - d.t0) * 1e3, "first record in done/"
        out["peak_rss_mb"] = result.get("rss_kb", 0) / 1024.0  # spoold's VmHWM (Spoold.wait)
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
        t, rss_kb = d.wait(deadline_for(ctx, nops, per_job=0.02), peak_rss=True)
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
        return {"throughput": nops / t, "seconds": t, "peak_rss_mb": rss_kb / 1024.0,
                "note": "job file %.1f MB, run with %s" % (len(payload) / 1e6, " ".join(limit))}
