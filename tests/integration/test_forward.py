#!/usr/bin/python3
"""Signal forwarding: every catchable signal reaches the child, rewrites and drops, delivery to
the child's process group or to the child only (--no-setsid), the stop signal, and TTY job
control signals.

The child is helper_sigrec, which records each signal it gets in a file; a test sends one
signal to graceinit (from outside its PID namespace), waits until the recorder has recorded
one more line, checks it, and only then sends the next (standard signals coalesce while
pending). Every test ends with a quit signal the recorder exits 0 on, and then compares the
whole recorded sequence, so a signal forwarded twice or a dropped signal forwarded anyway shows.
"""

import os
import signal
import subprocess

import harness
from harness import signame

RTMIN = signal.SIGRTMIN
RTMAX = signal.SIGRTMAX

# Catchable standard signals that graceinit forwards as they are: all of 1..31 but SIGKILL,
# SIGSTOP, SIGCHLD, the synchronous faults (ILL TRAP ABRT BUS FPE SEGV SYS) and the TTY job
# control signals (TSTP TTIN TTOU, tested on their own). SIGSTKFLT (16) has no Python name.
STANDARD = [1, 2, 3, 10, 12, 13, 14, 16, 18, 23, 24, 25, 26, 27, 28, 29, 30]
REALTIME = [RTMIN, RTMIN + 1, RTMIN + 2, RTMIN + 3, RTMAX]
TTY_SIGNALS = [signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU]


class ForwardTest(harness.TestCase):

    def every_signal(self, pid1):
        run, rec, _, _ = self.start_recorder(pid1=pid1, quit=signal.SIGTERM)
        for signo in STANDARD + REALTIME:
            self.send_expect(run, rec, signo, signo)
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0, "the recorder exits 0 on SIGTERM")
        self.assertEqual(rec.signals(), STANDARD + REALTIME + [signal.SIGTERM],
                         "every signal recorded exactly once, in order")

    @harness.skip_if_wrapped("valgrind keeps SIGRTMAX for itself (VG_SIGVGKILL): sent "
                             "to it, graceinit's epoll_wait returns garbage")
    def test_every_signal_reaches_child_pid1(self):
        self.every_signal(pid1=True)

    @harness.skip_if_wrapped("valgrind keeps SIGRTMAX for itself (VG_SIGVGKILL): sent "
                             "to it, graceinit's epoll_wait returns garbage")
    def test_every_signal_reaches_child_not_pid1(self):
        self.every_signal(pid1=False)

    def test_signals_from_inside_the_namespace(self):
        # `docker exec CONTAINER kill -TERM 1`: the kernel drops signals sent to a namespace's
        # init from inside unless it handles them; graceinit must still get and forward them.
        run, rec, _, _ = self.start_recorder(quit=signal.SIGTERM)
        for signo in (signal.SIGUSR1, signal.SIGHUP, RTMIN, signal.SIGTERM):
            count = len(rec.signals())
            inside = subprocess.run(
                ["nsenter", "--target", str(run.init_pid()), "--pid", "--", "/bin/sh", "-c",
                 "kill -s %d 1" % signo], timeout=10, stderr=subprocess.PIPE, text=True)
            self.assertEqual(inside.returncode, 0, inside.stderr)
            sigs = rec.wait_count(count + 1, 5, "%s sent to PID 1 from inside the namespace"
                                  % signame(signo))
            self.assertEqual(sigs[count], signo)
        self.assertEqual(run.wait(10), 0)
        self.assertEqual(rec.signals(), [signal.SIGUSR1, signal.SIGHUP, RTMIN, signal.SIGTERM])

    def test_sigchld_is_not_forwarded(self):
        # graceinit's own SIGCHLD is its business; a marker with a higher number sent after it
        # is read after it from the signalfd, so a forwarded SIGCHLD would be recorded first.
        run, rec, _, _ = self.start_recorder(quit=signal.SIGWINCH)
        run.kill(signal.SIGCHLD)
        run.kill(signal.SIGWINCH)
        self.assertEqual(run.wait(10), 0)
        self.assertEqual(rec.signals(), [signal.SIGWINCH])

    def rewrite(self, options, sent, expected):
        run, rec, _, _ = self.start_recorder(options, quit=signal.SIGTERM)
        self.send_expect(run, rec, sent, expected)
        # Signals not rewritten pass through, the rewritten one's target included.
        self.send_expect(run, rec, signal.SIGHUP, signal.SIGHUP)
        self.send_expect(run, rec, expected, expected)
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0)
        self.assertEqual(rec.signals(), [expected, signal.SIGHUP, expected, signal.SIGTERM])

    def test_rewrite_by_name(self):
        self.rewrite(["--rewrite", "USR1:USR2"], signal.SIGUSR1, signal.SIGUSR2)

    def test_rewrite_by_sig_name(self):
        self.rewrite(["--rewrite", "SIGUSR1:SIGUSR2"], signal.SIGUSR1, signal.SIGUSR2)

    def test_rewrite_by_number(self):
        self.rewrite(["--rewrite", "10:12"], signal.SIGUSR1, signal.SIGUSR2)

    def test_rewrite_realtime(self):
        self.rewrite(["--rewrite", "%d:%d" % (RTMIN + 1, RTMIN + 2)], RTMIN + 1, RTMIN + 2)

    def test_rewrite_repeated(self):
        run, rec, _, _ = self.start_recorder(
            ["--rewrite", "USR1:USR2", "--rewrite", "HUP:INT"], quit=signal.SIGTERM)
        self.send_expect(run, rec, signal.SIGUSR1, signal.SIGUSR2)
        self.send_expect(run, rec, signal.SIGHUP, signal.SIGINT)
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0)
        self.assertEqual(rec.signals(), [signal.SIGUSR2, signal.SIGINT, signal.SIGTERM])

    def test_rewrite_to_zero_drops(self):
        # The marker (SIGWINCH, 28) has a higher number than SIGTERM (15): had both been
        # pending in graceinit at once, SIGTERM would still be read first. A forwarded SIGTERM
        # would thus be recorded before the marker, on which the recorder exits.
        for options in (["--rewrite", "TERM:0"], ["--rewrite", "15:0"]):
            with self.subTest(options=options):
                run, rec, _, _ = self.start_recorder(options, quit=signal.SIGWINCH)
                run.kill(signal.SIGTERM)
                run.kill(signal.SIGWINCH)
                self.assertEqual(run.wait(10), 0)
                self.assertEqual(rec.signals(), [signal.SIGWINCH],
                                 "SIGTERM must be dropped with %s" % " ".join(options))

    def test_stop_signal_quit(self):
        run, rec, _, _ = self.start_recorder(["--stop-signal", "QUIT"], quit=signal.SIGQUIT)
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0, "SIGTERM must reach the child as SIGQUIT")
        self.assertEqual(rec.signals(), [signal.SIGQUIT])

    def test_rewrite_15_3_is_the_stop_signal(self):
        # dumb-init compatible: --rewrite 15:3 alone turns SIGTERM into SIGQUIT.
        run, rec, _, _ = self.start_recorder(["--rewrite", "15:3"], quit=signal.SIGQUIT)
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0, "SIGTERM must reach the child as SIGQUIT")
        self.assertEqual(rec.signals(), [signal.SIGQUIT])

    def test_child_leads_its_session_and_group(self):
        for pid1 in (True, False):
            with self.subTest(pid1=pid1):
                run, rec, _, info = self.start_recorder(pid1=pid1, quit=signal.SIGTERM)
                self.assertEqual(info["pgid"], info["pid"], "the child leads its group")
                self.assertEqual(info["sid"], info["pid"], "the child leads its session")
                run.kill(signal.SIGTERM)
                self.assertEqual(run.wait(10), 0)

    def group_delivery(self, pid1):
        run, rec, gc, info = self.start_recorder(pid1=pid1, grandchild=True,
                                                 quit=signal.SIGTERM)
        gc_info = gc.ready(run=run)
        self.assertEqual(gc_info["pgid"], info["pid"], "the grandchild is in the child's group")
        for signo in (signal.SIGUSR1, signal.SIGHUP, RTMIN, RTMAX):
            self.send_expect(run, rec, signo, signo)
            gc.wait_count(len(rec.signals()), 5, "%s to reach the grandchild" % signame(signo))
        self.assertEqual(gc.signals(), [signal.SIGUSR1, signal.SIGHUP, RTMIN, RTMAX])
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0)

    @harness.skip_if_wrapped("valgrind keeps SIGRTMAX for itself (VG_SIGVGKILL): sent "
                             "to it, graceinit's epoll_wait returns garbage")
    def test_group_delivery_reaches_grandchild_pid1(self):
        self.group_delivery(pid1=True)

    @harness.skip_if_wrapped("valgrind keeps SIGRTMAX for itself (VG_SIGVGKILL): sent "
                             "to it, graceinit's epoll_wait returns garbage")
    def test_group_delivery_reaches_grandchild_not_pid1(self):
        self.group_delivery(pid1=False)

    def no_setsid(self, pid1):
        run, rec, gc, info = self.start_recorder(["--no-setsid"], pid1=pid1, grandchild=True,
                                                 quit=signal.SIGTERM)
        gc_info = gc.ready(run=run)
        self.assertNotEqual(info["sid"], info["pid"], "--no-setsid: no session of its own")
        self.assertNotEqual(info["pgid"], info["pid"], "--no-setsid: no group of its own")
        self.send_expect(run, rec, signal.SIGUSR1, signal.SIGUSR1)
        self.send_expect(run, rec, RTMIN, RTMIN)
        # graceinit sent those before the child recorded them. A marker sent straight to the
        # grandchild (numbered above both) is recorded after them had they reached it.
        os.kill(run.outside_pid(gc_info["pid"]), signal.SIGWINCH)
        gc.wait_count(1, 5, "the marker sent straight to the grandchild")
        self.assertEqual(gc.signals(), [signal.SIGWINCH],
                         "with --no-setsid only the child gets forwarded signals")
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0)
        self.assertEqual(rec.signals(), [signal.SIGUSR1, RTMIN, signal.SIGTERM])

    def test_no_setsid_forwards_to_child_only_pid1(self):
        self.no_setsid(pid1=True)

    def test_no_setsid_forwards_to_child_only_not_pid1(self):
        self.no_setsid(pid1=False)


class JobControlTest(harness.TestCase):
    """SIGTSTP, SIGTTIN, SIGTTOU, as dumb-init handles them: in setsid mode (the default) the
    child's group is orphaned, where the default stop of TSTP/TTIN/TTOU is discarded, so the
    group gets SIGSTOP instead; then graceinit stops itself, a no-op as PID 1. With
    --no-setsid they are forwarded as they are."""

    def expect_tty_signal(self, run, rec, child_pid, signo):
        """Sends signo; returns "forwarded" or "stopped" for what reached the child."""
        count = len(rec.signals())
        run.kill(signo)

        def reached():
            sigs = rec.signals()
            if len(sigs) > count:
                self.assertEqual(sigs[count], signo, "%s arrived as %s"
                                 % (signame(signo), signame(sigs[count])))
                return "forwarded"
            st = harness.proc_stat(child_pid)
            if st is not None and st["state"] == "T":
                return "stopped"
            return None
        return harness.wait_until(reached, 5, "%s to reach the child" % signame(signo))

    def resume_child(self, rec, child_pid):
        """Resumes the stopped child directly; waits until its recorder has logged that
        SIGCONT too, so that the next signal expected is really the next one recorded."""
        count = len(rec.signals())
        os.kill(child_pid, signal.SIGCONT)
        harness.wait_until(lambda: harness.proc_stat(child_pid)["state"] != "T", 5,
                           "the child to resume")
        sigs = rec.wait_count(count + 1, 5, "the child to record SIGCONT")
        self.assertEqual(sigs[count], signal.SIGCONT)

    def test_tty_signals_as_pid1(self):
        run, rec, _, info = self.start_recorder(quit=signal.SIGTERM)
        child = run.outside_pid(info["pid"])
        outcomes = []
        for signo in TTY_SIGNALS:
            outcome = self.expect_tty_signal(run, rec, child, signo)
            outcomes.append(outcome)
            self.assertEqual(outcome, "stopped", "%s in setsid mode" % signame(signo))
            self.resume_child(rec, child)
            # graceinit cannot stop itself as PID 1: it still forwards.
            self.send_expect(run, rec, signal.SIGUSR1, signal.SIGUSR1)
            self.assertNotEqual(harness.proc_stat(run.init_pid())["state"], "T")
        print("tty signals as PID 1: child %s" % ", ".join(outcomes))
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0)

    def test_tty_signals_stop_graceinit_when_not_pid1(self):
        run, rec, _, info = self.start_recorder(pid1=False, quit=signal.SIGTERM)
        child = info["pid"]
        outcomes = []
        for signo in TTY_SIGNALS:
            outcomes.append(self.expect_tty_signal(run, rec, child, signo))
            self.assertEqual(outcomes[-1], "stopped", "%s in setsid mode" % signame(signo))
            harness.wait_until(lambda: harness.proc_stat(run.init_pid())["state"] == "T", 5,
                               "graceinit to stop itself after %s" % signame(signo))
            # SIGCONT resumes graceinit, which forwards it: the child resumes (if stopped)
            # and records it.
            count = len(rec.signals())
            run.kill(signal.SIGCONT)
            sigs = rec.wait_count(count + 1, 5, "SIGCONT to reach the child")
            self.assertEqual(sigs[count], signal.SIGCONT)
            harness.wait_until(lambda: harness.proc_stat(child)["state"] != "T", 5,
                               "the child to run again")
            self.assertNotEqual(harness.proc_stat(run.init_pid())["state"], "T")
        print("tty signals not as PID 1: child %s" % ", ".join(outcomes))
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0)

    def test_tty_signals_forwarded_as_is_with_no_setsid(self):
        run, rec, _, _ = self.start_recorder(["--no-setsid"], quit=signal.SIGTERM)
        for signo in TTY_SIGNALS:
            self.send_expect(run, rec, signo, signo)
        run.kill(signal.SIGTERM)
        self.assertEqual(run.wait(10), 0)
        self.assertEqual(rec.signals(), TTY_SIGNALS + [signal.SIGTERM])


if __name__ == "__main__":
    harness.main()
