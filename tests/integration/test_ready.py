#!/usr/bin/python3
"""Readiness and liveness sources: --ready-tcp (a port that opens late, then closes),
--ready-http (an endpoint answering 503, then 200; one that hangs, bounded by --ready-timeout
while graceinit keeps answering), and the sd_notify protocol with --notify: READY=1 sent late,
STOPPING=1, STATUS= shown in /readyz?verbose, --watchdog (/livez fails when the pings stop and
recovers when they resume), and datagrams from processes outside the child's tree ignored.

The app's ports and HTTP endpoint are served by the test itself, on sockets made inside
graceinit's network namespace (khelp.py); the sd_notify child is notifier.py, driven by the
test through a FIFO.
"""

import http.server
import os
import socket
import threading
import time

import khelp

APP_PORT = 8080


class AppServer:
    """An HTTP server in graceinit's network namespace, run by the test: GET answers self.code,
    or hangs until released when self.hang is set."""

    def __init__(self, case, run):
        self.code = 503
        self.hang = False
        self.requests = 0
        self.release = threading.Event()
        app = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                app.requests += 1
                if app.hang:
                    app.release.wait(10)
                    return
                self.send_response(app.code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        sock = run.net.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", APP_PORT))
        sock.listen(16)
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", APP_PORT), Handler,
                                                      bind_and_activate=False)
        self.server.socket.close()
        self.server.socket = sock
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,),
                                       daemon=True)
        self.thread.start()
        case.addCleanup(self.stop)

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


class ReadyTest(khelp.TestCase):

    def verbose(self, run):
        return run.get("/readyz?verbose").body

    def wait_verbose(self, run, text, timeout=5):
        return khelp.wait_until(lambda: text in self.verbose(run), timeout,
                                "%r in /readyz?verbose (now: %r)" % (text, self.verbose(run)))

    def test_ready_tcp_port_opens_late(self):
        target = "127.0.0.1:%d" % APP_PORT
        run = self.start_net(["--ready-tcp", target, "--ready-interval", "100ms"],
                             ["sleep", "30"])
        run.wait_http()
        self.wait_verbose(run, "[-]tcp %s failed: Connection refused" % target)
        self.assertEqual(run.get("/readyz").status, 503)
        self.assertEqual(run.get("/livez").status, 200, "/livez does not depend on readiness")
        time.sleep(0.3)
        self.assertEqual(run.get("/readyz").status, 503, "ready with nothing listening")
        listener = run.net.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", APP_PORT))
        listener.listen(64)
        opened = time.monotonic()
        run.wait_status("/readyz", 200, 3)
        self.assertLess(time.monotonic() - opened, 0.6, "ready within a few --ready-interval")
        self.assertIn("[+]tcp %s ok: connected\n" % target, self.verbose(run))
        listener.close()
        closed = time.monotonic()
        run.wait_status("/readyz", 503, 3)
        self.assertLess(time.monotonic() - closed, 0.6, "not ready once the port closes")

    def test_ready_http_503_then_200(self):
        url = "http://127.0.0.1:%d/ready" % APP_PORT
        run = self.start_net(["--ready-http", url, "--ready-interval", "100ms"], ["sleep", "30"])
        app = AppServer(self, run)
        run.wait_http()
        self.wait_verbose(run, "[-]http %s failed: HTTP 503" % url)
        self.assertEqual(run.get("/readyz").status, 503)
        app.code = 200
        run.wait_status("/readyz", 200, 2)
        self.assertIn("[+]http %s ok: HTTP 200" % url, self.verbose(run))
        app.code = 500
        run.wait_status("/readyz", 503, 2)

    def test_ready_http_hung_endpoint(self):
        url = "http://127.0.0.1:%d/ready" % APP_PORT
        run = self.start_net(["--ready-http", url, "--ready-interval", "100ms",
                              "--ready-timeout", "300ms"], ["sleep", "30"])
        app = AppServer(self, run)
        app.code = 200
        run.wait_http()
        run.wait_status("/readyz", 200, 3)
        app.hang = True
        hung = time.monotonic()
        # graceinit goes on answering at once while its check hangs...
        slowest = 0.0
        while run.get("/readyz").status == 200:
            slowest = max(slowest, run.get("/livez").elapsed)
            self.assertLess(time.monotonic() - hung, 2, "still ready with a hung endpoint")
            time.sleep(0.01)
        failed = time.monotonic() - hung
        # ...and the check fails after --ready-timeout, not later.
        self.assertLess(failed, 0.3 + 0.1 + 0.4, "the hung check failed after %.3f s" % failed)
        detail = self.verbose(run)
        self.assertRegex(detail, r"\[-\]http %s failed: .*[Tt]ime" % url)
        for _ in range(20):
            slowest = max(slowest, run.get("/livez").elapsed)
        self.assertLess(slowest, 0.1, "/livez took %.3f s during the hung check" % slowest)
        app.hang = False
        app.release.set()
        run.wait_status("/readyz", 200, 3)

    def test_notify_ready_late_and_stopping(self):
        run, child, info = self.start_notifier()
        self.assertTrue(info["socket"].startswith("@"), info)
        self.assertEqual(info["watchdog_usec"], "-", "no WATCHDOG_USEC without --watchdog")
        self.assertIn("[-]notify failed: waiting for READY=1", self.verbose(run))
        time.sleep(0.2)
        self.assertEqual(run.get("/readyz").status, 503, "ready before READY=1")
        child.command("send READY=1")
        run.wait_status("/readyz", 200, 2)
        self.assertIn("[+]notify ok: READY=1", self.verbose(run))
        child.command("send STOPPING=1")
        run.wait_status("/readyz", 503, 2)
        self.assertIn("[-]notify failed: STOPPING=1", self.verbose(run))
        self.assertEqual(run.get("/livez").status, 200, "STOPPING=1 keeps the pod alive")
        child.command("send READY=1")
        run.wait_status("/readyz", 200, 2)

    def test_notify_status_then_ready(self):
        run, child, info = self.start_notifier()
        child.command("send STATUS=loading the cache")
        child.command("send READY=1")
        run.wait_status("/readyz", 200, 2)
        self.assertIn("[+]notify ok: READY=1: loading the cache\n", self.verbose(run))

    def test_notify_status_shown_whenever_sent(self):
        # STATUS= is the app's free-form state: /readyz?verbose shows the latest one, whenever
        # it comes: alone, after READY=1, or in the same datagram as READY=1 (the example of
        # sd_notify(3): "READY=1\nSTATUS=Processing requests...").
        cases = [("alone, before READY=1", ["send STATUS=warming up"], "warming up"),
                 ("after READY=1", ["send READY=1", "send STATUS=serving 42 clients"],
                  "serving 42 clients"),
                 ("with READY=1", ["send READY=1\\nSTATUS=accepting connections"],
                  "accepting connections")]
        for what, commands, text in cases:
            with self.subTest(what):
                run, child, info = self.start_notifier()
                for c in commands:
                    child.command(c)
                self.wait_verbose(run, text, 1)
                self.assertTrue(any(c["name"] == "notify" and text in c["detail"]
                                    for c in run.status()["readiness"]),
                                run.status()["readiness"])

    def test_watchdog(self):
        run, child, info = self.start_notifier(["--watchdog", "500ms"])
        self.assertEqual(info["watchdog_usec"], "500000")
        child.command("ping 100")
        child.command("send READY=1")
        run.wait_status("/readyz", 200, 2)
        pinging = time.monotonic()
        while time.monotonic() - pinging < 1.0:
            self.assertEqual(run.get("/livez").status, 200, "/livez failed while pinging")
            time.sleep(0.02)
        child.command("ping 0")
        last = int(next(l for l in reversed(child.lines())
                        if l.startswith("last_ping ")).split()[1]) / 1e9
        resp = run.wait_status("/livez", 503, 3)
        fired = time.monotonic() - last
        self.assert_elapsed(fired, 0.45, 1.0, "/livez failing after the last ping (--watchdog "
                            "500ms)")
        self.assertIn("watchdog", resp.body)
        st = run.status()
        self.assertIs(st["live"], False)
        self.assertIn("watchdog", st["not_live_because"])
        child.command("ping 100")
        resumed = time.monotonic()
        run.wait_status("/livez", 200, 2)
        self.assertLess(time.monotonic() - resumed, 0.3, "/livez passes again at the next ping")

    def test_watchdog_never_pinged(self):
        run, child, info = self.start_notifier(["--watchdog", "300ms"])
        started = time.monotonic()
        run.wait_status("/livez", 503, 3)
        self.assertLess(time.monotonic() - started, 1.0)

    def send_foreign(self, run, address, text):
        """text sent to the notify socket by the test process: outside graceinit's PID
        namespace, inside its network namespace."""
        s = run.net.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.sendto(text.encode(), khelp.unix_address(address))
        finally:
            s.close()

    def test_notify_from_outside_the_child_tree_ignored(self):
        run, child, info = self.start_notifier(["--watchdog", "400ms"])
        address = info["socket"]
        child.command("ping 100")
        # From the test process (its pid means nothing in graceinit's PID namespace).
        self.send_foreign(run, address, "READY=1")
        run.wait_log("notify: ignoring a message from pid", count=1)
        # From a process in graceinit's PID namespace but not below the child.
        script = ("import socket,sys; s=socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); "
                  "s.sendto(b'READY=1', '\\0' + sys.argv[1][1:])")
        res = run.net.run(["nsenter", "-t", str(run.init_pid()), "-p", "--", khelp.PYTHON,
                           "-c", script, address])
        self.assertEqual(res.returncode, 0, res)
        run.wait_log("notify: ignoring a message from pid", count=2)
        self.assertRegex(run.stderr(), r"ignoring a message from pid [1-9]\d*, not the child's",
                         "the second sender had a pid in graceinit's namespace")
        time.sleep(0.1)
        self.assertEqual(run.get("/readyz").status, 503, "READY=1 from a stranger counted")
        self.assertIn("[-]notify failed: waiting for READY=1", self.verbose(run))
        # Pings from strangers do not keep /livez up either.
        child.command("ping 0")
        stop = time.monotonic()
        while time.monotonic() - stop < 1.0 and run.get("/livez").status == 200:
            self.send_foreign(run, address, "WATCHDOG=1")
            time.sleep(0.05)
        self.assertEqual(run.get("/livez").status, 503, "WATCHDOG=1 from a stranger counted")
        # The child itself is heard, and so are its descendants.
        child.command("ping 100")
        run.wait_status("/livez", 200, 2)
        ignored = run.log_count("notify: ignoring")
        child.command("fork READY=1")
        run.wait_status("/readyz", 200, 2)
        self.assertEqual(run.log_count("notify: ignoring"), ignored,
                         "a message from the child's own child was ignored")

    def test_notify_from_short_lived_descendant(self):
        # A shell entrypoint runs `systemd-notify --ready`: the sender is a descendant of the
        # child that exits (and is reaped by the shell) right after sending, but, as
        # systemd-notify does, only once graceinit has handled its message (BARRIER=1 with a
        # pipe that graceinit closes). None may be ignored, whatever the timing, and graceinit
        # must not keep the passed file descriptors.
        run, child, info = self.start_notifier()
        for i in range(100):
            ready = i % 2 == 0
            child.command("fork-barrier " + ("READY=1" if ready else "STOPPING=1"))
            run.wait_status("/readyz", 200 if ready else 503, 2,
                            "/readyz after message %d from a short-lived descendant (graceinit "
                            "log:\n%s)" % (i + 1, run.stderr()))
        self.assertEqual(run.log_count("notify: ignoring"), 0, run.stderr())
        fds = os.listdir("/proc/%d/fd" % run.init_pid())
        self.assertLess(len(fds), 30, "graceinit keeps the barriers' fds: %s" % fds)


if __name__ == "__main__":
    khelp.main()
