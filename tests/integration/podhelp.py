"""Shared code of the tests of graceinit's confirmed deregistration (test_endpoints.py,
test_deregister.py, test_sidecar.py): a pod's network namespace that exists *before* graceinit
starts, as a pod sandbox's does, so that the fake Kubernetes API server, webhook servers and
app servers can listen in it first and graceinit finds them from its very first request.

    pod = self.pod_net()                       # a new network namespace, lo up, held by an fd
    srv = self.start_cluster(pod)              # fake_kube_api bound inside it (netns=)
    run, rec, _ = self.start_pod_sigtime(pod, options, env=srv.env())

graceinit runs as PID 1 of a new PID namespace inside that network namespace
(`nsenter --net=/proc/self/fd/N -- unshare --pid --fork --mount-proc -- graceinit ...`);
PodRun is a khelp.NetRun (run.get, run.status, run.wait_log, the sanitizer check...), so the
test talks to it exactly as the other Kubernetes-side tests do. Python standard library only.
"""

import http.server
import os
import shutil
import socket
import socketserver
import subprocess
import sys
import tempfile
import threading
import time

import harness
import khelp
from harness import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "fixtures"))
import fake_kube_api as fk  # noqa: E402

NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"


def vm_kib(pid, field):
    """A memory figure of /proc/PID/status (VmHWM, VmRSS) in KiB, or None."""
    st = harness.proc_status(pid)
    if st is None or field not in st:
        return None
    return int(st[field].split()[0])


class PodNet(khelp.Net):
    """A new network namespace with lo up, held open by an fd of the test process (no process
    lives in it until graceinit starts). .path is a name of it that open(2) takes, for the
    fixture's netns= and for nsenter."""

    def __init__(self):
        holder = subprocess.Popen([harness.UNSHARE, "--net", "--", "sleep", "60"],
                                  stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            mine = os.stat("/proc/self/ns/net").st_ino

            def other_ns():
                try:
                    return os.stat("/proc/%d/ns/net" % holder.pid).st_ino != mine and \
                        harness.proc_stat(holder.pid)["comm"] == "sleep"
                except (FileNotFoundError, TypeError):
                    return False
            wait_until(other_ns, 10, "unshare --net to make a namespace")
            super().__init__(os.open("/proc/%d/ns/net" % holder.pid,
                                     os.O_RDONLY | os.O_CLOEXEC))
        finally:
            holder.kill()
            holder.wait()
        out = self.run([khelp.IP, "link", "set", "lo", "up"])
        if out.returncode != 0:
            raise RuntimeError("ip link set lo up: %s" % out.stderr)

    @property
    def path(self):
        return "/proc/%d/fd/%d" % (os.getpid(), self.nsfd)

    def listen(self, port=0, host="127.0.0.1", backlog=64, v6only=True):
        """A listening TCP socket of this namespace (port 0: any free one); an IPv6 host with
        v6only=False also takes IPv4 connections (as ::ffff:a.b.c.d, listed in tcp6)."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        s = self.socket(family)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1 if v6only else 0)
        s.bind((host, port))
        s.listen(backlog)
        return s


class PodRun(khelp.NetRun):
    """graceinit as PID 1 of a new PID namespace inside an existing PodNet."""

    def __init__(self, case, args, pod, env=None, sanitizer_check=True):
        # Not NetRun.__init__: its wrapper makes a namespace of its own.
        if sanitizer_check:
            case.addCleanup(self.check_sanitizer_report)
        fd = os.dup(pod.nsfd)  # inheritable, same number in the child (pass_fds)
        try:
            wrapper = [NSENTER, "--net=/proc/self/fd/%d" % fd, "--"]
            harness.Run.__init__(self, case, args, pid1=True, env=env, wrapper=wrapper,
                                 pass_fds=(fd,))
        finally:
            os.close(fd)
        self.net = pod

    def vm_hwm_kib(self):
        return vm_kib(self.init_pid(), "VmHWM")


# ---------------------------------------------------------------------------------------------
# Small servers in the pod's namespace


class Recorded:
    """One request a HookServer received."""

    def __init__(self, method, path, headers, body, t):
        self.method, self.path, self.headers, self.body, self.time = \
            method, path, headers, body, t

    def __repr__(self):
        return "<%s %s at %.3f>" % (self.method, self.path, self.time)


class HookServer:
    """An HTTP server in the pod's namespace standing for a registry (Consul, a load
    balancer's API): records every request (method, path, headers, monotonic arrival time)
    and answers with the next of `codes` (the last one repeats); a code None never answers
    (the connection is held open until stop())."""

    def __init__(self, pod, codes=(200,), delay=0.0):
        self.codes = list(codes)
        self.delay = delay
        self.requests = []
        self.lock = threading.Lock()
        self.release = threading.Event()
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                with owner.lock:
                    i = len(owner.requests)
                    owner.requests.append(Recorded(
                        self.command, self.path,
                        {k.lower(): v for k, v in self.headers.items()}, body,
                        time.monotonic()))
                    code = owner.codes[min(i, len(owner.codes) - 1)]
                if code is None:
                    owner.release.wait(60)
                    self.close_connection = True
                    return
                if owner.delay:
                    time.sleep(owner.delay)
                data = b"{}\n"
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_PUT = do_POST = do_DELETE = do_PATCH = handle_any

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def __init__(self, sock):
                http.server.HTTPServer.__init__(self, sock.getsockname()[:2], Handler,
                                                bind_and_activate=False)
                self.socket.close()
                self.socket = sock

        self.sock = pod.listen()
        self.port = self.sock.getsockname()[1]
        self.httpd = Server(self.sock)
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def url(self, path="/"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def got(self):
        with self.lock:
            return list(self.requests)

    def wait_count(self, n, timeout, what="requests"):
        return wait_until(lambda: self.got() if len(self.got()) >= n else None, timeout,
                          "%d %s to the hook server (got %s)" % (n, what, self.got()))

    def stop(self):
        self.release.set()
        self.httpd.shutdown()
        self.httpd.server_close()


class AppServer:
    """A TCP server in the pod's namespace standing for the app: accepts connections and keeps
    them open, reading and discarding, until the client closes (then it closes too)."""

    def __init__(self, pod, port=0, host="127.0.0.1", v6only=True):
        self.sock = pod.listen(port, host, v6only=v6only)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.stopping = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self):
        while not self.stopping:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    @staticmethod
    def _serve(c):
        try:
            while c.recv(4096):
                pass
        except OSError:
            pass
        finally:
            c.close()

    def stop(self):
        self.stopping = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


# ---------------------------------------------------------------------------------------------
# Test case base


class TestCase(khelp.TestCase):
    """Base of the deregistration tests: pods, fake clusters, small servers."""

    tls = None  # one CA and server certificate per test class (openssl takes a while)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.pki = tempfile.mkdtemp(prefix="graceinit-pki-")
        cls.tls = fk.make_tls(cls.pki)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.pki, ignore_errors=True)
        super().tearDownClass()

    def pod_net(self):
        pod = PodNet()
        self.addCleanup(pod.close)
        return pod

    def start_cluster(self, pod, load=fk.DEFAULT_FIXTURES, **kwargs):
        """A fake API server listening on 127.0.0.1 of the pod's namespace, with the class's
        TLS files, a fresh service-account dir and token, the fixture slices `load`. Its
        files live in the test's directory, so that srv.stop() (the API server going away)
        leaves the pod's service-account files in place."""
        kwargs.setdefault("tls", self.tls)
        srv = fk.start_fake_cluster(self.path("cluster"), netns=pod.path, load=load, **kwargs)
        self.addCleanup(srv.stop)
        return srv

    def start_pod(self, pod, options=(), command=(), env=None, http=":%d" % khelp.PORT,
                  sanitizer_check=True):
        """graceinit [--http HTTP] OPTIONS [-- COMMAND] in the pod (command None: none)."""
        args = (["--http", http] if http else []) + list(options)
        if command is not None:
            args += ["--"] + list(command)
        return PodRun(self, args, pod, env=env, sanitizer_check=sanitizer_check)

    def start_pod_sigtime(self, pod, options=(), child_args=(), env=None):
        """graceinit OPTIONS -- sigtime.py in the pod, once the child and the endpoints are
        ready: (run, time recorder)."""
        rec = khelp.TimeRecorder(self.path("signals"))
        run = self.start_pod(pod, options, [khelp.PYTHON, khelp.SIGTIME] + list(child_args) +
                             [rec.path], env=env)
        rec.ready(run)
        run.wait_http()
        return run, rec

    def hook_server(self, pod, codes=(200,), delay=0.0):
        h = HookServer(pod, codes, delay)
        self.addCleanup(h.stop)
        return h

    def app_server(self, pod, port=0, host="127.0.0.1", v6only=True):
        a = AppServer(pod, port, host, v6only)
        self.addCleanup(a.stop)
        return a

    def wait_watching(self, run, srv, timeout=10):
        """Waits until graceinit holds a watch and says so in /status (the view is current)."""
        srv.wait_for_watches(1, timeout)
        return wait_until(lambda: run.status()["endpoints"]["state"] == "watching" and
                          run.status()["endpoints"]["healthy"], timeout,
                          "/status to show a healthy watch (%s)" % run.status().get("endpoints"))

    def prestop_thread(self, run, timeout=30, path="/prestop"):
        """GET /prestop in a thread: a join function returning (Response, answered at)."""
        def call():
            resp = run.get(path, timeout=timeout)
            return resp, time.monotonic()
        return self.thread(call)


main = harness.main
