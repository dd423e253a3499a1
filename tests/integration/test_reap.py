#!/usr/bin/python3
"""Reaping: every orphan is reaped, as PID 1 (10,000 orphaned grandchildren, timed) and as a
child subreaper when graceinit is not PID 1 (the orphans are re-parented to graceinit, not to
the machine's init, and none is left a zombie); graceinit then exits with the child's status.

The child is helper_orphans: intermediate children fork the orphans and exit at once, so the
orphans are re-parented to graceinit, already dead (zombies) or exiting at once, or holding
until the test kills them.
"""

import os
import signal
import time

import harness
from harness import helper

ORPHANS = 10000


class ReapTest(harness.TestCase):

    def start_orphans(self, flags, code, pid1):
        report = harness.ReportFile(self.path("orphans"))
        run = self.start([], [helper("orphans")] + flags + ["-w", "-x", str(code), report.path],
                         pid1=pid1)
        return run, report

    def zombies_below(self, run):
        return [st for st in run.tree() if st["state"] == "Z"]

    def test_10000_orphans_reaped_as_pid1(self):
        run, report = self.start_orphans(["-n", str(ORPHANS), "-k", "20", "-j", "2"], 0, True)
        init = run.init_pid()
        report.wait_line(lambda l: l.startswith("start "), 10, "the orphan maker to start")
        started = time.monotonic()
        peak = 0

        def made():
            nonlocal peak
            peak = max(peak, len(harness.children(init)) - 1)
            run.assert_running("while the orphans were made")
            return "done %d" % ORPHANS in report.lines()
        harness.wait_until(made, 60, "%d orphans to be made" % ORPHANS, step=0.02)
        done = time.monotonic()

        # Every orphan is re-parented to graceinit: once none of its children but the maker
        # is left, all have been reaped.
        def reaped():
            kids = harness.children(init)
            return len(kids) == 1
        harness.wait_until(reaped, 30, "graceinit to reap every orphan (left: %d)"
                           % (len(harness.children(init)) - 1))
        finished = time.monotonic()
        # And no zombie anywhere in the namespace.
        self.assertEqual(self.zombies_below(run), [])
        print("orphans: %d reaped in %.2f s (made in %.2f s, the last reaped %.3f s after the "
              "last was made; at most %d orphans re-parented and not yet reaped at a sample)"
              % (ORPHANS, finished - started, done - started, finished - done, peak))
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0)

    def test_orphans_reaped_as_subreaper(self):
        # Not PID 1: orphans that hold until killed, so that their parent can be checked.
        run, report = self.start_orphans(["-n", "20", "-H", "-p"], 7, pid1=False)
        init = run.init_pid()
        report.wait_line(lambda l: l.startswith("done "), 10, "the orphans to be made")
        orphans = [int(l.split()[1]) for l in report.lines() if l.startswith("orphan ")]
        self.assertEqual(len(orphans), 20)
        for pid in orphans:
            st = harness.proc_stat(pid)
            self.assertIsNotNone(st, "orphan %d is gone already" % pid)
            self.assertEqual(st["ppid"], init, "orphan %d was re-parented to %d, not to "
                             "graceinit (%d): no child subreaper" % (pid, st["ppid"], init))
        for pid in orphans:
            os.kill(pid, signal.SIGKILL)
        harness.wait_until(lambda: all(harness.proc_stat(p) is None for p in orphans), 5,
                           "graceinit to reap the killed orphans (zombies: %s)"
                           % [p for p in orphans if harness.proc_stat(p) is not None])
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 7, "graceinit exits with the child's status")
        self.assert_no_strays([run])

    def test_many_orphans_reaped_as_subreaper(self):
        run, report = self.start_orphans(["-n", "2000", "-k", "20"], 9, pid1=False)
        init = run.init_pid()
        report.wait_line(lambda l: l.startswith("done "), 30, "the orphans to be made")
        harness.wait_until(lambda: len(harness.children(init)) == 1, 10,
                           "graceinit to reap the orphans (left: %d)"
                           % (len(harness.children(init)) - 1))
        self.assertEqual(self.zombies_below(run), [])
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 9)
        self.assert_no_strays([run])

    def test_zombie_storm_reaped(self):
        # Orphans that are zombies already when re-parented, 500 at a time.
        run, report = self.start_orphans(["-n", "2000", "-k", "500", "-j", "2"], 0, True)
        init = run.init_pid()
        report.wait_line(lambda l: l.startswith("done "), 30, "the orphans to be made")
        harness.wait_until(lambda: len(harness.children(init)) == 1, 10,
                           "graceinit to reap the orphans (left: %d)"
                           % (len(harness.children(init)) - 1))
        self.assertEqual(self.zombies_below(run), [])
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0)


if __name__ == "__main__":
    harness.main()
