#!/usr/bin/python3
"""/metrics: valid Prometheus text exposition (checked by `promtool check metrics`, from Debian's
prometheus package, in every state: idle, draining, after the drain), and counters that move
with what happens: signals received and forwarded by signal name (rewritten and dropped ones
included), HTTP requests by path and status code, zombies reaped, the ready and live gauges.
"""

import os
import shutil
import signal
import subprocess

import harness
import khelp
from khelp import metric

PROMTOOL = shutil.which("promtool") or ("/usr/bin/promtool"
                                        if os.access("/usr/bin/promtool", os.X_OK) else None)


class MetricsTest(khelp.TestCase):

    def promtool_check(self, text, what):
        res = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(res.returncode, 0, "promtool check metrics on /metrics %s:\n%s%s\n"
                         "--- /metrics:\n%s" % (what, res.stdout, res.stderr, text))

    def test_promtool_accepts_metrics(self):
        if PROMTOOL is None:
            self.skipTest("promtool not found: install Debian's prometheus package "
                          "(.ci/setup lists it)")
        run, rec, info = self.start_sigtime(["--drain-delay", "300ms", "--exit-grace", "20s",
                                             "--rewrite", "USR2:HUP"],
                                            ["--exit-on", "TERM:0", "--linger", "30"])
        self.promtool_check(run.get("/metrics").body, "at start")
        run.kill(signal.SIGUSR1)
        run.kill(signal.SIGUSR2)
        rec.wait_signal(signal.SIGHUP, 5)
        for path in ("/nope", "/readyz", "/livez"):
            run.get(path)
        run.post("/livez")
        run.post("/drain", body=b"x" * 5000)
        self.promtool_check(run.get("/metrics").body, "with counters")
        self.assertEqual(run.post("/drain").status, 202)
        self.promtool_check(run.get("/metrics").body, "while draining")
        run.wait_status("/livez", 503, 5)
        text = run.get("/metrics").body
        self.assertIn('graceinit_drain_phase_seconds{phase="total"}', text)
        self.promtool_check(text, "after the drain")
        os.kill(run.outside_pid(info["linger"]), signal.SIGKILL)
        self.assertEqual(run.wait(5), 0)

    def test_signal_counters(self):
        run, rec, _ = self.start_sigtime(["--rewrite", "USR2:HUP", "--rewrite", "WINCH:0"])
        before = run.metrics()
        self.assertEqual(metric(before, "graceinit_signals_received_total", signal="SIGUSR1"), 0)
        for n in range(1, 4):
            run.kill(signal.SIGUSR1)
            harness.wait_until(lambda: rec.signos().count(signal.SIGUSR1) == n, 5,
                               "SIGUSR1 #%d to reach the child" % n)
            m = run.metrics()
            self.assertEqual(metric(m, "graceinit_signals_received_total", signal="SIGUSR1"), n)
            self.assertEqual(metric(m, "graceinit_signals_forwarded_total", signal="SIGUSR1"),
                             n)
        run.kill(signal.SIGUSR2)
        rec.wait_signal(signal.SIGHUP, 5)
        run.kill(signal.SIGWINCH)
        harness.wait_until(
            lambda: metric(run.metrics(), "graceinit_signals_received_total",
                           signal="SIGWINCH") == 1, 5, "graceinit to count SIGWINCH")
        m = run.metrics()
        self.assertEqual(metric(m, "graceinit_signals_received_total", signal="SIGUSR2"), 1)
        self.assertEqual(metric(m, "graceinit_signals_forwarded_total", signal="SIGUSR2"), 0)
        self.assertEqual(metric(m, "graceinit_signals_forwarded_total", signal="SIGHUP"), 1)
        self.assertEqual(metric(m, "graceinit_signals_received_total", signal="SIGHUP"), 0)
        self.assertEqual(metric(m, "graceinit_signals_forwarded_total", signal="SIGWINCH"), 0,
                         "a dropped signal is not forwarded")
        self.assertNotIn(signal.SIGWINCH, rec.signos())
        self.assertEqual(metric(m, "graceinit_signals_received_total", signal="SIGCHLD"), 0)

    def test_http_counters(self):
        run, rec, _ = self.start_sigtime(["--drain-delay", "10s"])
        before = run.metrics()

        def delta(after, path, code):
            return (metric(after, "graceinit_http_requests_total", path=path, code=str(code))
                    - metric(before, "graceinit_http_requests_total", path=path, code=str(code)))

        for _ in range(3):
            run.get("/readyz")
        for path in ("/nope", "/", "/livez/x"):
            run.get(path)
        run.get("/healthz")
        run.post("/livez")
        run.get("/drain")
        run.post("/drain", body=b"x" * 5000)
        run.get("/livez", unix="@graceinit")
        run.post("/drain")
        run.get("/readyz")
        after = run.metrics()
        # /metrics counts itself after rendering: the first request of `before` shows in
        # `after` only.
        expected = [("/readyz", 200, 3), ("other", 404, 3), ("/healthz", 200, 1),
                    ("/livez", 405, 1), ("/drain", 405, 1), ("/drain", 413, 1),
                    ("/livez", 200, 1), ("/drain", 202, 1), ("/readyz", 503, 1),
                    ("/metrics", 200, 1), ("/status", 200, 0), ("/prestop", 202, 0)]
        for path, code, n in expected:
            self.assertEqual(delta(after, path, code), n, "requests to %s answered %d"
                             % (path, code))

    def test_zombies_reaped(self):
        report = harness.ReportFile(self.path("orphans"))
        run = self.start_net([], [harness.helper("orphans"), "-n", "25", "-k", "5", "-d", "20",
                                  "-w", report.path])
        run.wait_http()
        report.wait_line(lambda l: l.startswith("done"), 10, "the orphans to be forked")
        # 5 intermediates (reaped by the helper itself) left 25 orphans to graceinit.
        harness.wait_until(lambda: metric(run.metrics(), "graceinit_zombies_reaped_total")
                           == 25, 5, "graceinit_zombies_reaped_total to reach 25 (now %s)"
                           % metric(run.metrics(), "graceinit_zombies_reaped_total"))
        self.assertEqual(run.status()["child"]["reaped"], 25)
        run.kill(signal.SIGUSR1)
        self.assertEqual(run.wait(5), 0)

    def test_ready_and_live_gauges(self):
        run, rec, _ = self.start_sigtime(["--drain-delay", "10s"])
        m = run.metrics()
        self.assertEqual((metric(m, "graceinit_ready"), metric(m, "graceinit_live")), (1, 1))
        self.assertEqual(metric(m, "graceinit_build_info", version=run.status()["version"]), 1)
        self.assertGreater(metric(m, "graceinit_start_time_seconds"), 1.6e9)
        run.kill(signal.SIGTERM)
        run.wait_status("/readyz", 503, 2)
        m = run.metrics()
        self.assertEqual((metric(m, "graceinit_ready"), metric(m, "graceinit_live")), (0, 1))
        self.assertEqual(metric(m, "graceinit_drain_state", state="deregistering"), 1)
        self.assertEqual(sum(v for k, v in m.items() if k[0] == "graceinit_drain_state"), 1)


if __name__ == "__main__":
    khelp.main()
