#!/usr/bin/python3
"""Idle: while the child sleeps, graceinit makes no system call that sleeps and wakes (no
timer, no polling): its voluntary and involuntary context switches do not change over 5 s.
Measured as PID 1 and as a subreaper in the same 5 s window; tini, when installed, is measured
alongside for comparison only (it wakes once a second).
"""

import os
import time

import harness

SETTLE_S = 0.3
WINDOW_S = 5.0
TINI = "/usr/bin/tini"


class IdleTest(harness.TestCase):

    def test_no_context_switch_while_idle(self):
        runs = {
            "graceinit as PID 1": self.start([], ["sleep", "100"]),
            "graceinit as subreaper": self.start([], ["sleep", "100"], pid1=False),
        }
        if os.access(TINI, os.X_OK):
            runs["tini as PID 1 (not checked)"] = harness.Run(self, ["--", "sleep", "100"],
                                                               binary=TINI)
        for run in runs.values():
            run.find(lambda st: st["comm"] == "sleep", 5, "sleep to run")
        time.sleep(SETTLE_S)  # let start-up finish: what is measured is the idle state
        before = {name: harness.ctxt_switches(run.init_pid()) for name, run in runs.items()}
        time.sleep(WINDOW_S)
        after = {name: harness.ctxt_switches(run.init_pid()) for name, run in runs.items()}
        for name, run in runs.items():
            run.assert_running()
            print("%s: context switches (voluntary, involuntary) %s -> %s over %.0f s"
                  % (name, before[name], after[name], WINDOW_S))
        for name in runs:
            if name.startswith("graceinit"):
                self.assertEqual(after[name], before[name], "%s woke up while idle" % name)


if __name__ == "__main__":
    harness.main()
