#!/usr/bin/python3
"""The static release binary, build-static/graceinit (made by .ci/build-static, not by the
normal build: without it these tests skip, saying so), used the way users use it: copied alone
into an empty root. Checks that it is a static executable (file(1), ldd(1)); then runs it as
PID 1 of new PID and network namespaces, chrooted into a directory holding only graceinit, a
static helper program and /etc (no /dev, no /proc, no /tmp, no libc, no /etc/nsswitch.conf):
it serves /livez and /readyz, resolves a --ready-http host name from the chroot's /etc/hosts
(musl, no NSS) and keeps answering while a name that is nowhere waits for a name server that
never answers (curl's resolver thread, never the loop), checks an HTTPS endpoint with TLS verified against the chroot's CA bundle
(mbedTLS seeded by getrandom(2), since there is no /dev/urandom; an IP address verified against
an iPAddress subjectAltName, without SNI; a wrong certificate refused), and exits with the
child's status. Also checks that the Dockerfile builds /graceinit with .ci/build-static.

The app's HTTP(S) endpoint is served by the test, outside the chroot but in graceinit's network
namespace (a socket made there with setns(2)); requests to graceinit come from the same
namespace. The helper is compiled by the test with musl-gcc -static (gcc -static otherwise).
Certificates are made with openssl(1) (the HTTPS tests skip without it).

Environment: GRACEINIT_STATIC_BIN overrides build-static/graceinit. Python standard library
only, plus harness.py.
"""

import ctypes
import http.client
import http.server
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import wait_until

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
STATIC_BIN = os.environ.get("GRACEINIT_STATIC_BIN") or os.path.join(REPO, "build-static",
                                                                    "graceinit")
IP = shutil.which("ip") or "/usr/sbin/ip"
PORT = 9797      # graceinit's --http port in its namespace
APP_PORT = 8443  # the app's endpoint, served by the test in the same namespace

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)

HELPER_C = r"""
/* exit N: exits N at once. wait N: exits N on SIGTERM (a handler: SigCgt shows it is ready). */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int code;

static void
on_term(int sig)
{
	(void)sig;
	_exit(code);
}

int
main(int argc, char **argv)
{
	if (argc != 3)
		return 100;
	code = atoi(argv[2]);
	if (strcmp(argv[1], "wait") == 0) {
		signal(SIGTERM, on_term);
		for (;;)
			pause();
	}
	return code;
}
"""


def have_static_bin():
    return os.path.isfile(STATIC_BIN) and os.access(STATIC_BIN, os.X_OK)


def skip_without_static_bin():
    if not have_static_bin():
        shown = STATIC_BIN
        if shown.startswith(REPO + os.sep):
            shown = os.path.relpath(shown, REPO)
        raise unittest.SkipTest("%s does not exist: build it with `bash .ci/build-static`"
                                % shown)


def setns_net(fd):
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, "setns(CLONE_NEWNET): " + os.strerror(err))


def socket_in(nsfd, family=socket.AF_INET):
    """A TCP socket of the network namespace nsfd (the calling thread goes there and back)."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        setns_net(nsfd)
        try:
            return socket.socket(family, socket.SOCK_STREAM)
        finally:
            setns_net(home)
    finally:
        os.close(home)


# ---------------------------------------------------------------------------------------------
# The app: an HTTP or HTTPS server in graceinit's network namespace


class AppServer:
    """Answers GET with 200 on 127.0.0.1:APP_PORT of a namespace; records each request's Host
    header and, with TLS, the SNI name each client sent (None when it sent none) and each
    handshake error."""

    def __init__(self, case, nsfd, tls_context=None):
        self.hosts = []
        self.sni = []
        self.tls_errors = []
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                app.hosts.append(self.headers.get("Host"))
                self.send_response(200)
                self.send_header("Content-Length", "3")
                self.end_headers()
                self.wfile.write(b"ok\n")

            def log_message(self, *args):
                pass

        class Server(http.server.ThreadingHTTPServer):
            daemon_threads = True

            def get_request(self):
                conn, addr = self.socket.accept()
                if tls_context is not None:
                    conn.settimeout(5)
                    try:
                        conn = tls_context.wrap_socket(conn, server_side=True)
                    except (ssl.SSLError, OSError) as e:
                        app.tls_errors.append(str(e))
                        conn.close()
                        raise
                return conn, addr

            def handle_error(self, request, client_address):
                pass

        if tls_context is not None:
            tls_context.sni_callback = lambda sslsock, name, ctx: app.sni.append(name)
        sock = socket_in(nsfd)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", APP_PORT))
        sock.listen(16)
        self.server = Server(("127.0.0.1", APP_PORT), Handler, bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = sock
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        case.addCleanup(self.stop)

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


# ---------------------------------------------------------------------------------------------
# graceinit as PID 1 in a chroot


class ChrootRun:
    """`unshare --net` (lo up) then `unshare --pid --fork --root=ROOT /graceinit ARGS`:
    graceinit is PID 1 of its PID namespace, its root is ROOT, nothing is mounted there."""

    def __init__(self, case, root, args):
        self.root = root
        self.err_path = os.path.join(case.tmp, "stderr.%d" % len(os.listdir(case.tmp)))
        argv = [harness.UNSHARE, "--net", "--", "sh", "-c", IP + ' link set lo up && exec "$@"',
                "sh", harness.UNSHARE, "--pid", "--fork", "--root=" + root, "--",
                "/graceinit"] + list(args)
        with open(self.err_path, "wb") as err:
            self.popen = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=err,
                                          env=harness.clean_env(), start_new_session=True)
        case.addCleanup(self.cleanup)
        self._pid = self._nsfd = None

    @property
    def pid(self):
        """graceinit's pid (outside its namespace)."""
        if self._pid is None:
            self._pid = wait_until(self._find_graceinit, 10, "graceinit to start in the chroot",
                                   step=0.001)
        return self._pid

    @property
    def nsfd(self):
        """graceinit's network namespace, open."""
        if self._nsfd is None:
            self._nsfd = os.open("/proc/%d/ns/net" % self.pid, os.O_RDONLY | os.O_CLOEXEC)
        return self._nsfd

    def _find_graceinit(self):
        if self.popen.poll() is not None:
            raise AssertionError("exited with %d before graceinit ran; stderr:\n%s"
                                 % (self.popen.returncode, self.stderr()))
        for st in harness.descendants(self.popen.pid):
            if st["comm"] == "graceinit":
                return st["pid"]
        return None

    def stderr(self):
        with open(self.err_path, "r", errors="replace") as f:
            return f.read()

    def get(self, path):
        """(status, body) of GET path on graceinit's --http listener."""
        sock = socket_in(self.nsfd)
        try:
            sock.settimeout(5)
            sock.connect(("127.0.0.1", PORT))
            conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=5)
            conn.sock = sock
            conn.request("GET", path)
            resp = conn.getresponse()
            return resp.status, resp.read().decode("utf-8", "replace")
        finally:
            sock.close()

    def wait_get(self, path, predicate, what, timeout=10):
        """The last (status, body) of path once predicate(status, body) holds."""
        last = [None]

        def check():
            self.assert_running("while waiting for " + what)
            try:
                last[0] = self.get(path)
            except OSError:
                return None
            return last[0] if predicate(*last[0]) else None
        try:
            return wait_until(check, timeout, what)
        except AssertionError:
            raise AssertionError("%s; last answer of %s: %r; stderr:\n%s"
                                 % (what, path, last[0], self.stderr()))

    def ready_check(self, pattern=r".", what="the HTTP readiness check to run"):
        """graceinit's line for the --ready-http check in /readyz?verbose once it matches the
        regular expression pattern (and has been checked at least once)."""
        def line_of(body):
            lines = [l for l in body.splitlines() if l[3:8] == "http "]
            return lines[0] if lines else ""

        def matches(status, body):
            line = line_of(body)
            return "not checked yet" not in line and re.search(pattern, line)
        return line_of(self.wait_get("/readyz?verbose", matches, what)[1])

    def assert_running(self, when=""):
        if self.popen.poll() is not None:
            raise AssertionError("graceinit exited with %d %s; stderr:\n%s"
                                 % (harness.exit_status(self.popen.returncode), when,
                                    self.stderr()))

    def wait(self, timeout):
        try:
            return harness.exit_status(self.popen.wait(timeout))
        except subprocess.TimeoutExpired:
            raise AssertionError("graceinit still running after %s s; stderr:\n%s"
                                 % (timeout, self.stderr()))

    def cleanup(self):
        if self._nsfd is not None:
            os.close(self._nsfd)
        if self.popen.poll() is None:
            for st in reversed(harness.descendants(self.popen.pid)):
                try:
                    os.kill(st["pid"], signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        try:
            self.popen.wait(10)
        except subprocess.TimeoutExpired:
            pass


# ---------------------------------------------------------------------------------------------


def compile_helper(directory):
    """A static helper executable (HELPER_C) in directory; its path."""
    src = os.path.join(directory, "helper.c")
    out = os.path.join(directory, "helper")
    with open(src, "w") as f:
        f.write(HELPER_C)
    for cc in ("musl-gcc", "gcc", "cc"):
        if shutil.which(cc):
            subprocess.run([cc, "-static", "-Os", "-o", out, src], check=True,
                           capture_output=True)
            return out
    raise unittest.SkipTest("no C compiler (musl-gcc or gcc) for the static helper")


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_certs(directory, *sans):
    """A CA and, for each subjectAltName list in sans (e.g. "DNS:app.local,IP:127.0.0.1"), a
    server certificate and key signed by it: (ca.pem, [(cert.pem, key.pem), ...])."""
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=graceinit test CA",
            cwd=directory)
    pairs = []
    for i, san in enumerate(sans):
        key, csr, crt = "srv%d.key" % i, "srv%d.csr" % i, "srv%d.pem" % i
        with open(os.path.join(directory, "ext%d" % i), "w") as f:
            f.write("subjectAltName=%s\nextendedKeyUsage=serverAuth\n" % san)
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                "-keyout", key, "-out", csr, "-subj", "/CN=graceinit test server", cwd=directory)
        openssl("x509", "-req", "-in", csr, "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", "ext%d" % i, "-out", crt,
                cwd=directory)
        pairs.append((os.path.join(directory, crt), os.path.join(directory, key)))
    return os.path.join(directory, "ca.pem"), pairs


@harness.skip_if_wrapped("the static musl binary is not the build under the wrapper")
class StaticBinaryTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        skip_without_static_bin()

    def test_file_says_statically_linked(self):
        if shutil.which("file") is None:
            self.skipTest("file(1) is not installed")
        out = subprocess.run(["file", "-b", STATIC_BIN], capture_output=True, text=True,
                             check=True).stdout
        self.assertIn("statically linked", out)
        self.assertNotIn("dynamically linked", out)

    def test_ldd_says_not_dynamic(self):
        proc = subprocess.run(["ldd", STATIC_BIN], capture_output=True, text=True)
        self.assertNotEqual(proc.returncode, 0, proc.stdout)
        self.assertIn("not a dynamic executable", proc.stdout + proc.stderr)

    def test_no_interpreter(self):
        with open(STATIC_BIN, "rb") as f:
            data = f.read()
        self.assertEqual(data[:4], b"\x7fELF")
        self.assertNotIn(b"/lib/ld-", data, "the binary names a dynamic loader")
        self.assertNotIn(b"libnss_", data, "the binary names an NSS module")


@harness.skip_if_wrapped("the static musl binary is not the build under the wrapper")
class ChrootTest(unittest.TestCase):
    """graceinit as PID 1 in a root that holds nothing but itself, the helper and /etc."""

    @classmethod
    def setUpClass(cls):
        skip_without_static_bin()
        if os.geteuid() != 0:
            raise unittest.SkipTest("needs root (PID and network namespaces, chroot)")
        harness.become_subreaper()
        cls.build = tempfile.mkdtemp(prefix="graceinit-static-")
        cls.helper = compile_helper(cls.build)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.build, True)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="graceinit-static-")
        self.addCleanup(shutil.rmtree, self.tmp, True)
        self.known_children = set(harness.children(os.getpid()))
        self.addCleanup(lambda: harness.kill_and_reap(
            [c for c in harness.children(os.getpid()) if c not in self.known_children]))

    def make_root(self, hosts="127.0.0.1 app.local\n", ca=None):
        """A root directory: /graceinit, /helper, /etc/hosts and, given ca, the CA bundle at
        curl's default path /etc/ssl/certs/ca-certificates.crt. Nothing else."""
        root = os.path.join(self.tmp, "root")
        os.makedirs(os.path.join(root, "etc"))
        shutil.copy(STATIC_BIN, os.path.join(root, "graceinit"))
        shutil.copy(self.helper, os.path.join(root, "helper"))
        with open(os.path.join(root, "etc", "hosts"), "w") as f:
            f.write(hosts)
        if ca is not None:
            os.makedirs(os.path.join(root, "etc", "ssl", "certs"))
            shutil.copy(ca, os.path.join(root, "etc", "ssl", "certs", "ca-certificates.crt"))
        return root

    def listing(self, root):
        return sorted(os.path.relpath(os.path.join(d, n), root)
                      for d, dirs, files in os.walk(root) for n in dirs + files)

    def start(self, root, url, command=("/helper", "wait", "42")):
        return ChrootRun(self, root, ["--http", "127.0.0.1:%d" % PORT, "--ready-http", url,
                                      "--ready-interval", "100ms", "--ready-timeout", "2s",
                                      "--"] + list(command))

    def tls_context(self, cert, key):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        return ctx

    def need_openssl(self):
        if shutil.which("openssl") is None:
            self.skipTest("openssl(1) is not installed (it makes the test certificates)")

    def test_pid1_probes_hosts_and_exit_status(self):
        root = self.make_root()
        before = self.listing(root)
        run = self.start(root, "http://app.local:%d/ready" % APP_PORT)
        app = AppServer(self, run.nsfd)

        self.assertEqual(harness.ns_pid(run.pid), 1, "graceinit is not PID 1")
        self.assertEqual(os.readlink("/proc/%d/root" % run.pid), os.path.realpath(root))
        self.assertEqual(run.wait_get("/livez", lambda s, b: s == 200, "/livez 200"),
                         (200, "ok\n"))
        run.wait_get("/readyz", lambda s, b: s == 200, "/readyz 200 (app.local answered)")
        line = run.ready_check(r"^\[\+\]http", "the HTTP check to pass")
        self.assertRegex(line, r"^\[\+\]http http://app\.local:%d/ready ok" % APP_PORT)
        self.assertIn("app.local:%d" % APP_PORT, app.hosts, "the probe's Host header")

        # The helper blocks SIGTERM before anything else; wait until it has, then stop.
        wait_until(lambda: any(harness.takes_sigterm(st["pid"], "helper")
                               for st in harness.descendants(run.pid)), 5,
                   "the helper to wait for SIGTERM")
        os.kill(run.pid, signal.SIGTERM)
        self.assertEqual(run.wait(10), 42, run.stderr())
        self.assertEqual(self.listing(root), before, "graceinit created files in its root")

    def test_exit_status_of_child(self):
        run = ChrootRun(self, self.make_root(), ["--", "/helper", "exit", "3"])
        self.assertEqual(run.wait(10), 3, run.stderr())

    def test_unknown_name_never_blocks(self):
        # No app.local in /etc/hosts, no name server in the namespace: musl's resolver waits for
        # an answer until --ready-timeout ends the check. It waits in curl's resolver thread,
        # never in graceinit's loop, which answers at once all the while.
        root = self.make_root(hosts="127.0.0.1 localhost\n")
        run = ChrootRun(self, root, ["--http", "127.0.0.1:%d" % PORT, "--ready-http",
                                     "http://app.local:%d/ready" % APP_PORT,
                                     "--ready-interval", "100ms", "--ready-timeout", "1500ms",
                                     "--", "/helper", "wait", "0"])
        run.wait_get("/livez", lambda s, b: s == 200, "/livez 200")
        slowest, deadline = 0.0, time.monotonic() + 1.6
        while time.monotonic() < deadline:
            started = time.monotonic()
            self.assertEqual(run.get("/livez")[0], 200)
            slowest = max(slowest, time.monotonic() - started)
            time.sleep(0.02)
        self.assertLess(slowest, 1.0, "graceinit's loop blocked while a name was resolved")
        line = run.ready_check(r"^\[-\]http", "the HTTP check to fail")
        self.assertRegex(line, r"(?i)resolv|timeout|timed out", line)
        self.assertEqual(run.get("/readyz")[0], 503)

    def test_https_verified_without_dev(self):
        self.need_openssl()
        ca, [(cert, key)] = make_certs(self.tmp, "DNS:app.local")
        root = self.make_root(ca=ca)
        run = self.start(root, "https://app.local:%d/ready" % APP_PORT)
        app = AppServer(self, run.nsfd, self.tls_context(cert, key))
        self.assertFalse(os.path.exists(os.path.join(root, "dev")))
        run.wait_get("/readyz", lambda s, b: s == 200, "/readyz 200 (HTTPS app answered)")
        line = run.ready_check(r"^\[\+\]http", "the HTTPS check to pass")
        self.assertRegex(line, r"^\[\+\]http https://app\.local:\d+/ready ok")
        self.assertIn("app.local", app.sni, "the SNI name sent")
        self.assertEqual(app.tls_errors, [])

    def test_https_ip_address_san_no_sni(self):
        self.need_openssl()
        ca, [(cert, key)] = make_certs(self.tmp, "IP:127.0.0.1")
        root = self.make_root(ca=ca)
        run = self.start(root, "https://127.0.0.1:%d/ready" % APP_PORT)
        app = AppServer(self, run.nsfd, self.tls_context(cert, key))
        run.wait_get("/readyz", lambda s, b: s == 200,
                     "/readyz 200 (127.0.0.1 verified against an iPAddress SAN)")
        self.assertTrue(app.sni and all(name is None for name in app.sni),
                        "SNI sent for an IP address: %r" % app.sni)

    def test_https_wrong_certificate_refused(self):
        self.need_openssl()
        ca, [(cert, key)] = make_certs(self.tmp, "DNS:other.local,IP:127.0.0.2")
        root = self.make_root(ca=ca)
        run = self.start(root, "https://app.local:%d/ready" % APP_PORT)
        app = AppServer(self, run.nsfd, self.tls_context(cert, key))
        line = run.ready_check(r"(?i)certificate|SSL", "the check to fail on the certificate")
        self.assertTrue(line.startswith("[-]http"), line)
        # (curl lets mbedTLS finish the handshake, then checks the verification result and
        # hangs up: the server sees a handshake, never a request.)
        self.assertEqual(app.hosts, [], "a request went through")
        self.assertEqual(run.get("/readyz")[0], 503)


class DockerfileTest(unittest.TestCase):
    """No Docker engine here: the script the Dockerfile runs is what the tests above test, so
    check that the Dockerfile runs that script and ships what it makes."""

    def test_dockerfile_builds_with_the_script(self):
        with open(os.path.join(REPO, "Dockerfile")) as f:
            lines = [l.strip() for l in f if l.strip() and not l.lstrip().startswith("#")]
        stages = [l for l in lines if l.upper().startswith("FROM ")]
        self.assertRegex(stages[0], r"(?i)^FROM debian:bookworm\S* AS (\S+)$")
        builder = stages[0].split()[-1]
        self.assertRegex(stages[-1], r"(?i)^FROM scratch$")
        runs = [l for l in lines if l.upper().startswith("RUN ")]
        self.assertTrue(any(re.search(r"(^|\s)(bash\s+)?\.ci/build-static(\s|$)", l[4:])
                            for l in runs), "no RUN of .ci/build-static: %r" % runs)
        final = lines[lines.index(stages[-1]):]
        copies = [l for l in final if l.upper().startswith("COPY ")]
        self.assertEqual(len(copies), 1, "the final stage holds /graceinit only: %r" % copies)
        self.assertRegex(copies[0], r"^COPY --from=%s \S*build-static/graceinit /graceinit$"
                         % re.escape(builder))


if __name__ == "__main__":
    harness.main()
