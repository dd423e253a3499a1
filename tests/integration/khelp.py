"""Shared code of the integration tests of graceinit's Kubernetes side: the HTTP endpoints, the
control socket and its client commands, the drain, the readiness sources and the metrics.

Each test runs graceinit as PID 1 of a new PID namespace *and* a new network namespace:

    unshare --net -- sh -c 'ip link set lo up && exec "$@"' sh \\
        unshare --pid --fork --mount-proc -- graceinit --http :9797 OPTIONS -- COMMAND

so every run has its own loopback, its own port 9797 and its own abstract control socket
@graceinit (abstract unix sockets belong to a network namespace): tests never collide, whatever
runs beside them. The test talks to graceinit from inside that namespace without a process per
request: a socket belongs to the network namespace its creating thread was in, so the test
thread enters the namespace with setns(2) just for socket(2), then returns (Net.socket). Client
commands (graceinit status|prestop, load generators) run in the namespace the same way, setns in
the child between fork and exec. Nothing of this leaves the namespace; the non-loopback address
10.200.0.1 of the token tests is added to the namespace's own lo.

Builds on harness.py (PID 1 runs, /proc, waits with deadlines, cleanup). Python standard
library only.
"""

import ctypes
import http.client
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import threading
import time

import harness
from harness import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable or "/usr/bin/python3"
SIGTIME = os.path.join(HERE, "sigtime.py")
NOTIFIER = os.path.join(HERE, "notifier.py")
IP = shutil.which("ip") or "/usr/sbin/ip"

PORT = 9797               # graceinit's --http port in every test namespace
NONLOOPBACK = "10.200.0.1"  # a local, non-127 address on the namespace's lo (token tests)
CONTROL = "@graceinit"    # the default control socket

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)


def setns_net(fd):
    """Moves the calling thread into the network namespace open at fd."""
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns(CLONE_NEWNET): " + os.strerror(err))


def in_netns(nsfd, fn):
    """fn() called with the calling thread in the network namespace nsfd, then back home."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns_net(nsfd)
        try:
            return fn()
        finally:
            setns_net(home)
    finally:
        os.close(home)


def unix_address(path):
    """"@name" (abstract, unix(7)) or a file path, as Python's socket module takes it."""
    return "\0" + path[1:] if path.startswith("@") else path


# ---------------------------------------------------------------------------------------------
# HTTP


class Response:
    """One HTTP answer: status, reason, headers (lower-case names), body (text), elapsed (s)."""

    def __init__(self, status, reason, headers, body, elapsed):
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
        self.elapsed = elapsed

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return "<HTTP %d %r after %.3f s>" % (self.status, self.body[:200], self.elapsed)


class _Connection(http.client.HTTPConnection):
    """http.client over a socket made by a factory (in another network namespace, or unix)."""

    def __init__(self, make_socket, timeout):
        super().__init__("graceinit", timeout=timeout)
        self._make_socket = make_socket

    def connect(self):
        self.sock = self._make_socket()


class Net:
    """A network namespace, held open by an fd (it outlives graceinit while the test runs)."""

    def __init__(self, nsfd):
        self.nsfd = nsfd

    def close(self):
        if self.nsfd is not None:
            os.close(self.nsfd)
            self.nsfd = None

    def socket(self, family=socket.AF_INET, kind=socket.SOCK_STREAM):
        """A socket of this namespace."""
        return in_netns(self.nsfd, lambda: socket.socket(family, kind))

    def connect(self, host="127.0.0.1", port=PORT, unix=None, source=None, timeout=5):
        """A connected stream socket: to host:port (from source when given) or to unix."""
        family = socket.AF_UNIX if unix else (socket.AF_INET6 if ":" in host else
                                              socket.AF_INET)
        s = self.socket(family)
        try:
            s.settimeout(timeout)
            if unix:
                s.connect(unix_address(unix))
            else:
                if source is not None:
                    s.bind((source, 0))
                s.connect((host, port))
        except BaseException:
            s.close()
            raise
        return s

    def request(self, method, path, body=None, headers=None, host="127.0.0.1", port=PORT,
                unix=None, source=None, timeout=5):
        """One HTTP/1.1 request on a new connection; a Response. body: bytes, str, or an
        iterable of bytes (sent chunked)."""
        started = time.monotonic()
        conn = _Connection(lambda: self.connect(host, port, unix, source, timeout), timeout)
        try:
            hdrs = dict(headers or {})
            chunked = body is not None and not isinstance(body, (bytes, str))
            conn.request(method, path, body=body, headers=hdrs, encode_chunked=chunked)
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.reason,
                            {k.lower(): v for k, v in resp.getheaders()},
                            data.decode("utf-8", "replace"), time.monotonic() - started)
        finally:
            conn.close()

    def get(self, path, **kwargs):
        return self.request("GET", path, **kwargs)

    def post(self, path, **kwargs):
        return self.request("POST", path, **kwargs)

    def try_get(self, path, **kwargs):
        """A Response, or None when the connection is refused or fails."""
        try:
            return self.get(path, **kwargs)
        except (OSError, http.client.HTTPException):
            return None

    def status(self, **kwargs):
        """/status as a dict."""
        resp = self.get("/status", **kwargs)
        if resp.status != 200:
            raise AssertionError("/status answered %r" % resp)
        return resp.json()

    def metrics(self, **kwargs):
        """/metrics parsed: {(name, ((label, value), ...)): float}."""
        resp = self.get("/metrics", **kwargs)
        if resp.status != 200:
            raise AssertionError("/metrics answered %r" % resp)
        return parse_metrics(resp.body)

    def run(self, argv, timeout=10, env=None):
        """argv run to completion in this namespace: a CompletedProcess (text output)."""
        nsfd = self.nsfd
        return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, env=harness.clean_env(env),
                              preexec_fn=lambda: setns_net(nsfd))

    def popen(self, argv, env=None, **kwargs):
        """argv started in this namespace (a Popen, in its own session)."""
        nsfd = self.nsfd
        return subprocess.Popen(argv, env=harness.clean_env(env),
                                preexec_fn=lambda: setns_net(nsfd), start_new_session=True,
                                **kwargs)


_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse_metrics(text):
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            raise AssertionError("not a Prometheus sample line: %r" % line)
        labels = tuple(sorted(_LABEL.findall(m.group(2) or "")))
        samples[(m.group(1), labels)] = float(m.group(3))
    return samples


def metric(samples, name, **labels):
    """The value of one sample of parse_metrics(), 0 when absent."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# ---------------------------------------------------------------------------------------------
# graceinit in its own PID and network namespaces


class NetRun(harness.Run):
    """harness.Run with a network namespace of its own (see the module's docstring): run.net
    talks to graceinit's endpoints; run.get(...) etc. are shortcuts for run.net.*."""

    def __init__(self, case, args, env=None, nonloopback=False):
        setup = "%s link set lo up" % IP
        if nonloopback:
            setup += " && %s addr add %s/32 dev lo" % (IP, NONLOOPBACK)
        wrapper = [harness.UNSHARE, "--net", "--", "sh", "-c", setup + ' && exec "$@"', "sh"]
        # Registered first, so it runs last: once graceinit is gone, whatever ended it.
        case.addCleanup(self.check_sanitizer_report)
        super().__init__(case, args, pid1=True, env=env, wrapper=wrapper)

        # Until the wrapper has exec'd the PID-namespace unshare, a child of it may be `ip`,
        # not graceinit: harness.Run.init_pid takes the first child it sees.
        def exec_chain_done():
            args = (harness.read_text("/proc/%d/cmdline" % self.popen.pid) or "").split("\0")
            if len(args) > 1 and os.path.basename(args[0]) == "unshare" and args[1] == "--pid":
                return True
            if self.popen.poll() is not None:
                raise AssertionError("the namespace set-up failed (%d): %s"
                                     % (self.popen.returncode, self.stderr()))
            return False
        wait_until(exec_chain_done, 10, "the network namespace to be set up", step=0.001)
        self.net = Net(os.open("/proc/%d/ns/net" % self.popen.pid, os.O_RDONLY | os.O_CLOEXEC))
        case.addCleanup(self.net.close)

    def check_sanitizer_report(self):
        """Fails the test when an ASan / UBSan build of graceinit reported an error."""
        try:
            text = self.stderr()
        except FileNotFoundError:
            return
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
            if marker in text:
                raise AssertionError("graceinit's sanitizer report:\n" + text)

    def sanitized(self):
        """True when graceinit is a sanitizer build (its memory figures mean nothing)."""
        maps = harness.read_text("/proc/%d/maps" % self.init_pid()) or ""
        return "libasan" in maps or "libubsan" in maps

    def get(self, path, **kwargs):
        return self.net.get(path, **kwargs)

    def post(self, path, **kwargs):
        return self.net.post(path, **kwargs)

    def request(self, method, path, **kwargs):
        return self.net.request(method, path, **kwargs)

    def status(self, **kwargs):
        return self.net.status(**kwargs)

    def metrics(self, **kwargs):
        return self.net.metrics(**kwargs)

    def wait_http(self, timeout=10, **kwargs):
        """Waits until /livez answers at all (any status)."""
        def answered():
            self.assert_running("before its endpoints answered")
            return self.net.try_get("/livez", **kwargs)
        return wait_until(answered, timeout, "graceinit's endpoints to answer")

    def wait_status(self, path, code, timeout, what=None, **kwargs):
        """Polls path until it answers code; the Response."""
        def look():
            resp = self.net.try_get(path, **kwargs)
            if resp is not None and resp.status == code:
                return resp
            self.assert_running("while waiting for %s %d" % (path, code))
            return None
        return wait_until(look, timeout, what or "%s to answer %d" % (path, code),
                          step=0.002)

    def log_count(self, text):
        """How many lines of graceinit's stderr contain text."""
        return sum(1 for line in self.stderr().splitlines() if text in line)

    def wait_log(self, text, timeout=5, count=1):
        wait_until(lambda: self.log_count(text) >= count, timeout,
                   "graceinit to log %r (stderr so far:\n%s)" % (text, self.stderr()))

    def ctl(self, args, timeout=10, env=None):
        """graceinit ARGS (a client command) run in the namespace: a CompletedProcess."""
        return self.net.run(harness.graceinit_argv(args), timeout=harness.scaled(timeout),
                            env=env)


# ---------------------------------------------------------------------------------------------
# Children


class TimeRecorder(harness.ReportFile):
    """The OUT file of sigtime.py: "ready pid=.. pgid=..", then "SIGNO T_NS" lines."""

    def ready(self, run, timeout=10):
        def look():
            lines = self.lines()
            if lines and lines[0].startswith("ready "):
                return harness.parse_fields(lines[0])
            run.assert_running("before the child was ready")
            return None
        return wait_until(look, timeout, "the child to be ready (%s)" % self.path)

    def signals(self):
        """[(signo, monotonic time in s), ...]"""
        result = []
        for line in self.lines()[1:]:
            signo, t_ns = line.split()
            result.append((int(signo), int(t_ns) / 1e9))
        return result

    def signos(self):
        return [s for s, _ in self.signals()]

    def wait_signal(self, signo, timeout, what=None):
        """The time at which the first signo was recorded."""
        def look():
            for s, t in self.signals():
                if s == signo:
                    return t
            return None
        return wait_until(look, timeout, "%s (recorded: %s)"
                          % (what or "%s to reach the child" % harness.signame(signo),
                             [harness.signame(s) for s in self.signos()]))


class Notifier(harness.ReportFile):
    """notifier.py: its command FIFO and its OUT file."""

    def __init__(self, path, fifo):
        super().__init__(path)
        self.fifo = fifo
        self.sent = 0
        self._fd = None

    def ready(self, run, timeout=10):
        def look():
            lines = self.lines()
            if lines and lines[0].startswith("ready "):
                return dict(kv.split("=", 1) for kv in lines[0].split()[1:])
            run.assert_running("before the notifier was ready")
            return None
        return wait_until(look, timeout, "the notifier to be ready")

    def command(self, line, timeout=5):
        """Sends one command and waits until the notifier has carried it out."""
        if self._fd is None:
            self._fd = os.open(self.fifo, os.O_WRONLY | os.O_CLOEXEC)
        os.write(self._fd, (line + "\n").encode())
        self.sent += 1
        ack = "ack %d" % self.sent
        self.wait_line(lambda l: l == ack, timeout, "the notifier to do %r" % line)

    def close(self):
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class TestCase(harness.TestCase):
    """Base of the Kubernetes-side tests."""

    def start_net(self, options=(), command=(), http=":%d" % PORT, env=None,
                  nonloopback=False):
        """graceinit [--http HTTP] OPTIONS -- COMMAND in its own PID and network namespaces."""
        args = (["--http", http] if http else []) + list(options) + ["--"] + list(command)
        return NetRun(self, args, env=env, nonloopback=nonloopback)

    def start_sigtime(self, options=(), child_args=(), **kwargs):
        """graceinit OPTIONS -- sigtime.py CHILD_ARGS, once the child and the endpoints are
        ready: (run, recorder, fields of the child's ready line)."""
        rec = TimeRecorder(self.path("signals"))
        run = self.start_net(options, [PYTHON, SIGTIME] + list(child_args) + [rec.path],
                             **kwargs)
        info = rec.ready(run)
        run.wait_http()
        return run, rec, info

    def start_notifier(self, options=(), **kwargs):
        """graceinit --notify OPTIONS -- notifier.py: (run, notifier, its ready fields)."""
        fifo = self.path("cmds")
        os.mkfifo(fifo)
        notifier = Notifier(self.path("notifier"), fifo)
        self.addCleanup(notifier.close)
        run = self.start_net(["--notify"] + list(options), [PYTHON, NOTIFIER, fifo,
                                                            notifier.path], **kwargs)
        info = notifier.ready(run)
        run.wait_http()
        return run, notifier, info

    def assert_elapsed(self, seconds, low, high, what):
        self.assertTrue(low <= seconds <= high, "%s took %.3f s, expected between %.2f and "
                        "%.2f s" % (what, seconds, low, high))

    def send_signal(self, run, signo):
        """Sends signo to graceinit; returns the monotonic time just before sending."""
        t = time.monotonic()
        run.kill(signo)
        return t

    def thread(self, fn, *args):
        """Runs fn(*args) in a thread; returns a function that joins it (with a deadline) and
        returns fn's result or raises its exception."""
        box = {}

        def body():
            try:
                box["result"] = fn(*args)
            except BaseException as e:  # handed to the joining test
                box["error"] = e
        t = threading.Thread(target=body, daemon=True)
        t.start()

        def join(timeout=15):
            t.join(timeout)
            if t.is_alive():
                raise AssertionError("%s still running after %.0f s" % (fn, timeout))
            if "error" in box:
                raise box["error"]
            return box["result"]
        return join


main = harness.main
