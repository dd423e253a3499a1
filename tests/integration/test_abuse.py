#!/usr/bin/python3
"""HTTP abuse (issue 7, hardening): a flood of 10,000 connections, slowloris, huge headers and
bodies, bodies streamed without end, unknown methods and malformed requests, pipelining,
half-closed sockets and RSTs. While each goes on, graceinit must keep forwarding signals
(SIGUSR1 sent to graceinit one at a time, the time the child receives each is measured: none may
be lost or held up), keep reaping (orphans are made in its PID namespace all along: every one is
reaped, no zombie is left), keep its memory and its fds bounded; afterwards /livez answers 200
at once, the fds come back to the baseline, and the drain still works (SIGTERM -> the child gets
its stop signal -> graceinit exits 0). Last, POST /drain handled in the same pass of
libmicrohttpd as connections that it closes must not crash graceinit.

graceinit runs as PID 1 in its own PID and network namespaces (khelp.py) with sigtime.py as its
child (it writes the time it receives each signal to a FIFO). The abuse runs in a process of its
own (abusehelp.py, in the network namespace), so that the test's measuring threads are never
held up by it; orphans come from helper_orphans entered in the PID namespace with nsenter.

Limits of graceinit's listener (src/http.c): 512 connections per listener, 256 per address
(TCP), 10 s idle timeout, 32 KiB per connection, bodies over 4 KiB refused with 413.

Figures per scenario go to stderr. Besides the latency, each signal records how long graceinit
ran on a CPU and how long it waited for one while the signal was on its way
(/proc/PID/schedstat): a signal late because the machine is loaded shows graceinit waiting; one
late because graceinit's loop was held shows graceinit running all along (BUSY_LIMIT_MS).

Bounds leave room for a loaded 2-core machine. With a sanitizer build (ASan or UBSan symbols in
GRACEINIT_BIN, or their runtime in graceinit's mappings) the RSS bound is multiplied by
ASAN_RSS_FACTOR and the time bounds by ASAN_TIME_FACTOR. GRACEINIT_ABUSE_SCALE (a float,
default 1) scales the sizes of the abuse (connections, bytes), e.g. 0.1 for a quick run.
"""

import collections
import json
import os
import signal
import socket
import subprocess
import sys
import time

import abusehelp
import harness
import khelp
from harness import wait_until

ABUSE = os.path.join(khelp.HERE, "abusehelp.py")
SCALE = float(os.environ.get("GRACEINIT_ABUSE_SCALE", "1"))

RSS_LIMIT_KB = 48 * 1024        # graceinit's peak RSS (VmHWM) in any scenario
ASAN_RSS_FACTOR = 4             # ASan's shadow memory and quarantine
ASAN_TIME_FACTOR = 3
P99_LIMIT_MS = 500              # signal forwarding latency, p99, while abused
MIN_PROBE_S = 3                 # signals are sent for at least this long in any scenario
MAX_LIMIT_MS = 2000             # signal forwarding latency, the worst one
BUSY_LIMIT_MS = 1000            # graceinit's CPU time while one signal waits to be forwarded
LIVEZ_AFTER_S = 3               # /livez answers 200 within this time after the abuse
FD_SLACK = 4                    # fds above the baseline once the abuse is over
FD_PEAK = 2 * 512 + 64          # fds above the baseline at any time: two listeners' limits


# Under GRACEINIT_WRAPPER (valgrind, .ci/valgrind) the latency, RSS and fd figures would be the
# wrapper's: the scenarios skip themselves; the crash test runs (valgrind sees more there).
skip_if_wrapped = getattr(harness, "skip_if_wrapped", lambda reason: lambda test: test)
UNDER_WRAPPER = "its signal latency, RSS and fd bounds are valgrind's"


def sanitized_binary():
    """True when GRACEINIT_BIN is a sanitizer build (linked with ASan or UBSan)."""
    try:
        with open(harness.GRACEINIT, "rb") as f:
            data = f.read()
    except OSError:
        return False
    return b"__asan_init" in data or b"__ubsan_handle" in data


def log(text):
    sys.stderr.write(text + "\n")
    sys.stderr.flush()


class AbuseTest(khelp.TestCase):

    def setUp(self):
        super().setUp()
        self.factor = ASAN_TIME_FACTOR if sanitized_binary() else 1

    # -- the frame of every scenario --

    def abuse(self, scenario, *args, timeout=60):
        """Runs abusehelp.py SCENARIO ARGS in graceinit's network namespace while signals are
        forwarded, orphans made and graceinit sampled; then checks that graceinit is fine.
        The scenario's JSON result."""
        fifo_path = self.path("signals.fifo")
        fifo = harness.FifoReader(fifo_path)
        self.addCleanup(fifo.close)
        run = self.start_net([], [khelp.PYTHON, khelp.SIGTIME, "--exit-on", "TERM:0",
                                  "--lifetime", "300", fifo_path])
        line = fifo.line(10)
        self.assertIsNotNone(line, "the child to be ready")
        self.assertTrue(line.startswith("ready "), line)
        run.wait_http()
        pid = run.init_pid()
        asan = run.sanitized()
        child = [p for p in harness.children(pid)]
        self.assertEqual(len(child), 1, "graceinit's children before the abuse: %s" % child)
        reaped0 = khelp.metric(run.metrics(), "graceinit_zombies_reaped_total")
        time.sleep(0.2)  # the /metrics connection closed
        fds0 = abusehelp.fd_count(pid)
        rss0 = abusehelp.vm(pid, "VmRSS")

        sampler = abusehelp.Sampler(pid)
        probe = abusehelp.SignalProbe(pid, fifo, child_pid=child[0])
        orphans = abusehelp.OrphanMaker(pid, harness.helper("orphans"), self.tmp)
        for t in (sampler, probe, orphans):
            t.start()
        stopped = []

        def stop_all():
            if not stopped:
                stopped.append(1)
                for t in (orphans, probe, sampler):
                    t.stop()
        self.addCleanup(stop_all)

        started = time.monotonic()
        proc = run.net.popen([khelp.PYTHON, ABUSE, scenario, "--port", str(khelp.PORT)]
                             + [str(a) for a in args], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
            self.fail("abusehelp.py %s still running after %d s: %s" % (scenario, timeout, err))
        ended = time.monotonic()
        abused_for = ended - started
        self.assertEqual(proc.returncode, 0, "abusehelp.py %s failed: %s" % (scenario, err))
        result = json.loads(out.strip().splitlines()[-1])

        # /livez answers at once after the abuse.
        run.assert_running("after the abuse (%s)" % scenario)
        livez = run.wait_status("/livez", 200, 30, "/livez to answer 200 after the abuse")
        livez_s = time.monotonic() - ended
        # At least MIN_PROBE_S of signals from the start, so that a short scenario still has
        # enough of them for its percentiles.
        while time.monotonic() - started < MIN_PROBE_S and probe.is_alive():
            time.sleep(0.05)
        stop_all()

        # Every orphan reaped, no zombie in the namespace.
        child_pid = child[0]

        def all_reaped():
            run.assert_running("while reaping")
            return harness.children(pid) == [child_pid] and not [
                st for st in run.tree() if st["state"] == "Z"]
        wait_until(all_reaped, 20, "graceinit to reap every orphan (children left: %d, "
                   "zombies: %s)" % (len(harness.children(pid)) - 1,
                                     [st for st in run.tree() if st["state"] == "Z"]))
        reaped = khelp.metric(run.metrics(), "graceinit_zombies_reaped_total") - reaped0

        # The fds come back to the baseline (the idle timeout is 10 s).
        def fds_back():
            return abusehelp.fd_count(pid) <= fds0 + FD_SLACK
        wait_until(fds_back, 20, "graceinit's fds to come back to %d (now %d)"
                   % (fds0, abusehelp.fd_count(pid)), step=0.1)
        fds_end = abusehelp.fd_count(pid)
        hwm = abusehelp.vm(pid, "VmHWM")
        peak_rss = max(sampler.rss_kb + [rss0])
        peak_fds = max(sampler.fds + [fds0])
        forwarded = khelp.metric(run.metrics(), "graceinit_signals_forwarded_total",
                                 signal="SIGUSR1")
        lat = probe.latencies_ms
        p99 = harness.percentile(lat, .99)
        log("\n[%s] %.1f s of abuse%s; %s; orphans made %d, all reaped, no zombie left "
            "(graceinit's reaped count +%d); RSS start %d kB, peak sampled %d kB, VmHWM %d kB; "
            "fds baseline %d, peak %d, end %d; /livez 200 %.3f s after the abuse (answer in "
            "%.3f s)" % (scenario, abused_for, " (ASan build)" if asan else "",
                         probe.figures(), orphans.made, reaped, rss0, peak_rss, hwm, fds0,
                         peak_fds, fds_end, livez_s, livez.elapsed))

        self.assertEqual(orphans.errors, [], "the orphan maker")
        self.assertGreater(orphans.made, 0, "no orphan was made during the abuse")
        self.assertGreaterEqual(reaped, orphans.made, "graceinit's count of reaped processes")
        self.assertEqual(probe.wrong, [], "signals the child got instead of SIGUSR1")
        self.assertEqual(probe.lost, 0, "a SIGUSR1 was lost: %s" % probe.figures())
        self.assertEqual(probe.delivered, probe.sent, probe.figures())
        self.assertGreater(probe.sent, 10, "signals sent during the abuse")
        self.assertEqual(forwarded, probe.sent, "graceinit's count of SIGUSR1 forwarded")
        factor = self.factor
        # Busy all along while a signal waited: graceinit's loop was held (not the machine).
        busy = max(g for g, _, _ in probe.waits)
        self.assertLess(busy, BUSY_LIMIT_MS * factor, "graceinit ran %.0f ms on a CPU without "
                        "forwarding a signal: its loop was held (%s)" % (busy, probe.figures()))
        self.assertLess(p99, P99_LIMIT_MS * factor, "p99 latency of a forwarded signal: %s"
                        % probe.figures())
        self.assertLess(max(lat), MAX_LIMIT_MS * factor, "the worst latency of a forwarded "
                        "signal: %s" % probe.figures())
        self.assertLess(livez_s, LIVEZ_AFTER_S * factor, "/livez after the abuse")
        self.assertLess(peak_fds, fds0 + FD_PEAK, "graceinit's open fds during the abuse")
        limit = RSS_LIMIT_KB * (ASAN_RSS_FACTOR if asan or self.factor > 1 else 1)
        self.assertLess(hwm, limit, "graceinit's peak RSS (VmHWM)")

        # The drain still works: SIGTERM -> the child's stop signal -> graceinit exits 0.
        self.assertEqual(run.get("/readyz").status, 200, "the abuse started the drain")
        run.kill(signal.SIGTERM)
        line = fifo.line(10)
        self.assertIsNotNone(line, "the child to get SIGTERM after the abuse")
        self.assertEqual(int(line.split()[0]), signal.SIGTERM, line)
        self.assertEqual(run.wait(10), 0, "graceinit's exit status after the drain")
        self.assert_no_strays([run])
        return result

    # -- scenarios --

    @skip_if_wrapped(UNDER_WRAPPER)
    @harness.skip_if_wrapped("its RSS and CPU-time bounds are valgrind's")
    def test_flood(self):
        count = int(10000 * SCALE)
        result = self.abuse("flood", "--count", count, "--hold", 3)
        stats = result["stats"]
        log("[flood] %d connections attempted in %.2f s (1 in 10 to @graceinit), held 3 s: %s"
            % (count, result["open_s"], json.dumps(stats, sort_keys=True)))
        self.assertEqual(stats.get("attempted"), count, stats)
        self.assertGreater(stats.get("connected", 0), 512, "connections accepted: %s" % stats)
        self.assertGreater(stats.get("answered 200", 0), 0, "no GET /livez answered: %s" % stats)
        wrong = {k: v for k, v in stats.items()
                 if k.startswith("answered ") and k != "answered 200"}
        self.assertEqual(wrong, {}, "answers other than 200 to GET /livez")

    @skip_if_wrapped(UNDER_WRAPPER)
    @harness.skip_if_wrapped("its RSS and CPU-time bounds are valgrind's")
    def test_slowloris(self):
        count = int(400 * SCALE)
        result = self.abuse("slowloris", "--count", count, "--duration", 6)
        probes = result["probes"]
        slowest = max(p["s"] for p in probes)
        log("[slowloris] %d slow connections (1 in 8 to @graceinit), %d header bytes trickled "
            "over 6 s; closed early by graceinit: %d; completed at the end: %d, answers %s; "
            "%d GET /livez meanwhile, slowest %.3f s"
            % (result["connected"], result["trickled_bytes"],
               result["closed_by_graceinit_early"], result["completed"],
               result["completed_codes"], len(probes), slowest))
        self.assertEqual(result["connected"], count, result["stats"])
        self.assertEqual({p["code"] for p in probes}, {200},
                         "GET /livez among slow connections: %s" % probes)
        self.assertLess(slowest, 1.0 * self.factor, "GET /livez among slow connections")
        # Those still open when completed are answered.
        self.assertEqual(set(result["completed_codes"]) - {"[200]"}, set(),
                         "answers to the completed slow requests: %s" % result)

    @skip_if_wrapped(UNDER_WRAPPER)
    @harness.skip_if_wrapped("its RSS and CPU-time bounds are valgrind's")
    def test_huge(self):
        mb = max(1, int(100 * SCALE))
        result = self.abuse("huge", "--mb", mb, "--timeout", 60 * self.factor)
        log("[huge] %.1f s:" % result["elapsed"])
        for r in result["results"]:
            log("  %-52s -> %s, %s, %d bytes sent in %.2f s%s"
                % (r["name"], r["codes"] or "no answer", r["end"], r["sent"], r["elapsed"],
                   " (%s)" % r["send_error"] if r["send_error"] else ""))
        by = {r["name"]: r for r in result["results"]}
        for r in result["results"]:
            self.assertNotEqual(r["end"], "timeout", r)
            for code in r["codes"]:
                self.assertGreaterEqual(code, 400, "%s was answered %d" % (r["name"], code))
        for name in ("1000 header lines of 1 KB", "one header line of 1 MB", "url of 1 MB"):
            self.assertIn(by[name]["codes"][:1], ([413], [414], [431], [400]), by[name])
        for name, code in (("POST /prestop Content-Length %d MB", 413),
                           ("POST /prestop chunked %d MB", 413),
                           ("POST /nope Content-Length %d MB", 404),
                           ("POST /nope chunked %d MB", 404),
                           ("POST /nope no length, %d MB after it", 404)):
            r = by[name % mb]
            self.assertEqual(r["codes"][:1], [code], r)

    @skip_if_wrapped(UNDER_WRAPPER)
    @harness.skip_if_wrapped("its RSS and CPU-time bounds are valgrind's")
    def test_garbage(self):
        rounds = 2
        result = self.abuse("garbage", "--rounds", rounds, "--timeout", 30)
        results = result["results"]
        closed = [r["name"] for r in results if not r["codes"]]
        log("[garbage] %d malformed requests (%d kinds, over TCP and @graceinit) in %.1f s; "
            "answers: %s; closed without an answer: %s"
            % (len(results), len(results) // rounds, result["elapsed"],
               json.dumps(dict(sorted(collections.Counter(
                   str(r["codes"][:1]) for r in results).items()))),
               sorted(set(closed))))
        for r in results:
            self.assertNotEqual(r["end"], "timeout", r)
            if r["expect"] == "any":
                continue
            if r["expect"] is None:
                self.assertTrue(all(c >= 400 for c in r["codes"]), r)
            else:
                self.assertEqual(r["codes"][:1], [r["expect"]], r)

    @skip_if_wrapped(UNDER_WRAPPER)
    @harness.skip_if_wrapped("its RSS and CPU-time bounds are valgrind's")
    def test_pipeline(self):
        count = int(1000 * SCALE)
        result = self.abuse("pipeline", "--count", count, "--conns", 4)
        for r in result["results"]:
            log("[pipeline] %-16s %d requests in one write: %d answers %s, %d bytes in %.2f s, "
                "%s" % (r["name"], len(r["expect"]), len(r["codes"]),
                        dict(collections.Counter(r["codes"])), r["received"], r["elapsed"],
                        r["end"]))
        for r in result["results"]:
            self.assertEqual(len(r["codes"]), len(r["expect"]), r["name"])
            self.assertEqual(r["codes"], r["expect"], r["name"])
            self.assertEqual(r["end"], "eof", "%s: closed after Connection: close" % r["name"])

    @skip_if_wrapped(UNDER_WRAPPER)
    @harness.skip_if_wrapped("its RSS and CPU-time bounds are valgrind's")
    def test_halfclose(self):
        count = int(50 * SCALE)
        result = self.abuse("halfclose", "--count", count, "--timeout", 30)
        for name, summary in result["summary"].items():
            log("[halfclose] %d x %-32s -> %s, the slowest %.2f s"
                % (count, name, summary, result["slowest"][name]))
        # What each kind may get back before its end.
        answers = {"request, SHUT_WR": ([200], []), "200 x /metrics, RST after 1 KB": ([200],)}
        for r in result["results"]:
            name = r["name"]
            self.assertNotEqual(r["end"], "timeout", r)
            self.assertIn(r["codes"][:1], answers.get(name, ([],)), r)
            if "SHUT_WR" in name:
                # graceinit closes at once or after its 10 s idle timeout at the latest.
                self.assertEqual(r["end"], "eof", r)
                self.assertLess(r["elapsed"], 15 * self.factor, r)

    @skip_if_wrapped(UNDER_WRAPPER)
    @harness.skip_if_wrapped("its RSS and CPU-time bounds are valgrind's")
    def test_streamed_bodies(self):
        # Eight clients (in two processes) stream chunked bodies as fast as they can for 5 s:
        # graceinit reads and discards them (and answers 404) without holding up its loop
        # meanwhile, although more data is always waiting to be read.
        result = self.abuse("stream", "--conns", 8, "--procs", 2, "--duration", 5,
                            "--timeout", 30)
        log("[stream] %d connections (%d processes) streamed %d MB in %.1f s: answers %s"
            % (result["conns"], result["procs"], result["mb_sent"], result["elapsed"],
               [r["codes"] for r in result["results"]]))
        for r in result["results"]:
            self.assertEqual(r["codes"], [404], r)

    def test_drain_request_among_closing_connections(self):
        # POST /drain handled in the same pass of libmicrohttpd as connections it closes
        # (clients that half-closed, sent Connection: close, or reset). The drain has nothing
        # to wait for (no Kubernetes: --drain-delay 0), so it reaches its stop signal inside
        # the request handler. graceinit is stopped while the requests are written, so that
        # they are all ready at once when it continues. graceinit must answer 202, the child
        # get its stop signal, and graceinit exit with the child's status.
        for kind in ("eof", "close", "rst"):
            with self.subTest(kind=kind):
                self.drain_among_closing(kind)

    def drain_among_closing(self, kind, n=20):
        fifo_path = self.path("signals.fifo")
        fifo = harness.FifoReader(fifo_path)
        self.addCleanup(fifo.close)
        run = self.start_net([], [khelp.PYTHON, khelp.SIGTIME, "--exit-on", "TERM:0",
                                  fifo_path])
        self.assertIsNotNone(fifo.line(10), "the child to be ready")
        run.wait_http()
        pid = run.init_pid()
        socks = [run.net.connect(unix=khelp.CONTROL if i % 2 else None)
                 for i in range(2 * n + 1)]
        self.addCleanup(lambda: [s.close() for s in socks])
        drain = socks[n]
        time.sleep(0.1)
        os.kill(pid, signal.SIGSTOP)
        try:
            for i, s in enumerate(socks):
                if s is drain:
                    s.sendall(b"POST /drain HTTP/1.1\r\nHost: graceinit\r\n\r\n")
                elif kind == "eof":
                    s.shutdown(socket.SHUT_WR)
                elif kind == "close":
                    s.sendall(abusehelp.request("GET", "/livez", ["Connection: close"]))
                else:
                    abusehelp.rst_close(s)
        finally:
            os.kill(pid, signal.SIGCONT)
        drain.settimeout(5)
        answer = b""
        try:
            answer = drain.recv(4096)
        except OSError:
            pass
        # The SIGCONT that woke graceinit is forwarded to the child too: not what is checked.
        line = fifo.line(5)
        while line is not None and int(line.split()[0]) == signal.SIGCONT:
            line = fifo.line(5)
        status = run.exited_within(5)
        self.assertNotIn(status, (128 + signal.SIGSEGV, 128 + signal.SIGBUS, 128 + signal.SIGABRT),
                         "graceinit crashed when POST /drain came among %d closing connections "
                         "(%s); stderr:\n%s" % (2 * n, kind, run.stderr()))
        self.assertTrue(answer.startswith(b"HTTP/1.1 202"), "POST /drain among %d closing "
                        "connections (%s) was answered %r; graceinit's exit status %s"
                        % (2 * n, kind, answer[:100], status))
        self.assertIsNotNone(line, "the child to get the stop signal")
        self.assertEqual(int(line.split()[0]), signal.SIGTERM, line)
        self.assertEqual(status, 0, "graceinit's exit status after POST /drain")


if __name__ == "__main__":
    khelp.main()
