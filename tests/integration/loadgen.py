#!/usr/bin/python3
"""HTTP load for test_load.py: CLIENTS concurrent clients send GET PATH to HOST:PORT for
DURATION seconds or until MAX requests in all, whichever comes first. Half the clients keep
their connection alive, the other half open a new connection for every request (the kubelet
does that), so graceinit accepts and closes connections all along too.

Prints "running" once every client has had an answer, then at the end one JSON object:
{"requests": N, "codes": {"200": N, ...}, "errors": {"ExceptionName": N}, "elapsed": S,
"latency_p50_ms": .., "latency_p99_ms": .., "latency_max_ms": ..}. Standard library only.

usage: loadgen.py [--host H] [--port P] [--path PATH] [--clients N] [--duration S] [--max N]
"""

import argparse
import asyncio
import collections
import json
import sys
import time


async def one_request(reader, writer, request):
    writer.write(request)
    await writer.drain()
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionResetError("connection closed before the answer")
    code = int(status_line.split()[1])
    length = 0
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length:
        await reader.readexactly(length)
    return code


async def client(args, keepalive, deadline, stats, started):
    request = ("GET %s HTTP/1.1\r\nHost: graceinit\r\nConnection: %s\r\n\r\n"
               % (args.path, "keep-alive" if keepalive else "close")).encode()
    reader = writer = None
    first = True
    while time.monotonic() < deadline and stats["requests"] < args.max:
        t0 = time.monotonic()
        try:
            if writer is None:
                reader, writer = await asyncio.wait_for(
                    asyncio.open_connection(args.host, args.port), 5)
            code = await asyncio.wait_for(one_request(reader, writer, request), 5)
            stats["requests"] += 1
            stats["codes"][str(code)] += 1
            stats["latencies"].append(time.monotonic() - t0)
            if first:
                first = False
                started.append(1)
            if not keepalive:
                writer.close()
                writer = None
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError,
                IndexError) as e:
            stats["errors"][type(e).__name__] += 1
            if writer is not None:
                writer.close()
            writer = None
            await asyncio.sleep(0.01)
    if writer is not None:
        writer.close()


async def main_async(args):
    stats = {"requests": 0, "codes": collections.Counter(), "errors": collections.Counter(),
             "latencies": []}
    started = []
    t0 = time.monotonic()
    deadline = t0 + args.duration
    tasks = [asyncio.ensure_future(client(args, i % 2 == 0, deadline, stats, started))
             for i in range(args.clients)]

    async def announce():
        while len(started) < args.clients and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        print("running", flush=True)
    await asyncio.gather(announce(), *tasks)
    lat = sorted(stats["latencies"]) or [0.0]

    def pct(p):
        return round(lat[min(len(lat) - 1, int(len(lat) * p))] * 1000, 3)
    print(json.dumps({"requests": stats["requests"], "codes": dict(stats["codes"]),
                      "errors": dict(stats["errors"]),
                      "elapsed": round(time.monotonic() - t0, 3),
                      "latency_p50_ms": pct(0.50), "latency_p99_ms": pct(0.99),
                      "latency_max_ms": round(lat[-1] * 1000, 3)}), flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9797)
    parser.add_argument("--path", default="/readyz")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--duration", type=float, default=10)
    parser.add_argument("--max", type=int, default=2000000)
    args = parser.parse_args()
    asyncio.run(main_async(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
