"""What every part of the bench shares: errors, logging, processes, run directories, small helpers.

- the three ways a measurement ends other than "ok": NotAvailable (n/a), TimedOut, Failed;
- PROCS, which starts processes and waits for them with a deadline, and kill_marked, which
  kills whatever carries a run's SPOOLD_BENCH_RUN marker (daemonised servers, setsid'ed jobs);
- run_cmd and wait_for (both with deadlines), RunDir (one mkdtemp directory per measurement);
- file helpers (Arrivals: names arriving in a folder, from inotify, without listing it),
  percentiles, latency_metrics and stamp_latency (the stamp-file latency probe the peers share);
- show_path, scrub and show_command_line: how a path is printed into the report and
  latest.json: relative to the repo root, $TMPDIR/... under --tmpdir, never a machine's
  absolute path.
"""
import ctypes
import os
import re
import select
import shutil
import struct
import signal
import subprocess
import sys
import tempfile
import threading
import time

BENCH_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REPO_ROOT = os.path.dirname(BENCH_DIR)
RESULTS_DIR = os.path.join(BENCH_DIR, "results")

ALL_TOOLS = ["spoold", "raw", "tsp", "nq", "parallel", "xargs", "huey"]
ALL_SCENARIOS = ["drained", "steady", "sleep", "latency", "backlog", "batch"]

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


class Arrivals:
    """Counts `.json` names that arrive in a folder (renamed or linked into it), from inotify.

    A harness that lists a folder to count records takes CPU from the daemon it measures, and
    the daemon's renames into the folder wait for each of the listing's reads (getdents takes the
    directory's lock shared, a rename exclusive). Where inotify is missing or its queue
    overflows, the folder is listed instead (`listed` says so)."""

    IN_MOVED_TO, IN_CREATE, IN_Q_OVERFLOW = 0x80, 0x100, 0x4000

    def __init__(self, path):
        self.path, self.names, self.listed, self.fd = path, set(), False, -1
        try:
            libc = ctypes.CDLL(None)
            watched = path.encode()
            fd = libc.inotify_init1(os.O_CLOEXEC | os.O_NONBLOCK)
        except (OSError, AttributeError):
            return
        if fd >= 0 and libc.inotify_add_watch(fd, watched, self.IN_MOVED_TO | self.IN_CREATE) >= 0:
            self.fd = fd
            self.poller = select.poll()
            self.poller.register(fd, select.POLLIN)
        elif fd >= 0:
            os.close(fd)

    def arrived(self, count, baseline):
        """One look, for wait_for: whether `count` names arrived (when listing: whether the folder
        holds `baseline` + `count`). Blocks up to 50 ms for inotify's next events (5 ms when
        listing), so wait_for needs no interval of its own."""
        if self.fd < 0 or self.listed:
            if count_json(self.path) >= baseline + count:
                return True
            time.sleep(0.005)
            return False
        if len(self.names) >= count:
            return True
        if self.names and count - len(self.names) > 50:
            time.sleep(0.002)  # far from done: woken every 2 ms at most, not at each record
        if self.poller.poll(50):
            self._take_events()
        return len(self.names) >= count

    def _take_events(self):
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return
        at = 0
        while at + 16 <= len(data):
            _, mask, _, size = struct.unpack_from("iIII", data, at)
            name = data[at + 16:at + 16 + size].split(b"\0", 1)[0]
            at += 16 + size
            if mask & self.IN_Q_OVERFLOW:
                self.listed = True
            elif name.endswith(b".json") and not name.startswith(b"."):
                self.names.add(name)

    def close(self):
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


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


def latency_metrics(lat_ms):
    return {"p50": pct(lat_ms, 0.50), "p99": pct(lat_ms, 0.99), "samples": len(lat_ms), "max": max(lat_ms)}


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


# ---------------------------------------------------------------------------
# Paths as the report prints them: no machine's absolute path goes into docs/ or latest.json.

def _roots(tmpdir):
    """(absolute directory, how it is printed) pairs, the most specific (longest) first."""
    roots = [(REPO_ROOT, "")]
    if tmpdir:
        roots.append((tmpdir, "$TMPDIR"))
    home = os.path.expanduser("~")
    if home:
        roots.append((home, "~"))
    out = set()
    for d, shown in roots:
        for v in (os.path.abspath(d), os.path.realpath(d)):
            if v != os.sep:
                out.add((v, shown))
    return sorted(out, key=lambda r: -len(r[0]))


def show_path(path, tmpdir=None):
    """A path as the report prints it: relative to the repo root inside the repo, $TMPDIR/... under
    the temporary directory (--tmpdir), ~/... under the home directory, else .../its basename."""
    if not path:
        return path
    p = os.path.abspath(path)
    for root, shown in _roots(tmpdir):
        if p == root:
            return shown or "."
        if p.startswith(root + os.sep):
            rest = p[len(root) + 1:]
            return shown + "/" + rest if shown else rest
    return ".../" + os.path.basename(p)


def scrub(text, tmpdir=None):
    """Free text (a reason, a note, a log tail) with the repo root, the temporary directory and the
    home directory in it written as show_path writes them."""
    if not text:
        return text
    for root, shown in _roots(tmpdir):
        pattern = r"(?<![\w.~$/-])" + re.escape(root) + r"(/|(?![\w.-]))"
        text = re.sub(pattern, lambda m, shown=shown: (shown + "/" if shown else "") if m.group(1) else (shown or "."),
                      text)
    return text


def show_command_line(command_line, tmpdir=None):
    """The command line as the report prints it: every absolute path argument through show_path."""
    words = []
    for w in command_line.split(" "):
        if w.startswith("/"):
            w = show_path(w, tmpdir)
        elif w.startswith("--") and "=/" in w:
            opt, _, value = w.partition("=")
            w = opt + "=" + show_path(value, tmpdir)
        words.append(w)
    return scrub(" ".join(words), tmpdir)
