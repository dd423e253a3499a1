#!/usr/bin/python3
"""The HTTP API, as a kubelet, an operator and a preStop hook see it: every endpoint and status
code (200, 202, 401, 404, 405 with Allow, 413, 503, HEAD), /readyz?verbose, the /status JSON,
the same API on the control socket (abstract @graceinit, a file, off), the client commands
`graceinit status` and `graceinit prestop` (over the socket, with --url, their exit status when
graceinit cannot be reached and on bad usage), and --control-token (needed for /prestop and
/drain from a non-loopback peer only; never for the probes, loopback or the unix socket).

graceinit runs as PID 1 in its own PID and network namespaces (khelp.py); requests come from
inside that namespace, from 127.0.0.1 or from 10.200.0.1, an address of the namespace's own lo.
"""

import json
import os
import signal
import time

import harness
import khelp
from khelp import NONLOOPBACK, PORT

TOKEN = "s3cret-t0ken"
ALL_PATHS = ("/livez", "/healthz", "/readyz", "/prestop", "/drain", "/status", "/metrics")


class HttpTest(khelp.TestCase):

    def assert_state(self, run, state, **kwargs):
        self.assertEqual(run.status(**kwargs)["state"], state,
                         "graceinit's state (stderr:\n%s)" % run.stderr())

    def test_probes_and_status_codes(self):
        run, rec, info = self.start_sigtime()
        for path in ("/livez", "/healthz", "/livez?x=1"):
            resp = run.get(path)
            self.assertEqual((resp.status, resp.body), (200, "ok\n"), path)
            self.assertTrue(resp.headers["content-type"].startswith("text/plain"), resp.headers)
        for path in ("/livez", "/healthz", "/readyz", "/status", "/metrics"):
            resp = run.request("HEAD", path)
            self.assertEqual(resp.status, 200, "HEAD " + path)
            self.assertEqual(resp.body, "", "HEAD %s has no body" % path)
        resp = run.get("/readyz")
        self.assertEqual((resp.status, resp.body), (200, "ok\n"))
        resp = run.get("/readyz?verbose")
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.body, "[+]started ok: pid %d\n[+]drain ok: not draining\n"
                         "readyz check passed\n" % info["pid"])
        resp = run.get("/metrics")
        self.assertEqual(resp.status, 200)
        self.assertIn("version=0.0.4", resp.headers["content-type"])

        for path in ("/", "/nope", "/livez/", "/LIVEZ", "/readyz/x", "/prestop2", "/status.json"):
            for method in ("GET", "POST", "HEAD"):
                resp = run.request(method, path)
                self.assertEqual(resp.status, 404, "%s %s: %r" % (method, path, resp))
        self.assertIn("/livez /readyz /prestop /drain /status /metrics", run.get("/x").body)

        wrong = [("POST", "/livez", "GET, HEAD"), ("PUT", "/healthz", "GET, HEAD"),
                 ("DELETE", "/readyz", "GET, HEAD"), ("POST", "/status", "GET, HEAD"),
                 ("POST", "/metrics", "GET, HEAD"), ("OPTIONS", "/livez", "GET, HEAD"),
                 ("GET", "/drain", "POST"), ("HEAD", "/drain", "POST"), ("PUT", "/drain", "POST"),
                 ("PUT", "/prestop", "GET, POST"), ("HEAD", "/prestop", "GET, POST"),
                 ("DELETE", "/prestop", "GET, POST"), ("PATCH", "/prestop", "GET, POST")]
        for method, path, allow in wrong:
            resp = run.request(method, path)
            self.assertEqual(resp.status, 405, "%s %s: %r" % (method, path, resp))
            self.assertEqual(resp.headers.get("allow"), allow, "Allow of %s %s" % (method, path))
        # None of the refused requests on /prestop or /drain started the drain.
        self.assert_state(run, "running")
        self.assertEqual(run.get("/readyz").status, 200)
        self.assertEqual(rec.signals(), [], "the child got a signal")

    def test_request_body_limit(self):
        run, rec, _ = self.start_sigtime(["--drain-delay", "10s"])
        big = b"x" * 4097
        for method, path, body in [("POST", "/drain", big), ("POST", "/prestop", big),
                                   ("GET", "/prestop?wait=0", big), ("GET", "/livez", big),
                                   ("POST", "/drain", iter([b"a" * 3000, b"b" * 3000])),
                                   ("POST", "/prestop", b"z" * (256 * 1024))]:
            resp = run.request(method, path, body=body)
            self.assertEqual(resp.status, 413, "%s %s with a large body: %r"
                             % (method, path, resp))
            self.assertIn("4096", resp.body)
        # Refused bodies never start the drain, and graceinit goes on serving.
        self.assert_state(run, "running")
        self.assertEqual(run.get("/readyz").status, 200)
        resp = run.post("/drain", body=b"y" * 4096)
        self.assertEqual(resp.status, 202, "a body of 4096 bytes is accepted: %r" % resp)
        self.assert_state(run, "deregistering")

    def test_status_json(self):
        run, rec, info = self.start_sigtime(["--grace-period", "20s", "--kill-margin", "3s",
                                             "--drain-delay", "10s", "--stop-signal", "QUIT"])
        st = run.status()
        self.assertEqual(st["state"], "running")
        self.assertIs(st["ready"], True)
        self.assertIs(st["live"], True)
        self.assertIsInstance(st["uptime_ms"], (int, float))
        self.assertGreaterEqual(st["uptime_ms"], 0)
        self.assertIsInstance(st["version"], str)
        self.assertEqual(st["child"], {"pid": info["pid"], "running": True,
                                       "exit_status": None, "reaped": 0})
        self.assertEqual(st["readiness"], [{"name": "started", "ok": True,
                                            "detail": "pid %d" % info["pid"]}])
        self.assertEqual(st["drain"], {"state": "running", "trigger": None, "budget_ms": 20000})
        cfg = st["config"]
        for key, value in [("http", ":%d" % PORT), ("control-socket", "@graceinit"),
                           ("grace-period", "20s"), ("kill-margin", "3s"),
                           ("drain-delay", "10s"), ("stop-signal", "SIGQUIT"),
                           ("control-token", None)]:
            self.assertEqual(cfg.get(key), value, "config[%r]" % key)
        self.assertEqual(cfg["command"][-1], rec.path)

        trigger = time.monotonic()
        self.assertEqual(run.post("/drain").status, 202)
        st = run.status()
        self.assertEqual(st["state"], "deregistering")
        self.assertIs(st["ready"], False)
        self.assertIs(st["live"], True)
        d = st["drain"]
        self.assertEqual(d["state"], "deregistering")
        self.assertEqual(d["trigger"], "/drain")
        self.assertEqual(d["kill_deadline_ms"], 17000)
        self.assertIs(d["cut_short"], False)
        self.assertLessEqual(d["elapsed_ms"], (time.monotonic() - trigger) * 1000 + 5)
        self.assertAlmostEqual(d["budget_left_ms"], 20000 - d["elapsed_ms"], delta=1)
        self.assertEqual(d["timings_ms"], {"not_ready": 0, "deregistered": None,
                                           "stop_signal": None, "kill": None, "exit": None})

    def test_after_the_child_exited(self):
        # The child exits 4 on SIGUSR1 and leaves a SIGTERM-ignoring process behind: graceinit
        # waits up to --exit-grace for it, serving its endpoints all along.
        run, rec, info = self.start_sigtime(["--exit-grace", "20s"],
                                            ["--exit-on", "USR1:4", "--linger", "30"])
        run.kill(signal.SIGUSR1)
        resp = run.wait_status("/livez", 503, 5)
        self.assertEqual(resp.body, "not live: the child has exited\n")
        self.assertEqual(run.get("/readyz").status, 503)
        st = run.status()
        self.assertIs(st["live"], False)
        self.assertIs(st["ready"], False)
        self.assertEqual(st["not_live_because"], "the child has exited")
        self.assertEqual(st["state"], "exited")
        self.assertEqual(st["child"]["running"], False)
        self.assertEqual(st["child"]["exit_status"], 4)
        self.assertEqual(st["child"]["reaped"], 1)
        os.kill(run.outside_pid(info["linger"]), signal.SIGKILL)
        self.assertEqual(run.wait(5), 4, "graceinit exits with the child's status")

    def test_kubernetes_defaults(self):
        # In a pod (KUBERNETES_SERVICE_HOST set) the endpoints are on :9797 without --http,
        # and the drain waits 5 s by default.
        run, rec, _ = self.start_sigtime(http=None, env={"KUBERNETES_SERVICE_HOST": "10.0.0.1"})
        cfg = run.status()["config"]
        self.assertEqual((cfg["http"], cfg["drain-delay"]), (":9797", "5s"))
        run = self.start_net(["--control-socket", "off"], ["sleep", "30"], http=None)
        harness.wait_until(lambda: run.tree(), 5, "the child to start")
        time.sleep(0.1)
        self.assertIsNone(run.net.try_get("/livez"), "--http is on outside Kubernetes")

    # -- the control socket --

    def comparable(self, status):
        """/status without the fields that change from one request to the next."""
        status = dict(status)
        status.pop("uptime_ms")
        return status

    def test_control_socket_serves_the_same_api(self):
        run, rec, info = self.start_sigtime(["--drain-delay", "10s"])
        sock = {"unix": "@graceinit"}
        for path in ("/livez", "/healthz", "/readyz", "/readyz?verbose"):
            tcp, unix = run.get(path), run.get(path, **sock)
            self.assertEqual((unix.status, unix.body), (tcp.status, tcp.body), path)
        self.assertEqual(self.comparable(run.status(**sock)), self.comparable(run.status()))
        self.assertEqual(run.get("/metrics", **sock).status, 200)
        self.assertEqual(run.get("/nope", **sock).status, 404)
        resp = run.post("/livez", **sock)
        self.assertEqual((resp.status, resp.headers.get("allow")), (405, "GET, HEAD"))
        self.assertEqual(run.post("/drain", body=b"x" * 5000, **sock).status, 413)
        self.assert_state(run, "running")
        resp = run.post("/drain", **sock)
        self.assertEqual(resp.status, 202)
        self.assertEqual(resp.json()["trigger"], "/drain")
        self.assertEqual(run.get("/readyz").status, 503, "the drain started over the socket")

    def test_control_socket_file_and_off(self):
        path = os.path.join(self.tmp, "ctl.sock")
        run, rec, _ = self.start_sigtime(["--control-socket", path, "--exit-grace", "0"],
                                         ["--exit-on", "TERM:0"])
        self.assertEqual(run.get("/livez", unix=path).status, 200)
        self.assertIsNone(run.net.try_get("/livez", unix="@graceinit"),
                          "@graceinit answers although --control-socket is a file")
        res = run.ctl(["status", "--socket", path])
        self.assertEqual(res.returncode, 0, res.stderr)
        self.assertEqual(json.loads(res.stdout)["state"], "running")
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(5), 0)
        self.assertFalse(os.path.exists(path), "the socket file is removed at exit")

        run, rec, _ = self.start_sigtime(["--control-socket", "off"])
        self.assertIsNone(run.net.try_get("/livez", unix="@graceinit"),
                          "@graceinit answers with --control-socket off")
        self.assertEqual(run.get("/livez").status, 200)

    # -- graceinit status / graceinit prestop --

    def test_status_command(self):
        run, rec, info = self.start_sigtime(["--control-socket", "@other"])
        for args, env in [(["status", "--socket", "@other"], None),
                          (["status"], {"GRACEINIT_CONTROL_SOCKET": "@other"}),
                          (["status", "--url", "http://127.0.0.1:%d" % PORT], None),
                          (["status", "--url", "http://[::1]:%d" % PORT, "--timeout", "5s"],
                           None)]:
            res = run.ctl(args, env=env)
            self.assertEqual(res.returncode, 0, "graceinit %s (env %s): %s"
                             % (" ".join(args), env, res.stderr))
            st = json.loads(res.stdout)
            self.assertEqual((st["state"], st["child"]["pid"]), ("running", info["pid"]))
        # The default socket is @graceinit, which this run does not serve.
        res = run.ctl(["status"])
        self.assertEqual(res.returncode, 1, res)
        self.assertIn("cannot reach graceinit at the control socket @graceinit", res.stderr)
        # An HTTP error is exit status 1 too.
        res = run.ctl(["status", "--url", "http://127.0.0.1:%d/nope" % PORT])
        self.assertEqual(res.returncode, 1, res)
        self.assertIn("HTTP 404", res.stderr)

    def test_status_command_url_with_trailing_slash(self):
        # Users copy base URLs with a trailing slash; it must not change the path requested.
        run, rec, info = self.start_sigtime()
        res = run.ctl(["status", "--url", "http://127.0.0.1:%d/" % PORT])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(json.loads(res.stdout)["child"]["pid"], info["pid"])

    def test_clients_when_graceinit_is_unreachable(self):
        run = self.start_net(["--control-socket", "off"], ["sleep", "30"], http=None)
        harness.wait_until(lambda: run.tree(), 5, "the child to start")
        for args in (["status"], ["prestop"], ["prestop", "--socket", "@graceinit"],
                     ["status", "--socket", os.path.join(self.tmp, "none.sock")],
                     ["prestop", "--url", "http://127.0.0.1:%d" % PORT],
                     ["status", "--url", "http://127.0.0.1:%d" % PORT]):
            started = time.monotonic()
            res = run.ctl(args)
            self.assertEqual(res.returncode, 1, "graceinit %s: %s" % (" ".join(args), res))
            self.assertIn("cannot reach graceinit", res.stderr)
            self.assertLess(time.monotonic() - started, 3, "refused at once")

    def test_client_usage_errors(self):
        run = self.start_net([], ["sleep", "30"])
        run.wait_http()
        for args in (["status", "--bogus"], ["prestop", "extra"], ["prestop", "--socket"],
                     ["prestop", "--timeout", "soon"], ["prestop", "--timeout"],
                     ["prestop", "--url", "127.0.0.1:%d" % PORT], ["status", "--url", "ftp://x"],
                     ["status", "--token"]):
            res = run.ctl(args)
            self.assertEqual(res.returncode, 2, "graceinit %s: %s" % (" ".join(args), res))
            self.assertTrue(res.stderr.startswith("graceinit %s: " % args[0]), res.stderr)
        # None of them reached graceinit.
        self.assertEqual(run.status()["state"], "running")
        for cmd in ("prestop", "status"):
            res = run.ctl([cmd, "--help"])
            self.assertEqual(res.returncode, 0, res)
            self.assertIn("Usage: graceinit %s" % cmd, res.stdout)
        self.assertEqual(run.status()["state"], "running")

    @harness.skip_if_wrapped("the timing window includes the start-up of the client "
                             "command, seconds under valgrind")
    def test_prestop_command(self):
        run, rec, _ = self.start_sigtime(["--drain-delay", "700ms"], ["--exit-on", "TERM:0"])
        started = time.monotonic()
        res = run.ctl(["prestop"])
        elapsed = time.monotonic() - started
        self.assertEqual(res.returncode, 0, res)
        self.assert_elapsed(elapsed, 0.65, 1.5, "graceinit prestop with --drain-delay 700ms")
        body = json.loads(res.stdout)
        self.assertEqual(body["trigger"], "/prestop")
        self.assertGreaterEqual(body["timings_ms"]["deregistered"], 690)
        self.assertLessEqual(body["timings_ms"]["deregistered"], 1000)
        rec.wait_signal(signal.SIGTERM, 5)
        self.assertEqual(run.wait(5), 0)

        run, rec, _ = self.start_sigtime(["--drain-delay", "300ms"], ["--exit-on", "TERM:0"])
        res = run.ctl(["prestop", "--url", "http://127.0.0.1:%d" % PORT])
        self.assertEqual(res.returncode, 0, res)
        self.assertEqual(json.loads(res.stdout)["trigger"], "/prestop")
        self.assertEqual(run.wait(5), 0)

    @harness.skip_if_wrapped("the timing window includes the start-up of the client "
                             "command, seconds under valgrind")
    def test_prestop_command_timeout(self):
        run, rec, _ = self.start_sigtime(["--drain-delay", "10s"])
        started = time.monotonic()
        res = run.ctl(["prestop", "--timeout", "300ms"])
        elapsed = time.monotonic() - started
        self.assertEqual(res.returncode, 1, res)
        self.assert_elapsed(elapsed, 0.25, 2.0, "graceinit prestop --timeout 300ms")
        self.assertIn("cannot reach graceinit", res.stderr)
        # The drain has started all the same, and goes on.
        self.assert_state(run, "deregistering")
        self.assertEqual(rec.signals(), [])

    # -- --control-token --

    def test_token_needed_from_non_loopback_peer(self):
        for http in (":%d" % PORT, "0.0.0.0:%d" % PORT):  # IPv4-mapped IPv6 peers, then IPv4
            with self.subTest(http=http):
                self.token_needed_from_non_loopback_peer(http)

    def token_needed_from_non_loopback_peer(self, http):
        run, rec, _ = self.start_sigtime(["--control-token", TOKEN, "--drain-delay", "10s"],
                                         http=http, nonloopback=True)
        remote = {"host": NONLOOPBACK, "source": NONLOOPBACK}
        for path in ("/livez", "/healthz", "/readyz", "/readyz?verbose", "/status",
                     "/metrics"):
            self.assertEqual(run.get(path, **remote).status, 200,
                             "%s from %s needs no token" % (path, NONLOOPBACK))
        bad = [None, "Bearer wrong", TOKEN, "Bearer " + TOKEN[:-1], "Bearer " + TOKEN + "x",
               "Bearer " + TOKEN + " ", "bearer " + TOKEN, "Basic " + TOKEN, "Bearer"]
        for auth in bad:
            headers = {} if auth is None else {"Authorization": auth}
            for method, path in (("POST", "/drain"), ("GET", "/prestop?wait=0"),
                                 ("POST", "/prestop?wait=0"), ("GET", "/prestop")):
                resp = run.request(method, path, headers=headers, **remote)
                self.assertEqual(resp.status, 401, "%s %s from %s with Authorization %r: %r"
                                 % (method, path, NONLOOPBACK, auth, resp))
                self.assertEqual(resp.headers.get("www-authenticate"), "Bearer")
        res = run.ctl(["prestop", "--url", "http://%s:%d" % (NONLOOPBACK, PORT),
                       "--timeout", "3s"])
        self.assertEqual(res.returncode, 1, res)
        self.assertIn("HTTP 401", res.stderr)
        self.assert_state(run, "running")
        self.assertEqual(run.get("/readyz", **remote).status, 200)
        body = run.get("/status", **remote).body
        self.assertNotIn(TOKEN, body, "/status shows the token")
        self.assertNotEqual(json.loads(body)["config"]["control-token"], None,
                            "/status says a token is set (redacted)")

        resp = run.post("/drain", headers={"Authorization": "Bearer " + TOKEN}, **remote)
        self.assertEqual(resp.status, 202, resp)
        self.assertEqual(resp.json()["trigger"], "/drain")
        self.assertEqual(run.get("/readyz", **remote).status, 503)
        resp = run.get("/prestop?wait=0", headers={"Authorization": "Bearer " + TOKEN},
                       **remote)
        self.assertEqual(resp.status, 202, resp)
        self.assertNotIn(TOKEN, run.stderr(), "the token appears in the log")

    def test_no_token_needed_on_loopback_and_socket(self):
        for where in ({"host": "127.0.0.1"}, {"host": "127.0.0.2"}, {"host": "::1"},
                      {"unix": "@graceinit"}):
            with self.subTest(where=where):
                run, rec, _ = self.start_sigtime(["--control-token", TOKEN,
                                                  "--drain-delay", "10s"])
                resp = run.get("/prestop?wait=0", **where)
                self.assertEqual(resp.status, 202, "%s: %r" % (where, resp))
                self.assertEqual(resp.json()["trigger"], "/prestop")
                self.assertEqual(run.get("/readyz").status, 503)

    def test_prestop_command_with_token(self):
        url = "http://%s:%d" % (NONLOOPBACK, PORT)
        for args, env in ((["--token", TOKEN], None), ([], {"GRACEINIT_CONTROL_TOKEN": TOKEN})):
            with self.subTest(args=args, env=env):
                run, rec, _ = self.start_sigtime(["--control-token", TOKEN,
                                                  "--drain-delay", "200ms"],
                                                 ["--exit-on", "TERM:0"], nonloopback=True)
                res = run.ctl(["prestop", "--url", url] + args, env=env)
                self.assertEqual(res.returncode, 0, res)
                self.assertEqual(json.loads(res.stdout)["trigger"], "/prestop")
                self.assertEqual(run.wait(5), 0)


if __name__ == "__main__":
    khelp.main()
