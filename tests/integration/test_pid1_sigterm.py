#!/usr/bin/python3
"""The problem graceinit exists for: a shell as PID 1 of a container does not end on SIGTERM
(the kernel drops signals that PID 1 has no handler for), so `docker stop` or the kubelet
waits for the whole grace period and then kills it. Under graceinit the same command ends at
once with 143, as a shell would report a process killed by SIGTERM.
"""

import signal
import time

import harness

COMMAND = ["sh", "-c", "sleep 1000; :"]  # "; :" so that sh does not exec sleep


class Pid1SigtermTest(harness.TestCase):

    def wait_for_sleep(self, run):
        return run.find(lambda st: st["comm"] == "sleep", 5, "sleep to run")

    def test_baseline_shell_as_pid1_ignores_sigterm(self):
        run = harness.Run(self, COMMAND[1:], binary="/bin/sh")
        self.wait_for_sleep(run)
        run.kill(signal.SIGTERM)
        status = run.exited_within(1.0)
        self.assertIsNone(status, "sh as PID 1 ended on SIGTERM (status %s): the baseline of "
                          "this test does not hold on this kernel" % status)
        print("baseline: sh as PID 1 still running 1 s after SIGTERM")

    def test_graceinit_ends_within_1s_of_sigterm(self):
        run = self.start([], COMMAND)
        self.wait_for_sleep(run)
        run.wait_signals_blocked()
        sent = time.monotonic()
        run.kill(signal.SIGTERM)
        status = run.wait(1.0)
        elapsed = time.monotonic() - sent
        self.assertEqual(status, 143)
        print("graceinit as PID 1: exited %d %.3f s after SIGTERM" % (status, elapsed))


if __name__ == "__main__":
    harness.main()
