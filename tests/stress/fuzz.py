#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Runs the libFuzzer targets (tests/fuzz/fuzz_*.c) under ASan+UBSan and
measures what their corpora cover.

  tests/stress/fuzz.py [TARGET...] --seconds N | --runs N [--jobs J]
                       [--keep] [--ledger] [--coverage]
  tests/stress/fuzz.py [TARGET...] --coverage

Fuzzing builds (or reuses) build/fuzz, configured with
--enable-fuzzing --enable-sanitizers, and runs each target for --seconds
or until --runs executions, whichever comes first, over --jobs parallel
processes (nproc by default; one process a target when there are more
targets than jobs, else the jobs are shared out). Each target starts
from a working copy of tests/fuzz/corpus/T and tests/fuzz/regression/T.
Afterwards the working corpus is merged (-merge=1) against those seeds:
the inputs that add coverage are counted, and with --keep written to
tests/fuzz/corpus/T/run-<sha1>. Crash, leak, timeout and out-of-memory
inputs are copied into tests/fuzz/regression/T/ and the exit status is 1.
--ledger adds one row a target to tests/fuzz/LEDGER.md and recomputes its
totals. SIGINT or SIGTERM stops the fuzzers early; what they did is still
merged, counted and recorded.

--coverage builds (or reuses) build/cov (clang's source-based coverage,
no sanitizers), replays each target's corpus and kept crash inputs
through its replay binary and reports line and region coverage of the
sources the target exercises: the project files its _SOURCES name in
tests/include.am (for http and fcgi_conn, the request path's files
instead, see REQUEST_PATH).

Needs clang, llvm (llvm-profdata, llvm-cov) and libclang-rt-14-dev:
sh tests/install-deps.sh fuzz."""

import argparse
import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.path.join(HERE, "..", ".."))
FUZZ_SRC = os.path.join(TOP, "tests", "fuzz")
LEDGER = os.path.join(FUZZ_SRC, "LEDGER.md")

# The codec, HTTP path, config loader and legacy response parser are to
# reach 10^8 executions, every other target 10^7 (issue 17).
AIMS = {"fcgi": 10**8, "http": 10**8, "conf": 10**8, "fcgi_response": 10**8}
AIM = 10**7

# The connection targets' _SOURCES name the objects their harness links
# (handlers, pools, migrate); the request path they drive
# (tests/fuzz/fuzz_worker.c: the protocol's connection code, then the
# request building, routing and shims, rate limits, the handlers'
# answers, the access log) comes from libfpmdcore.a. Their coverage is
# counted over these and the handlers.
REQUEST_PATH = [
    "fpmd/conn.c", "fpmd/req.c", "fpmd/body.c", "fpmd/reply.c",
    "fpmd/uri.c", "fpmd/router.c", "fpmd/cgi_path.c", "fpmd/sched.c",
    "fpmd/ratelimit.c", "fpmd/request_id.c", "fpmd/access_log.c",
    "fpmd/escape.c",
]
CONNECTION = {"http": ["fpmd/http_conn.c"],
              "fcgi_conn": ["fpmd/fcgi_conn.c", "fpmd/fcgi.c"]}

# What libFuzzer names the inputs it stops on; "slow-unit-" is only a note.
FAILURES = ("crash-", "leak-", "timeout-", "oom-")

stop_requested = False


def log(msg):
    print("fuzz: %s" % msg, file=sys.stderr, flush=True)


# --- tests/include.am: the targets and their sources ---------------------

def automake_vars():
    """Every `VAR = ...` and `VAR += ...` of the include.am files, lines
    joined, conditionals ignored."""
    out = {}
    paths = [os.path.join(TOP, "Makefile.am")]
    for d in sorted(os.listdir(TOP)):
        p = os.path.join(TOP, d, "include.am")
        if os.path.isfile(p):
            paths.append(p)
    for path in paths:
        with open(path) as f:
            text = f.read().replace("\\\n", " ")
        for line in text.splitlines():
            m = re.match(r"^([A-Za-z0-9_]+)\s*(\+?=)(.*)$", line)
            if m:
                words = m.group(3).split()
                if m.group(2) == "=":
                    out[m.group(1)] = words
                else:
                    out.setdefault(m.group(1), []).extend(words)
    return out


def expand(vars_, words):
    out = []
    for w in words:
        m = re.match(r"^\$\(([A-Za-z0-9_]+)\)$", w)
        if m:
            out.extend(expand(vars_, vars_.get(m.group(1), [])))
        else:
            out.append(w)
    return out


def all_targets(vars_):
    names = []
    for k in vars_:
        m = re.match(r"^tests_fuzz_fuzz_([a-z0-9_]+)_SOURCES$", k)
        if m:
            names.append(m.group(1))
    return sorted(names)


def target_sources(vars_, t):
    """The project's .c files the target exercises (not tests/)."""
    if t in CONNECTION:
        words = (expand(vars_, ["$(HANDLER_SOURCES)"]) + CONNECTION[t]
                 + REQUEST_PATH)
    else:
        words = expand(vars_, vars_.get("tests_fuzz_fuzz_%s_SOURCES" % t, []))
    seen = []
    for w in words:
        if (w.endswith(".c") and not w.startswith("tests/")
                and os.path.isfile(os.path.join(TOP, w)) and w not in seen):
            seen.append(w)
    return seen


# --- builds --------------------------------------------------------------

def run_quiet(cmd, cwd, what):
    r = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        sys.stderr.write(r.stdout[-6000:])
        log("%s failed (%s)" % (what, " ".join(cmd)))
        sys.exit(2)


def build(builddir, configure_args, programs, jobs):
    """Configures builddir once, then makes just the programs named."""
    if not os.path.isfile(os.path.join(TOP, "configure")):
        run_quiet(["./autogen.sh"], TOP, "autogen.sh")
    if not os.path.isfile(os.path.join(builddir, "Makefile")):
        os.makedirs(builddir, exist_ok=True)
        log("configuring %s" % builddir)
        run_quiet([os.path.join(TOP, "configure")] + configure_args,
                  builddir, "configure")
    log("building %d programs in %s" % (len(programs), builddir))
    run_quiet(["make", "-j%d" % jobs] + programs, builddir, "make")


# --- one fuzzer process --------------------------------------------------

class Proc:
    def __init__(self, target, index, argv, logpath):
        self.target = target
        self.index = index
        self.argv = argv
        self.logpath = logpath
        self.p = None
        self.start = self.end = None
        self.interrupted = False

    def launch(self, env):
        self.logf = open(self.logpath, "wb")
        # own process group: a stop reaches the symbolizer it may run too
        self.p = subprocess.Popen(self.argv, stdout=self.logf,
                                  stderr=subprocess.STDOUT, env=env,
                                  start_new_session=True)
        self.start = time.monotonic()

    def signal(self, sig):
        if self.p is not None and self.p.poll() is None:
            try:
                os.killpg(self.p.pid, sig)
            except ProcessLookupError:
                pass

    def poll(self):
        if self.p.poll() is None:
            return None
        self.end = time.monotonic()
        self.logf.close()
        return self.p.returncode


def parse_log(path):
    """Executions, and libFuzzer's cov/ft at INITED and at the end."""
    st = {"execs": 0, "cov0": None, "ft0": None, "cov": None, "ft": None,
          "artifacts": [], "report": []}
    last_n = 0
    with open(path, "rb") as f:
        for raw in f:
            line = raw.decode("utf-8", "replace")
            # a sanitizer's or libFuzzer's report, up to the input's name
            if (re.match(r"^(==\d+==\s*ERROR|=+ ?ERROR|\S+:\d+:\d+: "
                         r"runtime error|ALARM:)", line)
                    or (st["report"] and not st["report"][-1].startswith(
                        "artifact_prefix"))):
                if len(st["report"]) < 200:
                    st["report"].append(line)
            m = re.match(r"^#(\d+)\s+(\w+)\s+cov: (\d+) ft: (\d+)", line)
            if m:
                last_n = int(m.group(1))
                if m.group(2) == "INITED" and st["cov0"] is None:
                    st["cov0"], st["ft0"] = int(m.group(3)), int(m.group(4))
                st["cov"], st["ft"] = int(m.group(3)), int(m.group(4))
                continue
            m = re.match(r"^stat::number_of_executed_units: (\d+)", line)
            if m:
                st["execs"] = int(m.group(1))
            m = re.search(r"Test unit written to (\S+)", line)
            if m:
                st["artifacts"].append(m.group(1))
    if st["execs"] == 0:
        st["execs"] = last_n
    return st


# --- fuzzing -------------------------------------------------------------

def files_in(d):
    if not os.path.isdir(d):
        return []
    return sorted(n for n in os.listdir(d) if not n.startswith("."))


def sha1_of(path):
    with open(path, "rb") as f:
        return hashlib.sha1(f.read()).hexdigest()


def with_defaults(opts, defaults):
    """opts (a sanitizer's k=v:k=v) with the defaults it does not set."""
    have = {kv.split("=")[0] for kv in opts.split(":") if kv}
    extra = [kv for kv in defaults if kv.split("=")[0] not in have]
    return ":".join([o for o in [opts] if o] + extra)


def fuzz_env(work):
    env = dict(os.environ)
    # the connection targets make a file tree under $TMPDIR; here it goes
    # with the work directory even when a stopped fuzzer skips its atexit
    env["TMPDIR"] = os.path.join(work, "tmp")
    os.makedirs(env["TMPDIR"], exist_ok=True)
    # With ASan's default 256 MB quarantine most allocations land on
    # fresh pages, and a page fault is dear on a virtual machine: on the
    # 2-core development VM http ran ~150 executions a second with it and
    # ~3,600 with 16 MB. 16 MB still holds many inputs' worth of freed
    # memory, so a use after free within an input is caught as before.
    env["ASAN_OPTIONS"] = with_defaults(
        env.get("ASAN_OPTIONS", ""), ["quarantine_size_mb=16",
                                      "detect_leaks=1"])
    env["UBSAN_OPTIONS"] = with_defaults(
        env.get("UBSAN_OPTIONS", ""), ["print_stacktrace=1",
                                       "halt_on_error=1"])
    return env


def on_signal(sig, frame):
    global stop_requested
    if stop_requested:
        raise KeyboardInterrupt
    stop_requested = True
    log("stopping the fuzzers (again to kill them)")


def fuzz(args, targets, bindir, work):
    env = fuzz_env(work)
    per = max(1, args.jobs // len(targets))
    procs = []
    for t in targets:
        tw = os.path.join(work, t)
        for sub in ("corpus", "artifacts", "logs"):
            os.makedirs(os.path.join(tw, sub), exist_ok=True)
        for kind in ("corpus", "regression"):
            src = os.path.join(FUZZ_SRC, kind, t)
            for n in files_in(src):
                shutil.copy(os.path.join(src, n),
                            os.path.join(tw, "corpus", n))
        for i in range(per):
            argv = [os.path.join(bindir, "fuzz_" + t),
                    "-print_final_stats=1",
                    "-timeout=%d" % args.timeout,
                    "-rss_limit_mb=%d" % args.rss_limit_mb,
                    "-artifact_prefix=%s/" % os.path.join(tw, "artifacts")]
            if args.seconds:
                argv.append("-max_total_time=%d" % args.seconds)
            if args.runs:
                argv.append("-runs=%d" % math.ceil(args.runs / per))
            argv.append(os.path.join(tw, "corpus"))
            procs.append(Proc(t, i, argv,
                              os.path.join(tw, "logs", "%d.log" % i)))

    pending = list(procs)
    running = []
    # libFuzzer stops itself at -max_total_time; this is the guard for
    # one that does not (a unit stuck past -timeout's own handler).
    grace = None
    if args.seconds:
        grace = args.seconds + max(60, args.seconds // 2) + args.timeout
    old_int = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    try:
        while pending or running:
            while pending and len(running) < args.jobs and not stop_requested:
                pr = pending.pop(0)
                pr.launch(env)
                running.append(pr)
            if stop_requested:
                pending.clear()
                for pr in running:
                    if not pr.interrupted:
                        pr.interrupted = True
                        pr.signal(signal.SIGINT)
            for pr in list(running):
                if pr.poll() is not None:
                    running.remove(pr)
                elif grace and time.monotonic() - pr.start > grace:
                    if not pr.interrupted:
                        pr.interrupted = True
                        pr.signal(signal.SIGINT)
                    elif time.monotonic() - pr.start > grace + 30:
                        pr.signal(signal.SIGKILL)
            if running:
                time.sleep(0.5)
    except KeyboardInterrupt:
        for pr in running:
            pr.signal(signal.SIGKILL)
        for pr in running:
            pr.p.wait()
        raise
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
    return procs


def merge(args, t, bindir, work):
    """Merges the working corpus against the seeds; returns the new
    files (paths in a temp dir) and libFuzzer's count of the new edges
    they reach."""
    tw = os.path.join(work, t)
    base = os.path.join(tw, "merged")
    os.makedirs(base, exist_ok=True)
    seeds = set()
    for kind in ("corpus", "regression"):
        src = os.path.join(FUZZ_SRC, kind, t)
        for n in files_in(src):
            shutil.copy(os.path.join(src, n), os.path.join(base, n))
            seeds.add(n)
    # -use_counters=0: an input is kept for an edge nobody reached, not
    # for reaching a known one more often, so the corpus grows slowly.
    argv = [os.path.join(bindir, "fuzz_" + t), "-merge=1", "-use_counters=0",
            "-timeout=%d" % args.timeout,
            "-rss_limit_mb=%d" % args.rss_limit_mb,
            "-merge_control_file=%s" % os.path.join(tw, "merge.ctl"),
            "-artifact_prefix=%s/" % os.path.join(tw, "artifacts"),
            base, os.path.join(tw, "corpus")]
    with open(os.path.join(tw, "logs", "merge.log"), "wb") as lf:
        subprocess.run(argv, stdout=lf, stderr=subprocess.STDOUT,
                       env=fuzz_env(work))
    edges = 0
    with open(os.path.join(tw, "logs", "merge.log"), "rb") as lf:
        for raw in lf:
            m = re.search(r"MERGE-OUTER: (\d+) new files with (\d+) new "
                          r"features added; (\d+) new coverage edges",
                          raw.decode("utf-8", "replace"))
            if m:
                edges = int(m.group(3))
    seed_sums = {sha1_of(os.path.join(base, n)) for n in seeds}
    new = []
    for n in files_in(base):
        if n in seeds:
            continue
        p = os.path.join(base, n)
        if sha1_of(p) not in seed_sums:
            new.append(p)
    return new, edges


def fuzz_report(args, targets, procs, bindir, work):
    rows = []
    failed = False
    for t in targets:
        mine = [p for p in procs if p.target == t and p.start is not None]
        seeds = (len(files_in(os.path.join(FUZZ_SRC, "corpus", t)))
                 + len(files_in(os.path.join(FUZZ_SRC, "regression", t))))
        row = {"target": t, "execs": 0, "wall": 0.0, "proc_secs": 0.0,
               "cov0": None, "cov": None, "ft0": None, "ft": None,
               "seeds": seeds, "new": 0, "edges": 0,
               "failures": [], "ran": bool(mine)}
        for pr in mine:
            st = parse_log(pr.logpath)
            row["execs"] += st["execs"]
            dur = (pr.end or time.monotonic()) - pr.start
            row["wall"] = max(row["wall"], dur)
            row["proc_secs"] += dur
            for k in ("cov0", "ft0", "cov", "ft"):
                if st[k] is not None:
                    row[k] = max(row[k] or 0, st[k])
            for a in st["artifacts"]:
                if os.path.basename(a).startswith(FAILURES):
                    row["failures"].append(a)
            if st["report"]:
                sys.stderr.write("".join(st["report"]))
        if mine:
            new, row["edges"] = merge(args, t, bindir, work)
            row["new"] = len(new)
            if args.keep:
                dest = os.path.join(FUZZ_SRC, "corpus", t)
                os.makedirs(dest, exist_ok=True)
                for p in new:
                    shutil.copy(p, os.path.join(dest, "run-" + sha1_of(p)))
        # inputs the merge itself stopped on count as well
        for n in files_in(os.path.join(work, t, "artifacts")):
            p = os.path.join(work, t, "artifacts", n)
            if n.startswith(FAILURES) and p not in row["failures"]:
                row["failures"].append(p)
        if row["failures"]:
            failed = True
            dest = os.path.join(FUZZ_SRC, "regression", t)
            os.makedirs(dest, exist_ok=True)
            for a in row["failures"]:
                if os.path.isfile(a):
                    shutil.copy(a, os.path.join(dest, os.path.basename(a)))
                    log("%s: kept %s in tests/fuzz/regression/%s/"
                        % (t, os.path.basename(a), t))
        rows.append(row)
    return rows, failed


def fmt_int(n):
    return "{:,}".format(n)


def arrow(a, b):
    if a is None or b is None:
        return ""
    return "%d → %d" % (a, b)


def print_fuzz_table(rows, keep):
    print("| target | executions | exec/s | corpus (seeds → merged) "
          "| new edges | libFuzzer cov (ft) | crashes |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        rate = r["execs"] / r["proc_secs"] if r["proc_secs"] else 0
        corpus = "%d → %d%s" % (r["seeds"], r["seeds"] + r["new"],
                                "" if keep or not r["new"] else " (not kept)")
        cov = ""
        if r["cov0"] is not None:
            cov = "%s (%s)" % (arrow(r["cov0"], r["cov"]),
                               arrow(r["ft0"], r["ft"]))
        crashes = str(len(r["failures"]))
        if r["failures"]:
            crashes += ": " + ", ".join(os.path.basename(a).split("-")[0]
                                        for a in r["failures"])
        if not r["ran"]:
            corpus, crashes = "not run", ""
        print("| %s | %s | %s | %s | %d | %s | %s |"
              % (r["target"], fmt_int(r["execs"]), fmt_int(round(rate)),
                 corpus, r["edges"], cov, crashes))


# --- the ledger ----------------------------------------------------------

LEDGER_HEAD = """# Fuzzing ledger

Every run of `tests/stress/fuzz.py --ledger`, one row a target, and the
totals it recomputes from them: the evidence of how deep each target has
been fuzzed (issue 17 asks for 10^7 executions a target, 10^8 for fcgi,
http, conf and fcgi_response). Builds are libFuzzer with ASan+UBSan
(`build/fuzz`); executions are libFuzzer's own count
(`stat::number_of_executed_units`), wall time is the longest of the
target's processes, and "kept" is the inputs merged into
`tests/fuzz/corpus/<target>/` because they added coverage.

From build ac1ab96 on, the sanitizer build gives each request-arena
piece a malloc of exactly its size, so ASan sees a write past one; before
it, such a write landed unseen in the spare bytes of the piece's 16 KiB
chunk. Only http uses the request arena: its runs on earlier builds had
that weaker check.
"""


def read_ledger_rows():
    rows = []
    if not os.path.isfile(LEDGER):
        return rows
    in_runs = False
    with open(LEDGER) as f:
        for line in f:
            if line.startswith("## Runs"):
                in_runs = True
                continue
            if line.startswith("## "):
                in_runs = False
            if in_runs and line.startswith("| 20"):
                rows.append(line.rstrip("\n"))
    return rows


def build_commit():
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=TOP,
                          stdout=subprocess.PIPE, text=True).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no", "--",
         "fpmd", "conf", "pools", "migrate", "handlers", "tests/fuzz/*.c",
         "tests/worker_harness.c"], cwd=TOP, stdout=subprocess.PIPE,
        text=True).stdout.strip()
    return head + ("+" if dirty else "")


def write_ledger(rows, args, machine, commit):
    old = read_ledger_rows()
    date = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    for r in rows:
        if not r["ran"]:
            continue
        rate = r["execs"] / r["proc_secs"] if r["proc_secs"] else 0
        old.append("| %s | %s | %s | %d | %s | %d | %d | %d | %s | %s |" % (
            date, r["target"], fmt_int(r["execs"]), round(r["wall"]),
            fmt_int(round(rate)), len(r["failures"]), r["seeds"],
            r["new"] if args.keep else 0, commit, machine))
    totals = {}
    for line in old:
        cells = [c.strip() for c in line.strip("|").split("|")]
        t = cells[1]
        tot = totals.setdefault(t, {"execs": 0, "wall": 0, "runs": 0,
                                    "crashes": 0, "kept": 0})
        tot["execs"] += int(cells[2].replace(",", ""))
        tot["wall"] += int(cells[3])
        tot["runs"] += 1
        tot["crashes"] += int(cells[5])
        tot["kept"] += int(cells[7])
    out = [LEDGER_HEAD, "## Totals", "",
           "| target | executions | aim | reached | runs | wall hours "
           "| crashes | inputs kept |",
           "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for t in sorted(totals):
        tot = totals[t]
        aim = AIMS.get(t, AIM)
        out.append("| %s | %s | 10^%d | %s | %d | %.1f | %d | %d |" % (
            t, fmt_int(tot["execs"]), round(math.log10(aim)),
            "%.0f%%" % (100.0 * tot["execs"] / aim) if tot["execs"] < aim
            else "yes", tot["runs"], tot["wall"] / 3600.0, tot["crashes"],
            tot["kept"]))
    out += ["", "## Runs", "",
            "| date (UTC) | target | executions | wall s | exec/s "
            "| crashes | seeds | kept | build | machine |",
            "|---|---|---:|---:|---:|---:|---:|---:|---|---|"]
    out += old
    with open(LEDGER, "w") as f:
        f.write("\n".join(out) + "\n")
    log("ledger: %s" % os.path.relpath(LEDGER, TOP))


# --- coverage ------------------------------------------------------------

def coverage(args, targets, vars_):
    covdir = os.path.abspath(args.cov_build)
    build(covdir, ["CC=clang",
                   "CFLAGS=-O1 -g -fprofile-instr-generate -fcoverage-mapping",
                   "LDFLAGS=-fprofile-instr-generate"],
          ["tests/fuzz/replay_%s" % t for t in targets], args.jobs)
    out = []
    with tempfile.TemporaryDirectory(prefix="fpmd-cov-") as tmp:
        for t in targets:
            binary = os.path.join(covdir, "tests", "fuzz", "replay_" + t)
            dirs = [d for d in (os.path.join(FUZZ_SRC, "corpus", t),
                                os.path.join(FUZZ_SRC, "regression", t))
                    if os.path.isdir(d)]
            raw = os.path.join(tmp, t + ".profraw")
            prof = os.path.join(tmp, t + ".profdata")
            env = dict(os.environ, LLVM_PROFILE_FILE=raw)
            r = subprocess.run([binary] + dirs, env=env,
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                sys.stderr.write(r.stdout[-4000:])
                log("%s: replay failed" % t)
                sys.exit(2)
            files = sum(len(files_in(d)) for d in dirs)
            run_quiet(["llvm-profdata", "merge", "-sparse", "-o", prof, raw],
                      tmp, "llvm-profdata")
            r = subprocess.run(["llvm-cov", "export", "-summary-only",
                                "-instr-profile=" + prof, binary],
                               stdout=subprocess.PIPE, text=True, check=True)
            data = json.loads(r.stdout)["data"][0]["files"]
            want = target_sources(vars_, t)
            got = {}
            for fdata in data:
                name = fdata["filename"]
                if not os.path.isabs(name):
                    name = os.path.join(covdir, name)
                rel = os.path.relpath(os.path.normpath(name), TOP)
                if rel in want:
                    got[rel] = fdata["summary"]
            lines = [sum(s["lines"][k] for s in got.values())
                     for k in ("covered", "count")]
            regions = [sum(s["regions"][k] for s in got.values())
                       for k in ("covered", "count")]
            out.append({"target": t, "files": files, "sources": want,
                        "missing": [w for w in want if w not in got],
                        "lines": lines, "regions": regions,
                        "per_file": got})
    return out


def pct(pair):
    return "%.1f%%" % (100.0 * pair[0] / pair[1]) if pair[1] else "n/a"


def print_cov_table(rows, verbose):
    print("| target | corpus files | sources | lines | line cover "
          "| regions | region cover |")
    print("|---|---:|---|---:|---:|---:|---:|")
    for r in rows:
        srcs = ", ".join(os.path.basename(s) for s in r["sources"])
        if len(r["sources"]) > 4:
            srcs = "%d files" % len(r["sources"])
        print("| %s | %d | %s | %d/%d | %s | %d/%d | %s |" % (
            r["target"], r["files"], srcs, r["lines"][0], r["lines"][1],
            pct(r["lines"]), r["regions"][0], r["regions"][1],
            pct(r["regions"])))
    for r in rows:
        if r["missing"]:
            log("%s: not in the replay binary: %s"
                % (r["target"], " ".join(r["missing"])))
    if verbose:
        print()
        print("| target | file | line cover | region cover |")
        print("|---|---|---:|---:|")
        for r in rows:
            for name, s in sorted(r["per_file"].items()):
                print("| %s | %s | %s | %s |" % (
                    r["target"], name,
                    pct((s["lines"]["covered"], s["lines"]["count"])),
                    pct((s["regions"]["covered"], s["regions"]["count"]))))


# --- main ----------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(
        description="libFuzzer runs, corpus merges and per-target coverage")
    ap.add_argument("targets", nargs="*", help="default: every target")
    ap.add_argument("--seconds", type=int, default=0,
                    help="stop each target's fuzzers after N seconds")
    ap.add_argument("--runs", type=int, default=0,
                    help="stop each target after N executions in all")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2,
                    help="fuzzer processes at a time (default: nproc)")
    ap.add_argument("--keep", action="store_true",
                    help="write inputs that add coverage into the corpus")
    ap.add_argument("--ledger", action="store_true",
                    help="record the run in tests/fuzz/LEDGER.md")
    ap.add_argument("--coverage", action="store_true",
                    help="report line and region coverage per target")
    ap.add_argument("--per-file", action="store_true",
                    help="with --coverage: a row per source file as well")
    ap.add_argument("--timeout", type=int, default=25,
                    help="seconds one input may take (-timeout)")
    ap.add_argument("--rss-limit-mb", type=int, default=2560)
    ap.add_argument("--build", default=os.path.join(TOP, "build", "fuzz"))
    ap.add_argument("--cov-build", default=os.path.join(TOP, "build", "cov"))
    ap.add_argument("--machine", default=os.environ.get(
        "FUZZ_MACHINE", "%d cores" % (os.cpu_count() or 0)),
        help="how the ledger names the machine")
    ap.add_argument("--workdir", help="keep the working corpora and logs "
                    "here (default: a temp dir, removed)")
    args = ap.parse_args()

    vars_ = automake_vars()
    known = all_targets(vars_)
    targets = args.targets or known
    for t in targets:
        if t not in known:
            ap.error("no fuzz target %r (there are: %s)"
                     % (t, " ".join(known)))
    fuzzing = bool(args.seconds or args.runs)
    if not fuzzing and not args.coverage:
        ap.error("give --seconds or --runs to fuzz, or --coverage")
    if args.jobs < 1:
        ap.error("--jobs must be at least 1")

    failed = False
    if fuzzing:
        bdir = os.path.abspath(args.build)
        build(bdir, ["CC=clang", "--enable-fuzzing", "--enable-sanitizers"],
              ["tests/fuzz/fuzz_%s" % t for t in targets],
              args.jobs)
        # taken now: the tree may change while the fuzzers run (and only
        # for the ledger: CI's clean machine has no git)
        commit = build_commit() if args.ledger else None
        bindir = os.path.join(bdir, "tests", "fuzz")
        work = args.workdir or tempfile.mkdtemp(prefix="fpmd-fuzz-")
        os.makedirs(work, exist_ok=True)
        t0 = time.monotonic()
        try:
            procs = fuzz(args, targets, bindir, work)
            rows, failed = fuzz_report(args, targets, procs, bindir, work)
        finally:
            if not args.workdir:
                shutil.rmtree(work, ignore_errors=True)
        print("## fuzzing: %s, %d jobs, %.0f s wall" % (
            ("%d s" % args.seconds if args.seconds else "")
            + (", " if args.seconds and args.runs else "")
            + ("%s runs" % fmt_int(args.runs) if args.runs else ""),
            args.jobs, time.monotonic() - t0))
        print()
        print_fuzz_table(rows, args.keep)
        if args.ledger:
            write_ledger(rows, args, args.machine, commit)
    if args.coverage and not stop_requested:
        if fuzzing:
            print()
        print("## coverage of the corpus and kept crash inputs")
        print()
        print_cov_table(coverage(args, targets, vars_), args.per_file)
    if failed:
        log("crash, leak, timeout or out-of-memory inputs found: see "
            "tests/fuzz/regression/")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
