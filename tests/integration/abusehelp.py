#!/usr/bin/python3
"""HTTP abuse for test_abuse.py, and the probes that watch graceinit while it is abused.

As a program (run by the test inside graceinit's network namespace, so that the clients are a
process of their own and never hold up the test's measuring threads), one scenario per run:

    abusehelp.py flood|slowloris|huge|garbage|pipeline|halfclose|stream [--port P] [OPTIONS]

prints one JSON object (the scenario's figures, and what each request got back) on stdout and
exits 0; the test asserts on the figures. Clients connect from 32 loopback addresses
(127.0.0.1 to 127.0.0.32) in turn, so that graceinit's per-address limit (256) is not the only
limit reached.

As a module (imported by the test): SignalProbe sends SIGUSR1 to graceinit one at a time and
measures when sigtime.py, its child, receives each one; Sampler samples graceinit's VmRSS,
VmHWM and open fds; OrphanMaker keeps making orphans in graceinit's PID namespace
(helper_orphans, entered with nsenter) for graceinit to reap. Standard library only.
"""

import argparse
import collections
import errno
import json
import os
import random
import resource
import selectors
import signal
import socket
import subprocess
import sys
import threading
import time

import harness

SOURCES = ["127.0.0.%d" % i for i in range(1, 33)]
RECV = 65536
KEEP = 8 << 20  # bytes of answers kept per connection (the rest is only counted)


# ---------------------------------------------------------------------------------------------
# Clients


def raise_nofile(want):
    """Raises the soft RLIMIT_NOFILE to want (at most the hard limit); the new soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if new > soft:
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        return new
    return soft


def unix_address(path):
    return "\0" + path[1:] if path.startswith("@") else path


def new_socket(args, i, unix=False, blocking=True):
    """A socket connected (or connecting, when not blocking) to graceinit: TCP from SOURCES[i %
    32], or the control socket."""
    if unix:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        addr = unix_address(args.socket)
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.bind((SOURCES[i % len(SOURCES)], 0))
        addr = ("127.0.0.1", args.port)
    if blocking:
        s.settimeout(10)
        try:
            s.connect(addr)
        except BaseException:
            s.close()
            raise
    else:
        s.setblocking(False)
        err = s.connect_ex(addr)
        # A unix socket's backlog full: EAGAIN, the connection is refused (unix(7)).
        if err not in (0, errno.EINPROGRESS):
            s.close()
            raise OSError(err, os.strerror(err))
    return s


def rst_close(s):
    """Closes s with an RST (SO_LINGER 0) instead of a FIN."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    except OSError:
        pass
    s.close()


def parse_responses(buf, heads=()):
    """The complete HTTP responses at the start of buf: [(code, body), ...]. heads: indexes of
    the responses that answer a HEAD (no body)."""
    out = []
    pos = 0
    while True:
        end = buf.find(b"\r\n\r\n", pos)
        if end < 0:
            return out
        head = buf[pos:end].decode("latin-1").split("\r\n")
        parts = head[0].split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            out.append((-1, bytes(buf[pos:pos + 80])))  # not HTTP: say so, stop here
            return out
        code = int(parts[1])
        length, chunked = None, False
        for line in head[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value.strip())
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        body_at = end + 4
        if len(out) in heads or code in (204, 304) or (100 <= code < 200):
            length = 0
        if chunked:
            body, p = b"", body_at
            while True:
                eol = buf.find(b"\r\n", p)
                if eol < 0:
                    return out
                size = int(buf[p:eol].split(b";")[0], 16)
                if len(buf) < eol + 2 + size + 2:
                    return out
                body += bytes(buf[eol + 2:eol + 2 + size])
                p = eol + 2 + size + 2
                if size == 0:
                    break
            out.append((code, body))
            pos = p
            continue
        if length is None:
            return out  # until EOF: the caller knows when it is complete
        if len(buf) < body_at + length:
            return out
        out.append((code, bytes(buf[body_at:body_at + length])))
        pos = body_at + length


class Job:
    """One connection of the event loop below: sends `out` (bytes, or an iterable of bytes
    produced as the socket takes them), then does `then` ("shut" = shutdown(SHUT_WR), "rst" =
    close with an RST, None), reads until EOF, an error, the deadline, `answers` complete
    answers (then closes), or rst_after bytes read (then closes with an RST).
    stop_on_answer: stop sending once an answer arrives (the server refused the request
    early)."""

    def __init__(self, name, sock, out, then=None, rst_after=None, heads=(),
                 stop_on_answer=False, expect=None, answers=None):
        self.name = name
        self.answers = answers
        self.sock = sock
        self.chunks = iter([out]) if isinstance(out, (bytes, bytearray)) else iter(out)
        self.pending = memoryview(b"")
        self.then = then
        self.rst_after = rst_after
        self.heads = heads
        self.stop_on_answer = stop_on_answer
        self.expect = expect
        self.inbuf = bytearray()
        self.received = 0
        self.sent = 0
        self.sending = True
        self.end = None  # "eof", "reset", "rst-by-us", "timeout", "error:..."
        self.send_error = None
        self.started = time.monotonic()
        self.elapsed = None

    def next_chunk(self):
        while not self.pending:
            try:
                self.pending = memoryview(next(self.chunks))
            except StopIteration:
                return False
        return True

    def result(self):
        responses = parse_responses(self.inbuf, self.heads)
        return {"name": self.name, "codes": [c for c, _ in responses],
                "bodies": [b[:200].decode("latin-1") for _, b in responses[:3]],
                "sent": self.sent, "received": self.received, "end": self.end,
                "send_error": self.send_error, "elapsed": round(self.elapsed or 0, 3),
                "expect": self.expect}


def run_jobs(jobs, timeout):
    """Drives every job to its end (or the deadline) with one selector; their results."""
    sel = selectors.DefaultSelector()
    deadline = time.monotonic() + timeout

    def finish(job, end):
        if job.end is None:
            job.end = end
            job.elapsed = time.monotonic() - job.started
        try:
            sel.unregister(job.sock)
        except (KeyError, ValueError):
            pass
        if end == "rst-by-us":
            rst_close(job.sock)
        else:
            job.sock.close()

    def after_send(job):
        job.sending = False
        if job.then == "shut":
            try:
                job.sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        elif job.then == "rst":
            finish(job, "rst-by-us")
            return False
        return True

    for job in jobs:
        job.sock.setblocking(False)
        sel.register(job.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, job)
    active = list(jobs)
    while any(j.end is None for j in active):
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, events in sel.select(min(left, 0.5)):
            job = key.data
            if job.end is not None:
                continue
            if events & selectors.EVENT_READ:
                try:
                    data = job.sock.recv(RECV)
                except (BlockingIOError, InterruptedError):
                    data = None
                except ConnectionResetError:
                    finish(job, "reset")
                    continue
                except OSError as e:
                    finish(job, "error:%s" % errno.errorcode.get(e.errno, e.errno))
                    continue
                if data == b"":
                    finish(job, "eof")
                    continue
                if data:
                    job.received += len(data)
                    if len(job.inbuf) < KEEP:
                        job.inbuf += data
                    if job.rst_after is not None and job.received >= job.rst_after:
                        finish(job, "rst-by-us")
                        continue
                    if job.answers is not None and \
                            len(parse_responses(job.inbuf, job.heads)) >= job.answers:
                        finish(job, "answered")
                        continue
                    if job.sending and job.stop_on_answer and parse_responses(job.inbuf):
                        job.sending = False
                        sel.modify(job.sock, selectors.EVENT_READ, job)
            if job.end is None and job.sending and events & selectors.EVENT_WRITE:
                sent_all = False
                try:
                    while True:
                        if not job.next_chunk():
                            sent_all = True
                            break
                        n = job.sock.send(job.pending)
                        job.sent += n
                        job.pending = job.pending[n:]
                        if job.pending:
                            break
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as e:
                    # Refused mid-request (EPIPE, ECONNRESET): read what was answered.
                    job.send_error = errno.errorcode.get(e.errno, str(e.errno))
                    job.sending = False
                    sel.modify(job.sock, selectors.EVENT_READ, job)
                    continue
                if sent_all:
                    if after_send(job):
                        sel.modify(job.sock, selectors.EVENT_READ, job)
    for job in active:
        if job.end is None:
            finish(job, "timeout")
    sel.close()
    return [j.result() for j in jobs]


def request(method, path, headers=(), body=b"", version="HTTP/1.1"):
    lines = ["%s %s %s" % (method, path, version), "Host: graceinit"] + list(headers)
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def repeat(chunk, total):
    """total bytes of chunk repeated, produced in pieces of len(chunk)."""
    left = total
    while left > 0:
        piece = chunk if left >= len(chunk) else chunk[:left]
        left -= len(piece)
        yield piece


def concat(*iters):
    """The items of each iterable in turn."""
    for it in iters:
        yield from it


def chunked(chunk, total):
    """total bytes as a chunked body (pieces of len(chunk)) and its last chunk."""
    for piece in repeat(chunk, total):
        yield b"%x\r\n" % len(piece) + piece + b"\r\n"
    yield b"0\r\n\r\n"


# ---------------------------------------------------------------------------------------------
# Scenarios


def scenario_flood(args):
    """args.count connections, opened without waiting (non-blocking connect), 1 in 10 to the
    control socket: a quarter send nothing, a quarter half a request line, a quarter a whole
    GET /livez, a quarter a request cut in its headers. Each is held args.hold s after the last
    has been attempted, then closed (one in two with an RST)."""
    limit = raise_nofile(args.count + 512)
    concurrent = max(100, limit - 256)
    sel = selectors.DefaultSelector()
    stats = collections.Counter()
    conns = {}  # sock -> [index, state]
    payloads = [None, b"GET /liv", request("GET", "/livez"),
                b"GET /livez HTTP/1.1\r\nHost: graceinit\r\nX-Cut: yes"]
    started = time.monotonic()

    def close(sock, rst):
        try:
            sel.unregister(sock)
        except (KeyError, ValueError):
            pass
        conns.pop(sock, None)
        (rst_close if rst else socket.socket.close)(sock)

    def pump(timeout):
        for key, events in sel.select(timeout):
            sock = key.fileobj
            entry = conns.get(sock)
            if entry is None:
                continue
            i, state = entry
            if state == "connecting":
                err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    stats["failed " + errno.errorcode.get(err, str(err))] += 1
                    close(sock, False)
                    continue
                stats["connected"] += 1
                payload = payloads[i % 4]
                try:
                    if payload:
                        sock.send(payload)
                except OSError as e:
                    stats["send " + errno.errorcode.get(e.errno, str(e.errno))] += 1
                entry[1] = "open"
                sel.modify(sock, selectors.EVENT_READ)
                continue
            try:
                data = sock.recv(RECV)
            except BlockingIOError:
                continue
            except OSError as e:
                stats["closed by graceinit (%s)" % errno.errorcode.get(e.errno, e.errno)] += 1
                close(sock, False)
                continue
            if data == b"":
                stats["closed by graceinit (eof)"] += 1
                close(sock, False)
            elif data.startswith(b"HTTP/1.1 200"):
                stats["answered 200"] += 1
            else:
                stats["answered " + data[:12].decode("latin-1")] += 1

    for i in range(args.count):
        while len(conns) >= concurrent:
            stats["waited for a free fd"] += 1
            oldest = next(iter(conns))
            close(oldest, True)
        unix = i % 10 == 9
        stats["attempted"] += 1
        try:
            sock = new_socket(args, i, unix=unix, blocking=False)
        except OSError as e:
            stats["refused " + errno.errorcode.get(e.errno, str(e.errno))] += 1
            continue
        conns[sock] = [i, "connecting"]
        sel.register(sock, selectors.EVENT_WRITE)
        if i % 200 == 199:
            pump(0)
    opened = time.monotonic()
    while time.monotonic() < opened + args.hold:
        pump(0.05)
    stats["still connecting at the end"] = sum(1 for e in conns.values() if e[1] == "connecting")
    stats["open at the end"] = sum(1 for e in conns.values() if e[1] == "open")
    for n, sock in enumerate(list(conns)):
        close(sock, n % 2 == 0)
    sel.close()
    return {"count": args.count, "nofile": limit, "open_s": round(opened - started, 3),
            "elapsed": round(time.monotonic() - started, 3), "stats": dict(stats)}


def livez_probe(args, unix=False):
    """One GET /livez on a new connection: (code or None, seconds)."""
    t0 = time.monotonic()
    try:
        s = new_socket(args, 0, unix=unix)
        try:
            s.settimeout(10)
            s.sendall(request("GET", "/livez", ["Connection: close"]))
            buf = b""
            while True:
                data = s.recv(RECV)
                if not data:
                    break
                buf += data
        finally:
            s.close()
        responses = parse_responses(buf)
        return (responses[0][0] if responses else None), time.monotonic() - t0
    except OSError:
        return None, time.monotonic() - t0


def scenario_slowloris(args):
    """args.count connections (one in 8 on the control socket) send a request line, then one
    byte of a header every args.interval s for args.duration s; meanwhile a new GET /livez is
    made every 0.5 s, over TCP and over the socket. Then half the slow requests are completed
    (their answer is read), the other half closed."""
    raise_nofile(args.count + 256)
    socks = []
    stats = collections.Counter()
    for i in range(args.count):
        try:
            s = new_socket(args, i, unix=i % 8 == 7)
        except OSError as e:
            stats["connect " + errno.errorcode.get(e.errno, str(e.errno))] += 1
            continue
        s.sendall(b"GET /livez HTTP/1.1\r\nHost: graceinit\r\nX-Slow: ")
        s.setblocking(False)
        socks.append(s)
    probes = []
    started = time.monotonic()
    next_probe = started
    trickled = 0
    closed_early = set()
    while time.monotonic() - started < args.duration:
        for n, s in enumerate(socks):
            if n in closed_early:
                continue
            try:
                s.send(b"a")
                trickled += 1
            except BlockingIOError:
                pass
            except OSError:
                closed_early.add(n)
        if time.monotonic() >= next_probe:
            for unix in (False, True):
                code, secs = livez_probe(args, unix)
                probes.append({"unix": unix, "code": code, "s": round(secs, 4)})
            next_probe += 0.5
        time.sleep(args.interval)
    # Did graceinit close any of them before the end?
    for n, s in enumerate(socks):
        try:
            if s.recv(RECV) == b"":
                closed_early.add(n)
        except BlockingIOError:
            pass
        except OSError:
            closed_early.add(n)
    jobs = []
    for n, s in enumerate(socks):
        if n in closed_early:
            s.close()
        elif n % 2 == 0:
            s.setblocking(True)
            jobs.append(Job("complete", s, b"\r\nConnection: close\r\n\r\n", expect=200))
        else:
            s.close()
    results = run_jobs(jobs, 15)
    codes = collections.Counter(str(r["codes"][:1]) for r in results)
    return {"count": args.count, "connected": len(socks), "stats": dict(stats),
            "trickled_bytes": trickled, "closed_by_graceinit_early": len(closed_early),
            "completed": len(jobs), "completed_codes": dict(codes),
            "probes": probes, "elapsed": round(time.monotonic() - started, 3)}


def scenario_huge(args):
    """Headers of 1 MB (1,000 lines of 1 KB, and one line of 1 MB), bodies of args.mb MB to
    /prestop and to an unknown path: with Content-Length, chunked, and (on the unknown path)
    without either, the bytes following the request as if they were more requests."""
    total = args.mb << 20
    piece = b"x" * (1 << 20)
    many = b"".join(b"X-Big-%04d: %s\r\n" % (i, b"h" * 1000) for i in range(1000))
    one = b"X-One: " + b"h" * (1 << 20) + b"\r\n"
    specs = [
        ("1000 header lines of 1 KB", b"GET /livez HTTP/1.1\r\nHost: graceinit\r\n" + many +
         b"\r\n"),
        ("one header line of 1 MB", b"GET /livez HTTP/1.1\r\nHost: graceinit\r\n" + one +
         b"\r\n"),
        ("url of 1 MB", b"GET /" + b"u" * (1 << 20) + b" HTTP/1.1\r\nHost: graceinit\r\n\r\n"),
        ("POST /prestop Content-Length %d MB" % args.mb,
         [request("POST", "/prestop", ["Content-Length: %d" % total])]),
        ("POST /nope Content-Length %d MB" % args.mb,
         [request("POST", "/nope", ["Content-Length: %d" % total])]),
        ("POST /prestop chunked %d MB" % args.mb,
         [request("POST", "/prestop", ["Transfer-Encoding: chunked"])]),
        ("POST /nope chunked %d MB" % args.mb,
         [request("POST", "/nope", ["Transfer-Encoding: chunked"])]),
        ("POST /nope no length, %d MB after it" % args.mb,
         [request("POST", "/nope")]),
        ("POST /drain Content-Length 1 GB, 1 MB sent, then RST",
         [request("POST", "/drain", ["Content-Length: %d" % (1 << 30)])]),
    ]
    jobs = []
    for i, (name, out) in enumerate(specs):
        if isinstance(out, list):
            if "chunked" in name:
                body = chunked(piece, total)
            elif "then RST" in name:
                body = repeat(piece, 1 << 20)
            else:
                body = repeat(piece, total)
            out = concat(out, body)
        then = "rst" if "then RST" in name else None
        jobs.append(Job(name, new_socket(args, i), out, then=then, stop_on_answer=True,
                        answers=1 if "no length" not in name else 2))
    started = time.monotonic()
    results = run_jobs(jobs, args.timeout)
    return {"mb": args.mb, "results": results, "elapsed": round(time.monotonic() - started, 3)}


def timed(gen, seconds):
    """The pieces of gen for `seconds` s from the first one, then the last chunk."""
    end = None
    for piece in gen:
        if end is None:
            end = time.monotonic() + seconds
        elif time.monotonic() >= end:
            break
        yield piece
    yield b"0\r\n\r\n"


def stream_jobs(args, first, count):
    """count connections that each stream a chunked body to /nope for args.duration s."""
    piece = b"x" * (1 << 20)
    jobs = []
    for c in range(first, first + count):
        head = request("POST", "/nope", ["Transfer-Encoding: chunked"])
        body = (b"%x\r\n" % len(piece) + piece + b"\r\n" for _ in iter(int, 1))
        jobs.append(Job("stream #%d" % c, new_socket(args, c),
                        concat([head], timed(body, args.duration)), answers=1))
    return run_jobs(jobs, args.duration + args.timeout)


def scenario_stream(args):
    """args.conns connections stream a chunked body to /nope as fast as they can for
    args.duration s, then end it: graceinit reads and discards it all, and answers 404. The
    connections are shared between args.procs processes, so that the clients together can
    send faster than graceinit reads."""
    started = time.monotonic()
    readers = []
    per = -(-args.conns // args.procs)
    for first in range(0, args.conns, per):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            data = json.dumps(stream_jobs(args, first, min(per, args.conns - first))).encode()
            with os.fdopen(w, "wb") as f:
                f.write(data)
            os._exit(0)
        os.close(w)
        readers.append((pid, r))
    results = []
    for pid, r in readers:
        with os.fdopen(r, "rb") as f:
            results += json.loads(f.read() or b"[]")
        os.waitpid(pid, 0)
    return {"conns": args.conns, "procs": len(readers), "duration": args.duration,
            "results": results, "mb_sent": round(sum(r["sent"] for r in results) / (1 << 20)),
            "elapsed": round(time.monotonic() - started, 3)}


def garbage_cases():
    """(name, bytes, expected) of the malformed requests. expected: a status code; None for
    an error answer (4xx, 5xx) or a close without one; "any" where libmicrohttpd is lenient
    and answers as if the request were well formed (a header name with a space; "%00" in
    the path, which ends it once decoded; two Content-Lengths, the first one taken)."""
    rnd = random.Random(7)
    binary = bytes(rnd.getrandbits(8) for _ in range(4096))
    cases = [
        ("FOO /livez", request("FOO", "/livez"), 405),
        ("PROPFIND /livez", request("PROPFIND", "/livez"), 405),
        ("PROPFIND /prestop", request("PROPFIND", "/prestop"), 405),
        ("FOO /drain", request("FOO", "/drain"), 405),
        ("BREW /nope", request("BREW", "/nope"), 404),
        ("method of 10 KB", request("M" * 10240, "/livez"), None),
        ("method of 100 KB", request("M" * 102400, "/livez"), None),
        ("lower-case get", request("get", "/livez"), None),
        ("HTTP/9.9", request("GET", "/livez", version="HTTP/9.9"), None),
        ("HTTP/1.1.1", request("GET", "/livez", version="HTTP/1.1.1"), None),
        ("HTTP/", request("GET", "/livez", version="HTTP/"), None),
        ("FOO/1.1", request("GET", "/livez", version="FOO/1.1"), None),
        ("HTTP/2.0", request("GET", "/livez", version="HTTP/2.0"), None),
        ("no version", b"GET /livez\r\n\r\n", None),
        ("method only", b"GET\r\n\r\n", None),
        ("empty lines", b"\r\n\r\n\r\n\r\n", None),
        ("spaces", b"   \r\n\r\n", None),
        ("header without colon", b"GET /livez HTTP/1.1\r\nHost: graceinit\r\nBad header"
         b"\r\n\r\n", None),
        ("header name with space", b"GET /livez HTTP/1.1\r\nHost: graceinit\r\nBad name: x"
         b"\r\n\r\n", "any"),
        ("continuation line first", b"GET /livez HTTP/1.1\r\n folded\r\nHost: graceinit"
         b"\r\n\r\n", None),
        ("NUL in method", request("G\0T", "/livez"), None),
        ("NUL in url", request("GET", "/li\0vez"), None),
        ("NUL in header", b"GET /livez HTTP/1.1\r\nHost: grace\0init\r\nX-N\0: \0\0\r\n\r\n",
         None),
        ("NUL bytes", b"\0" * 8192 + b"\r\n\r\n", None),
        ("binary garbage 4 KB", binary + b"\r\n\r\n", None),
        ("TLS client hello", bytes.fromhex("16030100a5010000a10303") + binary[:160] +
         b"\r\n\r\n", None),
        ("Content-Length -1", request("POST", "/drain", ["Content-Length: -1"]), None),
        ("Content-Length huge", request("POST", "/drain",
                                        ["Content-Length: 99999999999999999999999999"]), None),
        ("Content-Length x", request("POST", "/drain", ["Content-Length: x"]), None),
        ("two Content-Lengths", request("POST", "/nope",
                                        ["Content-Length: 1", "Content-Length: 2"], b"ab"),
         "any"),
        ("bad chunk size", request("POST", "/drain", ["Transfer-Encoding: chunked"],
                                   b"zz\r\nabc\r\n0\r\n\r\n"), None),
        ("unknown transfer-coding", request("POST", "/drain", ["Transfer-Encoding: gzip"]),
         None),
        ("absolute url", request("GET", "http://evil.example/livez"), None),
        ("asterisk", request("OPTIONS", "*"), None),
        ("url of 100 KB", request("GET", "/" + "u" * 102400), None),
        ("../ url", request("GET", "/../../etc/passwd"), 404),
        ("percent-encoded", request("GET", "/%6civez%00"), "any"),
    ]
    for i in range(20):
        size = rnd.choice([1, 17, 512, 3000, 20000])
        junk = bytes(rnd.getrandbits(8) for _ in range(size))
        cases.append(("random %d bytes #%d" % (size, i), junk + b"\r\n\r\n", None))
    return cases


def scenario_garbage(args):
    """Every malformed request of garbage_cases() on a connection of its own, all at once,
    repeated args.rounds times."""
    jobs = []
    for r in range(args.rounds):
        for i, (name, data, expect) in enumerate(garbage_cases()):
            s = new_socket(args, i + r, unix=(r % 2 == 1))
            jobs.append(Job(name, s, data, expect=expect))
    started = time.monotonic()
    results = run_jobs(jobs, args.timeout)
    return {"results": results, "elapsed": round(time.monotonic() - started, 3)}


def scenario_pipeline(args):
    """args.count GET /livez in one write on one connection; args.conns connections with
    args.count mixed requests each (every route, HEAD, 404, 405), the last with Connection:
    close; one connection that sends args.count requests and reads nothing for 2 s."""
    jobs = []
    data = request("GET", "/livez") * (args.count - 1) + request("GET", "/livez",
                                                                  ["Connection: close"])
    jobs.append(Job("%d x GET /livez" % args.count, new_socket(args, 0), data,
                    expect=[200] * args.count))
    mix = [(request("GET", "/livez"), 200, False), (request("GET", "/readyz"), 200, False),
           (request("HEAD", "/healthz"), 200, True), (request("GET", "/nope"), 404, False),
           (request("POST", "/livez"), 405, False), (request("GET", "/status"), 200, False),
           (request("GET", "/livez", ["Content-Length: 5"], b"hello"), 200, False)]
    for c in range(args.conns):
        reqs, codes, heads = [], [], []
        for n in range(args.count):
            req, code, head = mix[(n + c) % len(mix)]
            if n == args.count - 1:
                req = request("GET", "/livez", ["Connection: close"])
                code, head = 200, False
            if head:
                heads.append(n)
            reqs.append(req)
            codes.append(code)
        jobs.append(Job("mixed #%d" % c, new_socket(args, c + 1, unix=(c % 2 == 1)),
                        b"".join(reqs), heads=set(heads), expect=codes))
    started = time.monotonic()
    results = run_jobs(jobs, args.timeout)
    # A client that writes everything and does not read for 2 s: graceinit must wait on its
    # writes without holding anything else up.
    lazy = new_socket(args, 40)
    lazy.sendall(data)
    time.sleep(2)
    results += run_jobs([Job("reads after 2 s", lazy, b"", expect=[200] * args.count)],
                        args.timeout)
    return {"count": args.count, "results": results,
            "elapsed": round(time.monotonic() - started, 3)}


def scenario_halfclose(args):
    """args.count connections of each kind, all at once: a whole request then SHUT_WR; half a
    request then SHUT_WR; nothing then SHUT_WR; 200 pipelined GET /metrics then an RST after
    the first 1 KB of answers; GET /status then an RST at once; a POST of 1 MB announced, 64
    KB sent, then an RST."""
    raise_nofile(8 * args.count + 256)
    jobs = []
    n = 0
    kinds = [
        ("request, SHUT_WR", lambda: request("GET", "/livez"), "shut", None),
        ("half a request, SHUT_WR", lambda: b"GET /livez HTTP/1.1\r\nHo", "shut", None),
        ("nothing, SHUT_WR", lambda: b"", "shut", None),
        ("200 x /metrics, RST after 1 KB", lambda: request("GET", "/metrics") * 200, None,
         1024),
        ("GET /status, RST", lambda: request("GET", "/status"), "rst", None),
        ("POST 64 KB of 1 MB, RST", lambda: request("POST", "/nope", ["Content-Length: %d"
                                                                      % (1 << 20)],
                                                    b"b" * 65536), "rst", None),
    ]
    for name, make, then, rst_after in kinds:
        for _ in range(args.count):
            jobs.append(Job(name, new_socket(args, n, unix=(n % 4 == 3)), make(), then=then,
                            rst_after=rst_after))
            n += 1
    started = time.monotonic()
    results = run_jobs(jobs, args.timeout)
    summary = collections.defaultdict(collections.Counter)
    slowest = collections.defaultdict(float)
    for r in results:
        summary[r["name"]]["%s %s" % (r["codes"][:1], r["end"])] += 1
        slowest[r["name"]] = max(slowest[r["name"]], r["elapsed"])
    return {"count": args.count, "summary": {k: dict(v) for k, v in summary.items()},
            "slowest": dict(slowest), "results": results,
            "elapsed": round(time.monotonic() - started, 3)}


SCENARIOS = {"flood": scenario_flood, "slowloris": scenario_slowloris, "huge": scenario_huge,
             "garbage": scenario_garbage, "pipeline": scenario_pipeline,
             "halfclose": scenario_halfclose, "stream": scenario_stream}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--port", type=int, default=9797)
    parser.add_argument("--socket", default="@graceinit")
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--conns", type=int, default=4)
    parser.add_argument("--procs", type=int, default=1)
    parser.add_argument("--hold", type=float, default=3)
    parser.add_argument("--duration", type=float, default=6)
    parser.add_argument("--interval", type=float, default=0.3)
    parser.add_argument("--mb", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=30)
    args = parser.parse_args()
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)
    result = SCENARIOS[args.scenario](args)
    print(json.dumps(result), flush=True)
    return 0


# ---------------------------------------------------------------------------------------------
# Probes, for the test process


def vm(pid, field):
    """A Vm* figure of /proc/PID/status in kB, or 0 when the process is gone."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return 0


def fd_count(pid):
    try:
        return len(os.listdir("/proc/%d/fd" % pid))
    except (FileNotFoundError, ProcessLookupError):
        return 0


def schedstat(pid):
    """(time on a CPU, time runnable but waiting for a CPU) of pid in ns, from
    /proc/PID/schedstat; (0, 0) when it is gone."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            fields = f.read().split()
        return int(fields[0]), int(fields[1])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return 0, 0


class SignalProbe(threading.Thread):
    """Sends SIGUSR1 to pid one at a time, every interval s, and waits until the child has
    recorded it (a line "SIGNO T_NS" of the FIFO); latency = the child's time - the send time.
    A signal not recorded within `lost_after` s is lost: the probe stops there. For each
    signal, how long graceinit ran and waited for a CPU meanwhile, and how long the child
    (child_pid, outside pid) waited for one (schedstat): a loaded machine (waits) or a busy
    loop (graceinit on a CPU all along) shows there."""

    def __init__(self, pid, fifo, child_pid=None, interval=0.01, lost_after=20.0):
        super().__init__(daemon=True)
        self.pid = pid
        self.child_pid = child_pid
        self.waits = []  # per signal, ms: graceinit on a CPU, waiting; the child waiting
        self.fifo = fifo
        self.interval = interval
        self.lost_after = lost_after
        self.latencies_ms = []
        self.sent = 0
        self.delivered = 0
        self.lost = 0
        self.wrong = []
        self.times = []  # when each delivered signal was sent, s after the start
        self.started = time.monotonic_ns()
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            g0 = schedstat(self.pid)
            c0 = schedstat(self.child_pid)[1] if self.child_pid else 0
            sent = time.monotonic_ns()
            try:
                os.kill(self.pid, signal.SIGUSR1)
            except ProcessLookupError:
                self.wrong.append("graceinit is gone")
                return
            self.sent += 1
            line = self.fifo.line(self.lost_after)
            if line is None:
                self.lost += 1
                return
            signo, received = (int(x) for x in line.split())
            if signo != signal.SIGUSR1:
                self.wrong.append(signo)
            self.delivered += 1
            self.latencies_ms.append((received - sent) / 1e6)
            self.times.append((sent - self.started) / 1e9)
            g1 = schedstat(self.pid)
            self.waits.append(((g1[0] - g0[0]) / 1e6, (g1[1] - g0[1]) / 1e6,
                               (schedstat(self.child_pid)[1] - c0) / 1e6
                               if self.child_pid else float("nan")))
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join(self.lost_after + 5)

    def figures(self):
        lat = self.latencies_ms
        worst = sorted(zip(lat, self.times, self.waits), reverse=True)[:3]
        return "signals sent %d delivered %d lost %d, latency p50 %.2f ms p99 %.2f ms " \
               "max %.2f ms (worst: %s)" % (
                   self.sent, self.delivered, self.lost, harness.percentile(lat, .5),
                   harness.percentile(lat, .99), max(lat) if lat else float("nan"),
                   ", ".join("%.0f ms at %.1f s [graceinit on a CPU %.0f ms, waiting for one "
                             "%.0f ms; the child waiting %.0f ms]" % (ms, t, g, gw, c)
                             for ms, t, (g, gw, c) in worst))


class Sampler(threading.Thread):
    """Samples pid's VmRSS and open fds every interval s; peak figures."""

    def __init__(self, pid, interval=0.05):
        super().__init__(daemon=True)
        self.pid = pid
        self.interval = interval
        self.rss_kb = []
        self.fds = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            self.rss_kb.append(vm(self.pid, "VmRSS"))
            self.fds.append(fd_count(self.pid))
            self.stopping.wait(self.interval)

    def stop(self):
        self.stopping.set()
        self.join(5)


class OrphanMaker(threading.Thread):
    """Runs helper_orphans in the PID namespace of graceinit (nsenter --pid) again and again
    until stopped: batches of `batch` orphans that sleep delay_ms and exit, re-parented to
    graceinit. made: orphans whose maker reported them all made."""

    def __init__(self, init_pid, orphans_bin, report_dir, batch=100, delay_ms=200, pause=0.2):
        super().__init__(daemon=True)
        self.init_pid = init_pid
        self.bin = orphans_bin
        self.report_dir = report_dir
        self.batch = batch
        self.delay_ms = delay_ms
        self.pause = pause
        self.made = 0
        self.batches = 0
        self.errors = []
        self.stopping = threading.Event()

    def run(self):
        while not self.stopping.is_set():
            report = os.path.join(self.report_dir, "orphans.%d" % self.batches)
            argv = ["nsenter", "--target", str(self.init_pid), "--pid", "--", self.bin,
                    "-n", str(self.batch), "-k", "10", "-d", str(self.delay_ms), report]
            try:
                res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                     timeout=60)
            except subprocess.TimeoutExpired:
                self.errors.append("helper_orphans timed out")
                return
            self.batches += 1
            try:
                with open(report) as f:
                    done = "done %d\n" % self.batch in f.read()
            except FileNotFoundError:
                done = False
            if res.returncode != 0 or not done:
                self.errors.append("helper_orphans: %d %s" % (res.returncode, res.stderr))
                return
            self.made += self.batch
            self.stopping.wait(self.pause)

    def stop(self):
        self.stopping.set()
        self.join(70)


if __name__ == "__main__":
    sys.exit(main())
