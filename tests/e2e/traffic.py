#!/usr/bin/env python3
"""The traffic side of the end-to-end drain test: a load balancer and the clients behind it, in
one asyncio process that runs in the test's "node" network namespace (never in the host's).

Load balancer: an HTTP proxy on LISTEN that forwards each request to the pod (BACKEND) on a new
connection, until --stop-routing-at (the deletion time + the endpoint propagation delay P, as
kube-proxy and ingresses apply an EndpointSlice change P seconds after the pod's deletion).
From then on it answers every request itself: 503 with `X-E2E-LB: no-backend` ("not routed":
in a real cluster these go to the other replicas). A failure to reach the pod is answered 502 /
504 with `X-E2E-LB: backend-error <why>` (refused, reset, timeout...), so the clients can tell a
failure of the pod from a request the LB did not route. The pod's own answers are relayed
byte for byte.

Clients: open loop, --rate requests/s from --start-at to --end-at (time.monotonic(), the clock
of the whole test: CLOCK_MONOTONIC), each on a new connection with a deadline. Bounded in count
((end - start) x rate) and in time (--end-at + the request timeout, and a hard --max-seconds).

Prints "ready" once the LB listens, then reads one JSON line on stdin with the times
(`start_at`, `end_at`, `stop_routing_at`: time.monotonic() values); at the end writes one JSON line per request to --records
(i, due: its planned send time, t: the real one, dt: latency, outcome: ok | failed | not_routed, detail) and a summary line
on stdout. Python standard library only.
"""

import argparse
import asyncio
import json
import sys
import time

LB_HEADER = "X-E2E-LB"


def parse_addr(text):
    host, _, port = text.rpartition(":")
    return host, int(port)


def http_answer(code, reason, lb_detail):
    body = ("%d %s from the load balancer: %s\n" % (code, reason, lb_detail)).encode()
    head = ("HTTP/1.1 %d %s\r\n%s: %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (code, reason, LB_HEADER, lb_detail, len(body)))
    return head.encode() + body


def errname(exc):
    if isinstance(exc, ConnectionRefusedError):
        return "refused"
    if isinstance(exc, ConnectionResetError):
        return "reset"
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "closed"
    if isinstance(exc, OSError) and exc.errno is not None:
        import errno
        return errno.errorcode.get(exc.errno, str(exc.errno)).lower()
    return type(exc).__name__


class LoadBalancer:
    def __init__(self, backend, stop_routing_at, timeout):
        self.backend = backend
        self.stop_routing_at = stop_routing_at
        self.timeout = timeout
        self.counts = {}

    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    async def handle(self, reader, writer):
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), self.timeout)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError,
                    asyncio.TimeoutError):
                self.count("bad-request")
                return
            if time.monotonic() >= self.stop_routing_at:
                self.count("no-backend")
                writer.write(http_answer(503, "Service Unavailable", "no-backend"))
            else:
                writer.write(await self.forward(head))
            await asyncio.wait_for(writer.drain(), self.timeout)
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            writer.close()

    async def forward(self, head):
        """The pod's answer, or the LB's own 502/504 when the pod cannot be reached."""
        bw = None
        try:
            br, bw = await asyncio.wait_for(asyncio.open_connection(*self.backend),
                                            self.timeout)
            bw.write(head)
            await bw.drain()
            data = await asyncio.wait_for(br.read(), self.timeout)  # until EOF
            if not data:
                raise asyncio.IncompleteReadError(b"", None)
            self.count("routed")
            return data
        except (asyncio.TimeoutError, TimeoutError) as e:
            self.count("backend-timeout")
            return http_answer(504, "Gateway Timeout", "backend-error " + errname(e))
        except (OSError, asyncio.IncompleteReadError) as e:
            self.count("backend-" + errname(e))
            return http_answer(502, "Bad Gateway", "backend-error " + errname(e))
        finally:
            if bw is not None:
                bw.close()


def classify(raw):
    """(outcome, detail) of a complete answer."""
    head, _, _ = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[1].isdigit():
        return "failed", "garbled answer"
    code = int(parts[1])
    lb = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == LB_HEADER.lower():
            lb = value.strip()
    if lb == "no-backend":
        return "not_routed", "503 no-backend"
    if lb is not None:
        return "failed", lb.replace("backend-error ", "")
    if code == 200:
        return "ok", "200"
    return "failed", "pod %d" % code


async def one_request(i, due, lb_addr, timeout, records):
    t = time.monotonic()
    writer = None
    try:
        async def exchange():
            nonlocal writer
            reader, writer = await asyncio.open_connection(*lb_addr)
            writer.write(b"GET / HTTP/1.1\r\nHost: web\r\nUser-Agent: e2e-client\r\n"
                         b"Connection: close\r\n\r\n")
            await writer.drain()
            return await reader.read()
        raw = await asyncio.wait_for(exchange(), timeout)
        outcome, detail = classify(raw) if raw else ("failed", "empty answer")
    except (asyncio.TimeoutError, TimeoutError):
        outcome, detail = "failed", "client timeout"
    except OSError as e:
        outcome, detail = "failed", "lb " + errname(e)
    finally:
        if writer is not None:
            writer.close()
    records.append({"i": i, "due": due, "t": t, "dt": time.monotonic() - t, "outcome": outcome,
                    "detail": detail})


async def main_async(args):
    lb = LoadBalancer(parse_addr(args.backend), float("inf"), args.backend_timeout)
    host, port = parse_addr(args.listen)
    server = await asyncio.start_server(lb.handle, host, port, backlog=1024,
                                        reuse_address=True)
    print("ready", flush=True)
    line = await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    times = json.loads(line)
    args.start_at, args.end_at = times["start_at"], times["end_at"]
    lb.stop_routing_at = times["stop_routing_at"]
    if not args.start_at <= args.end_at <= args.start_at + args.max_seconds:
        raise SystemExit("traffic.py: bad times %r" % times)
    hard_end = time.monotonic() + args.max_seconds
    records = []
    tasks = set()
    total = max(0, int((args.end_at - args.start_at) * args.rate))
    try:
        for i in range(total):
            due = args.start_at + i / args.rate
            now = time.monotonic()
            if now >= hard_end:
                break
            if due > now:
                await asyncio.sleep(due - now)
            task = asyncio.create_task(one_request(i, due, parse_addr(args.listen),
                                                   args.timeout, records))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        if tasks:
            await asyncio.wait(list(tasks), timeout=max(0.1, min(
                args.timeout + 1, hard_end - time.monotonic())))
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
    records.sort(key=lambda r: r["i"])
    with open(args.records, "w") as f:
        for r in records:
            f.write(json.dumps(r) + "\n")
    summary = {"sent": len(records), "planned": total, "lb": lb.counts}
    for r in records:
        summary[r["outcome"]] = summary.get(r["outcome"], 0) + 1
    print(json.dumps(summary), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--listen", default="127.0.0.1:8000")
    ap.add_argument("--backend", required=True, help="the pod's HOST:PORT")
    ap.add_argument("--rate", type=float, default=100.0, help="requests per second")
    ap.add_argument("--timeout", type=float, default=3.0, help="a client's deadline (s)")
    ap.add_argument("--backend-timeout", type=float, default=2.0)
    ap.add_argument("--max-seconds", type=float, default=120.0, help="hard bound of the run")
    ap.add_argument("--records", required=True)
    args = ap.parse_args()
    if args.rate <= 0 or args.rate > 1000:
        ap.error("--rate must be in (0, 1000]")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    sys.exit(main())
