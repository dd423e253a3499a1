#!/usr/bin/python3
"""A child for the drain and load tests: records the CLOCK_MONOTONIC time at which it receives
each signal.

It blocks every catchable signal and takes them one by one with sigtimedwait(2), so no signal
is ever lost or handled out of order, and appends one line "SIGNO T_NS" per signal to OUT
(T_NS: time.monotonic_ns(), the same clock as the test's, since no time namespace is used). The
first line is "ready pid=P pgid=G", written once the signals are blocked (and, with --linger,
"linger=L" with the lingering grandchild's pid). OUT may be a FIFO the test reads.

usage: sigtime.py [--exit-on SIG[:CODE]]... [--linger S] [--lifetime S] OUT
  --exit-on SIG[:CODE]  exit with CODE (default 0) once SIG has been recorded (repeatable)
  --linger S            fork a grandchild in the same process group that blocks every signal
                        and lives S seconds, whatever happens to this process (a leftover)
  --lifetime S          exit 3 after S seconds whatever happens (default 60)
Pids are as seen in the process's own PID namespace.
"""

import argparse
import os
import signal
import sys
import time


def signo_of(name):
    name = name.upper()
    if name.isdigit():
        return int(name)
    if not name.startswith("SIG"):
        name = "SIG" + name
    return int(getattr(signal, name))


def linger(seconds):
    """Forks the leftover; returns its pid. It keeps every signal blocked, so only SIGKILL
    ends it early (a forwarded signal reaches the whole process group)."""
    pid = os.fork()
    if pid == 0:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(seconds)
        os._exit(0)
    return pid


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--exit-on", action="append", default=[])
    parser.add_argument("--linger", type=float, default=0)
    parser.add_argument("--lifetime", type=float, default=60)
    parser.add_argument("out")
    args = parser.parse_args()

    exits = {}
    for spec in args.exit_on:
        name, _, code = spec.partition(":")
        exits[signo_of(name)] = int(code or 0)

    catchable = set(signal.valid_signals()) - {signal.SIGKILL, signal.SIGSTOP}
    signal.pthread_sigmask(signal.SIG_BLOCK, catchable)
    fd = os.open(args.out, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    ready = "ready pid=%d pgid=%d" % (os.getpid(), os.getpgid(0))
    if args.linger > 0:
        ready += " linger=%d" % linger(args.linger)
    os.write(fd, (ready + "\n").encode())

    end = time.monotonic() + args.lifetime
    while True:
        left = end - time.monotonic()
        if left <= 0:
            return 3
        info = signal.sigtimedwait(catchable, left)
        if info is None:
            continue
        now = time.monotonic_ns()
        os.write(fd, b"%d %d\n" % (info.si_signo, now))
        if info.si_signo in exits:
            return exits[info.si_signo]


if __name__ == "__main__":
    sys.exit(main())
