#!/usr/bin/env python3
"""Crash-state explorer for spoold: what a power cut could leave, and does recovery cope.

After ALICE (Pillai et al., OSDI 2014, "All File Systems Are Not Created Equal"): run the real
daemon on a workload under strace, turn its file-system calls into a list of operations, and
compute, for a crash after each operation, the states a conservative persistence model allows.
Each state is written out as a spool directory, the daemon is started on it with --drain, and
the spool's promises are checked when it exits.

The persistence model (conservative; see docs/design.md, "Power loss"):
  * File data written (write, pwrite, truncate, O_TRUNC) since the file's last fsync/fdatasync
    may be missing, or kept up to a cut: a prefix of the writes, the last one torn anywhere.
  * A directory entry created, renamed or removed since the directory's last fsync may be
    missing; each such change persists or not independently of the others. A rename is never
    half-done in a way that loses the file: its new name persists whenever the removal of its
    old name does, but the old name may persist beside the new one (both names then name the
    same inode, as a hard link would).
  * syncfs(2) and sync(2) make everything before them durable; fsync of a directory makes its
    entries durable, fsync of a file its data (not its name).
  * What the jobs did outside the spool (they append to marker files in ../marks) is the
    outside world: it happened, whatever the spool's disk kept.

Invariants checked after `spoold --drain` on each state:
  * the daemon exits 0 (within a deadline);
  * every dropped file ends as exactly one record in done/ (the follow-up too), and no other
    record appears; every record parses as JSON and names only output files that exist;
  * each job ends as it must (succeeded; rejected; cancelled; an `on_interrupt: fail` job or
    batch may instead end failed/partial with `interrupted`);
  * no `on_interrupt: fail` job or operation runs twice: runs before the crash (execve in the
    trace) plus runs during recovery (lines in its marker file) is at most one;
  * nothing is left in inbox/, tmp/, running/, pending/ or control/, but the spares (recycled
    inodes, `spoold.spare.*`) a clean stop leaves in tmp/ for the next start; a spare the state
    held without the clean-stop mark is gone (recovery must not take back a crashed run's spares).

Commands:
  explore --spoold PATH [--budget N] [--seed S] [--keep DIR]   trace, enumerate, sample, check
  replay --spoold PATH FILE...                                 check saved states (regressions)
Exit status 0 when every explored state passed, 1 when one did not (or the traced run failed),
2 when the tools are missing (strace cannot be installed or cannot trace here).
"""
import argparse
import base64
import concurrent.futures
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

SPOOL_DIRS = ["inbox", "pending", "running", "done", "control", "tmp"]
SPARE_PREFIX = "spoold.spare."  # SparePool.prefix: what a clean stop leaves in tmp/ on purpose
MARKS = "../marks"  # relative to the spool root, outside the modelled file system


def mark(tag):
    return '"$SPOOL_ROOT/%s/%s"' % (MARKS, tag)


def workload():
    """Inbox files (name -> job object), control files, and what each must end as."""
    jobs = {}
    expect = {}  # source name -> (allowed statuses, on_interrupt fail?)
    jobs["cmd.json"] = {"id": "cmd", "command": ["/bin/sh", "-c", "echo run >> %s; echo out-cmd" % mark("cmd")]}
    expect["cmd.json"] = ({"succeeded"}, False)
    jobs["once.json"] = {"id": "once", "on_interrupt": "fail", "shell": "echo run >> %s; echo out-once" % mark("once")}
    expect["once.json"] = ({"succeeded", "failed"}, True)
    jobs["retry.json"] = {"id": "retry", "retries": 1, "retry_delay_seconds": 0.05,
                          "shell": "echo run >> %s; test -e %s || { : > %s; echo first >&2; exit 3; }"
                                   % (mark("retry"), mark("retry.first"), mark("retry.first"))}
    expect["retry.json"] = ({"succeeded"}, False)
    jobs["batch.json"] = {"id": "batch", "max_parallel": 2, "operations": [
        {"shell": "echo run >> %s; echo op0" % mark("batch.op0")},
        {"type": "descriptive_stats", "params": {"data": [1, 2, 3, 4]}},
        {"shell": "echo run >> %s" % mark("batch.op2")},
    ]}
    expect["batch.json"] = ({"succeeded"}, False)
    jobs["fbatch.json"] = {"id": "fbatch", "on_interrupt": "fail", "max_parallel": 2, "operations": [
        {"shell": "echo run >> %s; echo fop0" % mark("fbatch.op0")},
        {"shell": "echo run >> %s" % mark("fbatch.op1")},
    ]}
    expect["fbatch.json"] = ({"succeeded", "partial", "failed"}, True)
    jobs["parent.json"] = {"id": "parent", "shell": "echo run >> %s" % mark("parent"),
                           "on_complete": {"id": "child", "on_interrupt": "fail",
                                           "shell": "echo run >> %s; echo child" % mark("child")}}
    expect["parent.json"] = ({"succeeded"}, False)
    jobs["victim.json"] = {"id": "victim", "not_before": "2099-01-01T00:00:00Z", "shell": "echo run >> %s" % mark("victim")}
    expect["victim.json"] = ({"cancelled"}, False)
    jobs["bad.json"] = {"id": "bad", "command": "not-an-array"}
    expect["bad.json"] = ({"rejected"}, False)
    jobs["gen.json"] = {"command": ["true"]}
    expect["gen.json"] = ({"succeeded"}, False)
    for i in range(3):  # enough files for one intake batch to take the group-commit (syncfs) path
        jobs["plain%d.json" % i] = {"id": "plain%d" % i, "shell": "echo run >> %s" % mark("plain%d" % i)}
        expect["plain%d.json" % i] = ({"succeeded"}, False)
    controls = {"cancel-victim.json": {"action": "cancel", "id": "victim"}}
    return jobs, controls, expect


# Tags whose runs must never exceed one: on_interrupt "fail" jobs and operations.
ONCE_TAGS = ["once", "fbatch.op0", "fbatch.op1", "child"]


# ---------------------------------------------------------------------------------------------
# The trace: strace -f -yy -xx output turned into file-system operations on paths.

def need_strace():
    path = shutil.which("strace")
    if path:
        return path
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        wait = ["-o", "DPkg::Lock::Timeout=300"]
        print("crashstates: installing strace with apt-get", flush=True)
        subprocess.run(["apt-get", "-qq"] + wait + ["update"], env=env, check=False)
        subprocess.run(["apt-get", "-qq", "-y", "--no-install-recommends"] + wait + ["install", "strace"], env=env, check=False)
        path = shutil.which("strace")
        if path:
            return path
    raise SetupError("strace is not installed and could not be installed (needs root and apt-get)")


class SetupError(Exception):
    pass


HEX = re.compile(r'"((?:\\x[0-9a-f]{2})*)"')


def unhex(s):
    return bytes.fromhex(s.replace("\\x", ""))


def split_args(text):
    """Top-level comma-separated arguments of a syscall's argument text."""
    args, depth, cur, i, inq = [], 0, [], 0, False
    while i < len(text):
        c = text[i]
        if inq:
            cur.append(c)
            if c == "\\":
                cur.append(text[i + 1])
                i += 1
            elif c == '"':
                inq = False
        elif c == '"':
            inq = True
            cur.append(c)
        elif c in "[{(<":
            depth += 1
            cur.append(c)
        elif c in "]})>":
            depth -= 1
            cur.append(c)
        elif c == "," and depth == 0:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    if cur:
        args.append("".join(cur).strip())
    return args


FD_PATH = re.compile(r'^(-?\d+|AT_FDCWD)<((?:\\x[0-9a-f]{2})*)>$')


def fd_path(arg):
    """The path strace -yy shows for an fd argument, or None."""
    m = FD_PATH.match(arg)
    if not m:
        return None
    p = unhex(m.group(2)).decode("utf-8", "surrogateescape")
    return None if p.endswith(" (deleted)") else p


def string_arg(arg):
    m = HEX.fullmatch(arg.split(" ")[0]) if arg.startswith('"') else None
    if not m:
        return None
    return unhex(m.group(1))


def join(dirpath, name):
    name = name.decode("utf-8", "surrogateescape") if isinstance(name, bytes) else name
    if name.startswith("/") or dirpath is None:
        return os.path.normpath(name)
    return os.path.normpath(os.path.join(dirpath, name))


LINE = re.compile(r'^(\d+) +(.*)$')


def read_trace(path):
    """(pid, syscall, args, result) per completed call, in completion order."""
    pending = {}
    calls = []
    with open(path, "r", encoding="ascii", errors="replace") as f:
        for raw in f:
            m = LINE.match(raw.rstrip("\n"))
            if not m:
                continue
            pid, text = int(m.group(1)), m.group(2)
            if text.startswith("---") or text.startswith("+++"):
                continue
            if text.endswith("<unfinished ...>"):
                pending[pid] = text[: -len("<unfinished ...>")].rstrip()
                continue
            if text.startswith("<... "):
                head = pending.pop(pid, None)
                if head is None:
                    continue
                rest = text[text.index("resumed>") + len("resumed>"):]
                text = head + rest
            m2 = re.match(r'^([a-z0-9_]+)\((.*)\)\s+=\s+(.*)$', text)
            if not m2:
                continue
            calls.append((pid, m2.group(1), m2.group(2), m2.group(3)))
    return calls


def result_value(res):
    m = re.match(r'^(-?\d+)', res)
    return int(m.group(1)) if m else None


def to_ops(calls, root):
    """File-system operations under `root`, in order: each a tuple starting with its kind."""
    ops = []
    inside = lambda p: p is not None and (p == root or p.startswith(root + "/"))
    rel = lambda p: os.path.relpath(p, root)
    for pid, name, argtext, res in calls:
        rv = result_value(res)
        if rv is None or rv < 0:
            continue
        a = split_args(argtext)
        if name == "execve":
            argv = re.findall(r'"((?:\\x[0-9a-f]{2})*)"', argtext)
            words = [unhex(x).decode("utf-8", "replace") for x in argv]
            ops.append(("exec", " ".join(words)))
        elif name in ("openat", "open", "creat"):
            path = fd_path(res.split(" ")[0]) if "<" in res else None
            if not inside(path):
                continue
            flags = a[2] if name == "openat" else (a[1] if name == "open" else "O_CREAT|O_TRUNC")
            ops.append(("open", rel(path), "O_CREAT" in flags, "O_TRUNC" in flags))
        elif name in ("mkdir", "mkdirat"):
            path = join(fd_path(a[0]), string_arg(a[1])) if name == "mkdirat" else join(None, string_arg(a[0]))
            if inside(path):
                ops.append(("mkdir", rel(path)))
        elif name in ("rename", "renameat", "renameat2"):
            if name == "rename":
                old, new = join(None, string_arg(a[0])), join(None, string_arg(a[1]))
            else:
                old, new = join(fd_path(a[0]), string_arg(a[1])), join(fd_path(a[2]), string_arg(a[3]))
            if inside(old) and inside(new):
                ops.append(("rename", rel(old), rel(new)))
            elif inside(new):
                ops.append(("unknown-new", rel(new)))
            elif inside(old):
                ops.append(("unlink", rel(old)))
        elif name in ("unlink", "unlinkat", "rmdir"):
            path = join(fd_path(a[0]), string_arg(a[1])) if name == "unlinkat" else join(None, string_arg(a[0]))
            if inside(path):
                ops.append(("unlink", rel(path)))
        elif name in ("link", "linkat"):
            if name == "link":
                old, new = join(None, string_arg(a[0])), join(None, string_arg(a[1]))
            else:
                old, new = join(fd_path(a[0]), string_arg(a[1])), join(fd_path(a[2]), string_arg(a[3]))
            if inside(old) and inside(new):
                ops.append(("link", rel(old), rel(new)))
        elif name in ("write", "pwrite64"):
            path = fd_path(a[0])
            data = string_arg(a[1])
            if inside(path) and data is not None:
                off = int(a[3]) if name == "pwrite64" else None
                ops.append(("write", rel(path), data[:rv], off))
        elif name in ("writev", "pwritev", "pwritev2"):
            path = fd_path(a[0])
            if inside(path):
                data = b"".join(unhex(x) for x in re.findall(r'iov_base="((?:\\x[0-9a-f]{2})*)"', a[1]))
                ops.append(("write", rel(path), data[:rv], int(a[3]) if name != "writev" else None))
        elif name in ("ftruncate", "truncate"):
            path = fd_path(a[0]) if name == "ftruncate" else join(None, string_arg(a[0]))
            if inside(path):
                ops.append(("truncate", rel(path), int(a[1])))
        elif name in ("fsync", "fdatasync"):
            path = fd_path(a[0])
            if inside(path):
                ops.append(("fsync", rel(path)))
        elif name == "syncfs":
            if inside(fd_path(a[0])):
                ops.append(("syncall",))
        elif name == "sync":
            ops.append(("syncall",))
    return ops


# ---------------------------------------------------------------------------------------------
# The model: inodes, directories with durable entries and pending entry changes, file data with
# durable content and pending writes.

class Model:
    def __init__(self):
        self.next_ino = 1
        self.root = self.new_dir()
        self.entries = {self.root: {}}        # dir inode -> {name: inode} (what the kernel shows)
        self.durable_entries = {self.root: {}}  # dir inode -> {name: inode} as of its last sync
        self.pending_entries = {self.root: []}  # dir inode -> [change], since its last sync
        self.data = {}                         # file inode -> bytes (what the kernel shows)
        self.durable_data = {}                 # file inode -> bytes as of its last sync
        self.pending_data = {}                 # file inode -> [write or truncate], since its last sync
        self.unresolved = 0
        self.next_change = 0

    def new_dir(self):
        ino = self.next_ino
        self.next_ino += 1
        return ino

    def is_dir(self, ino):
        return ino in self.entries

    def lookup(self, rel):
        if rel == ".":
            return self.root
        ino = self.root
        for part in rel.split("/"):
            if not self.is_dir(ino) or part not in self.entries[ino]:
                return None
            ino = self.entries[ino][part]
        return ino

    def parent(self, rel):
        d, name = os.path.split(rel)
        return self.lookup(d or "."), name

    # Building the starting state (everything durable).
    def add_initial(self, rel, is_dir, content=b""):
        dino, name = self.parent(rel)
        ino = self.new_dir()
        if is_dir:
            self.entries[ino], self.durable_entries[ino], self.pending_entries[ino] = {}, {}, []
        else:
            self.data[ino] = self.durable_data[ino] = content
            self.pending_data[ino] = []
        self.entries[dino][name] = ino
        self.durable_entries[dino][name] = ino

    def change(self, dino, change):
        self.pending_entries[dino].append(change)

    def apply(self, op):
        kind = op[0]
        if kind == "open":
            _, rel, create, trunc = op
            ino = self.lookup(rel)
            if ino is None:
                if not create:
                    self.unresolved += 1
                    return
                dino, name = self.parent(rel)
                if dino is None:
                    self.unresolved += 1
                    return
                ino = self.new_dir()
                self.data[ino] = self.durable_data[ino] = b""
                self.pending_data[ino] = []
                self.entries[dino][name] = ino
                self.next_change += 1
                self.change(dino, ("add", name, ino, self.next_change, None))
            elif trunc and not self.is_dir(ino) and self.data[ino]:
                self.data[ino] = b""
                self.pending_data[ino].append(("truncate", 0))
        elif kind == "mkdir":
            dino, name = self.parent(op[1])
            if dino is None or name in self.entries[dino]:
                return
            ino = self.new_dir()
            self.entries[ino], self.durable_entries[ino], self.pending_entries[ino] = {}, {}, []
            self.entries[dino][name] = ino
            self.next_change += 1
            self.change(dino, ("add", name, ino, self.next_change, None))
        elif kind == "rename":
            _, old, new = op
            sd, sname = self.parent(old)
            td, tname = self.parent(new)
            ino = self.entries.get(sd, {}).get(sname) if sd is not None else None
            if ino is None or td is None:
                self.unresolved += 1
                return
            del self.entries[sd][sname]
            self.entries[td][tname] = ino
            self.next_change += 1
            cid = self.next_change
            if sd == td:
                self.change(sd, ("move", sname, tname, ino, cid))
            else:
                self.change(td, ("add", tname, ino, cid, None))
                self.change(sd, ("del", sname, None, cid, cid))  # needs the add of change `cid`
        elif kind == "link":
            _, old, new = op
            ino = self.lookup(old)
            td, tname = self.parent(new)
            if ino is None or td is None:
                self.unresolved += 1
                return
            self.entries[td][tname] = ino
            self.next_change += 1
            self.change(td, ("add", tname, ino, self.next_change, None))
        elif kind == "unlink":
            dino, name = self.parent(op[1])
            if dino is None or name not in self.entries[dino]:
                self.unresolved += 1
                return
            del self.entries[dino][name]
            self.next_change += 1
            self.change(dino, ("del", name, None, self.next_change, None))
        elif kind == "unknown-new":
            self.unresolved += 1
        elif kind == "write":
            _, rel, data, off = op
            ino = self.lookup(rel)
            if ino is None or self.is_dir(ino):
                self.unresolved += 1
                return
            cur = self.data[ino]
            at = len(cur) if off is None else off
            self.data[ino] = write_at(cur, at, data)
            self.pending_data[ino].append(("write", at, data))
        elif kind == "truncate":
            ino = self.lookup(op[1])
            if ino is None or self.is_dir(ino):
                return
            self.data[ino] = truncate_to(self.data[ino], op[2])
            self.pending_data[ino].append(("truncate", op[2]))
        elif kind == "fsync":
            ino = self.lookup(op[1])
            if ino is None:
                self.unresolved += 1
                return
            if self.is_dir(ino):
                self.sync_dir(ino)
            else:
                self.durable_data[ino] = self.data[ino]
                self.pending_data[ino] = []
        elif kind == "syncall":
            for d in list(self.entries):
                self.durable_entries[d] = dict(self.entries[d])
                self.pending_entries[d] = []
            for i in self.data:
                self.durable_data[i] = self.data[i]
                self.pending_data[i] = []

    def sync_dir(self, dino):
        self.durable_entries[dino] = dict(self.entries[dino])
        # A removal whose add is in a later-synced folder may now persist alone: the add is forced
        # durable with it (the rename rule), so the file is never lost.
        done = {c[3] for c in self.pending_entries[dino] if c[0] == "del" and c[4] is not None}
        self.pending_entries[dino] = []
        if done:
            for d, changes in self.pending_entries.items():
                keep = []
                for c in changes:
                    if c[0] == "add" and c[3] in done:
                        self.durable_entries[d][c[1]] = c[2]
                    else:
                        keep.append(c)
                self.pending_entries[d] = keep

    # Crash states.
    def units(self):
        """Every pending change: ('entry', dir, index) and ('data', inode)."""
        u = []
        for d, changes in self.pending_entries.items():
            for i in range(len(changes)):
                u.append(("entry", d, i))
        for ino, writes in self.pending_data.items():
            if writes:
                u.append(("data", ino))
        return u

    def materialize(self, keep_entry, data_choice):
        """The state after a crash: `keep_entry(dir, index)` says whether a pending entry change
        persisted, `data_choice(inode)` returns the file's content. Returns
        {rel path: ('dir',) or ('file', inode, content)}."""
        kept_adds = set()
        entries = {}
        for d, changes in self.pending_entries.items():
            for i, c in enumerate(changes):
                if c[0] == "add" and keep_entry(d, i):
                    kept_adds.add(c[3])
        for d in self.entries:
            e = dict(self.durable_entries[d])
            for i, c in enumerate(self.pending_entries[d]):
                if not keep_entry(d, i):
                    continue
                if c[0] == "add":
                    e[c[1]] = c[2]
                elif c[0] == "del":
                    if c[4] is not None and c[4] not in kept_adds:
                        continue  # the rename's new name did not persist: nor does the removal
                    e.pop(c[1], None)
                elif c[0] == "move":
                    e.pop(c[1], None)
                    e[c[2]] = c[3]
            entries[d] = e
        out = {}

        def walk(d, prefix, seen):
            for name, ino in sorted(entries[d].items()):
                path = name if not prefix else prefix + "/" + name
                if ino in entries:
                    if ino in seen:
                        continue
                    out[path] = ("dir",)
                    walk(ino, path, seen | {ino})
                elif ino in self.data:
                    out[path] = ("file", ino, data_choice(ino))
        walk(self.root, "", {self.root})
        return out

    def versions(self, ino, rng):
        """Contents a crash may leave for a file with pending writes: none of them, all of them, a
        prefix of them with the next one cut short (chosen with `rng`)."""
        base, writes = self.durable_data[ino], self.pending_data[ino]
        k = rng.randrange(len(writes))
        content = base
        for w in writes[:k]:
            content = apply_write(content, w)
        w = writes[k]
        if w[0] == "write" and len(w[2]) > 1:
            cut = ("write", w[1], w[2][: rng.randrange(1, len(w[2]))])
            content = apply_write(content, cut)
        return content


def write_at(cur, at, data):
    if at > len(cur):
        cur = cur + b"\0" * (at - len(cur))
    return cur[:at] + data + cur[at + len(data):]


def truncate_to(cur, n):
    return cur[:n] if n <= len(cur) else cur + b"\0" * (n - len(cur))


def apply_write(content, w):
    return write_at(content, w[1], w[2]) if w[0] == "write" else truncate_to(content, w[1])


# ---------------------------------------------------------------------------------------------
# Facts about what had happened by a crash point (the outside world's view).

class Facts:
    """What the jobs had done in the outside world by a crash point: runs per marker tag (each
    execve of a job's or operation's command names its marker file). Every dropped file is
    durable in the inbox before the trace starts, so every one must end as exactly one record,
    whether or not the daemon had acted on it: a stronger check than "every file whose
    acceptance was acted on"."""
    def __init__(self):
        self.runs = {}

    def observe(self, op):
        if op[0] == "exec":
            for tag in re.findall(r'marks/([A-Za-z0-9._]+)', op[1]):
                if not tag.endswith(".first"):
                    self.runs[tag] = self.runs.get(tag, 0) + 1
                    break

    def as_json(self):
        return {"runs": dict(self.runs)}


# ---------------------------------------------------------------------------------------------
# Enumerating states.

def enumerate_states(model_factory, ops, rng, randoms_per_point):
    """Unique (state, facts) pairs over every crash point, with the first point that gave each."""
    model = model_factory()
    facts = Facts()
    seen = {}
    for index, op in enumerate(ops):
        model.apply(op)
        facts.observe(op)
        if op[0] in ("fsync",):
            continue  # a crash just after a sync is the same as a crash just before the next op
        units = model.units()
        entry_units = [u for u in units if u[0] == "entry"]
        data_units = [u[1] for u in units if u[0] == "data"]
        choices = []
        everything = (lambda d, i: True, {})
        choices.append(("all", everything))
        choices.append(("none", (lambda d, i: False, {ino: "durable" for ino in data_units})))
        for (_, d, i) in entry_units:
            choices.append(("all-but-entry", (lambda dd, ii, d=d, i=i: not (dd == d and ii == i), {})))
            choices.append(("only-entry", (lambda dd, ii, d=d, i=i: dd == d and ii == i, {x: "durable" for x in data_units})))
        for ino in data_units:
            choices.append(("all-but-data", (lambda d, i: True, {ino: "durable"})))
            choices.append(("cut-data", (lambda d, i: True, {ino: "cut"})))
        for _ in range(randoms_per_point):
            keep = {(d, i): rng.random() < 0.5 for (_, d, i) in entry_units}
            datas = {ino: rng.choice(["durable", "full", "cut"]) for ino in data_units}
            choices.append(("random", (lambda d, i, keep=keep: keep.get((d, i), True), datas)))
        for how, (keep_entry, datas) in choices:
            def data_choice(ino, datas=datas):
                c = datas.get(ino, "full")
                if c == "durable":
                    return model.durable_data[ino]
                if c == "cut":
                    return model.versions(ino, rng)
                return model.data[ino]
            state = model.materialize(keep_entry, data_choice)
            key = state_key(state, facts)
            if key not in seen:
                seen[key] = {"point": index, "op": describe(op), "how": how, "state": state, "facts": facts.as_json()}
    return list(seen.values()), model


def state_key(state, facts):
    h = hashlib.sha256()
    inode_names = {}
    for path in sorted(state):
        v = state[path]
        h.update(path.encode("utf-8", "surrogateescape") + b"\0")
        if v[0] == "file":
            h.update(hashlib.sha256(v[2]).digest())
            first = inode_names.setdefault(v[1], path)
            h.update(first.encode("utf-8", "surrogateescape"))
        else:
            h.update(b"/")
    h.update(json.dumps(facts.as_json(), sort_keys=True).encode())
    return h.hexdigest()


def describe(op):
    if op[0] == "write":
        return "write %s (%d bytes)" % (op[1], len(op[2]))
    if op[0] == "exec":
        return "exec " + op[1][:80]
    return " ".join(str(x) for x in op)


# ---------------------------------------------------------------------------------------------
# Running the daemon on a state and checking the invariants.

def write_state(base, state):
    spool = os.path.join(base, "spool")
    os.makedirs(spool)
    os.makedirs(os.path.join(base, "marks"))
    first = {}
    for path in sorted(state, key=lambda p: (p.count("/"), p)):
        v = state[path]
        full = os.path.join(spool, path)
        if v[0] == "dir":
            os.makedirs(full, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(full), exist_ok=True)
            if v[1] in first:
                os.link(first[v[1]], full)
            else:
                with open(full, "wb") as f:
                    f.write(v[2])
                first[v[1]] = full
    return spool


def seed_marks(base, facts):
    """The outside world: marker lines for runs before the crash, as the jobs wrote them."""
    for tag, n in facts["runs"].items():
        with open(os.path.join(base, "marks", tag), "w") as f:
            f.write("run\n" * n)
    if facts["runs"].get("retry", 0) >= 1:
        open(os.path.join(base, "marks", "retry.first"), "w").close()


def run_daemon(spoold, spool, timeout, log):
    args = [spoold, "--spool", spool, "--drain", "--settle", "0", "--workers", "2"]
    if os.geteuid() == 0:
        args.append("--allow-root-jobs")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SPOOLD_")}
    with open(log, "wb") as out:
        try:
            p = subprocess.run(args, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=timeout)
            return p.returncode
        except subprocess.TimeoutExpired:
            return "timeout"


def stale_spares(spool):
    """The spares a crash state holds in tmp/ without the clean-stop mark: recovery must remove
    them (their old names' removal may not be durable), never take them back."""
    if os.path.exists(os.path.join(spool, "spoold.clean")):
        return set()
    tmp = os.path.join(spool, "tmp")
    return {n for n in os.listdir(tmp) if n.startswith(SPARE_PREFIX)} if os.path.isdir(tmp) else set()


def check(base, spool, facts, status, expect, stale=frozenset()):
    problems = []
    kept = stale & set(os.listdir(os.path.join(spool, "tmp"))) if os.path.isdir(os.path.join(spool, "tmp")) else set()
    if kept:
        problems.append("spares of a crashed run kept in tmp/: %s" % ", ".join(sorted(kept)[:6]))
    if status != 0:
        problems.append("spoold --drain exited with %s" % status)
    for d in ["inbox", "pending", "running", "tmp", "control"]:
        left = sorted(os.listdir(os.path.join(spool, d))) if os.path.isdir(os.path.join(spool, d)) else []
        if d == "tmp":
            left = [n for n in left if not n.startswith(SPARE_PREFIX)]
        if left:
            problems.append("left in %s/: %s" % (d, ", ".join(left[:6])))
    done = os.path.join(spool, "done")
    records = {}
    for n in sorted(os.listdir(done)) if os.path.isdir(done) else []:
        if not n.endswith(".json"):
            continue
        raw = open(os.path.join(done, n), "rb").read()
        try:
            r = json.loads(raw)
            assert isinstance(r, dict)
        except Exception:
            problems.append("done/%s is torn or not a JSON object (%d bytes)" % (n, len(raw)))
            continue
        records[n[:-5]] = r
        for key in ("stdout", "stderr", "original"):
            p = r.get(key)
            if isinstance(p, str) and not os.path.exists(os.path.join(spool, p)):
                problems.append("done/%s names %s, which does not exist" % (n, p))
    by_source = {}
    for rid, r in records.items():
        by_source.setdefault(r.get("source"), []).append(rid)
    for source, (statuses, may_fail) in expect.items():
        got = by_source.get(source, [])
        if len(got) != 1:
            problems.append("%s: %d records (%s), expected exactly one" % (source, len(got), ", ".join(got)))
            continue
        r = records[got[0]]
        st = r.get("status")
        if st not in statuses:
            problems.append("%s: status %s, expected %s" % (source, st, "/".join(sorted(statuses))))
        elif st in ("failed", "partial") and may_fail and source != "fbatch.json":
            code = (r.get("error") or {}).get("code")
            if code != "interrupted":
                problems.append("%s: failed with %s, expected only interrupted" % (source, code))
    children = [rid for rid, r in records.items() if rid == "child"]
    if len(children) != 1:
        problems.append("follow-up: %d records for child, expected one" % len(children))
    elif records["child"].get("status") not in ("succeeded", "failed"):
        problems.append("child: status %s" % records["child"].get("status"))
    known = set(sum((by_source.get(s, []) for s in expect), [])) | {"child"}
    extra = sorted(set(records) - known)
    if extra:
        problems.append("records nobody dropped: %s" % ", ".join(extra))
    batch = records.get("batch")
    if batch and any(op.get("status") != "succeeded" for op in batch.get("operations") or []):
        problems.append("batch: operations %s" % [op.get("status") for op in batch.get("operations") or []])
    for tag in ONCE_TAGS:
        before = facts["runs"].get(tag, 0)
        path = os.path.join(base, "marks", tag)
        total = open(path).read().count("run\n") if os.path.exists(path) else 0
        if total > 1:
            problems.append("%s ran %d times (%d before the crash), on_interrupt is fail" % (tag, total, before))
    victim = os.path.join(base, "marks", "victim")
    if os.path.exists(victim):
        problems.append("victim ran although it was cancelled")
    return problems


def explore_one(spoold, workdir, n, item, expect, timeout, keep, preserve=False):
    base = os.path.join(workdir, "state-%d" % n)
    spool = write_state(base, item["state"])
    seed_marks(base, item["facts"])
    log = os.path.join(base, "spoold.log")
    stale = stale_spares(spool)
    status = run_daemon(spoold, spool, timeout, log)
    problems = check(base, spool, item["facts"], status, expect, stale)
    saved = None
    if problems and keep:
        os.makedirs(keep, exist_ok=True)
        saved = os.path.join(keep, "state-%d.json" % n)
        save_state(saved, item, problems)
    if problems:
        tail = open(log, "rb").read().decode("utf-8", "replace").splitlines()[-15:]
        problems.append("log tail:\n      " + "\n      ".join(tail))
    if preserve:
        print("crashstates: state %d left in %s" % (n, base))
    else:
        shutil.rmtree(base, ignore_errors=True)
    return problems, saved


def save_state(path, item, problems):
    files = []
    for p, v in sorted(item["state"].items()):
        if v[0] == "dir":
            files.append({"path": p, "dir": True})
        else:
            try:
                # The traced spool's temporary path (in metrics.prom, a staged follow-up's
                # SPOOL_PARENT_RESULT) says nothing about the state: a neutral one is kept instead.
                text = re.sub(r"/tmp/spoold-crashstates-[A-Za-z0-9_]+/traced/spool", "/var/spool/spoold", v[2].decode("utf-8"))
                files.append({"path": p, "inode": v[1], "text": text})
            except UnicodeDecodeError:
                files.append({"path": p, "inode": v[1], "base64": base64.b64encode(v[2]).decode()})
    with open(path, "w") as f:
        json.dump({"found": [p for p in problems if not p.startswith("log tail")], "point": item["point"], "op": item["op"], "how": item["how"],
                   "facts": item["facts"], "files": files}, f, indent=1)
        f.write("\n")


def load_state(path):
    with open(path) as f:
        d = json.load(f)
    state = {}
    for e in d["files"]:
        if e.get("dir"):
            state[e["path"]] = ("dir",)
        else:
            data = e["text"].encode("utf-8") if "text" in e else base64.b64decode(e["base64"])
            state[e["path"]] = ("file", e["inode"], data)
    return {"point": d.get("point"), "op": d.get("op"), "how": d.get("how"), "facts": d["facts"], "state": state}


# ---------------------------------------------------------------------------------------------

def prepare_spool(spool):
    jobs, controls, expect = workload()
    for d in SPOOL_DIRS:
        os.makedirs(os.path.join(spool, d))
    for name, job in jobs.items():
        with open(os.path.join(spool, "inbox", name), "w") as f:
            json.dump(job, f)
    for name, c in controls.items():
        with open(os.path.join(spool, "control", name), "w") as f:
            json.dump(c, f)
    return expect


def initial_model(spool):
    """A factory for the model of `spool` as it is now (every file and folder durable)."""
    found = []
    for dirpath, dirnames, filenames in os.walk(spool):
        relbase = os.path.relpath(dirpath, spool)
        for d in sorted(dirnames):
            found.append((d if relbase == "." else relbase + "/" + d, True, b""))
        for fn in sorted(filenames):
            with open(os.path.join(dirpath, fn), "rb") as f:
                found.append((fn if relbase == "." else relbase + "/" + fn, False, f.read()))

    def factory():
        m = Model()
        for rel, is_dir, content in found:
            m.add_initial(rel, is_dir, content)
        return m
    return factory


def run_parallel(spoold, workdir, items, expect, timeout, keep, jobs, preserve=False):
    failures = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as pool:
        futs = {pool.submit(explore_one, spoold, workdir, n, it, expect, timeout, keep, preserve): (n, it) for n, it in enumerate(items)}
        for fut in concurrent.futures.as_completed(futs):
            n, it = futs[fut]
            problems, saved = fut.result()
            if problems:
                failures.append((n, it, problems, saved))
    return failures


def report(failures):
    for n, it, problems, saved in sorted(failures, key=lambda f: f[0]):
        print("VIOLATION in state %d (crash after op %s: %s; %s)%s" % (
            n, it["point"], it["op"], it["how"], ("; saved as " + saved) if saved else ""))
        for p in problems:
            print("    " + p)


def cmd_explore(args):
    strace = need_strace()
    spoold = os.path.abspath(args.spoold)
    seed = args.seed if args.seed is not None else random.randrange(1 << 32)
    rng = random.Random(seed)
    started = time.time()
    workdir = tempfile.mkdtemp(prefix="spoold-crashstates-")
    try:
        traced = os.path.join(workdir, "traced")
        spool = os.path.join(traced, "spool")
        os.makedirs(os.path.join(traced, "marks"))
        expect = prepare_spool(spool)
        factory = initial_model(spool)
        trace = os.path.join(workdir, "trace")
        sys_calls = "%file,%desc,fsync,fdatasync,syncfs,sync,execve,rename,renameat,renameat2,link,linkat,unlink,unlinkat"
        cmd = [strace, "-f", "-qq", "-yy", "-xx", "-s", "1048576", "-o", trace, "-e", "trace=" + sys_calls,
               spoold, "--spool", spool, "--drain", "--settle", "0", "--workers", "2"]
        if os.geteuid() == 0:
            cmd.append("--allow-root-jobs")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SPOOLD_")}
        p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, timeout=120)
        if p.returncode != 0:
            err = p.stderr.decode("utf-8", "replace")
            if "ptrace" in err.lower() or "PTRACE" in err:
                raise SetupError("strace cannot trace here: %s" % err.strip().splitlines()[0])
            print("crashstates: the traced run failed (exit %d):\n%s" % (p.returncode, err[-3000:]))
            return 1
        base_problems = check(traced, spool, {"runs": {}}, 0, expect)
        if base_problems:
            print("crashstates: the traced run itself broke the invariants: %s" % base_problems)
            return 1
        ops = to_ops(read_trace(trace), os.path.realpath(spool))
        items, model = enumerate_states(factory, ops, rng, args.randoms)
        total = len(items)
        chosen = items if args.budget <= 0 or total <= args.budget else rng.sample(items, args.budget)
        syncs = sum(1 for o in ops if o[0] in ("fsync", "syncall"))
        print("crashstates: trace: %d file-system operations under the spool (%d syncs), %d unresolved"
              % (len(ops), syncs, model.unresolved))
        print("crashstates: %d distinct crash states; exploring %d (seed %d)" % (total, len(chosen), seed), flush=True)
        failures = run_parallel(spoold, workdir, chosen, expect, args.timeout, args.keep, args.jobs)
        report(failures)
        took = time.time() - started
        print("crashstates: explored %d of %d states (seed %d) in %.1f s: %d violations"
              % (len(chosen), total, seed, took, len(failures)))
        return 1 if failures else 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def cmd_replay(args):
    spoold = os.path.abspath(args.spoold)
    _, _, expect = workload()
    workdir = tempfile.mkdtemp(prefix="spoold-crashstates-replay-")
    try:
        items = [load_state(f) for f in args.files]
        failures = run_parallel(spoold, workdir, items, expect, args.timeout, None, args.jobs, args.preserve)
        for n, it, problems, _ in failures:
            print("in %s:" % args.files[n])
        report(failures)
        print("crashstates: replayed %d saved states: %d violations" % (len(items), len(failures)))
        return 1 if failures else 0
    finally:
        if not args.preserve:
            shutil.rmtree(workdir, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("explore")
    e.add_argument("--spoold", required=True)
    e.add_argument("--budget", type=int, default=200, help="states to run (0: all)")
    e.add_argument("--seed", type=int)
    e.add_argument("--randoms", type=int, default=2, help="random states drawn per crash point")
    e.add_argument("--jobs", type=int, default=2)
    e.add_argument("--timeout", type=float, default=60)
    e.add_argument("--keep", help="folder to save violating states in (replayable)")
    r = sub.add_parser("replay")
    r.add_argument("--spoold", required=True)
    r.add_argument("--jobs", type=int, default=2)
    r.add_argument("--timeout", type=float, default=60)
    r.add_argument("--preserve", action="store_true", help="keep each state's folder (spool, marks, log)")
    r.add_argument("files", nargs="+")
    args = ap.parse_args()
    try:
        sys.exit(cmd_explore(args) if args.cmd == "explore" else cmd_replay(args))
    except SetupError as err:
        print("crashstates: cannot run: %s" % err)
        sys.exit(2)


if __name__ == "__main__":
    main()
