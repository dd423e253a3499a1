#!/usr/bin/python3
"""What the child inherits: graceinit blocks its signals and ignores SIGPIPE, but the child gets
the signal mask and dispositions graceinit was started with (restored, not reset: an inherited
SIG_IGN stays, an inherited blocked signal stays blocked); the fds graceinit inherited above 2
are closed in the child, except the socket-activation fds 3..3+LISTEN_FDS-1; the environment
is passed on and COMMAND is looked up in its PATH.

The child is helper_sigreport (SigBlk, SigIgn, open fds above 2). Each case is first run with
helper_sigreport in place of graceinit, in the same setting: that baseline shows what the
child would see were graceinit transparent, and that the test can tell the difference.
"""

import os
import signal

import harness
from harness import helper

MODES = (("pid1", True), ("not pid1", False))

# Opens fds 3, 4 and 5 on /dev/null (not close-on-exec), then execs its arguments.
OPEN_3_4_5 = ["/bin/sh", "-c", 'exec 3</dev/null 4</dev/null 5</dev/null; exec "$@"', "sh"]


def parse_report(text):
    report = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("SigBlk", "SigIgn"):
            report[key] = harness.mask_to_set(int(value.strip(), 16))
        elif key == "fds":
            report[key] = [int(fd) for fd in value.split()]
    return report


class SpawnTest(harness.TestCase):

    def report(self, pid1, baseline=False, **kwargs):
        """What helper_sigreport reports under graceinit, or alone (baseline=True)."""
        if baseline:
            run = harness.Run(self, [], pid1=pid1, binary=helper("sigreport"), **kwargs)
        else:
            run = self.start([], [helper("sigreport")], pid1=pid1, **kwargs)
        self.assertEqual(run.wait(10), 0, "stderr:\n" + run.stderr())
        report = parse_report(run.stdout())
        self.assertEqual(set(report), {"SigBlk", "SigIgn", "fds"}, run.stdout())
        return report

    def check(self, key, expected, **kwargs):
        for mode, pid1 in MODES:
            with self.subTest(mode):
                self.assertEqual(self.report(pid1, baseline=True, **kwargs)[key], expected,
                                 "baseline: %s of helper_sigreport alone" % key)
                self.assertEqual(self.report(pid1, **kwargs)[key], expected,
                                 "%s of the child" % key)

    def test_graceinit_blocks_and_ignores_signals_itself(self):
        # The premise of the tests below: graceinit's own mask is not what the child gets.
        run = self.start([], ["sleep", "100"])
        run.find(lambda st: st["comm"] == "sleep", 5, "sleep to run")
        blocked = harness.sigset_of(run.init_pid(), "SigBlk")
        ignored = harness.sigset_of(run.init_pid(), "SigIgn")
        print("graceinit's own SigBlk: %d signals blocked; SigIgn: %s"
              % (len(blocked), sorted(ignored)))
        self.assertTrue({signal.SIGTERM, signal.SIGINT, signal.SIGHUP} <= blocked)

    def test_child_mask_is_empty(self):
        self.check("SigBlk", set())

    def test_child_ignores_nothing(self):
        # SIGPIPE in particular: graceinit ignores it, the child must not.
        self.check("SigIgn", set())

    def test_inherited_ignored_signals_are_kept(self):
        def ignore():
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.check("SigIgn", {signal.SIGHUP, signal.SIGPIPE}, preexec_fn=ignore)

    def test_inherited_blocked_signals_are_kept(self):
        def block():
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1, signal.SIGWINCH})
        self.check("SigBlk", {signal.SIGUSR1, signal.SIGWINCH}, preexec_fn=block)

    def test_inherited_fds_are_closed(self):
        fd = os.open("/dev/null", os.O_RDONLY)
        self.addCleanup(os.close, fd)
        for mode, pid1 in MODES:
            with self.subTest(mode):
                self.assertEqual(self.report(pid1, baseline=True, pass_fds=(fd,))["fds"], [fd],
                                 "baseline: the fd reaches helper_sigreport alone")
                self.assertEqual(self.report(pid1, pass_fds=(fd,))["fds"], [],
                                 "an fd graceinit inherited must not reach the child")

    def test_listen_fds_are_kept(self):
        for mode, pid1 in MODES:
            with self.subTest(mode):
                self.assertEqual(self.report(pid1, baseline=True, wrapper=OPEN_3_4_5)["fds"],
                                 [3, 4, 5], "baseline")
                self.assertEqual(self.report(pid1, wrapper=OPEN_3_4_5)["fds"], [])
                for n, kept in (("1", [3]), ("2", [3, 4])):
                    report = self.report(pid1, wrapper=OPEN_3_4_5, env={"LISTEN_FDS": n})
                    self.assertEqual(report["fds"], kept, "LISTEN_FDS=%s" % n)

    def test_listen_pid_names_the_child(self):
        # sd_listen_fds(3) only takes the fds when LISTEN_PID is its own pid.
        run = self.start([], ["/bin/sh", "-c", 'echo "$$ $LISTEN_PID $LISTEN_FDS"'],
                         env={"LISTEN_FDS": "1", "LISTEN_PID": "1"}, wrapper=OPEN_3_4_5)
        self.assertEqual(run.wait(10), 0)
        pid, listen_pid, listen_fds = run.stdout().split()
        self.assertEqual(listen_pid, pid)
        self.assertEqual(listen_fds, "1")

    def test_environment_is_passed_on(self):
        for mode, pid1 in MODES:
            with self.subTest(mode):
                run = self.start([], ["/bin/sh", "-c", 'printf "%s" "$IT_VARIABLE"'],
                                 pid1=pid1, env={"IT_VARIABLE": "it value"})
                self.assertEqual(run.wait(10), 0)
                self.assertEqual(run.stdout(), "it value")

    def test_secrets_are_not_passed_on(self):
        # The control token and the webhook headers are graceinit's: the app never sees them
        # in its environment; every other variable, GRACEINIT_* included, is passed on.
        env = {"GRACEINIT_CONTROL_TOKEN": "s3cret", "IT_VARIABLE": "it value",
               "GRACEINIT_DEREGISTER_HEADER": "X-Key: s3cret", "GRACEINIT_LOG_LEVEL": "warn"}
        script = 'env | grep -c s3cret; printf "%s|%s" "$IT_VARIABLE" "$GRACEINIT_LOG_LEVEL"'
        for mode, pid1 in MODES:
            with self.subTest(mode):
                run = self.start(["--http", "off", "--control-socket", "off"],
                                 ["/bin/sh", "-c", script], pid1=pid1, env=env)
                self.assertEqual(run.wait(10), 0, run.stderr())
                self.assertEqual(run.stdout(), "0\nit value|warn")

    def test_secrets_keep_graceinit_unreadable_to_the_app(self):
        # graceinit and the app as the same unprivileged user, as in a pod: with a token,
        # the app cannot read graceinit's environment (PR_SET_DUMPABLE 0); without one,
        # nothing changes.
        script = ('if cat /proc/1/environ >/dev/null 2>&1; then echo readable; '
                  'else echo denied; fi')
        for token, expected in ((True, "denied"), (False, "readable")):
            with self.subTest(token=token):
                args = ["--reuid=65534", "--regid=65534", "--clear-groups", harness.GRACEINIT,
                        "--http", "off", "--control-socket", "off", "--",
                        "/bin/sh", "-c", script]
                env = {"GRACEINIT_CONTROL_TOKEN": "s3cret"} if token else {}
                run = harness.Run(self, args, binary="/usr/bin/setpriv", env=env)
                self.assertEqual(run.wait(10), 0, run.stderr())
                self.assertEqual(run.stdout().strip(), expected)

    def test_command_is_looked_up_in_path(self):
        env = {"PATH": "%s:/usr/bin:/bin" % harness.HELPERS_DIR}
        for mode, pid1 in MODES:
            with self.subTest(mode):
                run = self.start([], ["helper_exiter", "7"], pid1=pid1, env=env)
                self.assertEqual(run.wait(10), 7, "stderr:\n" + run.stderr())


if __name__ == "__main__":
    harness.main()
