#!/usr/bin/python3
"""A child for the sd_notify tests: speaks the notify protocol on $NOTIFY_SOCKET when the test
tells it to.

It reads commands, one a line, from the FIFO CMDS, and appends to OUT: first "ready pid=P
socket=NOTIFY_SOCKET watchdog_usec=WATCHDOG_USEC" (the values it was given, "-" when unset),
then "ack N" once the N-th command has been carried out, so that the test knows the datagram has
been sent. Commands:
  send TEXT   send TEXT as one datagram; the two characters \\n in TEXT stand for a newline
  ping MS     send WATCHDOG=1 every MS milliseconds from now on (0: stop); on "ping 0" it
              writes "last_ping T_NS" (time.monotonic_ns() of the last ping) before the ack
  fork TEXT   send TEXT from a child process of the notifier (a grandchild of graceinit),
              which lives on for a second after sending
  fork-exit TEXT  the same, but the child process exits at once and the notifier reaps it
              at once (a sender gone before graceinit reads it cannot be traced)
  fork-barrier TEXT  the same as fork-exit, but the child first waits for graceinit to
              have handled TEXT, as systemd-notify does: a BARRIER=1 datagram carrying one
              end of a pipe, then wait until graceinit closes it (sd_notify_barrier(3))
  exit CODE   exit with CODE
usage: notifier.py CMDS OUT   (exits 3 after 60 s whatever happens)
"""

import os
import select
import socket
import sys
import time

LIFETIME_S = 60


def main():
    cmds_path, out_path = sys.argv[1], sys.argv[2]
    address = os.environ.get("NOTIFY_SOCKET")
    out = os.open(out_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o644)
    # O_RDWR: the open never blocks and the FIFO never reports end of file.
    cmds = os.open(cmds_path, os.O_RDWR | os.O_CLOEXEC)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    target = None
    if address:
        target = "\0" + address[1:] if address.startswith("@") else address

    def send(text):
        if target is not None:
            sock.sendto(text.encode(), target)

    def barrier():
        """sd_notify_barrier(3): BARRIER=1 with a pipe's write end; graceinit closes it
        once it has handled everything sent before, which the read end sees as a hang-up."""
        if target is None:
            return
        r, w = os.pipe()
        sock.sendmsg([b"BARRIER=1"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS,
                                       w.to_bytes(4, sys.byteorder))], 0, target)
        os.close(w)
        select.select([r], [], [], 5)
        os.close(r)

    os.write(out, ("ready pid=%d socket=%s watchdog_usec=%s\n"
                   % (os.getpid(), address or "-",
                      os.environ.get("WATCHDOG_USEC", "-"))).encode())
    end = time.monotonic() + LIFETIME_S
    ping_ms, next_ping, last_ping, pending, acks = 0, None, 0, b"", 0
    while time.monotonic() < end:
        timeout = 1.0
        if next_ping is not None:
            timeout = max(0.0, next_ping - time.monotonic())
        readable, _, _ = select.select([cmds], [], [], timeout)
        if next_ping is not None and time.monotonic() >= next_ping:
            send("WATCHDOG=1")
            last_ping = time.monotonic_ns()
            next_ping = time.monotonic() + ping_ms / 1000
        try:
            while os.waitpid(-1, os.WNOHANG)[0] > 0:
                pass
        except ChildProcessError:
            pass
        if not readable:
            continue
        pending += os.read(cmds, 4096)
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            verb, _, arg = line.decode().partition(" ")
            if verb == "send":
                send(arg.replace("\\n", "\n"))
            elif verb == "ping":
                ping_ms = int(arg)
                if ping_ms > 0:
                    send("WATCHDOG=1")
                    last_ping = time.monotonic_ns()
                    next_ping = time.monotonic() + ping_ms / 1000
                else:
                    next_ping = None
                    os.write(out, b"last_ping %d\n" % last_ping)
            elif verb in ("fork", "fork-exit", "fork-barrier"):
                pid = os.fork()
                if pid == 0:
                    send(arg.replace("\\n", "\n"))
                    if verb == "fork":
                        time.sleep(1)
                    if verb == "fork-barrier":
                        barrier()
                    os._exit(0)
                if verb != "fork":
                    os.waitpid(pid, 0)
            elif verb == "exit":
                return int(arg)
            acks += 1
            os.write(out, b"ack %d\n" % acks)
    return 3


if __name__ == "__main__":
    sys.exit(main())
