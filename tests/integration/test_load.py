#!/usr/bin/python3
"""Signal forwarding under HTTP load: the listener must never hold up the loop (SPEC: "reaping
and signal forwarding go on under any HTTP load").

graceinit runs sigtime.py as its child, which writes the time at which each signal reaches it
to a FIFO the test reads. The test sends 1,000 SIGUSR1 to graceinit one at a time (send, wait
until the child has recorded it, measure from the send to the child's record), first idle, then
while loadgen.py keeps 200 concurrent clients on /readyz for 10 s (half on keep-alive
connections, half connecting for every request); the signals are spread over each phase.
Asserts that no signal is lost, that the p99 latency under load stays below 200 ms, that
graceinit's peak RSS stays below 32 MB (not checked for a sanitizer build), that every request
was answered 200, and that /livez answers afterwards; prints the real figures. A second test
holds 250 stalled connections open and checks that nothing else waits for them.
"""

import json
import os
import signal
import subprocess
import time

import harness
import khelp

SIGNALS = 1000
CLIENTS = 200
LOAD_S = 10
IDLE_INTERVAL = 0.002                # 1,000 signals in about 2 s
LOAD_INTERVAL = (LOAD_S - 1.5) / SIGNALS  # spread over the load, ending before it does
RSS_LIMIT_KB = 32 * 1024
P99_LIMIT_MS = 200
LOADGEN = os.path.join(khelp.HERE, "loadgen.py")


def vm(pid, field):
    """A VmRSS / VmHWM figure of /proc/PID/status, in kB."""
    return int(harness.proc_status(pid)[field].split()[0])


class LoadTest(khelp.TestCase):

    def forward_signals(self, run, fifo, count, interval, phase, rss):
        """Sends count SIGUSR1 one at a time, one every interval s at most (so that they
        sample the whole phase); the latencies in ms."""
        pid = run.init_pid()
        latencies = []
        start = time.monotonic()
        for i in range(count):
            pause = start + i * interval - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            sent = time.monotonic_ns()
            os.kill(pid, signal.SIGUSR1)
            line = fifo.line(2, "SIGUSR1 #%d (%s) to reach the child: lost" % (i + 1, phase))
            signo, received = (int(x) for x in line.split())
            self.assertEqual(signo, signal.SIGUSR1, "the child got %s" % harness.signame(signo))
            latencies.append((received - sent) / 1e6)
            if i % 50 == 0:
                rss.append(vm(pid, "VmRSS"))
        return latencies

    @harness.skip_if_wrapped("its RSS and latency bounds are valgrind's")
    def test_signals_forwarded_under_http_load(self):
        fifo_path = self.path("signals.fifo")
        fifo = harness.FifoReader(fifo_path)
        self.addCleanup(fifo.close)
        run = self.start_net([], [khelp.PYTHON, khelp.SIGTIME, "--lifetime", "120", fifo_path])
        self.assertTrue(fifo.line(10, "the child to be ready").startswith("ready "))
        run.wait_http()
        pid = run.init_pid()
        rss = [vm(pid, "VmRSS")]

        idle = self.forward_signals(run, fifo, SIGNALS, IDLE_INTERVAL, "idle", rss)

        load = run.net.popen([khelp.PYTHON, LOADGEN, "--clients", str(CLIENTS), "--duration",
                              str(LOAD_S), "--port", str(khelp.PORT)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: load.poll() is None and (load.kill(), load.wait()))
        first = load.stdout.readline().strip()
        self.assertEqual(first, "running", "loadgen: %s %s" % (first, load.stderr.read()
                                                              if load.poll() is not None
                                                              else ""))
        loaded_from = time.monotonic()
        busy = self.forward_signals(run, fifo, SIGNALS, LOAD_INTERVAL, "under load", rss)
        loaded_for = time.monotonic() - loaded_from
        while load.poll() is None and time.monotonic() - loaded_from < LOAD_S + 10:
            rss.append(vm(pid, "VmRSS"))
            time.sleep(0.2)
        out, err = load.communicate(timeout=20)
        self.assertEqual(load.returncode, 0, "loadgen failed: %s" % err)
        report = json.loads(out.strip().splitlines()[-1])

        # graceinit survived, and still answers.
        run.assert_running("after the load")
        self.assertEqual(run.get("/livez").status, 200)
        hwm = vm(pid, "VmHWM")
        rss.append(vm(pid, "VmRSS"))
        m = run.metrics()
        forwarded = khelp.metric(m, "graceinit_signals_forwarded_total", signal="SIGUSR1")
        counted = khelp.metric(m, "graceinit_http_requests_total", path="/readyz", code="200")

        print("\nsignal latency idle p50=%.3fms p99=%.3fms max=%.3fms; under load p50=%.3fms "
              "p99=%.3fms max=%.3fms (%d signals each, %.1f s of the load)"
              % (harness.percentile(idle, .5), harness.percentile(idle, .99), max(idle),
                 harness.percentile(busy, .5), harness.percentile(busy, .99), max(busy), SIGNALS, loaded_for))
        print("load: %d clients, %d requests in %.1f s (%.0f/s), codes %s, errors %s, "
              "request latency p50=%.2fms p99=%.2fms max=%.2fms"
              % (CLIENTS, report["requests"], report["elapsed"],
                 report["requests"] / report["elapsed"], report["codes"], report["errors"],
                 report["latency_p50_ms"], report["latency_p99_ms"], report["latency_max_ms"]))
        print("graceinit RSS: start %d kB, max sampled %d kB, end %d kB, peak (VmHWM) %d kB"
              % (rss[0], max(rss), rss[-1], hwm))

        self.assertEqual(forwarded, 2 * SIGNALS, "graceinit's own count of SIGUSR1 forwarded")
        self.assertLess(loaded_for, LOAD_S, "the signals under load outlasted the load")
        self.assertLess(harness.percentile(busy, .99), P99_LIMIT_MS,
                        "p99 latency of a forwarded signal under load")
        if run.sanitized():
            print("(a sanitizer build: its RSS is not checked)")
        else:
            self.assertLess(hwm, RSS_LIMIT_KB, "graceinit's peak RSS under load")
        self.assertEqual(report["errors"], {}, "failed requests under load")
        self.assertEqual(set(report["codes"]), {"200"}, "answers under load")
        self.assertGreater(report["requests"], 10 * CLIENTS, "requests made under load")
        self.assertGreaterEqual(counted, report["requests"],
                                "graceinit counted fewer /readyz requests than were answered")

    def test_idle_and_partial_connections_do_not_block(self):
        # 200 connections that never send a byte and 50 stuck in the middle of their headers:
        # graceinit still answers other clients and forwards signals at once.
        fifo_path = self.path("signals.fifo")
        fifo = harness.FifoReader(fifo_path)
        self.addCleanup(fifo.close)
        run = self.start_net([], [khelp.PYTHON, khelp.SIGTIME, fifo_path])
        self.assertTrue(fifo.line(10, "the child to be ready").startswith("ready "))
        run.wait_http()
        conns = []
        self.addCleanup(lambda: [c.close() for c in conns])
        for i in range(250):
            c = run.net.connect(unix="@graceinit" if i % 5 == 0 else None)
            if i >= 200:
                c.sendall(b"GET /livez HTTP/1.1\r\nHost: x\r\n")
            conns.append(c)
        time.sleep(0.2)
        for where in ({}, {"unix": "@graceinit"}):
            resp = run.get("/livez", **where)
            self.assertEqual(resp.status, 200)
            self.assertLess(resp.elapsed, 0.2, "/livez %s with 250 stalled connections" % where)
        latencies = self.forward_signals(run, fifo, 50, 0.001, "with stalled connections", [])
        self.assertLess(max(latencies), 100, "signal latency with stalled connections")
        self.assertEqual(run.get("/readyz").status, 200)


if __name__ == "__main__":
    khelp.main()
