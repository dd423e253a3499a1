#!/usr/bin/python3
"""Configuration: an invalid value, an unknown option or a missing command is an error at
start-up, exit status 2, with a message on stderr that names the option and the bad value, and
no command is run (never a silent default). Every option also works as GRACEINIT_<NAME> in the
environment, and a flag beats the environment. Options stop at the first non-option word.
"""

import os
import re
import signal

import harness
from harness import helper

BAD = [
    # (arguments before the command, what stderr must mention besides the value)
    (["--rewrite", "15:x"], "rewrite", "15:x"),
    (["--rewrite", "15"], "rewrite", "15"),
    (["--rewrite", "99:1"], "rewrite", "99:1"),
    (["--stop-signal", "NOPE"], "stop-signal", "NOPE"),
    (["--exit-grace", "5parsecs"], "exit-grace", "5parsecs"),
    (["--exit-remap", "143"], "exit-remap", "143"),
    (["--exit-remap", "x:0"], "exit-remap", "x:0"),
    (["--kill-on-exit=maybe"], "kill-on-exit", "maybe"),
    (["--log-level", "loud"], "log-level", "loud"),
    (["--frobnicate"], "frobnicate", "frobnicate"),
]


class ConfigTest(harness.TestCase):

    def assert_config_error(self, run, option, value, marker):
        self.assertEqual(run.wait(10), 2, "stderr:\n" + run.stderr())
        err = run.stderr()
        self.assertRegex(err, re.compile(re.escape(option).replace("\\-", "[-_]"), re.I),
                         "stderr must name the option")
        self.assertIn(value, err, "stderr must show the bad value")
        self.assertFalse(os.path.exists(marker), "the command ran despite the error")

    def test_bad_options_exit_2(self):
        for args, option, value in BAD:
            for mode, pid1 in (("pid1", True), ("not pid1", False)):
                with self.subTest(mode, args=args):
                    marker = self.path("ran")
                    run = self.start(args, ["touch", marker], pid1=pid1)
                    self.assert_config_error(run, option, value, marker)

    def test_bad_environment_exits_2(self):
        for name, value in (("GRACEINIT_STOP_SIGNAL", "NOPE"), ("GRACEINIT_REWRITE", "15:x"),
                            ("GRACEINIT_EXIT_GRACE", "5parsecs")):
            with self.subTest(name=name):
                marker = self.path("ran")
                run = self.start([], ["touch", marker], pid1=False, env={name: value})
                option = name[len("GRACEINIT_"):].lower().replace("_", "-")
                self.assert_config_error(run, option, value, marker)

    def test_no_command_exits_2(self):
        for args in ([], ["--"], ["--exit-grace", "1s"], ["--exit-grace", "1s", "--"]):
            for mode, pid1 in (("pid1", True), ("not pid1", False)):
                with self.subTest(mode, args=args):
                    run = self.start_args(args, pid1=pid1)
                    self.assertEqual(run.wait(10), 2, "stderr:\n" + run.stderr())
                    self.assertNotEqual(run.stderr().strip(), "", "no message on stderr")

    def test_good_values_are_accepted(self):
        exiter = [helper("exiter"), "0"]
        for args in (["--exit-grace", "250ms"], ["--exit-grace", "5s"], ["--exit-grace", "2m"],
                     ["--exit-grace", "3"], ["--rewrite", "SIGHUP:0"], ["--kill-on-exit"],
                     ["--kill-on-exit=true"], ["--kill-on-exit=false"], ["--no-kill-on-exit"],
                     ["--stop-signal", "SIGQUIT"], ["--stop-signal", "3"], ["--subreaper"],
                     ["--exit-remap", "143:0"], ["--no-setsid"], ["--log-level", "debug"]):
            with self.subTest(args=args):
                run = self.start(args, exiter, pid1=False)
                self.assertEqual(run.wait(10), 0, "stderr:\n" + run.stderr())

    def test_options_stop_at_the_command(self):
        # No "--": everything from the first non-option word on belongs to the command.
        run = self.start_args(["--exit-grace", "1s", "/bin/sh", "-c", "exit $(($# + 40))", "sh",
                               "--frobnicate", "-x"], pid1=False)
        self.assertEqual(run.wait(10), 42, "stderr:\n" + run.stderr())

    def stop_signal_arrives_as(self, env, options, expected):
        run, rec, _, _ = self.start_recorder(options, quit=expected, env=env)
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0, "SIGTERM must reach the child as %s"
                         % harness.signame(expected))
        self.assertEqual(rec.signals(), [expected])

    def test_stop_signal_from_environment(self):
        self.stop_signal_arrives_as({"GRACEINIT_STOP_SIGNAL": "QUIT"}, [], signal.SIGQUIT)

    def test_flag_beats_environment(self):
        self.stop_signal_arrives_as({"GRACEINIT_STOP_SIGNAL": "QUIT"},
                                    ["--stop-signal", "USR2"], signal.SIGUSR2)

    def test_rewrite_from_environment(self):
        self.stop_signal_arrives_as({"GRACEINIT_REWRITE": "15:3"}, [], signal.SIGQUIT)

    def test_no_setsid_from_environment(self):
        run, rec, _, info = self.start_recorder(env={"GRACEINIT_NO_SETSID": "1"},
                                                quit=signal.SIGTERM)
        self.assertNotEqual(info["sid"], info["pid"], "GRACEINIT_NO_SETSID=1: no session")
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0)

    def test_exit_remap_from_environment(self):
        run = self.start([], [helper("exiter"), "3"], env={"GRACEINIT_EXIT_REMAP": "3:0"})
        self.assertEqual(run.wait(10), 0)


if __name__ == "__main__":
    harness.main()
