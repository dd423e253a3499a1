"""Shared code of graceinit's integration tests.

One place for each piece of logic the tests share: running graceinit as a real PID 1 in a new PID
namespace (`unshare --pid --fork --mount-proc`, as root) or as a plain child of the test, finding
its pid as seen from outside the namespace, reading /proc, waiting for a condition with a
deadline (never sleep-and-hope), and killing every process a test started when it ends.

Environment: GRACEINIT_BIN, the binary under test; HELPERS_DIR, the directory of the C helpers
(tests/helpers/). GRACEINIT_WRAPPER (optional): a command put in front of every graceinit
command line (graceinit_argv), e.g. `.ci/valgrind --wrap LOGDIR`, which execs valgrind; inside
the PID namespace, so that the wrapper's process is PID 1 (valgrind runs its guest in its own
process). Tests that cannot work under it say so with skip_if_wrapped.
GRACEINIT_TIME_SCALE (optional, default 1): every deadline of a wait is multiplied by it, for a
wrapper that makes graceinit slower. Python standard library only.
"""

import ctypes
import os
import re
import select
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

GRACEINIT = os.environ.get("GRACEINIT_BIN", "")
HELPERS_DIR = os.environ.get("HELPERS_DIR", "")
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
WRAPPER = shlex.split(os.environ.get("GRACEINIT_WRAPPER", ""))
TIME_SCALE = float(os.environ.get("GRACEINIT_TIME_SCALE") or 1)

# Polling step: short, so that tests are fast; every wait has a deadline.
STEP = 0.005

# Variables that would change graceinit's behaviour behind a test's back.
_SCRUBBED_PREFIXES = ("GRACEINIT_", "KUBERNETES_", "LISTEN_", "NOTIFY_SOCKET", "WATCHDOG_")

PR_SET_CHILD_SUBREAPER = 36


# ---------------------------------------------------------------------------------------------
# Waiting


def scaled(timeout):
    """A deadline in seconds, times GRACEINIT_TIME_SCALE."""
    return timeout * TIME_SCALE


def wait_until(predicate, timeout, what, step=STEP):
    """Polls predicate() every step seconds until it returns a true value, which is returned.
    Fails the test with `what` when timeout seconds (scaled) pass first."""
    timeout = scaled(timeout)
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(step)


# ---------------------------------------------------------------------------------------------
# /proc


def read_text(path):
    """The content of a /proc file, or None when the process is gone."""
    try:
        with open(path, "r", encoding="utf-8", errors="replace") as f:
            return f.read()
    except (FileNotFoundError, ProcessLookupError):
        return None


def proc_stat(pid):
    """{state, ppid, pgrp, session, comm} from /proc/PID/stat, or None when pid is gone."""
    text = read_text("/proc/%d/stat" % pid)
    if text is None:
        return None
    comm = text[text.index("(") + 1:text.rindex(")")]
    fields = text[text.rindex(")") + 2:].split()
    return {
        "pid": pid,
        "comm": comm,
        "state": fields[0],
        "ppid": int(fields[1]),
        "pgrp": int(fields[2]),
        "session": int(fields[3]),
    }


def proc_status(pid):
    """/proc/PID/status as a dict of strings, or None when pid is gone."""
    text = read_text("/proc/%d/status" % pid)
    if text is None:
        return None
    status = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        status[key] = value.strip()
    return status


def sigset_of(pid, field):
    """A signal set of /proc/PID/status (SigBlk, SigIgn, SigCgt, SigPnd, ShdPnd) as a set of
    signal numbers, or None when pid is gone."""
    status = proc_status(pid)
    if status is None:
        return None
    return mask_to_set(int(status[field], 16))


def takes_sigterm(pid, comm):
    """True when pid runs the program comm (it has exec'd) and blocks or catches SIGTERM: then
    a SIGTERM sent to it is not lost even when it is the init of a PID namespace. (Before the
    exec, unshare's child blocks SIGTERM for a moment too: a signal sent then is dropped when it
    unblocks it.) Under GRACEINIT_WRAPPER, the process is the wrapper's (valgrind's comm and
    masks, not graceinit's): it takes SIGTERM once graceinit has opened its signalfd, which it
    does after blocking its signals."""
    if WRAPPER:
        return has_signalfd(pid)
    status = proc_status(pid)
    if status is None or status["Name"] != comm[:15]:
        return False
    bit = 1 << (signal.SIGTERM - 1)
    return bool((int(status["SigBlk"], 16) | int(status["SigCgt"], 16)) & bit)


def has_signalfd(pid):
    """True when pid holds a signalfd."""
    try:
        fds = os.listdir("/proc/%d/fd" % pid)
    except (FileNotFoundError, ProcessLookupError):
        return False
    for fd in fds:
        try:
            if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == "anon_inode:[signalfd]":
                return True
        except OSError:
            pass
    return False


def mask_to_set(mask):
    return {n + 1 for n in range(64) if mask & (1 << n)}


def ctxt_switches(pid):
    """(voluntary, nonvoluntary) context switches of pid."""
    status = proc_status(pid)
    return int(status["voluntary_ctxt_switches"]), int(status["nonvoluntary_ctxt_switches"])


def children(pid):
    """The children of pid (zombies included), from /proc/PID/task/*/children."""
    result = []
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except FileNotFoundError:
        return result
    for tid in tids:
        text = read_text("/proc/%d/task/%s/children" % (pid, tid))
        if text:
            result.extend(int(c) for c in text.split())
    return result


def all_stats():
    """proc_stat() of every process of the machine, by pid."""
    stats = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            st = proc_stat(int(name))
            if st is not None:
                stats[st["pid"]] = st
    return stats


def descendants(root, stats=None):
    """proc_stat() of every descendant of root (root excluded), parents before children."""
    stats = all_stats() if stats is None else stats
    kids = {}
    for st in stats.values():
        kids.setdefault(st["ppid"], []).append(st)
    result, todo = [], [root]
    while todo:
        for st in kids.get(todo.pop(), []):
            result.append(st)
            todo.append(st["pid"])
    return result


def alive(pid):
    """True when pid exists and is not a zombie."""
    st = proc_stat(pid)
    return st is not None and st["state"] not in ("Z", "X")


def ns_pid(outside_pid):
    """The pid of a process in its innermost PID namespace (last field of NSpid)."""
    status = proc_status(outside_pid)
    return None if status is None else int(status["NSpid"].split()[-1])


# ---------------------------------------------------------------------------------------------
# The test process


def become_subreaper():
    """Makes the test process a child subreaper: whatever a test leaves behind comes back to
    it instead of the machine's init, where the test's cleanup finds, kills and reaps it."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER)")


def strays(known=()):
    """Children of the test process that it did not start itself (re-parented orphans)."""
    return [c for c in children(os.getpid()) if c not in known]


def kill_and_reap(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    for pid in pids:
        try:
            os.waitpid(pid, 0)
        except ChildProcessError:
            pass


def clean_env(extra=None):
    """The test's environment without anything that configures graceinit, plus extra."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES)}
    env.update(extra or {})
    return env


def helper(name):
    """Path of a C helper, e.g. helper("sigrec") -> $HELPERS_DIR/helper_sigrec."""
    return os.path.join(HELPERS_DIR, "helper_" + name)


def signame(signo):
    """SIGTERM, SIGRTMIN+2, ... for messages."""
    if signo == signal.SIGRTMAX:
        return "SIGRTMAX"
    if signal.SIGRTMIN <= signo < signal.SIGRTMAX:
        return "SIGRTMIN+%d" % (signo - signal.SIGRTMIN)
    try:
        return signal.Signals(signo).name
    except ValueError:
        return "signal %d" % signo


def skip_if_wrapped(reason):
    """Skips a test (or a class) when GRACEINIT_WRAPPER is set: what it checks is the
    wrapper's (valgrind's), not graceinit's. reason says why."""
    return unittest.skipIf(bool(WRAPPER), "under GRACEINIT_WRAPPER: " + reason)


def graceinit_argv(args=()):
    """The command line that runs graceinit with args: GRACEINIT_WRAPPER's words, if any, then
    GRACEINIT_BIN. Every test that runs graceinit builds its command line here."""
    return WRAPPER + [GRACEINIT] + list(args)


def exit_status(returncode):
    """A Popen returncode as a shell reports it: 128+N for death by signal N."""
    return 128 - returncode if returncode < 0 else returncode


# ---------------------------------------------------------------------------------------------
# One run of graceinit


class Run:
    """graceinit started by a test, as PID 1 of a new PID namespace (pid1=True: its parent is
    unshare, whose exit status is graceinit's) or as a plain child of the test (pid1=False).
    args is everything after the binary name; binary replaces graceinit for a baseline;
    wrapper is a command that execs its arguments, put in front of everything. stdout and
    stderr go to files, so that a process left behind holding them can never block a read. The
    whole process tree is killed when the test ends (registered as a cleanup of the test
    case)."""

    def __init__(self, case, args, pid1=True, env=None, pass_fds=(), preexec_fn=None,
                 binary=None, wrapper=()):
        self.case = case
        self.pid1 = pid1
        argv = [binary] + list(args) if binary else graceinit_argv(args)
        binary = binary or GRACEINIT
        if pid1:
            argv = [UNSHARE, "--pid", "--fork", "--mount-proc", "--"] + argv
        # A wrapper (e.g. sh -c '...; exec "$@"' sh) must exec what follows it.
        self.wrapper = list(wrapper)
        argv = self.wrapper + argv
        self.argv = argv
        self.comm = os.path.basename(binary)
        self.out_path = case.path("stdout")
        self.err_path = case.path("stderr")
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, env=clean_env(env),
                pass_fds=pass_fds, preexec_fn=preexec_fn, start_new_session=True)
        self.started = time.monotonic()
        self._init_pid = None if pid1 or wrapper else self.popen.pid
        self._pidfd = None
        try:
            self._pidfd = os.pidfd_open(self.popen.pid)
        except (AttributeError, OSError):
            pass
        case.addCleanup(self.cleanup)

    # -- finding processes --

    def init_pid(self, timeout=5):
        """graceinit's pid as seen from outside: the only child of unshare when pid1, else the
        pid of the Popen; with a wrapper, once it has exec'd what follows it (until then a
        child may be one of the wrapper's)."""
        if self._init_pid is None:
            execd_argv = self.argv[len(self.wrapper):]

            def find_init():
                if self.popen.poll() is not None:
                    raise AssertionError("%s exited (%s) before starting graceinit; stderr: %s"
                                         % (self.argv[0], self.popen.returncode, self.stderr()))
                if self.wrapper:
                    cmdline = read_text("/proc/%d/cmdline" % self.popen.pid) or ""
                    if cmdline.split("\0")[:-1] != execd_argv:
                        return None
                if not self.pid1:
                    return self.popen.pid
                kids = children(self.popen.pid)
                return kids[0] if kids else None
            self._init_pid = wait_until(find_init, timeout, "graceinit to start (%s)"
                                        % " ".join(execd_argv), step=0.0005)
        return self._init_pid

    def tree(self):
        """proc_stat() of every process below graceinit."""
        return descendants(self.init_pid())

    def find(self, predicate, timeout, what):
        """The first process below graceinit for which predicate(stat) is true."""
        def look():
            for st in self.tree():
                if predicate(st):
                    return st
            self.assert_running("while waiting for " + what)
            return None
        return wait_until(look, timeout, what)

    def outside_pid(self, inner_pid, timeout=5):
        """The outside pid of the process that is inner_pid in graceinit's namespace."""
        if not self.pid1:
            return inner_pid
        return self.find(lambda st: ns_pid(st["pid"]) == inner_pid, timeout,
                         "the process that is pid %d in the namespace" % inner_pid)["pid"]

    def wait_signals_blocked(self, timeout=5):
        """Waits until graceinit takes SIGTERM (blocked, its first act, or caught): from then
        on a signal sent to it is queued rather than dropped (the kernel drops signals with a
        default disposition sent to a namespace's init)."""
        pid = self.init_pid()
        wait_until(lambda: takes_sigterm(pid, self.comm), timeout,
                   "graceinit to block its signals")

    def kill(self, signo):
        """Sends signo to graceinit (its outside pid)."""
        os.kill(self.init_pid(), signo)

    # -- exit --

    def poll(self):
        rc = self.popen.poll()
        return None if rc is None else exit_status(rc)

    def assert_running(self, when=""):
        if self.popen.poll() is not None:
            raise AssertionError("graceinit exited with %d %s; stderr:\n%s"
                                 % (exit_status(self.popen.returncode), when, self.stderr()))

    def wait(self, timeout):
        """graceinit's exit status (as a shell reports it); fails the test after timeout s
        (scaled)."""
        timeout = scaled(timeout)
        if self._pidfd is not None:
            ready, _, _ = select.select([self._pidfd], [], [], max(timeout, 0))
            if not ready:
                self._fail_wait(timeout)
        try:
            return exit_status(self.popen.wait(timeout=max(timeout, 0.001)))
        except subprocess.TimeoutExpired:
            self._fail_wait(timeout)

    def _fail_wait(self, timeout):
        tree = ", ".join("%d %s %s" % (st["pid"], st["comm"], st["state"])
                         for st in descendants(self.popen.pid))
        raise AssertionError("graceinit still running after %.2f s (processes: %s); stderr:\n%s"
                             % (timeout, tree or "none", self.stderr()))

    def exited_within(self, timeout):
        """The exit status if graceinit exits within timeout s (scaled), else None (no
        failure)."""
        timeout = scaled(timeout)
        if self._pidfd is not None:
            ready, _, _ = select.select([self._pidfd], [], [], max(timeout, 0))
            return self.wait(1) if ready else None
        try:
            return exit_status(self.popen.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            return None

    def stdout(self):
        with open(self.out_path, "r", errors="replace") as f:
            return f.read()

    def stderr(self):
        with open(self.err_path, "r", errors="replace") as f:
            return f.read()

    # -- cleanup --

    def cleanup(self):
        """Kills every process of the run: graceinit's whole tree, unshare, its session."""
        if self.popen.poll() is None:
            for _ in range(3):
                procs = [self.popen.pid] + [st["pid"] for st in descendants(self.popen.pid)]
                if len(procs) == 1 and self.popen.poll() is not None:
                    break
                for pid in reversed(procs):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.popen.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None


# ---------------------------------------------------------------------------------------------
# Report files written by the helpers


class FifoReader:
    """The read end of sigtime.py's FIFO: complete lines, with a deadline."""

    def __init__(self, path):
        os.mkfifo(path)
        self.fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        self.buf = b""

    def line(self, timeout, what=None):
        """The next line; after timeout s, None, or with what an AssertionError naming it."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                if what is None:
                    return None
                raise AssertionError("timed out after %.1f s waiting for %s" % (timeout, what))
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                continue
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def close(self):
        os.close(self.fd)


def percentile(values, p):
    """The p-quantile (0..1) of values, nan for none."""
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


class ReportFile:
    """A file a helper appends lines to; only complete lines count."""

    def __init__(self, path):
        self.path = path

    def lines(self):
        try:
            with open(self.path, "r") as f:
                text = f.read()
        except FileNotFoundError:
            return []
        return text.split("\n")[:-1]

    def wait_line(self, predicate, timeout, what):
        """The first line for which predicate(line) is true, waiting up to timeout s."""
        def look():
            for line in self.lines():
                if predicate(line):
                    return line
            return None
        return wait_until(look, timeout, "%s in %s" % (what, os.path.basename(self.path)))


def parse_fields(line):
    """{"pid": 12, ...} from a line like "ready pid=12 pgid=12 sid=12"."""
    return {k: int(v) for k, v in re.findall(r"(\w+)=(-?\d+)", line)}


class Recorder(ReportFile):
    """The file of helper_sigrec: "ready pid=.. ppid=.. pgid=.. sid=..", then one signal number
    a line."""

    def ready(self, timeout=10, run=None):
        """The fields of the ready line, once the recorder (and its grandchild) are ready."""
        def look():
            lines = self.lines()
            if lines and lines[0].startswith("ready "):
                return parse_fields(lines[0])
            if run is not None:
                run.assert_running("before the recorder was ready")
            return None
        return wait_until(look, timeout, "the recorder to be ready (%s)" % self.path)

    def signals(self):
        return [int(line) for line in self.lines()[1:]]

    def wait_count(self, count, timeout, what):
        """The recorded signals once there are at least count of them."""
        def look():
            sigs = self.signals()
            return sigs if len(sigs) >= count else None
        return wait_until(look, timeout, "%s (recorded so far: %s)" % (what, self.signals()))


# ---------------------------------------------------------------------------------------------
# Test case base


class TestCase(unittest.TestCase):
    """Base of every integration test: a temporary directory, the test process as a subreaper,
    and cleanups that kill and reap whatever a test left behind."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if os.geteuid() != 0:
            raise unittest.SkipTest("the integration tests need root (PID namespaces)")
        if not (GRACEINIT and os.access(GRACEINIT, os.X_OK)):
            raise RuntimeError("GRACEINIT_BIN is not an executable: %r" % GRACEINIT)
        if not (HELPERS_DIR and os.access(helper("sigrec"), os.X_OK)):
            raise RuntimeError("HELPERS_DIR has no helpers: %r" % HELPERS_DIR)
        become_subreaper()

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="graceinit-it-")
        self._paths = set()
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.known_children = set(children(os.getpid()))
        self.addCleanup(lambda: kill_and_reap(strays(self.known_children)))

    def assert_no_strays(self, runs):
        """Asserts that no process was re-parented to the test process: whatever graceinit
        started must have been reaped by graceinit itself, not left to the test."""
        left = strays(self.known_children | {r.popen.pid for r in runs})
        self.assertEqual(left, [], "processes left to the test process: %s"
                         % [(p, proc_stat(p)) for p in left])

    def path(self, name):
        """A new path in the test's directory: name, or name.2, name.3... when it is taken
        (several runs in one test never share a file)."""
        path, n = os.path.join(self.tmp, name), 1
        while os.path.lexists(path) or path in self._paths:
            n += 1
            path = os.path.join(self.tmp, "%s.%d" % (name, n))
        self._paths.add(path)
        return path

    def start(self, options=(), command=(), pid1=True, **kwargs):
        """graceinit OPTIONS -- COMMAND, as PID 1 (default) or as a plain child."""
        return Run(self, list(options) + ["--"] + list(command), pid1=pid1, **kwargs)

    def start_args(self, args, pid1=True, **kwargs):
        """graceinit with exactly these arguments."""
        return Run(self, list(args), pid1=pid1, **kwargs)

    def recorder(self, name="rec"):
        return Recorder(self.path(name))

    def start_recorder(self, options=(), pid1=True, grandchild=False, quit=None, env=None):
        """graceinit OPTIONS -- helper_sigrec, once the recorder is ready: (run, recorder,
        grandchild recorder or None, fields of the recorder's ready line)."""
        rec = self.recorder("rec")
        command = [helper("sigrec")]
        gc = None
        if grandchild:
            gc = self.recorder("gc")
            command += ["-g", gc.path]
        if quit is not None:
            command += ["-q", str(int(quit))]
        command.append(rec.path)
        run = self.start(options, command, pid1=pid1, env=env)
        info = rec.ready(run=run)
        return run, rec, gc, info

    def send_expect(self, run, rec, signo, expected, timeout=5):
        """Sends signo to graceinit and waits until the recorder records one more signal,
        which must be expected."""
        count = len(rec.signals())
        run.kill(signo)
        sigs = rec.wait_count(count + 1, timeout, "%s sent to graceinit to arrive as %s"
                              % (signame(signo), signame(expected)))
        self.assertEqual(sigs[count], expected, "%s sent to graceinit arrived as %s, not %s"
                         % (signame(signo), signame(sigs[count]), signame(expected)))


def main():
    unittest.main(verbosity=2)
