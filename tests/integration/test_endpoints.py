#!/usr/bin/python3
"""Confirmed deregistration through the EndpointSlice watch, against the fake Kubernetes API
server of tests/fixtures/ (TLS with its own CA, bearer tokens, list + watch of real-shaped
EndpointSlices), timed from outside.

Each test makes a pod: a network namespace (podhelp.PodNet) in which the fake API server
listens first, then graceinit as PID 1 of its own PID namespace in it, with the environment a
pod gets (KUBERNETES_SERVICE_HOST/PORT, POD_NAME, POD_IP, GRACEINIT_SERVICEACCOUNT_DIR) and
sigtime.py as its child, which records the CLOCK_MONOTONIC time at which the stop signal reaches
it. The fake server's scheduler records when it changed the slices (Scheduled.ran_at, taken just
before the change, so graceinit cannot have seen it earlier), on the same clock.

Timing: with a healthy watch the stop signal must come --endpoints-margin after the pod stops
being a ready endpoint, never before, and at most 100 ms + SLACK later. SLACK (150 ms) covers
what is not graceinit's: the fake server's Python thread writing the event, the kernel
scheduling graceinit and then the Python child on a loaded 2-core machine (several 4-ms
timeslices behind other runnable tests), sigtimedwait's wake-up; when idle the whole path takes
2 to 5 ms. Fallbacks to --drain-delay or --endpoints-timeout are checked the same way: not
before the delay, not later than 250 ms after it, and far from the other possible outcome.
"""

import os
import signal
import time
import unittest

import harness
import podhelp
from harness import wait_until
from podhelp import fk

TERM = signal.SIGTERM
MARGIN = 0.3          # --endpoints-margin of most tests
SLACK = 0.15          # see the docstring
LATE = 0.1 + SLACK    # how late after its due time a timed step may come
EARLY = 0.002         # graceinit's clock is in ms: a timer may fire up to 1 ms "early"
MB = 1024 * 1024


class EndpointsTest(podhelp.TestCase):

    # -- helpers ------------------------------------------------------------------------------

    def start(self, options=(), load=fk.DEFAULT_FIXTURES, env=None, before=None,
              child_args=("--exit-on", "USR1:0"), margin="300ms", drain_delay="10s",
              **server_kwargs):
        """A pod with a fake cluster and graceinit --endpoints on (+ options) watching it:
        (srv, run, rec). before(srv) runs before graceinit starts (faults for its first
        requests). --drain-delay 10s by default, so that a fallback to it can never be taken
        for a confirmation in these tests' windows."""
        pod = self.pod_net()
        srv = self.start_cluster(pod, load=load, **server_kwargs)
        if before is not None:
            before(srv)
        opts = ["--log-level", "debug", "--endpoints", "on", "--endpoints-margin", margin,
                "--drain-delay", drain_delay] + list(options)
        run, rec = self.start_pod_sigtime(pod, opts, child_args,
                                          env=srv.env() if env is None else env)
        return srv, run, rec

    def finish(self, run):
        """The child (sigtime.py) exits 0 on SIGUSR1, which graceinit forwards: so does
        graceinit. (It does not exit on the stop signal, so that /status can be read after
        it without racing graceinit's exit.)"""
        run.kill(signal.SIGUSR1)
        self.assertEqual(run.wait(5), 0, run.stderr())

    def assert_window(self, t, lo, hi, what):
        self.assertTrue(lo - EARLY <= t <= hi, "%s at %+.3f s, expected within [%+.3f, %+.3f]"
                        % (what, t, lo, hi))

    def assert_stop_after(self, rec, origin, due, what, timeout=15):
        """The stop signal reaches the child `due` s after origin (not before, at most LATE
        after); returns its offset."""
        t = rec.wait_signal(TERM, timeout, "the stop signal (%s)" % what) - origin
        self.assert_window(t, due, due + LATE, "the stop signal (%s)" % what)
        return t

    def sources(self, run):
        return run.status()["drain"]["sources_ms"]

    def api_requests(self, srv):
        return [r for r in srv.requests() if r.verb in ("list", "watch")]

    def wait_watch_age(self, srv, age=1.1):
        """Waits until the open watch is `age` s old: graceinit takes the end of a younger
        stream as a failure (k8s.c), an older one as the server's resumable end."""
        (w,) = srv.wait_for_watches(1, 10)
        left = w.request.time + age - time.monotonic()
        if left > 0:
            time.sleep(left)
        return w

    def flip_during_drain(self, trigger, change, delay=0.8):
        """The scenario of the issue: the pod is ready in the slices, the drain starts by
        `trigger` (SIGTERM or /prestop), `change(srv, after=delay)` schedules the change that
        deregisters the pod. Checks the stop signal and the /prestop answer come
        --endpoints-margin after the change. Returns (srv, run, offset of the stop signal
        from the change)."""
        srv, run, rec = self.start()
        self.wait_watching(run, srv)
        self.assertTrue(run.status()["endpoints"]["pod_ready"])
        started = time.monotonic()
        answer = None
        if trigger == "SIGTERM":
            run.kill(TERM)
        else:
            answer = self.prestop_thread(run)
        run.wait_status("/readyz", 503, 2, "/readyz 503 once the drain started")
        not_ready = time.monotonic()  # graceinit's trigger was in [started, not_ready]
        sched = change(srv, after=delay)
        sched.wait(5)
        flipped = sched.ran_at
        self.assertLess(flipped - started, delay + 0.2, "the fake server was late")
        # Nothing before the change: the child still has no signal at the change + margin - 50 ms.
        time.sleep(max(0.0, flipped + MARGIN - 0.05 - time.monotonic()))
        self.assertEqual(rec.signals(), [], "the stop signal came before the margin ended")
        stop = self.assert_stop_after(rec, flipped, MARGIN, "%s, then the change" % trigger)
        if answer is not None:
            resp, at = answer()
            self.assertEqual(resp.status, 200, resp)
            self.assert_window(at - flipped, MARGIN, MARGIN + LATE, "the /prestop answer")
            body = resp.json()
            self.assertEqual(body["trigger"], "/prestop")
            src = body["sources_ms"]
            self.assertEqual(src["endpoints_by"], "confirmed", body)
            # endpoints: when the watch confirmed, from the drain's start; confirm.h says
            # before the margin, confirm.c records it after the margin: either is accepted.
            self.assert_window(src["endpoints"] / 1000, flipped - not_ready,
                               flipped - started + MARGIN + LATE, "sources_ms.endpoints")
            self.assert_window(body["timings_ms"]["deregistered"] / 1000,
                               flipped - not_ready + MARGIN, flipped - started + MARGIN + LATE,
                               "timings_ms.deregistered")
        self.finish(run)
        self.assertEqual(run.log_count("waiting --endpoints-margin 300 ms"), 1, run.stderr())
        return srv, run, stop

    # -- 1. the pod leaves the slices during the drain -------------------------------------------

    def test_flip_after_sigterm(self):
        _, _, stop = self.flip_during_drain("SIGTERM", lambda srv, after: srv.terminate_pod(
            after=after))
        print("\nstop signal %.0f ms after the flip (margin 300 ms)" % (stop * 1000))

    def test_flip_after_prestop(self):
        _, _, stop = self.flip_during_drain("/prestop", lambda srv, after: srv.terminate_pod(
            after=after))
        print("\n/prestop: stop signal %.0f ms after the flip (margin 300 ms)" % (stop * 1000))

    def test_removed_from_slices(self):
        self.flip_during_drain("SIGTERM", lambda srv, after: srv.remove_pod(after=after))

    def test_slices_deleted_one_after_the_other(self):
        # The pod is in two slices (IPv4 and IPv6 of service web): deleting the first is not
        # enough; the stop signal comes the margin after the second one is deleted.
        def change(srv, after):
            v4, v6 = sorted((s["metadata"]["name"] for s in srv.slices()
                             if s["metadata"]["labels"][fk.SERVICE_NAME_LABEL] == "web"),
                            key=lambda n: srv.get_slice(n)["addressType"])
            srv.schedule(srv.delete_slice, v4, after=after - 0.4)
            return srv.schedule(srv.delete_slice, v6, after=after)
        self.flip_during_drain("SIGTERM", change, delay=0.9)

    def test_one_slice_of_two_is_not_enough(self):
        # Only the IPv4 slice says not ready: the IPv6 one still lists the pod as ready, so
        # graceinit must wait for --endpoints-timeout.
        srv, run, rec = self.start(["--endpoints-timeout", "2s"])
        self.wait_watching(run, srv)
        v4 = [s["metadata"]["name"] for s in srv.slices() if s["addressType"] == "IPv4" and
              s["metadata"]["labels"][fk.SERVICE_NAME_LABEL] == "web"][0]

        def not_ready(obj):
            for ep in obj["endpoints"]:
                if ep.get("targetRef", {}).get("name") == fk.POD_NAME:
                    ep["conditions"].update(ready=False, terminating=True)
        started = time.monotonic()
        run.kill(TERM)
        srv.update_slice(v4, not_ready)
        wait_until(lambda: run.status()["endpoints"]["events"] >= 1, 3, "the event")
        self.assertTrue(run.status()["endpoints"]["pod_ready"])
        self.assert_stop_after(rec, started, 2.0, "--endpoints-timeout 2s")
        self.assertEqual(self.sources(run)["endpoints_by"], "timeout")

    # -- 2. not a ready endpoint when the drain starts --------------------------------------------

    def not_ready_at_start(self, load):
        srv, run, rec = self.start(load=load)
        self.wait_watching(run, srv)
        self.assertFalse(run.status()["endpoints"]["pod_ready"])
        started = time.monotonic()
        run.kill(TERM)
        self.assert_stop_after(rec, started, MARGIN, "not a ready endpoint at the start")
        src = self.sources(run)
        self.assertEqual(src["endpoints_by"], "confirmed", src)
        # sources_ms.endpoints: at once, or at once + the margin (see confirm.c).
        self.assertLessEqual(src["endpoints"], MARGIN * 1000 + 50, src)
        self.finish(run)

    def test_never_listed(self):
        self.not_ready_at_start(("api-other-service.json", "web-gone.json"))

    def test_not_ready_already(self):
        self.not_ready_at_start(("web-not-ready.json", "api-other-service.json"))

    # -- 3. --service ---------------------------------------------------------------------------

    def test_service_selector(self):
        # A slice of another service lists the pod as ready and never changes: with
        # --service web graceinit never sees it (server-side selector), so the flip of web's
        # slices confirms; without the selector, the drain would wait for the timeout.
        other = fk.make_slice("metrics", [fk.make_endpoint(fk.POD_IP, fk.POD_NAME)],
                              name="metrics-x7k2p")
        srv, run, rec = self.start(["--service", "web", "--endpoints-timeout", "5s"],
                                   load=fk.DEFAULT_FIXTURES + (other,))
        self.wait_watching(run, srv)
        want = "kubernetes.io/service-name in (web)"
        for r in self.api_requests(srv):
            self.assertEqual(r.label_selector, want, (r.verb, r.raw_query))
        self.assertEqual(sorted(run.status()["endpoints"]["slices_listing_pod"]),
                         sorted(s["metadata"]["name"] for s in srv.slices()
                                if s["metadata"]["labels"][fk.SERVICE_NAME_LABEL] == "web"))
        started = time.monotonic()
        run.kill(TERM)
        sched = srv.terminate_pod(service="web", after=0.5)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "--service web, web's slices flipped")
        self.assertEqual(self.sources(run)["endpoints_by"], "confirmed")
        self.assertLess(time.monotonic() - started, 3)

    def test_two_services(self):
        srv, run, _ = self.start(["--service", "web", "--service", "api"])
        self.wait_watching(run, srv)
        for r in self.api_requests(srv):
            self.assertEqual(r.label_selector, "kubernetes.io/service-name in (web,api)",
                             r.raw_query)

    # -- 4. the watch is set up at start-up; paging ------------------------------------------------

    def test_list_then_watch_at_startup(self):
        srv, run, rec = self.start()
        self.wait_watching(run, srv)
        reqs = self.api_requests(srv)
        self.assertEqual([r.verb for r in reqs], ["list", "watch"], reqs)
        lst, watch = reqs
        path = "/apis/discovery.k8s.io/v1/namespaces/shop/endpointslices"
        for r in reqs:
            self.assertEqual((r.method, r.path, r.namespace, r.status), ("GET", path, "shop", 200))
            self.assertEqual(r.token, srv.token, "the service account's token")
            self.assertIsNone(r.label_selector)
        self.assertEqual(lst.query.get("limit"), "500")
        self.assertEqual(watch.query.get("watch"), "1")
        self.assertEqual(watch.query.get("allowWatchBookmarks"), "true")
        self.assertEqual(watch.resource_version, lst.response_rv,
                         "the watch starts at the list's resourceVersion")
        self.assertGreater(watch.time, lst.done)
        st = run.status()["endpoints"]
        self.assertEqual((st["state"], st["healthy"], st["pod_ready"], st["lists"]),
                         ("watching", True, True, 1), st)
        self.assertEqual(st["resource_version"], lst.response_rv)
        self.assertEqual(st["namespace"], "shop")
        self.assertEqual(len(st["slices_listing_pod"]), 2, st)
        # 12. the watch's health in /readyz?verbose (not a check: /readyz stays 200).
        resp = run.get("/readyz?verbose")
        self.assertEqual(resp.status, 200, resp)
        self.assertIn("# endpoints watch: watching\n", resp.body)
        # The drain uses the watch it has: no new request, no cold connection.
        count = len(srv.requests())
        run.kill(TERM)
        sched = srv.terminate_pod(after=0.3)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "the flip")
        self.assertEqual(len(srv.requests()), count, srv.requests()[count:])
        self.assertEqual(srv.watches()[0].request.id, watch.id, "the same watch all along")

    @harness.skip_if_wrapped("its VmHWM bound is valgrind's")
    def test_paging_2000_slices(self):
        names = []

        def generate(srv):
            names.extend(srv.add_generated(2000, pod=fk.POD_NAME))
        srv, run, rec = self.start(load=(), before=generate)
        self.wait_watching(run, srv, timeout=20)
        lists = srv.requests(verb="list")
        self.assertEqual(len(lists), 4, [(r.raw_query[:60], r.status) for r in lists])
        self.assertNotIn("continue", lists[0].query)
        for prev, r in zip(lists, lists[1:]):
            self.assertEqual(r.query.get("limit"), "500")
            self.assertTrue(r.query.get("continue"), "page %d has no continue token" % r.id)
            self.assertEqual(r.response_rv, prev.response_rv, "pages of one snapshot")
        self.assertEqual(srv.requests(verb="watch")[0].resource_version, lists[0].response_rv)
        st = run.status()["endpoints"]
        self.assertEqual(st["slices_listing_pod"], [names[-1]], "the pod is on the last page")
        self.assertTrue(st["pod_ready"])
        run.kill(TERM)
        sched = srv.terminate_pod(after=0.3)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "the flip among 2,000 slices")
        hwm = run.vm_hwm_kib()
        if not run.sanitized():
            self.assertLess(hwm, 64 * 1024, "VmHWM %d KiB listing 2,000 slices" % hwm)
        print("\n2,000 slices, 4 pages: graceinit's VmHWM %d KiB" % hwm)

    # -- 5. 410 Gone, ERROR events, bookmarks --------------------------------------------------

    def test_410_gone_relists_and_rewatches(self):
        srv, run, rec = self.start()
        self.wait_watching(run, srv)
        first = self.wait_watch_age(srv)
        # Compaction, then the stream ends: the rewatch from the old version gets 410.
        srv.advance_rv(5)
        floor = srv.expire_history()
        srv.cut_watches()
        relist = srv.wait_for_request(verb="list", count=2, timeout=5)
        rewatch = srv.wait_for_request(lambda r: r.id > relist.id, verb="watch", timeout=5)
        gone = [r for r in srv.requests(verb="watch") if first.request.id < r.id < relist.id]
        self.assertEqual([r.resource_version for r in gone], [first.request.resource_version],
                         "one rewatch from the old version, which got the 410")
        self.assertIn("expired", [w.close_reason for w in srv.watches(open_only=False)])
        self.assertEqual(int(relist.response_rv), floor)
        self.assertEqual(rewatch.resource_version, relist.response_rv)
        self.wait_watching(run, srv)
        # An ERROR event (410 Expired inside a 200 stream), as the API server reports a
        # watch that fell behind: list and watch again.
        self.wait_watch_age(srv)
        srv.fail_next(1, 410, verb="watch", as_watch_event=True)
        srv.cut_watches()
        relist2 = srv.wait_for_request(verb="list", count=3, timeout=5)
        srv.wait_for_request(lambda r: r.id > relist2.id, verb="watch", timeout=5)
        self.wait_watching(run, srv)
        self.assertEqual(run.status()["endpoints"]["lists"], 3)
        # A later flip is still seen.
        run.kill(TERM)
        sched = srv.terminate_pod(after=0.3)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "the flip after two relists")
        self.assertEqual(self.sources(run)["endpoints_by"], "confirmed")

    def test_bookmarks_advance_the_resource_version(self):
        srv, run, rec = self.start()
        self.wait_watching(run, srv)
        self.wait_watch_age(srv)
        rv = srv.bookmark(advance=7)
        wait_until(lambda: run.status()["endpoints"]["resource_version"] == str(rv), 3,
                   "the bookmark's version in /status")
        srv.cut_watches(graceful=True)  # as at timeoutSeconds
        w = srv.wait_for_request(verb="watch", count=2, timeout=5)
        self.assertEqual(w.resource_version, str(rv), "the next watch starts at the bookmark")
        self.assertEqual(len(srv.requests(verb="list")), 1, "no relist after a clean end")
        self.assertEqual(run.log_count("warn:"), 0, run.stderr())
        run.kill(TERM)
        sched = srv.terminate_pod(after=0.3)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "the flip after the bookmark")

    # -- 6. broken streams --------------------------------------------------------------------

    def test_stream_cut_mid_object(self):
        srv, run, rec = self.start()
        self.wait_watching(run, srv)
        self.wait_watch_age(srv)
        srv.cut_watches(mid_object=True)
        srv.wait_for_request(verb="watch", count=2, timeout=5)
        self.wait_watching(run, srv)
        st = run.status()["endpoints"]
        self.assertEqual((st["pod_ready"], len(st["slices_listing_pod"])), (True, 2), st)
        # Now the flip itself goes out half, and the connection is cut: it comes back by the
        # rewatch's replay.
        self.wait_watch_age(srv)
        srv.cut_watches(during_next_event=True)
        run.kill(TERM)
        sched = srv.terminate_pod(after=0.3)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "the flip, first cut mid-line")
        self.assertEqual(self.sources(run)["endpoints_by"], "confirmed")

    def test_lines_split_across_chunks(self):
        def split(srv):
            srv.set_watch_framing("split", 61)
        srv, run, rec = self.start(before=split)
        self.wait_watching(run, srv)
        srv.bookmark()
        wait_until(lambda: run.status()["endpoints"]["events"] >= 1, 3, "the bookmark")
        run.kill(TERM)
        sched = srv.terminate_pod(after=0.3)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "the flip in 61-byte chunks")
        self.assertEqual(len(srv.requests(verb="list")), 1, "no relist: the lines were fine")
        self.assertEqual(run.log_count("warn:"), 0, run.stderr())

    def test_watch_reset_during_the_drain(self):
        # The watch is reset (TCP RST, as a load balancer in front of the API server does)
        # 1.5 s into a drain, after --drain-delay 1s has passed; the API answers again at once.
        # The pod is still a ready endpoint until the flip at 2.5 s: the stop signal must wait
        # for it (after the relist that a reset calls for, 500 ms later at most), not go out
        # at the reset because the watch was down for a moment.
        srv, run, rec = self.start(drain_delay="1s")
        self.wait_watching(run, srv)
        self.wait_watch_age(srv)
        started = time.monotonic()
        run.kill(TERM)
        srv.schedule(srv.cut_watches, rst=True, after=1.5)
        sched = srv.terminate_pod(after=2.5)
        stop = rec.wait_signal(TERM, 10)
        print("\nwatch reset at 1.5 s, flip at 2.5 s: stop signal at %.3f s (by %s)"
              % (stop - started, self.sources(run)["endpoints_by"]))
        sched.wait(5)
        self.assert_window(stop - sched.ran_at, MARGIN, MARGIN + 0.5 + LATE,
                           "the stop signal after the flip")

    def test_matched_by_ip(self):
        # No POD_NAME: the pod is matched by its address, in a slice mirrored from a manual
        # Endpoints object (no targetRef, only conditions.ready).
        pod = self.pod_net()
        srv = self.start_cluster(pod, load=("no-targetref.json", "api-other-service.json"))
        run, rec = self.start_pod_sigtime(
            pod, ["--endpoints", "on", "--endpoints-margin", "300ms", "--drain-delay", "10s"],
            ["--exit-on", "USR1:0"], env=srv.env(pod=None))
        self.wait_watching(run, srv)
        self.assertTrue(run.status()["endpoints"]["pod_ready"])
        run.kill(TERM)
        sched = srv.flip(fk.POD_IP, ready=False, after=0.4)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "the flip, matched by IP")

    def test_matched_by_ipv6_spelled_otherwise(self):
        # POD_IP written in another (valid) form than the slice's fd00:10:244:1::11.
        pod = self.pod_net()
        srv = self.start_cluster(pod, load=("web-ipv6-ready.json",))
        run, rec = self.start_pod_sigtime(
            pod, ["--endpoints", "on", "--endpoints-margin", "300ms", "--drain-delay", "10s"],
            ["--exit-on", "USR1:0"], env=srv.env(pod=None, pod_ip="FD00:10:244:1:0:0:0:11"))
        self.wait_watching(run, srv)
        self.assertTrue(run.status()["endpoints"]["pod_ready"])
        run.kill(TERM)
        sched = srv.terminate_pod(fk.POD_IPV6, after=0.4)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "the flip, matched by IPv6")

    # -- 7. 401 / 403 ---------------------------------------------------------------------------

    def refused(self, code, before):
        srv, run, rec = self.start(["--endpoints-timeout", "5s"], before=before,
                                   drain_delay="1s")
        srv.wait_for_request(lambda r: r.status == code, verb="list", timeout=5)
        st = wait_until(lambda: (lambda e: e if e["state"] == "forbidden" else None)(
            run.status()["endpoints"]), 3, "/status to show the watch forbidden")
        self.assertFalse(st["healthy"])
        self.assertIn("answered %d" % code, st["error"])
        warn = [l for l in run.stderr().splitlines() if "warn: endpoints:" in l]
        self.assertEqual(len(warn), 1, run.stderr())
        # 403: which permission is missing; 401: that the token itself was refused.
        words = (("endpointslices", "discovery.k8s.io", "get, list and watch", "namespace shop")
                 if code == 403 else ("Unauthorized", "rejected the service account token"))
        for word in words + (str(code),):
            self.assertIn(word, warn[0])
        self.assertNotIn(srv.serviceaccount.token, run.stderr(), "the token is never logged")
        resp = run.get("/readyz?verbose")
        self.assertIn("# endpoints watch: forbidden: the API server answered %d" % code,
                      resp.body)
        self.assertEqual(resp.status, 200, "the watch's health is not a readiness check")
        started = time.monotonic()
        run.kill(TERM)
        self.assert_stop_after(rec, started, 1.0, "--drain-delay 1s after a %d" % code)
        self.assertEqual(self.sources(run)["endpoints_by"], "delay")
        self.assertEqual(len(self.api_requests(srv)), 1, "retried slowly, not in a loop")

    def test_forbidden_403(self):
        self.refused(403, lambda srv: srv.forbid())

    def test_unauthorized_401(self):
        self.refused(401, lambda srv: srv.set_tokens("a-token-the-server-never-issued"))

    # -- 8. API down, hung, garbage -------------------------------------------------------------

    def test_list_hangs(self):
        srv, run, rec = self.start(["--endpoints-timeout", "5s"], drain_delay="1s",
                                   before=lambda srv: srv.hang_next(1, verb="list"))
        srv.wait_for_request(verb="list", timeout=5)
        st = run.status()["endpoints"]
        self.assertEqual((st["state"], st["healthy"]), ("listing", False), st)
        started = time.monotonic()
        run.kill(TERM)
        slow = []
        while time.monotonic() - started < 0.8:
            resp = run.get("/livez", timeout=2)
            self.assertEqual(resp.status, 200)
            slow.append(resp.elapsed)
            time.sleep(0.05)
        self.assertLess(max(slow), 0.2, "/livez during the hang: %s" % slow)
        self.assert_stop_after(rec, started, 1.0, "--drain-delay 1s, the list hung")
        self.assertEqual(self.sources(run)["endpoints_by"], "delay")
        self.finish(run)

    def test_watch_request_hangs(self):
        # The list worked, the watch is cut, and the rewatch never gets an answer (not even
        # headers): graceinit cannot see anything, so the drain must fall back to
        # --drain-delay, not wait --endpoints-timeout for an event that cannot come.
        srv, run, rec = self.start(["--endpoints-timeout", "3s"], drain_delay="1s")
        self.wait_watching(run, srv)
        self.wait_watch_age(srv)
        srv.hang_next(1, verb="watch")
        srv.cut_watches(graceful=True)
        srv.wait_for_request(lambda r: r.fault == "hang", verb="watch", timeout=5)
        time.sleep(0.3)
        started = time.monotonic()
        run.kill(TERM)
        stop = rec.wait_signal(TERM, 10) - started
        print("\nrewatch hung: /status %s; stop signal after %.3f s (by %s)"
              % (run.status()["endpoints"]["state"], stop, self.sources(run)["endpoints_by"]))
        self.assert_window(stop, 1.0, 1.0 + LATE, "the stop signal, the rewatch hung")

    def test_api_server_stopped(self):
        srv, run, rec = self.start(["--endpoints-timeout", "6s"], drain_delay="1s")
        self.wait_watching(run, srv)
        self.wait_watch_age(srv)
        srv.stop()
        # Refused again and again: backoff 0.5, 1, 2 s; the warning only once.
        st = wait_until(lambda: (lambda e: e if e["failures"] >= 3 else None)(
            run.status()["endpoints"]), 6, "three failed attempts")
        self.assertEqual(st["state"], "retrying", st)
        self.assertIn("Couldn't connect", st["error"])
        self.assertEqual(run.log_count("warn: endpoints:"), 1, run.stderr())
        self.assertIn("# endpoints watch: retrying", run.get("/readyz?verbose").body)
        started = time.monotonic()
        run.kill(TERM)
        self.assertEqual(run.get("/livez").status, 200)
        self.assert_stop_after(rec, started, 1.0, "--drain-delay 1s, the API server gone")
        self.assertEqual(self.sources(run)["endpoints_by"], "delay")
        self.finish(run)

    def test_garbage_lists(self):
        # Every list answers text that is not JSON: graceinit retries with backoff, logs
        # once, survives, and the drain waits --drain-delay.
        srv, run, rec = self.start(drain_delay="1s",
                                   before=lambda srv: srv.garbage_next(None, "text",
                                                                       verb="list"))
        st = wait_until(lambda: (lambda e: e if e["failures"] >= 2 else None)(
            run.status()["endpoints"]), 5, "two failed lists")
        self.assertEqual(st["state"], "retrying", st)
        self.assertIn("not a JSON object", st["error"])
        self.assertEqual(run.log_count("warn: endpoints:"), 1, run.stderr())
        started = time.monotonic()
        run.kill(TERM)
        self.assert_stop_after(rec, started, 1.0, "--drain-delay 1s, garbage lists")
        self.finish(run)

    def test_garbage_in_the_watch(self):
        srv, run, rec = self.start(before=lambda srv: srv.garbage_next(
            1, "text", verb="watch", then="continue"))
        srv.wait_for_request(verb="list", count=2, timeout=5)
        self.wait_watching(run, srv)
        self.assertEqual(run.log_count("not a watch event"), 0)
        self.assertEqual(run.log_count("a watch event is not a JSON object; listing again"),
                         1, run.stderr())
        run.kill(TERM)
        sched = srv.terminate_pod(after=0.3)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "the flip after a garbage line")

    def huge(self, verb, what, message):
        srv, run, rec = self.start(before=lambda srv: srv.garbage_next(
            1, what, verb=verb, size=50 * MB))
        srv.wait_for_request(lambda r: r.fault == "garbage", verb=verb, timeout=10)
        # /livez answers while the 50 MB stream in: the loop never blocks on it.
        slowest, deadline = 0.0, time.monotonic() + 20
        while run.log_count(message) == 0:
            self.assertLess(time.monotonic(), deadline, "no %r in %s" % (message, run.stderr()))
            resp = run.get("/livez", timeout=5)
            self.assertEqual(resp.status, 200)
            slowest = max(slowest, resp.elapsed)
            time.sleep(0.02)
        # A sanitizer build at -O0 decrypts and copies several times slower.
        self.assertLess(slowest, 1.0 if run.sanitized() else 0.25,
                        "/livez took %.3f s during the transfer" % slowest)
        self.wait_watching(run, srv, timeout=10)
        hwm = run.vm_hwm_kib()
        print("\n50 MB %s (%s): graceinit's VmHWM %d KiB%s, slowest /livez meanwhile %.0f ms"
              % (verb, what, hwm, " (sanitizer build: not checked)" if run.sanitized() else "",
                 slowest * 1000))
        if not run.sanitized():
            self.assertLess(hwm, 64 * 1024, "VmHWM %d KiB after a 50 MB %s" % (hwm, verb))
        self.assertEqual(run.get("/livez").status, 200)
        run.kill(TERM)
        sched = srv.terminate_pod(after=0.3)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "the flip after a 50 MB %s" % verb)

    @harness.skip_if_wrapped("its VmHWM and /livez latency bounds are valgrind's")
    def test_huge_watch_line(self):
        self.huge("watch", "huge", "an event is too large")

    @harness.skip_if_wrapped("its VmHWM and /livez latency bounds are valgrind's")
    def test_huge_watch_line_without_newline(self):
        self.huge("watch", "huge_nonl", "an event is too large")

    @harness.skip_if_wrapped("its VmHWM and /livez latency bounds are valgrind's")
    def test_huge_list(self):
        self.huge("list", "huge", "the answer is too large")

    # -- 9. token rotation ----------------------------------------------------------------------

    def test_token_rotation(self):
        srv, run, rec = self.start()
        self.wait_watching(run, srv)
        old = srv.token
        self.wait_watch_age(srv)
        new = srv.rotate_token()  # the old one is refused from now on
        self.assertNotEqual(new, old)
        srv.cut_watches()
        w = srv.wait_for_request(verb="watch", count=2, timeout=5)
        self.assertEqual(w.token, new, "the rewatch reads the rotated token")
        self.wait_watching(run, srv)
        # And the lists too (a 410 forces one).
        self.wait_watch_age(srv)
        srv.advance_rv()
        srv.expire_history()
        newer = srv.rotate_token()
        srv.cut_watches()
        lst = srv.wait_for_request(verb="list", count=2, timeout=5)
        self.assertEqual(lst.token, newer)
        self.wait_watching(run, srv)
        self.assertEqual([r for r in srv.requests() if r.status in (401, 403)], [])
        self.assertNotIn(old[20:], run.stderr())
        self.assertNotIn(newer[20:], run.stderr())
        run.kill(TERM)
        sched = srv.terminate_pod(after=0.3)
        sched.wait(5)
        self.assert_stop_after(rec, sched.ran_at, MARGIN, "the flip after two rotations")

    # -- 10. --endpoints-timeout ----------------------------------------------------------------

    def test_endpoints_timeout(self):
        srv, run, rec = self.start(["--endpoints-timeout", "2s"])
        self.wait_watching(run, srv)
        started = time.monotonic()
        run.kill(TERM)
        self.assert_stop_after(rec, started, 2.0, "--endpoints-timeout 2s, the pod stays ready")
        self.assertEqual(run.log_count(
            "warn: drain: the EndpointSlices still list this pod as ready after "
            "--endpoints-timeout 2000 ms"), 1, run.stderr())
        src = self.sources(run)
        self.assertEqual(src["endpoints_by"], "timeout", src)
        self.finish(run)

    # -- 11. no credentials ---------------------------------------------------------------------

    def config_error(self, env, words):
        """graceinit --endpoints on -- true with env: the message names --endpoints and what
        is missing; returns (exit status, stderr)."""
        run = self.start_args(["--endpoints", "on", "--", "true"], pid1=False, env=env)
        status = run.wait(5)
        err = run.stderr()
        for w in ("graceinit: --endpoints on: ",) + tuple(words):
            self.assertIn(w, err)
        return status, err

    def credential_cases(self):
        """(what is missing, env, words of the message) for each case of --endpoints on."""
        pod = self.pod_net()
        srv = self.start_cluster(pod, load=())
        env = srv.env()
        sa = srv.serviceaccount
        yield ("KUBERNETES_SERVICE_HOST", {k: v for k, v in env.items()
                                           if k != "KUBERNETES_SERVICE_HOST"},
               ["KUBERNETES_SERVICE_HOST", "not set"])
        yield ("POD_NAME and POD_IP", {k: v for k, v in env.items() if not k.startswith("POD_")},
               ["POD_NAME", "POD_IP"])
        sa.remove("namespace")
        yield ("namespace", env, ["namespace"])
        sa.remove("ca.crt")
        yield ("ca.crt", env, ["ca.crt", sa.path])
        sa.remove("token")
        yield ("token", env, ["token", sa.path])
        self.assertEqual(srv.requests(), [], "no request without credentials")

    def test_endpoints_on_without_credentials_message(self):
        for what, env, words in self.credential_cases():
            with self.subTest(missing=what):
                _, err = self.config_error(env, words)
                print("\n" + err.strip().splitlines()[0])

    def test_endpoints_on_without_credentials_exit_2(self):
        for what, env, words in self.credential_cases():
            status, err = self.config_error(env, words)
            self.assertEqual(status, 2, "--endpoints on without %s: exit %d, stderr: %s"
                             % (what, status, err))

    def test_endpoints_auto_without_credentials(self):
        pod = self.pod_net()
        srv = self.start_cluster(pod, load=())
        srv.serviceaccount.remove("token")
        run, rec = self.start_pod_sigtime(pod, ["--drain-delay", "1s"], ["--exit-on", "USR1:0"],
                                          env=srv.env())
        st = run.status()["endpoints"]
        self.assertEqual((st["state"], st["healthy"]), ("off", False), st)
        self.assertIn("endpoints: not watching EndpointSlices (the service account token is "
                      "not readable)", run.stderr())
        self.assertNotIn("# endpoints watch", run.get("/readyz?verbose").body)
        started = time.monotonic()
        run.kill(TERM)
        self.assert_stop_after(rec, started, 1.0, "--drain-delay 1s without credentials")
        self.finish(run)
        self.assertEqual(srv.requests(), [])

    # -- 13. TLS ------------------------------------------------------------------------------

    def tls_refused(self, server_tls, what, ca_cert=None, handshake_fails=False):
        """The server presents server_tls's certificate; the pod's ca.crt is ca_cert (default:
        the CA that signed it)."""
        def trust(srv):
            if ca_cert is not None:
                srv.serviceaccount.update(ca_cert=ca_cert)
        srv, run, rec = self.start(["--endpoints-timeout", "5s"], drain_delay="1s",
                                   before=trust, tls=server_tls)
        st = wait_until(lambda: (lambda e: e if e["state"] == "retrying" else None)(
            run.status()["endpoints"]), 5, "/status to show the failure")
        self.assertRegex(st["error"], r"SSL|certificate", st)
        self.assertEqual(srv.requests(), [], "not one request over the untrusted connection")
        if handshake_fails:
            self.assertTrue(srv.tls_errors, "the server saw the handshake refused")
        self.assertIn("# endpoints watch: retrying: ", run.get("/readyz?verbose").body)
        started = time.monotonic()
        run.kill(TERM)
        self.assert_stop_after(rec, started, 1.0, "--drain-delay 1s, %s" % what)
        self.assertEqual(self.sources(run)["endpoints_by"], "delay")
        self.assertEqual(srv.requests(), [])
        print("\n%s: %s" % (what, st["error"]))

    def test_tls_certificate_of_another_ca(self):
        # The server's certificate comes from an unrelated CA; ca.crt is the class's CA.
        self.tls_refused(fk.make_tls(os.path.join(self.tmp, "pki"), prefix="other-"),
                         "another CA", ca_cert=self.tls.ca_cert, handshake_fails=True)

    def test_tls_certificate_for_another_name(self):
        # Signed by the CA of ca.crt, but for names and addresses that are not 127.0.0.1
        # (libcurl checks the name once the handshake is over: the server sees no error).
        self.tls_refused(fk.make_tls(os.path.join(self.tmp, "pki"), ip_sans=("10.96.0.1",),
                                     dns_sans=("kubernetes.default.svc",)),
                         "a certificate for another name")

if __name__ == "__main__":
    harness.main()
