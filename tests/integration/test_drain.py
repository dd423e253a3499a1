#!/usr/bin/python3
"""The drain, timed from outside: after SIGTERM, /prestop or /drain graceinit is not ready at once
(/readyz 503, /livez still 200), waits --drain-delay, sends the stop signal to the child's group,
waits for the child, and SIGKILLs it at --grace-period minus --kill-margin from the first
trigger. /prestop answers when the deregistration phase is over (a second /prestop joins the
first); ?wait=0 answers 202 at once. The first SIGTERM after /prestop joins the drain, a second
one or a SIGINT skips ahead to the stop signal; a child that exits mid-drain ends it at once
with its status; the stop signal is --stop-signal; /metrics shows the phase durations;
`graceinit plan` fails (exit 2) when the waits cannot fit in the budget.

The child is sigtime.py: it records the CLOCK_MONOTONIC time at which each signal reaches it,
which the test compares with the time it sent its own trigger. Bounds leave room for a loaded
2-core machine: a phase may end late by up to a few hundred ms, never early.
"""

import os
import signal
import subprocess
import time

import harness
import khelp

TERM, INT, QUIT, USR1 = signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGUSR1


class DrainTest(khelp.TestCase):

    def wait_received(self, run, signo, count=1, timeout=5):
        """Waits until graceinit has taken count signals signo (its own counter in /metrics):
        the positive evidence that a signal which has no visible effect was handled."""
        name = harness.signame(signo)
        harness.wait_until(
            lambda: khelp.metric(run.metrics(), "graceinit_signals_received_total",
                                 signal=name) >= count,
            timeout, "graceinit to receive %s x%d" % (name, count))

    def test_sigterm_timeline(self):
        run, rec, _ = self.start_sigtime(["--drain-delay", "1s"], ["--exit-on", "TERM:0"])
        sent = self.send_signal(run, TERM)
        run.wait_status("/readyz", 503, 2)
        not_ready = time.monotonic() - sent
        self.assertLess(not_ready, 0.05, "/readyz answered 503 only %.3f s after SIGTERM"
                        % not_ready)
        # Not ready, but alive, for the whole deregistration phase: the kubelet must not
        # restart a draining container.
        livez = []
        while time.monotonic() - sent < 0.85:
            livez.append(run.get("/livez").status)
            self.assertEqual(run.get("/readyz").status, 503)
            time.sleep(0.02)
        self.assertEqual(set(livez), {200}, "/livez during the drain")
        self.assertEqual(rec.signals(), [], "the child got a signal during deregistration")
        stop = rec.wait_signal(TERM, 5) - sent
        self.assert_elapsed(stop, 0.95, 1.5, "the stop signal with --drain-delay 1s")
        self.assertEqual(run.wait(5), 0, "graceinit exits with the child's status")
        self.assertEqual(rec.signos(), [TERM])
        self.assertEqual(run.log_count("drain: started by SIGTERM"), 1, run.stderr())
        print("\nSIGTERM -> /readyz 503 after %.1f ms; stop signal after %.3f s (--drain-delay 1s)"
              % (not_ready * 1000, stop))

    def test_sigkill_at_grace_minus_margin(self):
        # The child ignores the stop signal. --drain-delay 10s cannot fit in a 3 s budget: the
        # app keeps half of grace - margin (1 s) before SIGKILL, so the stop signal goes at 1 s
        # and SIGKILL at 3 - 1 = 2 s.
        run, rec, _ = self.start_sigtime(["--grace-period", "3s", "--kill-margin", "1s",
                                          "--drain-delay", "10s"])
        sent = self.send_signal(run, TERM)
        stop = rec.wait_signal(TERM, 5) - sent
        self.assert_elapsed(stop, 0.95, 1.4, "the stop signal, deregistration cut to 1 s")
        st = run.status()
        self.assertEqual(st["state"], "stopping")
        self.assertEqual(st["drain"]["kill_deadline_ms"], 2000)
        self.assertIs(st["live"], True)
        status = run.wait(5)
        exited = time.monotonic() - sent
        self.assertEqual(status, 137, "graceinit exits 128+SIGKILL")
        self.assert_elapsed(exited, 1.95, 2.6, "SIGKILL with --grace-period 3s --kill-margin 1s")
        self.assertEqual(rec.signos(), [TERM], "the stop signal is sent once")
        self.assertIn("deregistration is cut to 1000 ms", run.stderr())
        print("\nstop signal after %.3f s, exit 137 after %.3f s (grace 3s, margin 1s)"
              % (stop, exited))

    def test_prestop_blocks_then_joins(self):
        run, rec, _ = self.start_sigtime(["--drain-delay", "1s"], ["--exit-on", "USR1:0"])
        results = {}

        def prestop(name, method):
            resp = run.request(method, "/prestop", timeout=10)
            results[name] = (resp, time.monotonic())

        started = time.monotonic()
        first = self.thread(prestop, "first", "GET")
        run.wait_status("/readyz", 503, 1)
        time.sleep(0.2)
        second = self.thread(prestop, "second", "POST")
        first()
        second()
        (r1, t1), (r2, t2) = results["first"], results["second"]
        self.assertEqual((r1.status, r2.status), (200, 200), (r1, r2))
        self.assert_elapsed(t1 - started, 0.95, 1.5, "the first /prestop")
        self.assertLess(abs(t2 - t1), 0.15, "the joining /prestop answered %.3f s apart"
                        % (t2 - t1))
        b1, b2 = r1.json(), r2.json()
        for body in (b1, b2):
            self.assertEqual(body["trigger"], "/prestop")
            self.assertIn(body["state"], ("stopping", "exited"))
            self.assertGreaterEqual(body["timings_ms"]["deregistered"], 990)
            self.assertLessEqual(body["timings_ms"]["deregistered"], 1400)
            self.assertEqual(body["timings_ms"]["not_ready"], 0)
        self.assertEqual(b1["timings_ms"]["deregistered"], b2["timings_ms"]["deregistered"],
                         "both answers describe the same drain")
        self.assertEqual(run.log_count("drain: started by"), 1, "the drain started once")
        rec.wait_signal(TERM, 5)
        # Once deregistration is over, /prestop answers at once.
        resp = run.get("/prestop")
        self.assertEqual(resp.status, 200)
        self.assertLess(resp.elapsed, 0.2, "/prestop after deregistration")
        # The kubelet's SIGTERM, after the hook: the stop signal is not sent again.
        run.kill(TERM)
        self.wait_received(run, TERM)
        run.kill(USR1)
        rec.wait_signal(USR1, 5)
        self.assertEqual(run.wait(5), 0)
        self.assertEqual(rec.signos(), [TERM, USR1], "SIGTERM after the stop signal is not "
                         "forwarded again")

    def test_many_prestop_waiters_some_gone(self):
        # 20 hooks wait; 5 more give up early (the kubelet's hook timeout closes them).
        run, rec, _ = self.start_sigtime(["--drain-delay", "1s"], ["--exit-on", "TERM:0"])
        started = time.monotonic()
        waiters = [self.thread(lambda: (run.get("/prestop", timeout=10), time.monotonic()))
                   for _ in range(20)]
        for _ in range(5):
            self.assertRaises(OSError, run.get, "/prestop", timeout=0.1)
        answers = [w() for w in waiters]
        self.assertEqual([r.status for r, _ in answers], [200] * 20)
        times = [t - started for _, t in answers]
        self.assert_elapsed(min(times), 0.95, 1.5, "the first /prestop answer")
        self.assertLess(max(times) - min(times), 0.3, "all waiters are answered together")
        self.assertEqual(run.wait(5), 0)
        self.assertEqual(rec.signos(), [TERM])

    def test_min_drain(self):
        run, rec, _ = self.start_sigtime(["--min-drain", "600ms", "--drain-delay", "200ms"],
                                         ["--exit-on", "TERM:0"])
        sent = self.send_signal(run, TERM)
        stop = rec.wait_signal(TERM, 5) - sent
        self.assert_elapsed(stop, 0.59, 1.1, "the stop signal with --min-drain 600ms over "
                            "--drain-delay 200ms")
        self.assertEqual(run.wait(5), 0)

    def test_kill_deadline_counts_from_first_trigger(self):
        # /prestop at 0, the kubelet's SIGTERM at 1 s: SIGKILL at 3 - 1 = 2 s from /prestop,
        # not from the SIGTERM.
        run, rec, _ = self.start_sigtime(["--grace-period", "3s", "--kill-margin", "1s",
                                          "--drain-delay", "500ms"])
        trigger = time.monotonic()
        self.assertEqual(run.post("/prestop?wait=0").status, 202)
        rec.wait_signal(TERM, 5)
        time.sleep(max(0.0, trigger + 1.0 - time.monotonic()))
        run.kill(TERM)
        status = run.wait(5)
        exited = time.monotonic() - trigger
        self.assertEqual(status, 137)
        self.assert_elapsed(exited, 1.95, 2.6, "SIGKILL, counted from /prestop")
        self.assertEqual(rec.signos(), [TERM])

    def test_prestop_outlasts_http_idle_timeout(self):
        # A /prestop waits as long as deregistration takes, beyond the 10 s after which the
        # listener closes idle connections.
        run, rec, _ = self.start_sigtime(["--drain-delay", "11s"], ["--exit-on", "TERM:0"])
        resp = run.get("/prestop", timeout=20)
        self.assertEqual(resp.status, 200)
        self.assert_elapsed(resp.elapsed, 10.95, 12, "/prestop with --drain-delay 11s")
        self.assertEqual(run.wait(5), 0)

    def test_prestop_wait_0(self):
        run, rec, _ = self.start_sigtime(["--drain-delay", "800ms"], ["--exit-on", "TERM:0"])
        resp = run.post("/prestop?wait=0")
        self.assertEqual(resp.status, 202, resp)
        self.assertLess(resp.elapsed, 0.2, "/prestop?wait=0 answers at once")
        body = resp.json()
        self.assertEqual((body["state"], body["trigger"]), ("deregistering", "/prestop"))
        self.assertIsNone(body["timings_ms"]["deregistered"])
        for path in ("/prestop?wait=false", "/prestop?wait=0"):
            resp = run.get(path)
            self.assertEqual(resp.status, 202, path)
            self.assertLess(resp.elapsed, 0.2, path)
        resp = run.post("/drain")
        self.assertEqual(resp.status, 202)
        self.assertEqual(resp.json()["trigger"], "/prestop", "the first trigger is kept")
        # A blocking /prestop joins the drain under way and answers when it ends.
        resp = run.get("/prestop")
        self.assertEqual(resp.status, 200)
        self.assertGreaterEqual(resp.json()["timings_ms"]["deregistered"], 790)
        self.assertEqual(run.wait(5), 0)
        self.assertEqual(run.log_count("drain: started by"), 1)

    def test_drain_endpoint(self):
        run, rec, _ = self.start_sigtime(["--drain-delay", "500ms"], ["--exit-on", "TERM:0"])
        started = time.monotonic()
        resp = run.post("/drain")
        self.assertEqual(resp.status, 202)
        self.assertLess(resp.elapsed, 0.2, "/drain answers at once")
        self.assertEqual(run.get("/readyz").status, 503)
        stop = rec.wait_signal(TERM, 5) - started
        self.assert_elapsed(stop, 0.48, 1.0, "the stop signal after /drain, --drain-delay 500ms")
        self.assertEqual(run.wait(5), 0)

    def test_sigterm_after_prestop_joins_and_second_skips(self):
        run, rec, _ = self.start_sigtime(["--drain-delay", "2s"], ["--exit-on", "TERM:0"])
        trigger = time.monotonic()
        self.assertEqual(run.post("/prestop?wait=0").status, 202)
        run.kill(TERM)
        self.wait_received(run, TERM)
        run.wait_log("SIGTERM joins the drain started by /prestop")
        time.sleep(0.3)
        self.assertEqual(rec.signals(), [], "the first SIGTERM after /prestop cut the wait")
        self.assertIs(run.status()["drain"]["cut_short"], False)
        skip = self.send_signal(run, TERM)
        stop = rec.wait_signal(TERM, 5)
        self.assertLess(stop - skip, 0.3, "the second SIGTERM skips to the stop signal")
        self.assertLess(stop - trigger, 1.5, "stopped before --drain-delay")
        self.assertEqual(run.wait(5), 0)
        self.assertEqual(rec.signos(), [TERM])
        self.assertIn("second SIGTERM: skipping the rest of deregistration", run.stderr())

    def test_sigint_skips_deregistration(self):
        run, rec, _ = self.start_sigtime(["--drain-delay", "5s"], ["--exit-on", "TERM:0"])
        trigger = self.send_signal(run, TERM)
        run.wait_status("/readyz", 503, 1)
        time.sleep(0.2)
        skip = self.send_signal(run, INT)
        stop = rec.wait_signal(TERM, 5)
        self.assertLess(stop - skip, 0.3, "SIGINT skips to the stop signal")
        self.assertLess(stop - trigger, 1.5)
        self.assertEqual(run.wait(5), 0)
        self.assertEqual(rec.signos(), [TERM], "the child gets the stop signal, not SIGINT")

    def test_child_exits_mid_drain(self):
        # The child exits 7 on SIGUSR1, which is forwarded during the drain like any signal.
        run, rec, _ = self.start_sigtime(["--drain-delay", "5s"], ["--exit-on", "USR1:7"])
        trigger = self.send_signal(run, TERM)
        run.wait_status("/readyz", 503, 1)
        waiter = self.thread(lambda: run.get("/prestop", timeout=10))
        run.wait_log("drain: started by SIGTERM")
        time.sleep(0.2)
        run.kill(USR1)
        child_exit = rec.wait_signal(USR1, 5)
        status = run.wait(3)
        exited = time.monotonic()
        self.assertEqual(status, 7, "graceinit exits with the child's status")
        self.assertLess(exited - child_exit, 0.5, "graceinit exits at once after the child")
        self.assertLess(exited - trigger, 2, "graceinit did not wait for --drain-delay")
        self.assertEqual(rec.signos(), [USR1], "no stop signal after the child exited")
        # The /prestop that was waiting for deregistration is answered, not left hanging.
        try:
            resp = waiter(5)
        except OSError as e:
            self.fail("/prestop waiting when the child exited got no answer: %r" % e)
        self.assertEqual(resp.status, 200, resp)

    def test_stop_signal(self):
        for options, trigger in ((["--stop-signal", "QUIT"], "SIGTERM"),
                                 (["--stop-signal", "SIGQUIT"], "/drain"),
                                 (["--rewrite", "15:3"], "SIGTERM"),
                                 (["--rewrite", "TERM:QUIT"], "/prestop")):
            with self.subTest(options=options, trigger=trigger):
                run, rec, _ = self.start_sigtime(options, ["--exit-on", "QUIT:0",
                                                           "--exit-on", "TERM:9"])
                if trigger == "SIGTERM":
                    run.kill(TERM)
                elif trigger == "/drain":
                    self.assertEqual(run.post("/drain").status, 202)
                else:
                    self.assertEqual(run.get("/prestop").status, 200)
                self.assertEqual(run.wait(5), 0, "the child got %s, not SIGQUIT"
                                 % [harness.signame(s) for s in rec.signos()])
                self.assertEqual(rec.signos(), [QUIT])

    def test_metrics_show_phase_durations(self):
        # The child exits on the stop signal and leaves a process that ignores SIGTERM, so
        # graceinit stays up (--exit-grace) after the drain, serving /metrics.
        run, rec, info = self.start_sigtime(["--drain-delay", "500ms", "--exit-grace", "20s"],
                                            ["--exit-on", "TERM:0", "--linger", "30"])
        m = run.metrics()
        self.assertEqual(khelp.metric(m, "graceinit_drain_state", state="running"), 1)
        self.assertFalse([k for k in m if k[0] == "graceinit_drain_phase_seconds"],
                         "phase durations before any drain")
        run.kill(TERM)
        rec.wait_signal(TERM, 5)
        run.wait_status("/livez", 503, 5)
        m = run.metrics()
        phase = {dict(k[1])["phase"]: v for k, v in m.items()
                 if k[0] == "graceinit_drain_phase_seconds"}
        self.assertEqual(sorted(phase), ["deregister", "stop", "total"], phase)
        self.assertGreaterEqual(phase["deregister"], 0.5)
        self.assertLess(phase["deregister"], 0.8)
        self.assertGreaterEqual(phase["stop"], 0)
        self.assertLess(phase["stop"], 0.5)
        self.assertAlmostEqual(phase["total"], phase["deregister"] + phase["stop"], delta=0.002)
        self.assertEqual(khelp.metric(m, "graceinit_drain_state", state="exited"), 1)
        self.assertEqual(khelp.metric(m, "graceinit_drain_state", state="running"), 0)
        self.assertEqual(khelp.metric(m, "graceinit_ready"), 0)
        self.assertEqual(khelp.metric(m, "graceinit_live"), 0)
        self.assertEqual(khelp.metric(m, "graceinit_signals_received_total",
                                      signal="SIGTERM"), 1)
        self.assertEqual(khelp.metric(m, "graceinit_signals_forwarded_total",
                                      signal="SIGTERM"), 1)
        os.kill(run.outside_pid(info["linger"]), signal.SIGKILL)
        self.assertEqual(run.wait(5), 0)

    def test_plan(self):
        def plan(*args):
            return subprocess.run(harness.graceinit_argv(["plan"] + list(args)),
                                          capture_output=True, text=True, timeout=10,
                                          env=harness.clean_env())

        res = plan("--grace-period", "30s", "--drain-delay", "5s", "--", "my-server", "-x")
        self.assertEqual(res.returncode, 0, res)
        self.assertIn("my-server -x", res.stdout)
        self.assertRegex(res.stdout, r"\+5s\s+stop signal: SIGTERM")
        self.assertRegex(res.stdout, r"\+28s\s+SIGKILL")
        res = plan("--grace-period", "10s", "--drain-delay", "9s")
        self.assertEqual(res.returncode, 2, res)
        self.assertIn("error: waiting 9s", res.stdout)
        # grace 10s - margin 2s = SIGKILL at 8 s; the app keeps min(5 s, 4 s): 4 s fit.
        self.assertEqual(plan("--grace-period", "10s", "--drain-delay", "4s").returncode, 0)
        self.assertEqual(plan("--grace-period", "10s", "--min-drain", "4001ms").returncode, 2)
        self.assertEqual(plan("--grace-period", "10s", "--kill-margin", "1s",
                              "--drain-delay", "4500ms").returncode, 0)
        self.assertEqual(plan("--stop-signal", "QUIT", "--", "nginx").returncode, 0)
        self.assertIn("SIGQUIT", plan("--stop-signal", "QUIT").stdout)


if __name__ == "__main__":
    khelp.main()
