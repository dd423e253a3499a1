#!/usr/bin/python3
"""A SIGTERM sent right after start, before the child exists or has exec'd, is not lost.

The test polls tightly for graceinit (unshare's child) and for the moment it has exec'd and
blocked its signals (or, every other run, the moment it has forked its child), then sends
SIGTERM at once. Before graceinit blocks its signals it is still unshare's code or the dynamic
loader, and the kernel itself drops a signal with a default disposition sent to a namespace's
init: no init can do anything about that. From that moment on, the signal must end `sleep 100`
within a couple of seconds, with status 143, whatever the child was doing (not forked yet,
forked but not exec'd, running).
"""

import collections
import signal
import time

import harness

RUNS = 20


class EarlySigtermTest(harness.TestCase):

    def child_phase(self, init):
        """Where graceinit's child was: "no child", "not exec'd" or "running"."""
        kids = harness.children(init)
        if not kids:
            return "no child"
        st = harness.proc_stat(kids[0])
        return "running" if st is not None and st["comm"] == "sleep" else "not exec'd"

    def signal_state(self, run):
        """Pending and blocked signals of every process of the run, for a failure message."""
        states = []
        for st in [harness.proc_stat(run.init_pid())] + run.tree():
            status = st and harness.proc_status(st["pid"])
            if status:
                states.append("%d %s %s: %s" % (st["pid"], st["comm"], st["state"], " ".join(
                    "%s=%s" % (k, status[k]) for k in ("SigPnd", "ShdPnd", "SigBlk", "SigCgt"))))
        return "; ".join(states)

    @harness.skip_if_wrapped("valgrind catches signals for its guest: one that comes while "
                             "valgrind has it unblocked (start-up, fork) waits in valgrind's "
                             "queue, never in graceinit's signalfd")
    def test_sigterm_right_after_start(self):
        # Even runs: SIGTERM as soon as graceinit has blocked its signals (usually before it
        # has forked). Odd runs: as soon as its child exists (usually before the exec).
        phases = collections.Counter()
        slowest = 0.0
        for i in range(RUNS):
            run = self.start([], ["sleep", "100"])
            init = run.init_pid()
            if i % 2 == 0:
                moment, ready = "blocked", lambda: harness.takes_sigterm(init, run.comm)
            else:
                moment, ready = "forked", lambda: harness.children(init)
            deadline = time.monotonic() + 5
            while not ready():
                run.assert_running("before it had %s (run %d)" % (moment, i))
                self.assertLess(time.monotonic(), deadline, "graceinit never %s" % moment)
            run.kill(signal.SIGTERM)
            sent = time.monotonic()
            phase = self.child_phase(init)
            phases[phase] += 1
            status = run.exited_within(2.0)
            if status is None:
                self.fail("run %d: graceinit still running 2 s after SIGTERM (sent once it had "
                          "%s; child %s just after the signal); %s; stderr:\n%s"
                          % (i, moment, phase, self.signal_state(run), run.stderr()))
            slowest = max(slowest, time.monotonic() - sent)
            self.assertEqual(status, 143, "run %d, child %s" % (i, phase))
        print("early SIGTERM: %d/%d runs exited 143, slowest %.3f s after the signal; child just "
              "after the signal: %s" % (RUNS, RUNS, slowest,
                                         ", ".join("%s %d" % kv for kv in sorted(phases.items()))))


if __name__ == "__main__":
    harness.main()
