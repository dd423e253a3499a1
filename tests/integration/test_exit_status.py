#!/usr/bin/python3
"""Exit status: the child's exit code; 128+N when the child was killed by signal N;
--exit-remap FROM:TO; 126 when the command cannot be executed; 127 when it cannot be found,
with a message on stderr naming the command. As PID 1 and not.
"""

import os
import signal

import harness
from harness import helper

MODES = (("pid1", True), ("not pid1", False))


class ExitStatusTest(harness.TestCase):

    def status_of(self, options, command, pid1):
        run = self.start(options, command, pid1=pid1)
        return run.wait(10), run

    def check(self, options, command, expected):
        for mode, pid1 in MODES:
            with self.subTest(mode, options=options, command=command[1:]):
                status, run = self.status_of(options, command, pid1)
                self.assertEqual(status, expected, "stderr:\n" + run.stderr())

    def test_exit_codes(self):
        for code in (0, 1, 3, 126, 127, 255):
            self.check([], [helper("exiter"), str(code)], code)

    def test_killed_by_signal(self):
        for signo in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1):
            self.check([], [helper("exiter"), "-s", str(int(signo))], 128 + signo)

    def test_exit_remap(self):
        exiter = helper("exiter")
        self.check(["--exit-remap", "143:0"], [exiter, "-s", "15"], 0)
        self.check(["--exit-remap", "3:0"], [exiter, "3"], 0)
        # Unmapped statuses pass through.
        self.check(["--exit-remap", "3:0"], [exiter, "4"], 4)
        self.check(["--exit-remap", "143:0"], [exiter, "3"], 3)
        self.check(["--exit-remap", "143:0"], [exiter, "-s", "9"], 137)
        # Repeatable.
        remaps = ["--exit-remap", "3:0", "--exit-remap", "4:5"]
        self.check(remaps, [exiter, "4"], 5)
        self.check(remaps, [exiter, "3"], 0)
        self.check(remaps, [exiter, "6"], 6)

    def check_error(self, command, expected):
        for mode, pid1 in MODES:
            with self.subTest(mode, command=command):
                status, run = self.status_of([], command, pid1)
                self.assertEqual(status, expected, "stderr:\n" + run.stderr())
                self.assertIn(command[0], run.stderr(), "stderr must name the command")

    def test_not_executable_file_is_126(self):
        path = self.path("not-executable")
        with open(path, "w") as f:
            f.write("#!/bin/sh\nexit 0\n")
        os.chmod(path, 0o644)
        self.check_error([path], 126)

    def test_directory_is_126(self):
        self.check_error([self.tmp], 126)

    def test_no_such_command_is_127(self):
        self.check_error(["graceinit-test-no-such-command"], 127)
        self.check_error([self.path("no-such-file")], 127)


if __name__ == "__main__":
    harness.main()
