#!/usr/bin/python3
"""The other sources of confirmed deregistration, timed from outside: --deregister webhooks
(called once when the drain starts, all at once, retried with backoff until a 2xx, bounded by
the budget) and --drain-connections (after deregistration, the stop signal waits until no
established inbound TCP connection is left on the app's ports, IPv4 and IPv6).

Each test makes a pod network namespace (podhelp.PodNet) in which a registry (a Python HTTP
server that records method, path, headers and arrival time of every call and answers as told)
or the app (a Python TCP server) listens first; graceinit runs as PID 1 of its own PID
namespace in it, with sigtime.py as its child (the CLOCK_MONOTONIC time of the stop signal).
Clients hold connections to the app from the test process, in the same namespace, and close
them at known times. Outside a cluster --drain-delay is 0, so these sources alone decide.

Timing: a source is done when the test made it so (a hook answered, the last connection
closed); the stop signal may follow by at most 100 ms (the connection poll interval; webhooks
are event-driven) + SLACK, 150 ms for a loaded 2-core machine (Python threads of the servers and
of the child woken late by a few timeslices), and never precede it.
"""

import signal
import time

import harness
import podhelp
from harness import wait_until

TERM = signal.SIGTERM
SLACK = 0.15
POLL = 0.1
EARLY = 0.002


class DeregisterTest(podhelp.TestCase):

    def assert_window(self, t, lo, hi, what):
        self.assertTrue(lo - EARLY <= t <= hi, "%s at %+.3f s, expected within [%+.3f, %+.3f]"
                        % (what, t, lo, hi))

    def start(self, pod, options, child_args=("--exit-on", "USR1:0")):
        """graceinit OPTIONS -- sigtime.py, which exits 0 on SIGUSR1 only (see finish)."""
        return self.start_pod_sigtime(pod, ["--log-level", "debug"] + list(options), child_args)

    def finish(self, run):
        run.kill(signal.SIGUSR1)
        self.assertEqual(run.wait(5), 0, run.stderr())

    # -- webhooks -------------------------------------------------------------------------------

    @harness.skip_if_wrapped("a 150 ms timing window")
    def test_webhook_called_once_at_the_drain_start(self):
        pod = self.pod_net()
        hook = self.hook_server(pod, codes=(200,), delay=0.4)
        spec = "DELETE " + hook.url("/v1/agent/service/deregister/web-1?dc=eu-west")
        run, rec = self.start(pod, ["--deregister", spec,
                                    "--deregister-header", "X-Consul-Token: s3cr3t",
                                    "--deregister-header", "X-Request-Source: graceinit"])
        time.sleep(0.3)
        self.assertEqual(hook.got(), [], "a webhook called before any drain")
        started = time.monotonic()
        run.kill(TERM)
        (req,) = hook.wait_count(1, 3)
        self.assert_window(req.time - started, 0, 0.1 + SLACK, "the webhook call")
        self.assertEqual(req.method, "DELETE")
        self.assertEqual(req.path, "/v1/agent/service/deregister/web-1?dc=eu-west")
        self.assertEqual(req.headers.get("x-consul-token"), "s3cr3t")
        self.assertEqual(req.headers.get("x-request-source"), "graceinit")
        self.assertTrue(req.headers.get("user-agent", "").startswith("graceinit/"), req.headers)
        # The drain waits for the answer (sent 0.4 s after the call), then stops the app.
        stop = rec.wait_signal(TERM, 5) - req.time
        self.assert_window(stop, 0.4, 0.4 + SLACK, "the stop signal after the answer")
        src = run.status()["drain"]["sources_ms"]
        # From graceinit's trigger, which came between `started` and the call.
        self.assert_window(src["webhooks"] / 1000, 0.4, req.time - started + 0.4 + SLACK,
                           "sources_ms.webhooks")
        self.assertEqual(src["endpoints_by"], "delay", src)  # no cluster: --drain-delay 0
        # /prestop after the drain started joins it: no second call.
        self.assertEqual(run.get("/prestop").status, 200)
        self.finish(run)
        self.assertEqual(len(hook.got()), 1, hook.got())
        self.assertEqual(run.log_count("answered 200 after 1 attempt"), 1, run.stderr())
        self.assertNotIn("s3cr3t", run.stderr(), "the header's secret is not logged")

    @harness.skip_if_wrapped("a 150 ms timing window")
    def test_webhook_post_from_prestop(self):
        # The method and path as given, a POST with an empty body; /prestop answers once the
        # registry did.
        pod = self.pod_net()
        hook = self.hook_server(pod, codes=(204,), delay=0.3)
        run, rec = self.start(pod, ["--deregister", "POST " + hook.url("/eureka/apps/WEB/down")])
        started = time.monotonic()
        resp = run.get("/prestop", timeout=10)
        answered = time.monotonic()
        (req,) = hook.got()
        self.assertEqual((req.method, req.path, req.body), ("POST", "/eureka/apps/WEB/down", b""))
        self.assertEqual(resp.status, 200, resp)
        self.assert_window(answered - req.time, 0.3, 0.3 + SLACK, "/prestop's answer")
        self.assertIsNotNone(resp.json()["sources_ms"]["webhooks"])
        rec.wait_signal(TERM, 5)
        self.assertLess(answered - started, 1.0)

    def test_webhook_retried_with_backoff(self):
        pod = self.pod_net()
        hook = self.hook_server(pod, codes=(500, 503, 500, 200))
        run, rec = self.start(pod, ["--deregister", "PUT " + hook.url("/lb/targets/10.0.0.7")])
        started = time.monotonic()
        run.kill(TERM)
        reqs = hook.wait_count(4, 5, "attempts")
        times = [r.time for r in reqs]
        gaps = [b - a for a, b in zip(times, times[1:])]
        print("\nattempts at %s s, gaps %s s" % (["%.3f" % (t - started) for t in times],
                                                 ["%.3f" % g for g in gaps]))
        # 250 ms doubling: 0.25, 0.5, 1 s.
        for gap, want in zip(gaps, (0.25, 0.5, 1.0)):
            self.assert_window(gap, want, want + SLACK, "a retry")
        self.assertTrue(gaps[0] < gaps[1] < gaps[2], "the backoff grows: %s" % gaps)
        stop = rec.wait_signal(TERM, 5) - times[-1]
        self.assert_window(stop, 0, SLACK, "the stop signal after the 200")
        self.assertEqual(len(hook.got()), 4)
        self.assertEqual(run.log_count("answered 200 after 4 attempts"), 1, run.stderr())
        self.assertEqual(run.log_count("failed (HTTP 50"), 3, run.stderr())

    def test_webhook_never_answers(self):
        # The registry accepts the call and never answers. --grace-period 6s --kill-margin 1s:
        # SIGKILL at 5 s, and the app keeps half of that (2.5 s) between the stop signal and
        # SIGKILL, so the budget moves on to the stop signal at 2.5 s (one attempt: each is
        # bounded to 5 s).
        pod = self.pod_net()
        hook = self.hook_server(pod, codes=(None,))
        run, rec = self.start(pod, ["--grace-period", "6s", "--kill-margin", "1s",
                                    "--deregister", "DELETE " + hook.url("/hang")],
                              child_args=("--exit-on", "TERM:0"))
        started = time.monotonic()
        answer = self.prestop_thread(run)
        hook.wait_count(1, 3)
        stop = rec.wait_signal(TERM, 6) - started
        self.assert_window(stop, 2.5, 2.5 + SLACK, "the stop signal, the webhook hung")
        resp, at = answer()
        self.assertEqual(resp.status, 200, resp)
        self.assert_window(at - started, 2.5, 2.5 + SLACK, "/prestop's answer")
        body = resp.json()
        self.assertIsNone(body["sources_ms"]["webhooks"], body)
        self.assertEqual(run.wait(3), 0, "the child exits on TERM: graceinit goes at once")
        gone = time.monotonic() - started
        self.assertLess(gone, 2.5 + 1.0, "graceinit waited for the hung webhook")
        self.assertEqual(len(hook.got()), 1)
        print("\nhung webhook: stop signal at %.3f s (budget's latest), exit at %.3f s; "
              "/prestop sources_ms %s" % (stop, gone, body["sources_ms"]))

    def test_several_webhooks_concurrently(self):
        pod = self.pod_net()
        hooks = [self.hook_server(pod, codes=(200,), delay=0.8) for _ in range(3)]
        opts = []
        for i, h in enumerate(hooks):
            opts += ["--deregister", "DELETE " + h.url("/registry/%d" % i)]
        run, rec = self.start(pod, opts)
        started = time.monotonic()
        run.kill(TERM)
        times = [h.wait_count(1, 3)[0].time - started for h in hooks]
        stop = rec.wait_signal(TERM, 5) - started
        print("\n3 webhooks answering in 0.8 s each: called at %s s, stop signal at %.3f s"
              % (["%.3f" % t for t in times], stop))
        # All called before the first could answer: concurrent, not one after the other.
        self.assertLess(max(times) - min(times), 0.1 + SLACK, times)
        self.assert_window(stop, max(times) + 0.8, max(times) + 0.8 + SLACK,
                           "the stop signal (serial calls would take 2.4 s)")
        for i, h in enumerate(hooks):
            self.assertEqual([r.path for r in h.got()], ["/registry/%d" % i])

    # -- connections ----------------------------------------------------------------------------

    def hold(self, pod, port, host="127.0.0.1", n=1):
        """n client connections to host:port, held open by the test."""
        socks = [pod.connect(host, port) for _ in range(n)]
        for s in socks:
            self.addCleanup(s.close)
        return socks

    def close_at(self, sock, when):
        """Closes sock at monotonic time `when` (a thread); returns a join function."""
        def close():
            time.sleep(max(0.0, when - time.monotonic()))
            sock.close()
            return time.monotonic()
        return self.thread(close)

    def wait_established(self, run, port, count):
        """Until graceinit's namespace lists count established connections on local port."""
        def n():
            total = 0
            for f in ("/proc/%d/net/tcp" % run.init_pid(), "/proc/%d/net/tcp6" % run.init_pid()):
                for line in (harness.read_text(f) or "").splitlines()[1:]:
                    fields = line.split()
                    if fields[3] == "01" and int(fields[1].split(":")[1], 16) == port:
                        total += 1
            return total >= count
        wait_until(n, 5, "%d established connections on port %d" % (count, port))

    def test_connections_drain(self):
        pod = self.pod_net()
        app = self.app_server(pod)
        run, rec = self.start(pod, ["--drain-connections", str(app.port)])
        clients = self.hold(pod, app.port, n=3)
        self.wait_established(run, app.port, 3)
        started = time.monotonic()
        answer = self.prestop_thread(run)
        closes = [self.close_at(c, started + d) for c, d in zip(clients, (0.3, 0.6, 1.0))]
        run.wait_status("/readyz", 503, 0.3)
        not_ready = time.monotonic()  # graceinit's trigger was in [started, not_ready]
        closed = [j() for j in closes]
        last = max(closed)
        self.assertEqual(rec.signals(), [], "the stop signal before the last close")
        stop = rec.wait_signal(TERM, 5) - last
        self.assert_window(stop, 0, POLL + SLACK, "the stop signal after the last close")
        resp, at = answer()
        self.assertEqual(resp.status, 200, resp)
        self.assert_window(at - last, 0, POLL + SLACK, "/prestop's answer")
        src = resp.json()["sources_ms"]
        self.assert_window(src["connections"] / 1000, last - not_ready,
                           last - started + POLL + SLACK, "sources_ms.connections")
        self.assertEqual(run.log_count("drain: 3 inbound connections left"), 1, run.stderr())
        self.assertEqual(run.log_count("drain: 0 inbound connections left"), 1, run.stderr())
        print("\nlast close at %.3f s, stop signal %.0f ms later; sources_ms %s"
              % (last - started, stop * 1000, src))

    def test_connections_on_other_ports_do_not_count(self):
        pod = self.pod_net()
        app = self.app_server(pod)
        admin = self.app_server(pod)  # another port of the pod, e.g. metrics
        run, rec = self.start(pod, ["--drain-connections", str(app.port)])
        (client,) = self.hold(pod, app.port)
        self.hold(pod, admin.port, n=2)  # never closed
        self.wait_established(run, admin.port, 2)
        started = time.monotonic()
        run.kill(TERM)
        closed = self.close_at(client, started + 0.5)()
        stop = rec.wait_signal(TERM, 5) - closed
        self.assert_window(stop, 0, POLL + SLACK, "the stop signal, other ports held open")

    def test_no_connection_at_the_start(self):
        pod = self.pod_net()
        app = self.app_server(pod)
        run, rec = self.start(pod, ["--drain-connections", "%d,%d" % (app.port, app.port + 1)])
        started = time.monotonic()
        run.kill(TERM)
        stop = rec.wait_signal(TERM, 5) - started
        self.assert_window(stop, 0, SLACK, "the stop signal with no connection")

    def test_ipv6_connections_count(self):
        pod = self.pod_net()
        try:
            app6 = self.app_server(pod, host="::1")
        except OSError as e:
            self.skipTest("no IPv6 loopback in the namespace: %s" % e)
        dual = self.app_server(pod, host="::", v6only=False)
        run, rec = self.start(pod, ["--drain-connections", "%d,%d" % (app6.port, dual.port)])
        (c6,) = self.hold(pod, app6.port, host="::1")
        (mapped,) = self.hold(pod, dual.port, host="127.0.0.1")  # ::ffff:127.0.0.1 in tcp6
        self.wait_established(run, app6.port, 1)
        self.wait_established(run, dual.port, 1)
        started = time.monotonic()
        run.kill(TERM)
        j6 = self.close_at(c6, started + 0.4)
        jm = self.close_at(mapped, started + 0.8)
        t6 = j6()
        self.assertEqual(rec.signals(), [])
        tm = jm()
        self.assertLess(t6, tm)
        stop = rec.wait_signal(TERM, 5) - tm
        self.assert_window(stop, 0, POLL + SLACK, "the stop signal after the IPv6 closes")

    @harness.skip_if_wrapped("a 150 ms timing window")
    def test_webhooks_then_connections(self):
        # Connections are waited for after the webhooks: a connection closed while the
        # registry has not answered yet does not end anything by itself.
        pod = self.pod_net()
        hook = self.hook_server(pod, codes=(200,), delay=0.6)
        app = self.app_server(pod)
        run, rec = self.start(pod, ["--deregister", "DELETE " + hook.url("/x"),
                                    "--drain-connections", str(app.port)])
        early, late = self.hold(pod, app.port, n=2)
        self.wait_established(run, app.port, 2)
        started = time.monotonic()
        run.kill(TERM)
        self.close_at(early, started + 0.2)()
        closed = self.close_at(late, started + 1.0)()
        stop = rec.wait_signal(TERM, 5) - started
        self.assert_window(stop, closed - started, closed - started + POLL + SLACK,
                           "the stop signal")
        src = run.status()["drain"]["sources_ms"]
        self.assertLessEqual(src["webhooks"], src["connections"], src)
        self.assert_window(src["webhooks"] / 1000, 0.6, 0.6 + SLACK, "sources_ms.webhooks")


if __name__ == "__main__":
    harness.main()
