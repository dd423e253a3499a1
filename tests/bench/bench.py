#!/usr/bin/python3
"""graceinit's micro-benchmarks, side by side with tini, dumb-init and catatonit.

Every init runs as PID 1 of a fresh PID namespace, started by bench_run (run.c), which does
`unshare --pid --fork --mount-proc` itself and stamps the time right before exec'ing the init;
the supervised command is bench_child (child.c), which reports its own time stamps through a
FIFO. All inits are measured in ONE run, interleaved so that drift of the machine hits all
alike: start-up, SIGTERM and reaping run every init once per repetition, in an order rotated
by one at each repetition; SIGUSR1 runs all inits at once and sends the signals one init after
the other (bench_signal, signal.c).

Measured: start-up (exec of the init -> main() of its child), SIGTERM latency (kill() of the
init -> the child's handler) and SIGTERM -> init exited, a SIGUSR1 stream (one at a time,
latency p50/p99) and a SIGUSR1 burst (sent vs delivered: standard signals coalesce), reaping
10,000 orphans (exiting as they are forked, and all killed at once), idle wakeups and memory
while supervising a sleeping child (graceinit also with --http), and the binary sizes. The
figures are then checked against the targets of the issue (graceinit's signal p99 and reaping
no worse than the best of the three, zero idle wakeups, start-up within 1 ms of tini).

Output: a markdown report on stdout and in OUT/results.md, everything in OUT/results.json
(OUT: --out, default build-bench/ at the top of the repository, which git ignores). Timings
are reported, never asserted: the exit status is 0 unless something is broken (an init that
does not start, a signal never delivered, a zombie never reaped, graceinit's HTTP listener
missing), 1 then.

usage: run.sh [--quick] [--out DIR] [--graceinit PATH] [--graceinit-static PATH|none]
              [--inits NAME,...] [--reps N] [--no-install]
Needs root (namespaces), Linux, Python 3 standard library; installs what it lacks with apt-get
(gcc, libc6-dev, tini, dumb-init, catatonit, and what building graceinit needs).
"""

import argparse
import ctypes
import datetime
import json
import os
import platform
import select
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))

PR_SET_CHILD_SUBREAPER = 36
CLONE_NEWNET = 0x40000000

# The three the targets compare with; references are reported, not compared.
BASELINES = ("tini", "dumb-init", "catatonit")

# Debian packages: to run the benchmarks, and to build graceinit when no --graceinit is given.
RUN_PACKAGES = ["gcc", "libc6-dev", "tini", "dumb-init", "catatonit"]
BUILD_PACKAGES = ["cmake", "make", "pkg-config", "libcjson-dev", "libcurl4-openssl-dev",
                  "libmicrohttpd-dev"]

# What configures graceinit behind the benchmark's back.
SCRUBBED = ("GRACEINIT_", "KUBERNETES_", "LISTEN_", "NOTIFY_SOCKET", "WATCHDOG_")

HTTP_ADDR = "127.0.0.1:9797"

PARAMS = {
    # startup_runs: launches per init (start-up and SIGTERM); set_reps: launches of every init
    # at once, each with stream_k interleaved SIGUSR1s and a burst (the first set also measures
    # idle_s seconds of idle); reap_reps: launches per init and scenario, reap_n orphans each.
    "full": {"startup_runs": 300, "set_reps": 4, "stream_k": 2500, "burst": 1000,
             "quiet_ms": 150, "reap_reps": 10, "reap_n": 10000, "idle_s": 5.0},
    "quick": {"startup_runs": 8, "set_reps": 1, "stream_k": 200, "burst": 100,
              "quiet_ms": 100, "reap_reps": 1, "reap_n": 1000, "idle_s": 1.0},
}


class Broken(Exception):
    """Something that is not a timing: an init that does not start, a lost signal..."""


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Setup: packages, builds


def missing_packages(packages):
    missing = []
    for p in packages:
        r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", p], capture_output=True,
                           text=True)
        if "install ok installed" not in r.stdout:
            missing.append(p)
    return missing


def ensure_packages(packages, install):
    missing = missing_packages(packages)
    if not missing:
        return
    if not install or shutil.which("apt-get") is None:
        raise SystemExit("bench: missing Debian packages: %s (apt-get install them, or add "
                         "them to .ci/setup)" % " ".join(missing))
    log("installing %s" % " ".join(missing))
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends"] + missing,
                   check=True, env=env)


def build_graceinit(out):
    build = os.path.join(out, "graceinit-build")
    log("building graceinit (Release) in %s" % build)
    subprocess.run(["cmake", "-S", REPO, "-B", build, "-DGRACEINIT_TESTS=OFF",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build, "-j2"], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(build, "graceinit")


def build_tools(out):
    """The C programs, static and -O2: bench_run, bench_child, and tests/helpers/orphans.c."""
    bindir = os.path.join(out, "bin")
    os.makedirs(bindir, exist_ok=True)
    sources = {
        "bench_run": os.path.join(HERE, "run.c"),
        "bench_child": os.path.join(HERE, "child.c"),
        "bench_signal": os.path.join(HERE, "signal.c"),
        "helper_orphans": os.path.join(REPO, "tests", "helpers", "orphans.c"),
    }
    tools = {}
    for name, src in sources.items():
        exe = os.path.join(bindir, name)
        subprocess.run(["gcc", "-O2", "-static", "-std=gnu11", "-Wall", "-Wextra",
                        "-o", exe, src], check=True)
        tools[name] = exe
    return tools


# ---------------------------------------------------------------------------------------------
# The machine


def become_subreaper():
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def private_network():
    """Moves the benchmark into a network namespace of its own, so that graceinit's default
    control socket (the abstract @graceinit, per network namespace) never meets another
    graceinit of the machine (a test suite running at the same time)."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.unshare(CLONE_NEWNET) != 0:
        log("warning: unshare(CLONE_NEWNET): %s; staying in the machine's network namespace"
            % os.strerror(ctypes.get_errno()))
        return False
    return True


def children(pid):
    try:
        with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
            return [int(c) for c in f.read().split()]
    except FileNotFoundError:
        return []


def kill_strays():
    """Kills and reaps whatever was re-parented to the benchmark (it is a subreaper)."""
    for _ in range(3):
        kids = children(os.getpid())
        if not kids:
            return
        for pid in kids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for pid in kids:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass


class PidsCgroup:
    """A pids cgroup (v1, or v2 with the pids controller) for the reaping runs: its
    pids.current counts the namespace's processes, zombies included until reaped, in one
    cheap read. None available: bench_run polls the init's children list instead."""

    def __init__(self):
        self.path = None
        self.version = None
        name = "graceinit-bench-%d" % os.getpid()
        candidates = []
        if os.path.isdir("/sys/fs/cgroup/pids") and not os.path.exists(
                "/sys/fs/cgroup/cgroup.controllers"):
            candidates.append(("v1", "/sys/fs/cgroup/pids"))
        if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            # v2: the root's children first (its subtree_control may enable pids), then our
            # own cgroup (enabling pids there fails when it holds processes).
            candidates.append(("v2", "/sys/fs/cgroup"))
            own = "/"
            with open("/proc/self/cgroup") as f:
                for line in f:
                    if line.startswith("0::"):
                        own = line[3:].strip()
            if own.strip("/"):
                candidates.append(("v2", "/sys/fs/cgroup" + own.rstrip("/")))
        for version, parent in candidates:
            path = os.path.join(parent, name)
            try:
                os.mkdir(path)
            except OSError:
                continue
            if version == "v2" and not os.path.exists(os.path.join(path, "pids.current")):
                try:
                    with open(os.path.join(parent, "cgroup.subtree_control"), "w") as f:
                        f.write("+pids")
                except OSError:
                    pass
            if os.path.exists(os.path.join(path, "pids.current")):
                self.path, self.version = path, version
                return
            os.rmdir(path)

    def remove(self):
        if self.path is not None:
            rmdir_cgroup(self.path)


def rmdir_cgroup(path):
    """A cgroup can be removed once its last process is gone, which takes a moment."""
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except OSError:
            time.sleep(0.1)
    log("warning: could not remove %s" % path)


class CpuCgroup:
    """A cpu cgroup of the benchmark's own, joined by the benchmark and so by every init it
    starts, as a container runtime puts each container in one. Without it, on a kernel with
    sched_autogroup_enabled=1 and processes in the root cpu cgroup (a desktop or a bare VM, not
    a container), each setsid() session is scheduled as a group of its own: the child of
    graceinit and of dumb-init (setsid by default) then competes as a separate group with its
    init, tini's child does not, and signal latency and reaping are measured in a setting
    no container has (sched(7), "The autogroup feature"; it does not apply to a process in a
    non-root cpu cgroup)."""

    def __init__(self):
        self.path = self.back = None
        name = "graceinit-bench-cpu-%d" % os.getpid()
        if os.path.isdir("/sys/fs/cgroup/cpu") and not os.path.exists(
                "/sys/fs/cgroup/cgroup.controllers"):
            parent, self.back = "/sys/fs/cgroup/cpu", "/sys/fs/cgroup/cpu"
        elif os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
            parent, self.back = "/sys/fs/cgroup", None
            with open("/proc/self/cgroup") as f:
                for line in f:
                    if line.startswith("0::"):
                        self.back = "/sys/fs/cgroup" + line[3:].strip().rstrip("/")
            try:
                with open(os.path.join(parent, "cgroup.subtree_control"), "w") as f:
                    f.write("+cpu")
            except OSError:
                return
        else:
            return
        path = os.path.join(parent, name)
        try:
            os.mkdir(path)
            with open(os.path.join(path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError:
            try:
                os.rmdir(path)
            except OSError:
                pass
            return
        self.path = path

    def remove(self):
        if self.path is None:
            return
        try:
            with open(os.path.join(self.back, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except (OSError, TypeError):
            pass
        rmdir_cgroup(self.path)


def autogroup():
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled") as f:
            return f.read().strip() == "1"
    except OSError:
        return False


def clean_env():
    return {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}


def loadavg():
    with open("/proc/loadavg") as f:
        return [float(x) for x in f.read().split()[:3]]


def package_version(pkg):
    r = subprocess.run(["dpkg-query", "-W", "-f=${Version}", pkg], capture_output=True,
                       text=True)
    return r.stdout.strip() or None


def git_revision():
    r = subprocess.run(["git", "-C", REPO, "describe", "--always", "--dirty"],
                       capture_output=True, text=True)
    return r.stdout.strip() or None


# ---------------------------------------------------------------------------------------------
# Binaries


def elf_info(path):
    """{static, stripped} from the ELF headers (no `file` needed)."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        return {"static": None, "stripped": None}
    e_phoff, e_shoff = struct.unpack_from("<QQ", data, 0x20)
    e_phentsize, e_phnum, e_shentsize, e_shnum, e_shstrndx = struct.unpack_from(
        "<HHHHH", data, 0x36)
    interp = any(struct.unpack_from("<I", data, e_phoff + i * e_phentsize)[0] == 3
                 for i in range(e_phnum))
    symtab = any(struct.unpack_from("<I", data, e_shoff + i * e_shentsize + 4)[0] == 2
                 for i in range(e_shnum)) if e_shoff else False
    return {"static": not interp, "stripped": not symtab}


def shared_libraries(path):
    r = subprocess.run(["ldd", path], capture_output=True, text=True)
    libs = []
    for line in r.stdout.splitlines():
        line = line.strip()
        if "=>" in line:
            target = line.split("=>")[1].split("(")[0].strip()
            if target:
                libs.append(target)
    return libs


def binary_report(path):
    info = elf_info(path)
    report = {"path": path, "bytes": os.path.getsize(path), **info}
    if not info["stripped"] and shutil.which("strip"):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "stripped")
            if subprocess.run(["strip", "-o", out, path], capture_output=True).returncode == 0:
                report["stripped_bytes"] = os.path.getsize(out)
    if not info["static"]:
        libs = shared_libraries(path)
        report["shared_libraries"] = len(libs)
        report["shared_bytes"] = sum(os.path.getsize(lib) for lib in libs
                                     if os.path.exists(lib))
    return report


class Init:
    """An init to measure: argv up to its command; flags for bench_run (-n: a network
    namespace of its own); sets_only: measured idle and with signals only."""

    def __init__(self, name, argv, reference=False, flags=(), sets_only=False):
        self.name = name
        self.argv = argv
        self.binary = argv[0]
        self.reference = reference
        self.flags = list(flags)
        self.sets_only = sets_only


def select_inits(args):
    inits = [Init("graceinit", [args.graceinit, "--"]),
             Init("tini", ["/usr/bin/tini", "--"]),
             Init("dumb-init", ["/usr/bin/dumb-init"]),
             Init("catatonit", ["/usr/bin/catatonit", "--"])]
    static = args.graceinit_static
    if static is None:
        default = os.path.join(REPO, "build-static", "graceinit")
        static = default if os.access(default, os.X_OK) else None
    if static and static != "none":
        inits.append(Init("graceinit-static", [static, "--"], reference=True))
    if os.access("/usr/bin/tini-static", os.X_OK):
        inits.append(Init("tini-static", ["/usr/bin/tini-static", "--"], reference=True))
    if args.inits:
        wanted = args.inits.split(",")
        unknown = set(wanted) - {i.name for i in inits}
        if unknown:
            raise SystemExit("bench: unknown or unavailable init(s): %s" % ", ".join(unknown))
        inits = [i for i in inits if i.name in wanted]
    for init in inits:
        if not os.access(init.binary, os.X_OK):
            raise SystemExit("bench: %s: not an executable" % init.binary)
    if any(i.name == "graceinit" for i in inits):
        # The HTTP listener on, in a network namespace of its own with lo up.
        http = Init("graceinit --http", [args.graceinit, "--http", HTTP_ADDR, "--"],
                    reference=True, flags=["-n"], sets_only=True)
        inits.insert(1, http)
    return inits


# ---------------------------------------------------------------------------------------------
# Runs


class Bench:
    def __init__(self, args, tools, inits, params, cgroup):
        self.args = args
        self.tools = tools
        self.inits = inits
        self.p = params
        self.cgroup = cgroup
        self.tmp = tempfile.mkdtemp(prefix="graceinit-bench-")
        self.fifo = os.path.join(self.tmp, "fifo")
        self.faildir = os.path.join(args.out, "failures")
        self.failures = []
        self.dropped = {}  # phase -> {init name}

    def child(self, extra=()):
        return [self.tools["bench_child"], self.fifo] + list(extra)

    def run(self, init, mode, child_extra=(), flags=(), timeout=60):
        """One bench_run; its key=value lines as a dict ("lat" as a list)."""
        argv = ([self.tools["bench_run"], "-f", self.fifo] + list(flags) + mode + ["--"] +
                init.argv + self.child(child_extra))
        errpath = os.path.join(self.tmp, "stderr")
        with open(errpath, "wb") as err:
            try:
                r = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                   stderr=err, env=clean_env(), timeout=timeout,
                                   start_new_session=True)
                out, rc = r.stdout.decode(errors="replace"), r.returncode
            except subprocess.TimeoutExpired as e:
                out, rc = (e.stdout or b"").decode(errors="replace"), "timeout"
                kill_strays()
        result = {"lat": []}
        for line in out.splitlines():
            key, _, value = line.partition("=")
            if key == "lat":
                result["lat"].append(int(value))
            elif key:
                try:
                    result[key] = int(value)
                except ValueError:
                    result[key] = value
        if rc != 0 or "error" in result or result.get("status") != 0:
            os.makedirs(self.faildir, exist_ok=True)
            saved = os.path.join(self.faildir, "%s-%s-%d.log" % (init.name, mode[0],
                                                                  len(self.failures)))
            with open(saved, "w") as f, open(errpath, errors="replace") as e:
                f.write("$ %s\n%s\n--- stderr (init and bench_run) ---\n%s"
                        % (shlex.join(argv), out, e.read()))
            why = result.get("error") or ("exit status %s" % result.get("status", rc))
            raise Broken("%s: %s (log: %s)" % (init.name, why, saved))
        return result

    def interleaved(self, phase, reps, fn):
        """fn(init, rep) for every init, every repetition, in an order rotated by one each
        repetition. An init that fails 3 times is dropped from the phase."""
        t0 = time.monotonic()
        inits = [i for i in self.inits if not i.sets_only]
        results = {i.name: [] for i in inits}
        fails = {i.name: 0 for i in inits}
        dropped = self.dropped.setdefault(phase, set())
        n = len(inits)
        for rep in range(reps):
            order = inits[rep % n:] + inits[:rep % n]
            for init in order:
                if init.name in dropped:
                    continue
                try:
                    results[init.name].append(fn(init, rep))
                except Broken as e:
                    self.failures.append("%s: %s" % (phase, e))
                    log("FAILED %s: %s" % (phase, e))
                    fails[init.name] += 1
                    if fails[init.name] >= 3:
                        dropped.add(init.name)
        log("  %s: %.1f s" % (phase, time.monotonic() - t0))
        return results

    # -- phases --

    def phase_startup(self):
        log("start-up, SIGTERM: %d runs per init" % self.p["startup_runs"])
        return self.interleaved("startup", self.p["startup_runs"],
                                lambda init, rep: self.run(init, ["startup"], timeout=60))

    def phase_reap(self, scenario):
        p = self.p
        n = p["reap_n"]
        log("reaping (%s): %d x %d orphans per init" % (scenario, p["reap_reps"], n))
        report = os.path.join(self.tmp, "orphans")
        # -k 20 -j 2: as the integration test does; -H -w: the orphans hold until killed.
        maker = [self.tools["helper_orphans"], "-n", str(n), "-k", "20", "-j", "2"]
        if scenario == "burst":
            maker += ["-H", "-w"]
        flags = ["-c", self.cgroup.path] if self.cgroup.path else []

        def one(init, rep):
            if os.path.exists(report):
                os.unlink(report)
            return self.run(init, ["reap", scenario, str(n), report],
                            child_extra=["-O"] + maker + [report], flags=flags, timeout=400)
        return self.interleaved("reap-" + scenario, p["reap_reps"], one)

    def phase_sets(self):
        """Every init at once, each supervising a sleeping bench_child (`bench_run idle`):
        in the first set, context switches over the same window and memory; in every set, a
        SIGUSR1 stream interleaved signal by signal across the inits (bench_signal), then a
        burst to each; then SIGTERM, after which every init must exit 0."""
        p = self.p
        log("idle (%.0f s window), memory; SIGUSR1: %d sets x %d per init, interleaved, and "
            "a burst of %d" % (p["idle_s"], p["set_reps"], p["stream_k"], p["burst"]))
        t0 = time.monotonic()
        idle, stream = {}, {i.name: [] for i in self.inits}
        for rep in range(p["set_reps"]):
            runs = self.launch_set(rep)
            try:
                if rep == 0:
                    idle = self.measure_idle(runs)
                self.signal_set(runs, rep, stream)
            finally:
                self.stop_set(runs)
        log("  sets: %.1f s" % (time.monotonic() - t0))
        return idle, stream

    def launch_set(self, rep):
        runs = {}
        n = len(self.inits)
        for k, init in enumerate(self.inits[rep % n:] + self.inits[:rep % n]):
            fifo = os.path.join(self.tmp, "set-fifo-%d" % k)
            errpath = os.path.join(self.tmp, "set-stderr-%d" % k)
            argv = ([self.tools["bench_run"], "-f", fifo] + init.flags + ["idle", "--"] +
                    init.argv + [self.tools["bench_child"], fifo])
            with open(errpath, "wb") as err:
                # Unbuffered: readline() must not read ahead of what select() saw.
                proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, bufsize=0,
                                        stdout=subprocess.PIPE, stderr=err, env=clean_env(),
                                        start_new_session=True)
            runs[init.name] = {"proc": proc, "argv": argv, "err": errpath, "fifo": fifo}
        for name, run in list(runs.items()):
            fields = {}
            deadline = time.monotonic() + 15
            while "main" not in fields and "error" not in fields:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([run["proc"].stdout], [], [], left)[0]:
                    break
                line = run["proc"].stdout.readline().decode(errors="replace").strip()
                if not line:
                    break
                key, _, value = line.partition("=")
                fields[key] = value
            if "main" in fields:
                run["pid"] = int(fields["init"])
                continue
            with open(run["err"], errors="replace") as e:
                why = "%s did not start: %s %s" % (name, fields.get("error", ""),
                                                   e.read()[-2000:])
            self.failures.append("sets: " + why)
            log("FAILED sets: " + why)
            run["proc"].kill()
            run["proc"].communicate()
            del runs[name]
        return runs

    def measure_idle(self, runs):
        window = self.p["idle_s"]
        time.sleep(0.5)  # everyone is idle now
        before = {name: ctxt(run["pid"]) for name, run in runs.items()}
        time.sleep(window)
        after = {name: ctxt(run["pid"]) for name, run in runs.items()}
        results = {}
        for name, run in runs.items():
            vol = after[name][0] - before[name][0]
            invol = after[name][1] - before[name][1]
            results[name] = {"window_s": window, "voluntary": vol, "involuntary": invol,
                             "wakeups_per_s": (vol + invol) / window, **memory(run["pid"])}
            if name.startswith("graceinit"):
                results[name]["control_socket"] = control_socket(run["pid"])
        if "graceinit --http" in runs:
            ok = listening(runs["graceinit --http"]["pid"], HTTP_ADDR)
            results["graceinit --http"]["http_listening"] = ok
            if not ok:
                self.failures.append("sets: graceinit --http %s is not listening" % HTTP_ADDR)
        return results

    def signal_set(self, runs, rep, stream):
        p = self.p
        names = list(runs)
        argv = [self.tools["bench_signal"], str(p["stream_k"]), str(p["burst"]),
                str(p["quiet_ms"])]
        for name in names:
            argv += [str(runs[name]["pid"]), runs[name]["fifo"]]
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=600)
        if r.returncode != 0:
            self.failures.append("sets: bench_signal failed: %s" % r.stderr.decode()[-1000:])
            return
        per = {name: {"lat": [], "lost": 0, "burst_sent": 0, "burst_delivered": 0}
               for name in names}
        for line in r.stdout.decode().splitlines():
            key, _, value = line.partition("=")
            fields = value.split()
            d = per[names[int(fields[0])]]
            if key == "lat":
                d["lat"].append(int(fields[1]))
            elif key == "lost":
                d["lost"] = int(fields[1])
            elif key == "burst":
                d["burst_sent"], d["burst_delivered"] = int(fields[1]), int(fields[2])
        for name, d in per.items():
            if d["lost"]:
                self.failures.append("sets: %s: a SIGUSR1 was never delivered (set %d)"
                                     % (name, rep))
            stream[name].append(d)

    def stop_set(self, runs):
        for run in runs.values():
            try:
                os.kill(run["pid"], signal.SIGTERM)
            except ProcessLookupError:
                pass
        for name, run in runs.items():
            try:
                out = run["proc"].communicate(timeout=10)[0].decode(errors="replace")
            except subprocess.TimeoutExpired:
                run["proc"].kill()
                out = run["proc"].communicate()[0].decode(errors="replace")
            if "status=0" not in out.split():
                self.failures.append("sets: %s did not exit 0 after SIGTERM: %s"
                                     % (name, out.strip().replace("\n", " ")))
        kill_strays()


def ctxt(pid):
    status = proc_status(pid)
    return (int(status["voluntary_ctxt_switches"]), int(status["nonvoluntary_ctxt_switches"]))


def proc_status(pid):
    with open("/proc/%d/status" % pid) as f:
        return {k: v.strip() for k, _, v in (line.partition(":") for line in f)}


def memory(pid):
    """VmRSS, and PSS and USS (private clean + dirty) from smaps_rollup, in KiB."""
    rollup = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                rollup[parts[0][:-1]] = int(parts[1])
    rss = int(proc_status(pid)["VmRSS"].split()[0])
    return {"rss_kib": rss, "pss_kib": rollup.get("Pss"),
            "uss_kib": rollup.get("Private_Clean", 0) + rollup.get("Private_Dirty", 0)}


def listening(pid, addr):
    """True when addr (IPv4 HOST:PORT) is a listening TCP socket in pid's network
    namespace."""
    host, port = addr.rsplit(":", 1)
    want = "%08X:%04X" % (struct.unpack("<I", bytes(int(x) for x in host.split(".")))[0],
                          int(port))
    with open("/proc/%d/net/tcp" % pid) as f:
        return any(line.split()[1] == want and line.split()[3] == "0A"
                   for line in list(f)[1:])


def control_socket(pid):
    with open("/proc/%d/net/unix" % pid) as f:
        return any(line.split()[-1] == "@graceinit" for line in list(f)[1:]
                   if len(line.split()) >= 8)


# ---------------------------------------------------------------------------------------------
# Statistics and the report


def pct(values, q):
    """The q-quantile (0..1) with linear interpolation."""
    xs = sorted(values)
    if not xs:
        return None
    k = (len(xs) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (k - lo)


def summary(values):
    if not values:
        return None
    return {"n": len(values), "p10": pct(values, 0.10), "p25": pct(values, 0.25),
            "p50": pct(values, 0.50), "p75": pct(values, 0.75), "p90": pct(values, 0.90),
            "p99": pct(values, 0.99), "min": min(values), "max": max(values)}


def collect(bench, startup, stream, reap_stream, reap_burst, idle, sizes):
    results = {}
    for init in bench.inits:
        n = init.name
        r = {"reference": init.reference, "argv": init.argv}
        s = startup.get(n, [])
        if s:
            r["startup_ns"] = summary([x["startup_ns"] for x in s])
            r["sigterm_ns"] = summary([x["term_ns"] for x in s])
            r["sigterm_exit_ns"] = summary([x["exit_ns"] for x in s])
            r["startup_samples_ns"] = [x["startup_ns"] for x in s]
            r["sigterm_samples_ns"] = [x["term_ns"] for x in s]
        st = [x for x in stream.get(n, []) if x["lat"]]
        if st:
            lat = [v for x in st for v in x["lat"]]
            r["sigusr1_ns"] = summary(lat)
            r["sigusr1_ns"]["p999"] = pct(lat, 0.999)
            r["sigusr1_p50_per_set_ns"] = [pct(x["lat"], 0.50) for x in st]
            r["sigusr1_p99_per_set_ns"] = [pct(x["lat"], 0.99) for x in st]
            r["burst"] = [{"sent": x["burst_sent"], "delivered": x["burst_delivered"]}
                          for x in st]
        rs = reap_stream.get(n, [])
        if rs:
            r["reap_stream"] = {k: summary([x[k] for x in rs]) for k in
                                ("reap_total_ns", "reap_fork_ns", "reap_tail_ns", "reap_peak",
                                 "reap_cpu_ns", "reap_wakeups")}
        rb = reap_burst.get(n, [])
        if rb:
            r["reap_burst"] = {k: summary([x[k] for x in rb]) for k in
                               ("reap_burst_ns", "reap_cpu_ns", "reap_wakeups")}
        r["idle"] = idle.get(n)
        r["binary"] = sizes.get(n)
        results[n] = r
    return results


def us(ns):
    return "-" if ns is None else ("%.1f" % (ns / 1e3) if ns < 1e6 else "%.0f" % (ns / 1e3))


def ms(ns):
    return "-" if ns is None else "%.2f" % (ns / 1e6) if ns < 1e8 else "%.0f" % (ns / 1e6)


def cell(s, fmt, key="p50", lo="p10", hi="p90"):
    if not s:
        return "-"
    return "%s (%s–%s)" % (fmt(s[key]), fmt(s[lo]), fmt(s[hi]))


def targets(results, params):
    """The issue's targets, graceinit against the best of tini, dumb-init and catatonit.
    "met" is strict; "noise" says whether the difference is within the spread of the best
    one's own measurements (p25-p75 for medians, min-max of the per-repetition p99 for the
    SIGUSR1 stream), where a rerun may well reverse it."""
    g = results.get("graceinit")
    base = {n: results[n] for n in BASELINES if n in results}
    out = []
    if g is None or not base:
        return out

    def best(getter):
        vals = [(getter(r), n) for n, r in base.items() if getter(r) is not None]
        return min(vals) if vals else (None, None)

    def compare(what, getter, unit_fmt, spread=None):
        gv = getter(g)
        bv, bn = best(getter)
        if gv is None or bv is None:
            out.append({"target": what, "graceinit": None, "best": None, "met": None})
            return
        met = gv <= bv
        v = {"target": what, "graceinit": gv, "best": bv, "best_init": bn, "met": met,
             "text_graceinit": unit_fmt(gv), "text_best": "%s (%s)" % (unit_fmt(bv), bn),
             "delta": "%+.0f%%" % (100.0 * (gv - bv) / bv) if bv else ""}
        if not met and spread is not None:
            hi = spread(base[bn])
            hi = max(hi) if isinstance(hi, list) else hi
            v["within_noise"] = hi is not None and gv <= hi
        out.append(v)

    def get(*keys):
        def f(r):
            v = r
            for k in keys:
                if v is None:
                    return None
                v = v.get(k) if isinstance(v, dict) else None
            return v
        return f

    n = "{:,}".format(params["reap_n"])
    compare("SIGUSR1 latency p99 <= best of the three", get("sigusr1_ns", "p99"),
            lambda v: us(v) + " µs", get("sigusr1_p99_per_set_ns"))
    compare("SIGTERM latency p99 <= best of the three", get("sigterm_ns", "p99"),
            lambda v: us(v) + " µs")
    compare("reaping %s killed at once, median <= best" % n, get("reap_burst",
            "reap_burst_ns", "p50"), lambda v: ms(v) + " ms",
            get("reap_burst", "reap_burst_ns", "p75"))
    compare("reaping %s as they are forked, median <= best" % n, get("reap_stream",
            "reap_total_ns", "p50"), lambda v: ms(v) + " ms",
            get("reap_stream", "reap_total_ns", "p75"))
    for name in ("graceinit", "graceinit --http"):
        idle = (results.get(name) or {}).get("idle")
        if idle is not None:
            w = idle["voluntary"] + idle["involuntary"]
            out.append({"target": "zero idle wakeups (%s)" % name, "graceinit": w, "best": 0,
                        "met": w == 0, "text_graceinit": "%d in %.0f s" % (w, idle["window_s"]),
                        "text_best": "0", "delta": ""})
    gs = get("startup_ns", "p50")(g)
    ts = get("startup_ns", "p50")(results.get("tini") or {})
    if gs is not None and ts is not None:
        out.append({"target": "start-up median within 1 ms of tini", "graceinit": gs,
                    "best": ts, "best_init": "tini", "met": gs - ts <= 1e6,
                    "text_graceinit": ms(gs) + " ms", "text_best": ms(ts) + " ms (tini)",
                    "delta": "%+.2f ms" % ((gs - ts) / 1e6)})
    return out


def markdown(meta, results, verdicts, failures):
    names = list(results)
    p = meta["params"]
    lines = ["# graceinit benchmarks (%s run)" % meta["mode"], ""]
    lines.append("Rerun (as root, from the repository): `%s`" % meta["command"])
    lines.append("")
    lines.append(
        "%s, kernel %s, %d CPUs, load average %s (1/5/15 min) at the start; graceinit %s "
        "(%s), tini %s, dumb-init %s, catatonit %s; %.0f s. Each init is PID 1 of a fresh PID "
        "namespace, supervising bench_child, %s. Start-up, SIGTERM and reaping: one launch per "
        "sample, the inits round-robin, the order rotated each repetition. SIGUSR1: all inits "
        "running at once, signals interleaved one by one across them (%d sets × %d per "
        "init). Cells: median (p10–p90) unless marked; (ref.): reported, not compared."
        % (meta["date"], meta["kernel"], meta["cpus"],
           "/".join("%.2f" % x for x in meta["load_before"]), meta["graceinit_version"],
           meta["git"], meta["versions"].get("tini"), meta["versions"].get("dumb-init"),
           meta["versions"].get("catatonit"), meta["seconds"],
           "in a cpu cgroup of the benchmark's own, as in a container" if meta["cpu_cgroup"]
           else "in the root cpu cgroup (autogroup %s)" % ("on" if meta["autogroup"] else "off"),
           p["set_reps"], p["stream_k"]))
    lines.append("")
    hdr = "| metric | " + " | ".join(n + (" (ref.)" if results[n]["reference"] else "")
                                     for n in names) + " |"
    lines += [hdr, "|" + "---|" * (len(names) + 1)]

    def row(label, fn):
        vals = []
        for n in names:
            try:
                vals.append(fn(results[n]))
            except (KeyError, TypeError, ValueError):
                vals.append("-")
        lines.append("| %s | %s |" % (label, " | ".join(vals)))

    def span(values, fmt):
        return "%s–%s" % (fmt(min(values)), fmt(max(values)))

    row("start-up: exec of the init → child's main(), ms (n=%d)" % p["startup_runs"],
        lambda r: cell(r["startup_ns"], ms))
    row("SIGTERM: kill(init) → child's handler, µs", lambda r: cell(r["sigterm_ns"], us))
    row("SIGTERM p99, µs", lambda r: us(r["sigterm_ns"]["p99"]))
    row("SIGTERM → init exited, ms", lambda r: cell(r["sigterm_exit_ns"], ms))
    row("SIGUSR1 one at a time: kill(init) → child's handler, µs",
        lambda r: cell(r["sigusr1_ns"], us))
    row("SIGUSR1 p99, µs (n=%d)" % (p["set_reps"] * p["stream_k"]),
        lambda r: us(r["sigusr1_ns"]["p99"]))
    row("SIGUSR1 p50 per set (min–max), µs", lambda r: span(r["sigusr1_p50_per_set_ns"], us))
    row("SIGUSR1 p99 per set (min–max), µs", lambda r: span(r["sigusr1_p99_per_set_ns"], us))
    row("SIGUSR1 burst: delivered of %d sent back to back (per set)" % p["burst"],
        lambda r: ", ".join(str(b["delivered"]) for b in r["burst"]))
    row("reaping %s killed at once: kill → no zombie, ms (n=%d)"
        % ("{:,}".format(p["reap_n"]), p["reap_reps"]),
        lambda r: cell(r["reap_burst"]["reap_burst_ns"], ms))
    row("　init CPU time meanwhile, ms", lambda r: cell(r["reap_burst"]["reap_cpu_ns"], ms))
    row("　init context switches meanwhile",
        lambda r: cell(r["reap_burst"]["reap_wakeups"], lambda v: "%.0f" % v))
    row("reaping %s as they are forked: first fork → no zombie, ms"
        % "{:,}".format(p["reap_n"]), lambda r: cell(r["reap_stream"]["reap_total_ns"], ms))
    row("　last fork → no zombie, ms", lambda r: cell(r["reap_stream"]["reap_tail_ns"], ms))
    row("　peak processes in the namespace",
        lambda r: cell(r["reap_stream"]["reap_peak"], lambda v: "%.0f" % v))
    row("　init CPU time, ms", lambda r: cell(r["reap_stream"]["reap_cpu_ns"], ms))
    row("　init context switches",
        lambda r: cell(r["reap_stream"]["reap_wakeups"], lambda v: "%.0f" % v))
    row("idle: context switches per s (%.0f s, all at once)" % p["idle_s"],
        lambda r: "%.1f" % r["idle"]["wakeups_per_s"])
    row("memory: VmRSS, KiB", lambda r: str(r["idle"]["rss_kib"]))
    row("memory: PSS, KiB", lambda r: str(r["idle"]["pss_kib"]))
    row("memory: USS (private), KiB", lambda r: str(r["idle"]["uss_kib"]))
    row("binary: bytes (stripped)", lambda r: "%d%s" % (
        r["binary"]["bytes"], " (%d)" % r["binary"]["stripped_bytes"]
        if "stripped_bytes" in r["binary"] else ""))
    row("binary: linking", lambda r: "static" if r["binary"]["static"] else
        "dynamic: %d libs, %d KiB" % (r["binary"]["shared_libraries"],
                                      r["binary"]["shared_bytes"] // 1024))
    h = (results.get("graceinit --http") or {}).get("idle")
    if h:
        lines.append("")
        lines.append("graceinit --http %s: in a network namespace of its own with lo up; "
                     "listening: %s; the default control socket @graceinit too: %s."
                     % (HTTP_ADDR, "yes" if h.get("http_listening") else "**NO**",
                        "yes" if h.get("control_socket") else "no"))
    lines += ["", "## Targets", "", "| target | graceinit | best of tini, dumb-init, catatonit |"
              " difference | met |", "|---|---|---|---|---|"]
    for v in verdicts:
        lines.append("| %s | %s | %s | %s | %s |" % (
            v["target"], v.get("text_graceinit", "-"), v.get("text_best", "-"),
            v.get("delta", ""), "**no** (within the best's own spread)"
            if v.get("within_noise") else {True: "yes", False: "**no**", None: "-"}[v["met"]]))
    if meta["notes"]:
        lines += [""] + ["Note: " + n for n in meta["notes"]]
    if failures:
        lines += ["", "## Failures", ""] + ["- " + f for f in failures]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke run for CI: few repetitions, well under 60 s")
    ap.add_argument("--out", default=os.path.join(REPO, "build-bench"),
                    help="output directory (default: build-bench/ in the repository)")
    ap.add_argument("--graceinit", help="graceinit binary (default: build a Release one in OUT)")
    ap.add_argument("--graceinit-static", help="static graceinit to add as a reference "
                    "(default: build-static/graceinit when it exists; 'none' to skip)")
    ap.add_argument("--inits", help="comma-separated subset: graceinit,tini,dumb-init,"
                    "catatonit,graceinit-static,tini-static")
    ap.add_argument("--reps", type=int, help="start-up runs per init (default 300, quick 8)")
    ap.add_argument("--no-install", action="store_true",
                    help="never apt-get: fail, naming the missing packages")
    args = ap.parse_args()

    if os.geteuid() != 0:
        raise SystemExit("bench: needs root (PID namespaces)")
    t_start = time.monotonic()
    args.out = os.path.abspath(args.out)
    os.makedirs(args.out, exist_ok=True)
    shutil.rmtree(os.path.join(args.out, "failures"), ignore_errors=True)
    ensure_packages(RUN_PACKAGES + ([] if args.graceinit else BUILD_PACKAGES),
                    not args.no_install)
    if args.graceinit is None:
        args.graceinit = build_graceinit(args.out)
    args.graceinit = os.path.abspath(args.graceinit)
    tools = build_tools(args.out)
    inits = select_inits(args)
    mode = "quick" if args.quick else "full"
    params = dict(PARAMS[mode])
    if args.reps:
        params["startup_runs"] = args.reps

    command = os.environ.get("BENCH_COMMAND") or shlex.join(
        [os.path.relpath(os.path.join(HERE, "run.sh"), os.getcwd())] + sys.argv[1:])
    notes = []
    become_subreaper()
    if not private_network():
        notes.append("the benchmark could not get a network namespace of its own: graceinit's "
                     "@graceinit control socket may have met another graceinit's")
    cpu_cgroup = CpuCgroup()
    if cpu_cgroup.path is None and autogroup():
        notes.append("no cpu cgroup could be made and the kernel's autogroup is on: children "
                     "that call setsid() (graceinit's and dumb-init's, by default) were "
                     "scheduled as groups of their own, which no container sees; latency and "
                     "reaping figures favour tini and catatonit")
    cgroup = PidsCgroup()
    if cgroup.path is None:
        notes.append("no pids cgroup: reaping was timed by reading the init's children list "
                     "every 20 ms (coarse)")
    version = subprocess.run([args.graceinit, "--version"], capture_output=True,
                             text=True).stdout.strip()
    meta = {
        "mode": mode, "command": command, "params": params, "notes": notes,
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "kernel": platform.release(), "cpus": os.cpu_count(), "load_before": loadavg(),
        "graceinit_version": version, "git": git_revision(),
        "versions": {p: package_version(p) for p in BASELINES},
        "cgroup": cgroup.version, "cpu_cgroup": cpu_cgroup.path is not None,
        "autogroup": autogroup(), "inits": {i.name: i.argv for i in inits},
    }
    log("%s run; inits: %s" % (mode, ", ".join(i.name for i in inits)))
    bench = Bench(args, tools, inits, params, cgroup)
    sizes = {i.name: binary_report(i.binary) for i in inits if not i.sets_only}
    startup = stream = reap_stream = reap_burst = idle = {}
    try:
        startup = bench.phase_startup()
        idle, stream = bench.phase_sets()
        reap_stream = bench.phase_reap("stream")
        # Last: killing 10,000 processes at once leaves the machine busy for a while.
        reap_burst = bench.phase_reap("burst")
    finally:
        kill_strays()
        cgroup.remove()
        cpu_cgroup.remove()
        shutil.rmtree(bench.tmp, ignore_errors=True)
    meta["seconds"] = round(time.monotonic() - t_start, 1)
    for phase, names in bench.dropped.items():
        if names:
            bench.failures.append("%s: dropped after 3 failures: %s"
                                  % (phase, ", ".join(sorted(names))))
    results = collect(bench, startup, stream, reap_stream, reap_burst, idle, sizes)
    verdicts = targets(results, params)
    md = markdown(meta, results, verdicts, bench.failures)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(md)
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump({"meta": meta, "results": results, "targets": verdicts,
                   "failures": bench.failures}, f, indent=1)
    sys.stdout.write(md)
    log("%.0f s; results in %s/results.{md,json}" % (meta["seconds"], args.out))
    return 1 if bench.failures else 0


if __name__ == "__main__":
    sys.exit(main())
