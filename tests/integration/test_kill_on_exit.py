#!/usr/bin/python3
"""--kill-on-exit: when the main child exits and processes remain, graceinit sends them SIGTERM,
waits up to --exit-grace for them, SIGKILLs what is left, reaps everything and exits with the
main child's status; with nothing left it exits at once. As PID 1 every process of the namespace
is concerned (kill(-1)); as a subreaper, the child's process group and graceinit's own children
(adopted orphans). --no-kill-on-exit: graceinit exits at once and leaves them.

The child is helper_leftover: it starts a background process (which appends "term" to a file
when SIGTERM reaches it, or ignores SIGTERM) and exits with a given status once it is ready.
"""

import time

import harness
from harness import helper

CODE = 5


class KillOnExitTest(harness.TestCase):

    def start_leftover(self, options, flags=(), pid1=True):
        """graceinit OPTIONS -- helper_leftover FLAGS: (run, report, background's pid (outside),
        time at which the background was seen ready, just before the main child exits)."""
        report = harness.ReportFile(self.path("leftover"))
        run = self.start(options, [helper("leftover")] + list(flags)
                         + ["-x", str(CODE), report.path], pid1=pid1)
        line = report.wait_line(lambda l: l.startswith("bg "), 10,
                                "the background process to start")
        ready = time.monotonic()
        bg = run.outside_pid(harness.parse_fields(line)["pid"]) if not pid1 else None
        return run, report, bg, ready

    def got_term(self, report):
        return "term" in report.lines()

    def wait_grace(self, run, ready, low, high, what):
        """Waits for graceinit; asserts that it exited between low and high s after the main
        child did. The lower bound is measured from the start of the run (surely before the
        main child exited), the upper one from when the background process was seen ready
        (surely after), so a slow poll cannot make a correct graceinit fail."""
        status = run.wait(high + 3)
        exited = time.monotonic()
        self.assertEqual(status, CODE, "graceinit exits with the main child's status")
        self.assertGreaterEqual(exited - run.started, low,
                                "%s: graceinit exited %.3f s after it started"
                                % (what, exited - run.started))
        self.assertLessEqual(exited - ready, high, "%s: graceinit exited %.3f s after the "
                             "leftover was ready" % (what, exited - ready))
        return exited - run.started

    # -- as PID 1 --

    def test_leftover_gets_term_pid1(self):
        for flags in ([], ["-p"], ["-s"]):  # in the child's group, its own group, own session
            with self.subTest(flags=flags):
                run, report, _, ready = self.start_leftover([], flags)
                status = run.wait(1.5)  # well within the default --exit-grace of 2 s
                self.assertEqual(status, CODE, "graceinit exits with the main child's status")
                self.assertTrue(self.got_term(report), "the leftover got no SIGTERM")

    def test_term_ignorer_killed_after_exit_grace_pid1(self):
        run, report, _, ready = self.start_leftover(["--exit-grace", "500ms"], ["-i"])
        elapsed = self.wait_grace(run, ready, 0.4, 1.8, "--exit-grace 500ms, as PID 1")
        print("kill-on-exit as PID 1, --exit-grace 500ms, SIGTERM ignored: exited %.3f s after "
              "start" % elapsed)

    def test_default_exit_grace_is_2s(self):
        run, report, _, ready = self.start_leftover([], ["-i"])
        elapsed = self.wait_grace(run, ready, 1.8, 3.5, "the default --exit-grace")
        print("kill-on-exit as PID 1, default --exit-grace, SIGTERM ignored: exited %.3f s "
              "after start" % elapsed)

    def test_no_kill_on_exit_pid1(self):
        # graceinit exits at once; the kernel then kills the rest of the namespace with
        # SIGKILL, so the leftover never sees a SIGTERM.
        for options in (["--no-kill-on-exit"], ["--kill-on-exit=false"]):
            for flags in ([], ["-i"]):
                with self.subTest(options=options, flags=flags):
                    run, report, _, ready = self.start_leftover(options, flags)
                    status = run.wait(1.0)
                    self.assertEqual(status, CODE)
                    self.assertFalse(self.got_term(report),
                                     "%s: the leftover got SIGTERM" % options[0])

    def test_nothing_left_exits_at_once(self):
        run = self.start(["--exit-grace", "5s"], [helper("exiter"), str(CODE)])
        self.assertEqual(run.wait(1.0), CODE)

    # -- not PID 1 (child subreaper) --

    def test_leftover_gets_term_subreaper(self):
        # In the child's process group, and in a session of its own (an orphan re-parented
        # to graceinit).
        for flags in ([], ["-s"]):
            with self.subTest(flags=flags):
                run, report, bg, ready = self.start_leftover([], flags, pid1=False)
                status = run.wait(1.5)
                self.assertEqual(status, CODE)
                self.assertTrue(self.got_term(report), "the leftover got no SIGTERM")
                self.assertIsNone(harness.proc_stat(bg), "the leftover was not reaped")
                self.assert_no_strays([run])

    def test_term_ignorer_killed_after_exit_grace_subreaper(self):
        for flags in ([], ["-s"]):
            with self.subTest(flags=flags):
                run, report, bg, ready = self.start_leftover(["--exit-grace", "500ms"],
                                                             ["-i"] + flags, pid1=False)
                self.wait_grace(run, ready, 0.4, 1.8, "--exit-grace 500ms, as a subreaper")
                # No namespace to tear it down here: graceinit itself killed and reaped it.
                self.assertIsNone(harness.proc_stat(bg), "the leftover is still there")
                self.assert_no_strays([run])

    def test_no_kill_on_exit_subreaper(self):
        run, report, bg, ready = self.start_leftover(["--no-kill-on-exit"], ["-i"], pid1=False)
        self.assertEqual(run.wait(1.0), CODE)
        self.assertTrue(harness.alive(bg), "--no-kill-on-exit: the leftover must survive")
        self.assertFalse(self.got_term(report))


if __name__ == "__main__":
    harness.main()
