#!/usr/bin/env python3
"""The kubelet simulator of graceinit's end-to-end drain test (started by tests/e2e/run.sh).

It runs inside the test's "node" network namespace, which holds the load balancer, the clients
and the fake Kubernetes API server; the pod lives in its own network namespace, joined to the
node by a veth pair (node 10.250.0.1/30, pod 10.250.0.2/30; both namespaces made by run.sh, so
no address of this test exists outside them). Each container of a pod is PID 1 of its own PID
namespace (`nsenter --net=POD unshare --pid --fork --mount-proc -- ...`), as a container
runtime starts it.

For each scenario: start the pod and wait until it serves; start the load (traffic.py: clients
-> load balancer -> pod); at the deletion time T0 do what the kubelet and the control plane do:

  - the load balancer keeps routing to the pod until T0 + P (endpoint propagation), then
    answers "not routed" itself;
  - with the EndpointSlice watch, the fake API server flips the pod's endpoint to not ready at
    T0 + P (the change the load balancer has just applied);
  - the kubelet runs the preStop hook, blocking (httpGet /prestop, or exec `sleep 5`), then sends
    SIGTERM to PID 1 of the container, then SIGKILL at T0 + grace period if it still runs.

Every request's outcome and every event (deletion, preStop return, SIGTERM, the app's stop
signal as the app itself recorded it, SIGKILL, exit) go to OUT/SCENARIO/, and a summary of all
scenarios to OUT/summary.json; plot.py draws them. Exit status: 0 when every scenario ran and
met its targets, 1 otherwise (2: usage).

Python standard library only (+ tests/fixtures/fake_kube_api.py).
"""

import argparse
import http.client
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "..", "fixtures")
sys.path.insert(0, FIXTURES)

NODE_IP = "10.250.0.1"
POD_IP = "10.250.0.2"
APP_PORT = 8080
GRACEINIT_PORT = 9797
LB_ADDR = "127.0.0.1:8000"  # the load balancer, on the node namespace's own loopback
UNSHARE = shutil.which("unshare") or "/usr/bin/unshare"
NSENTER = shutil.which("nsenter") or "/usr/bin/nsenter"
PYTHON = "/usr/bin/python3"  # Debian's, with Debian's python3-* packages
SCRUBBED = ("GRACEINIT_", "KUBERNETES_", "LISTEN_", "NOTIFY_SOCKET", "WATCHDOG_", "POD_")


def log(msg):
    print("[%8.3f] %s" % (time.monotonic() % 100000, msg), flush=True)


class ScenarioError(Exception):
    """The scenario could not run (not a graceinit result)."""


def clean_env(extra=None):
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED)}
    env.update(extra or {})
    return env


def http_get(host, port, path, timeout):
    """(status, body) of GET http://host:port/path, or None when it fails."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"User-Agent": "kube-probe/1.30"})
        resp = conn.getresponse()
        return resp.status, resp.read().decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def wait_for(predicate, timeout, what, step=0.02):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise ScenarioError("timed out after %.1f s waiting for %s" % (timeout, what))
        time.sleep(step)


def dur(seconds):
    """A graceinit duration argument."""
    ms = int(round(seconds * 1000))
    return "%ds" % (ms // 1000) if ms % 1000 == 0 else "%dms" % ms


# ---------------------------------------------------------------------------------------------
# Containers


class Container:
    """One container: argv as PID 1 of a new PID (and mount) namespace inside the pod's network
    namespace. The exit time is taken by a thread blocked in waitpid() on unshare, which exits
    as soon as its child, PID 1, has."""

    def __init__(self, name, argv, env, netns, logdir):
        self.name = name
        self.argv = argv
        self.comm = os.path.basename(argv[0])[:15]
        self.log_path = os.path.join(logdir, name.replace(" ", "-") + ".log")
        self._log = open(self.log_path, "wb")
        self.popen = subprocess.Popen(
            [NSENTER, "--net=" + netns, UNSHARE, "--pid", "--fork", "--mount-proc", "--"]
            + argv, stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT,
            env=env, start_new_session=True)
        self.pid1 = None
        self.pidfd = None
        self.exit_time = None      # unshare reaped (the container is gone)
        self.pid1_exit_time = None  # PID 1 itself exited (its pidfd became readable)
        self.pid1_gone = threading.Event()
        self.exited = threading.Event()
        threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self):
        self.popen.wait()
        self.exit_time = time.monotonic()
        self.exited.set()

    def find_pid1(self, timeout=10):
        """PID 1 of the container as seen from here, once it runs argv[0]; keeps a pidfd so a
        signal can never reach a recycled pid."""
        me = self.popen.pid

        def look():
            if self.exited.is_set():
                raise ScenarioError("%s exited at start (status %s), log:\n%s" % (
                    self.name, self.popen.returncode, self.read_log()))
            try:
                with open("/proc/%d/task/%d/children" % (me, me)) as f:
                    kids = [int(k) for k in f.read().split()]
            except FileNotFoundError:
                return None
            for k in kids:
                try:
                    with open("/proc/%d/comm" % k) as f:
                        if f.read().strip() == self.comm:
                            return k
                except FileNotFoundError:
                    pass
            return None
        self.pid1 = wait_for(look, timeout, "%s to start %s" % (self.name, self.comm), 0.002)
        self.pidfd = os.pidfd_open(self.pid1)
        threading.Thread(target=self._watch_pid1, args=(os.dup(self.pidfd),),
                         daemon=True).start()
        return self.pid1

    def _watch_pid1(self, fd):
        try:
            p = select.poll()
            p.register(fd, select.POLLIN)
            p.poll()
            self.pid1_exit_time = time.monotonic()
            self.pid1_gone.set()
        finally:
            os.close(fd)

    def exit_moment(self):
        """When PID 1 exited (the pidfd's view), else when the container was reaped."""
        self.pid1_gone.wait(1.0)
        return self.pid1_exit_time or self.exit_time

    def signal(self, signo):
        """True when the signal was sent, False when PID 1 was already gone."""
        try:
            signal.pidfd_send_signal(self.pidfd, signo)
            return True
        except ProcessLookupError:
            return False

    def wait(self, deadline):
        """True when the container has exited by the monotonic deadline."""
        return self.exited.wait(max(0.0, deadline - time.monotonic()))

    def read_log(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def destroy(self):
        """Kills the whole PID namespace (SIGKILL to its PID 1) and reaps."""
        if not self.exited.is_set():
            if self.pidfd is not None:
                self.signal(signal.SIGKILL)
            else:
                try:
                    self.popen.kill()
                except ProcessLookupError:
                    pass
            self.exited.wait(10)
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None
        self._log.close()


# ---------------------------------------------------------------------------------------------
# Scenarios


class Scenario:
    def __init__(self, name, title, short, *, init=None, prestop=None, graceinit=None,
                 watch=False, sidecar=False):
        self.name = name
        self.title = title
        self.short = short         # label of the summary picture
        self.init = init           # argv before the app's, or None: the app is PID 1
        self.prestop = prestop     # None, "http" or "sleep"
        self.graceinit = graceinit  # graceinit's own options, when it is the init
        self.watch = watch
        self.sidecar = sidecar

    @property
    def uses_graceinit(self):
        return self.graceinit is not None


def make_scenarios(cfg):
    g = cfg.graceinit
    common = ["--http", ":%d" % GRACEINIT_PORT, "--grace-period", dur(cfg.grace),
              "--log-format", "json"]  # time-stamped phases for the timeline
    watch = ["--endpoints", "on", "--endpoints-margin", dur(cfg.margin)]
    return [
        Scenario("no-init", "no init: sh -c 'app; :' is PID 1 (ignores SIGTERM)", "no init (sh)",
                 init=["sh", "-c", '"$@"; :', "sh"]),
        Scenario("tini", "tini -- app", "tini", init=["tini", "--"]),
        Scenario("dumb-init", "dumb-init -- app", "dumb-init", init=["dumb-init", "--"]),
        Scenario("prestop-sleep", "tini -- app, preStop exec `sleep %g`" % cfg.sleep,
                 "tini + preStop sleep %g" % cfg.sleep, init=["tini", "--"], prestop="sleep"),
        Scenario("graceinit-delay", "graceinit --drain-delay %s -- app, preStop httpGet /prestop"
                 % dur(cfg.drain_delay), "graceinit --drain-delay %s" % dur(cfg.drain_delay),
                 init=[g] + common + ["--drain-delay", dur(cfg.drain_delay), "--"],
                 prestop="http", graceinit=common + ["--drain-delay", dur(cfg.drain_delay)]),
        Scenario("graceinit-watch", "graceinit (EndpointSlice watch) -- app, preStop httpGet "
                 "/prestop", "graceinit, EndpointSlice watch",
                 init=[g] + common + watch + ["--"], prestop="http", graceinit=common + watch,
                 watch=True),
        Scenario("graceinit-sidecar", "graceinit --sidecar (watch) + app as PID 1, app's preStop "
                 "httpGet sidecar:/prestop", "graceinit --sidecar, watch",
                 init=None, prestop="http", graceinit=common + watch + ["--sidecar"],
                 watch=True, sidecar=True),
    ]


class Events:
    def __init__(self, t0):
        self.t0 = t0
        self.items = []

    def add(self, name, t, detail=""):
        self.items.append({"name": name, "t": t, "rel": t - self.t0, "detail": detail})
        log("  %+7.3f s  %s %s" % (t - self.t0, name, detail))

    def first(self, name):
        for e in self.items:
            if e["name"] == name:
                return e
        return None


class Kubelet:
    def __init__(self, cfg):
        self.cfg = cfg
        self.scenarios = {s.name: s for s in make_scenarios(cfg)}

    # -- the pod ------------------------------------------------------------------------------

    def fake_cluster(self, workdir):
        import fake_kube_api as fk
        with open(os.path.join(FIXTURES, "endpointslices", "web-ready.json")) as f:
            web = json.load(f)
        for ep in web["endpoints"]:
            if ep["targetRef"]["name"] == fk.POD_NAME:
                ep["addresses"] = [POD_IP]  # the pod's real address in this test
        tls = fk.make_tls(os.path.join(workdir, "pki"), ip_sans=("127.0.0.1", NODE_IP))
        srv = fk.start_fake_cluster(workdir, load=(web, "api-other-service.json"), tls=tls,
                                    host=NODE_IP, port=0)
        env = srv.env(pod=fk.POD_NAME, pod_ip=POD_IP)
        return srv, env, fk.POD_NAME

    def start_pod(self, sc, workdir, env_extra):
        """{role: Container}; role "app" is the container the preStop hook and SIGTERM are
        for, "sidecar" the graceinit sidecar."""
        sigfile = os.path.join(workdir, "app-signals")
        app = [self.cfg.app, str(APP_PORT), sigfile, str(self.cfg.work_ms)]
        pods = {}
        if sc.sidecar:
            pods["sidecar"] = Container(
                "graceinit-sidecar", [self.cfg.graceinit] + sc.graceinit,
                clean_env(env_extra), self.cfg.pod_netns, workdir)
            pods["app"] = Container("app", app, clean_env(), self.cfg.pod_netns, workdir)
        else:
            argv = (sc.init or []) + app
            pods["app"] = Container("pod", argv, clean_env(env_extra), self.cfg.pod_netns,
                                    workdir)
        for c in pods.values():
            c.find_pid1()
        return pods, sigfile

    def wait_ready(self, sc, pods):
        def serving():
            r = http_get(POD_IP, APP_PORT, "/", 1)
            return r is not None and r[0] == 200
        wait_for(serving, 10, "the app to serve on %s:%d" % (POD_IP, APP_PORT))
        if sc.uses_graceinit:
            def ready():
                for c in pods.values():
                    if c.exited.is_set():
                        raise ScenarioError("%s exited:\n%s" % (c.name, c.read_log()))
                r = http_get(POD_IP, GRACEINIT_PORT, "/readyz", 1)
                return r is not None and r[0] == 200
            wait_for(ready, 10, "graceinit's /readyz to answer 200")

    # -- the deletion -------------------------------------------------------------------------

    def terminate(self, sc, pods, t0, ev):
        """What the kubelet does once the pod is deleted (at t0)."""
        cfg = self.cfg
        deadline = t0 + cfg.grace
        app = pods["app"]
        ev.add("deletion", t0)
        if sc.prestop == "http":
            r = http_get(POD_IP, GRACEINIT_PORT, "/prestop", max(0.1, deadline - time.monotonic()))
            ev.add("preStop return", time.monotonic(), "HTTP %s" % (r[0] if r else "failed"))
            if r is not None:
                ev.prestop_body = r[1]
        elif sc.prestop == "sleep":
            argv = [NSENTER, "-t", str(app.pid1), "-n", "-p", "-m", "--", "sleep", "%g" % cfg.sleep]
            try:
                res = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                     timeout=max(0.1, deadline - time.monotonic()))
                detail = "exit %d" % res.returncode
            except subprocess.TimeoutExpired:
                detail = "cut at the grace period"
            ev.add("preStop return", time.monotonic(), detail)
        t = time.monotonic()
        sent = app.signal(signal.SIGTERM)
        ev.add("SIGTERM", t, "" if sent else "(PID 1 already gone)")
        if not app.wait(deadline):
            t = time.monotonic()
            app.signal(signal.SIGKILL)
            ev.add("SIGKILL", t)
            app.wait(time.monotonic() + 10)
        if not app.exited.is_set():
            raise ScenarioError("the app container did not exit even after SIGKILL")
        ev.add("exit", app.exit_moment(), "killed" if ev.first("SIGKILL") else
               "status %s" % exit_status(app.popen.returncode))
        side = pods.get("sidecar")
        if side is not None:
            # Native sidecars are stopped once the main containers have exited.
            t = time.monotonic()
            sent = side.signal(signal.SIGTERM)
            ev.add("sidecar SIGTERM", t, "" if sent else "(already gone)")
            if not side.wait(deadline):
                t = time.monotonic()
                side.signal(signal.SIGKILL)
                ev.add("sidecar SIGKILL", t)
                side.wait(time.monotonic() + 10)
            ev.add("sidecar exit", side.exit_moment() or time.monotonic(),
                   "status %s" % exit_status(side.popen.returncode))

    # -- one scenario -------------------------------------------------------------------------

    def run(self, name):
        cfg = self.cfg
        sc = self.scenarios[name]
        workdir = os.path.join(cfg.out, name)
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(workdir)
        log("scenario %s: %s" % (name, sc.title))
        srv = traffic = None
        pods = {}
        result = {"name": name, "title": sc.title, "short": sc.short, "graceinit": sc.uses_graceinit,
                  "watch": sc.watch, "sidecar": sc.sidecar, "prestop": sc.prestop,
                  "propagation": cfg.propagation, "grace": cfg.grace, "rate": cfg.rate,
                  "margin": cfg.margin if sc.watch else None, "ran": False, "error": None,
                  "targets": []}
        realtime_offset = time.time() - time.monotonic()
        result["loadavg_before"] = os.getloadavg()[0]
        try:
            env_extra = {}
            if sc.watch:
                srv, env_extra, pod_name = self.fake_cluster(os.path.join(workdir, "k8s"))
            pods, sigfile = self.start_pod(sc, workdir, env_extra)
            result["pid1"] = {role: c.argv[0] for role, c in pods.items()}
            result["argv"] = {role: c.argv for role, c in pods.items()}
            self.wait_ready(sc, pods)
            if srv is not None:
                srv.wait_for_watches(1, timeout=10)
                st = http_get(POD_IP, GRACEINIT_PORT, "/status", 2)
                if st is not None:
                    with open(os.path.join(workdir, "status-before.json"), "w") as f:
                        f.write(st[1])

            # The load: warm-up, the deletion at t0, then the rest of the window.
            records = os.path.join(workdir, "requests.jsonl")
            traffic = subprocess.Popen(
                [PYTHON, os.path.join(HERE, "traffic.py"), "--listen", LB_ADDR,
                 "--backend", "%s:%d" % (POD_IP, APP_PORT), "--rate", "%g" % cfg.rate,
                 "--records", records, "--max-seconds", "%g" % (cfg.warmup + cfg.after + 30)],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                stderr=open(os.path.join(workdir, "traffic.log"), "wb"), text=True)
            if traffic.stdout.readline().strip() != "ready":
                raise ScenarioError("the load balancer did not start, see traffic.log")
            start = time.monotonic() + 0.2
            t0 = start + cfg.warmup
            stop_routing = t0 + cfg.propagation
            end = t0 + cfg.after
            traffic.stdin.write(json.dumps({"start_at": start, "end_at": end,
                                            "stop_routing_at": stop_routing}) + "\n")
            traffic.stdin.flush()
            flip = None
            if srv is not None:
                flip = srv.terminate_pod(pod_name, at=stop_routing)
            time.sleep(max(0.0, t0 - time.monotonic()))
            late = time.monotonic() - t0
            if late > 0.02:
                log("  (the kubelet starts %.0f ms late)" % (late * 1000))

            ev = Events(t0)
            ev.prestop_body = None
            self.terminate(sc, pods, t0, ev)
            ev.add("LB stops routing", stop_routing, "T0 + P")
            if flip is not None:
                try:
                    flip.wait(max(0.1, stop_routing + 5 - time.monotonic()))
                    ev.add("endpoint flipped", flip.ran_at, "fake API: ready=false")
                except TimeoutError:
                    raise ScenarioError("the fake API server never flipped the endpoint")

            try:
                out, _ = traffic.communicate(timeout=max(1.0, end - time.monotonic() + 15))
            except subprocess.TimeoutExpired:
                raise ScenarioError("the clients did not finish in time")
            if traffic.returncode != 0:
                raise ScenarioError("traffic.py failed (%d), see traffic.log" % traffic.returncode)
            traffic = None
            summary = json.loads(out.strip().splitlines()[-1])

            with open(sigfile) if os.path.exists(sigfile) else open(os.devnull) as f:
                for line in f:
                    signame, ns = line.split()
                    ev.add("stop signal", int(ns) / 1e9, "%s reached the app" % signame)
                    break
            if sc.uses_graceinit:
                role = "sidecar" if sc.sidecar else "app"
                seen = set()
                for t, msg in graceinit_log(pods[role].log_path, realtime_offset):
                    for prefix, name in GRACEINIT_EVENTS:
                        if msg.startswith(prefix) and name not in seen:
                            seen.add(name)
                            ev.add(name, t, "(its log, ms)")
            if ev.prestop_body:
                with open(os.path.join(workdir, "prestop-answer.json"), "w") as f:
                    f.write(ev.prestop_body)
                try:
                    result["prestop_answer"] = json.loads(ev.prestop_body)
                except ValueError:
                    result["prestop_answer"] = {"unparsed": ev.prestop_body[:500]}
            self.evaluate(sc, result, ev, records, summary, t0)
            result["ran"] = True
        except ScenarioError as e:
            result["error"] = str(e)
            log("  ERROR: %s" % e)
        finally:
            if traffic is not None:
                traffic.kill()
                traffic.wait()
            for c in pods.values():
                c.destroy()
            if srv is not None:
                srv.stop()
            result["logs"] = {role: os.path.relpath(c.log_path, cfg.out)
                              for role, c in pods.items()}
        result["loadavg_after"] = os.getloadavg()[0]
        with open(os.path.join(workdir, "result.json"), "w") as f:
            json.dump(result, f, indent=2)
        return result

    def evaluate(self, sc, result, ev, records_path, summary, t0):
        cfg = self.cfg
        recs = []
        with open(records_path) as f:
            for line in f:
                recs.append(json.loads(line))
        counts = {"ok": 0, "failed": 0, "not_routed": 0}
        details = {}
        for r in recs:
            counts[r["outcome"]] += 1
            if r["outcome"] == "failed":
                details[r["detail"]] = details.get(r["detail"], 0) + 1
        ok_before = sum(1 for r in recs if r["outcome"] == "ok" and r["t"] < t0)
        if ok_before == 0:
            raise ScenarioError("no request succeeded before the deletion: the set-up is broken")
        if len(recs) < 0.9 * summary["planned"]:
            raise ScenarioError("only %d of %d requests were sent" % (len(recs),
                                                                       summary["planned"]))
        failed_times = [r["t"] - t0 for r in recs if r["outcome"] == "failed"]
        result.update({
            "sent": len(recs), "counts": counts, "failed_by": details,
            "failed_window": [min(failed_times), max(failed_times)] if failed_times else None,
            "lb": summary.get("lb", {}),
            "events": [{k: e[k] for k in ("name", "rel", "detail")} for e in ev.items],
            "records": os.path.relpath(records_path, cfg.out), "t0": t0,
        })
        stop = ev.first("stop signal") or ev.first("SIGKILL")
        exit_ev = ev.first("exit")
        result["deletion_to_stop"] = stop["rel"] if stop else None
        result["deletion_to_exit"] = exit_ev["rel"]
        side = ev.first("sidecar exit")
        result["deletion_to_pod_end"] = side["rel"] if side else exit_ev["rel"]
        flip = ev.first("endpoint flipped")
        result["flip"] = flip["rel"] if flip else None
        result["exit_after_flip"] = exit_ev["rel"] - flip["rel"] if flip else None
        result["stop_after_flip"] = (stop["rel"] - flip["rel"]) if flip and stop else None

        if sc.uses_graceinit:
            result["targets"].append({
                "what": "graceinit loses no request", "met": counts["failed"] == 0,
                "value": "%d failed" % counts["failed"], "asserted": True})
            if sc.watch:
                by = (result.get("prestop_answer") or {}).get("sources_ms", {}).get(
                    "endpoints_by")
                result["targets"].append({
                    "what": "deregistration confirmed by the EndpointSlice watch",
                    "met": by == "confirmed", "value": "endpoints_by %s" % by,
                    "asserted": True})
                limit = cfg.margin + 0.5
                # Before the flip is no better than late: the LB still routed to the pod.
                result["targets"].append({
                    "what": "exit within margin + 0.5 s = %.1f s of the endpoint flip" % limit,
                    "met": 0 <= result["exit_after_flip"] <= limit,
                    "value": "%.3f s after the flip" % result["exit_after_flip"],
                    "asserted": not cfg.quick})
        log("  ok %d, failed %d %s, not routed %d; deletion -> stop signal %s, -> exit %.3f s"
            % (counts["ok"], counts["failed"], details or "", counts["not_routed"],
               "%.3f s" % result["deletion_to_stop"] if stop else "-",
               result["deletion_to_exit"]))
        for t in result["targets"]:
            log("  target %s: %s (%s)" % ("MET" if t["met"] else "MISSED", t["what"], t["value"]))


# graceinit's own log (--log-format json) -> events of the timeline: (message prefix, name).
GRACEINIT_EVENTS = (
    ("drain: started by", "graceinit: drain starts"),
    ("drain: the EndpointSlices no longer list", "graceinit: deregistration confirmed"),
    ("drain: deregistration phase over", "graceinit: stop signal"),
    ("drain: the child exited", "graceinit: child exited"),
    ("exiting with status", "graceinit: exits"),
    ("sidecar: the drain is over", "graceinit: exits"),
)


def graceinit_log(path, realtime_offset):
    """[(monotonic time, message)] of a graceinit JSON log (ms precision, CLOCK_REALTIME
    converted with realtime_offset = time.time() - time.monotonic())."""
    import datetime
    lines = []
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                if not line.startswith("{"):
                    continue
                try:
                    obj = json.loads(line)
                    ts = datetime.datetime.fromisoformat(obj["ts"].replace("Z", "+00:00"))
                except (ValueError, KeyError):
                    continue
                lines.append((ts.timestamp() - realtime_offset, obj.get("msg", "")))
    except FileNotFoundError:
        pass
    return lines


def exit_status(returncode):
    if returncode is None:
        return "?"
    return 128 - returncode if returncode < 0 else returncode


def main():
    ap = argparse.ArgumentParser(description="graceinit's end-to-end drain test (kubelet side)")
    ap.add_argument("--graceinit", required=True)
    ap.add_argument("--app", required=True, help="the e2e-app binary")
    ap.add_argument("--pod-netns", required=True, help="path of the pod's network namespace")
    ap.add_argument("--out", required=True)
    ap.add_argument("--scenarios", default="all")
    ap.add_argument("--propagation", type=float, default=3.0, help="P: LB keeps routing (s)")
    ap.add_argument("--grace", type=float, default=15.0, help="terminationGracePeriodSeconds")
    ap.add_argument("--rate", type=float, default=100.0, help="requests per second")
    ap.add_argument("--warmup", type=float, default=2.0, help="load before the deletion (s)")
    ap.add_argument("--after", type=float, default=None,
                    help="load after the deletion (s); default grace + 1")
    ap.add_argument("--margin", type=float, default=1.0, help="--endpoints-margin (s)")
    ap.add_argument("--drain-delay", type=float, default=None, help="default P + 1 s")
    ap.add_argument("--sleep", type=float, default=5.0, help="the preStop exec sleep (s)")
    ap.add_argument("--work-ms", type=int, default=5, help="the app's time per request")
    ap.add_argument("--quick", action="store_true", help="no timing assertions")
    ap.add_argument("--command", default="", help="the command line, for the report")
    cfg = ap.parse_args()
    if cfg.after is None:
        cfg.after = cfg.grace + 1.0
    if cfg.drain_delay is None:
        cfg.drain_delay = cfg.propagation + 1.0
    kubelet = Kubelet(cfg)
    names = list(kubelet.scenarios) if cfg.scenarios == "all" else cfg.scenarios.split(",")
    for n in names:
        if n not in kubelet.scenarios:
            ap.error("unknown scenario %r (known: %s)" % (n, ", ".join(kubelet.scenarios)))
    if cfg.after > 120 or cfg.rate * (cfg.after + cfg.warmup) > 50000:
        ap.error("the load window is too long")
    os.makedirs(cfg.out, exist_ok=True)

    def on_signal(signo, frame):
        raise KeyboardInterrupt("signal %d" % signo)
    signal.signal(signal.SIGTERM, on_signal)

    results = []
    started = time.monotonic()
    for n in names:
        results.append(kubelet.run(n))
    ok = all(r["ran"] for r in results) and all(
        t["met"] for r in results for t in r["targets"] if t["asserted"])
    summary = {"command": cfg.command, "quick": cfg.quick, "propagation": cfg.propagation,
               "grace": cfg.grace, "rate": cfg.rate, "warmup": cfg.warmup, "after": cfg.after,
               "margin": cfg.margin, "drain_delay": cfg.drain_delay, "sleep": cfg.sleep,
               "work_ms": cfg.work_ms, "graceinit": cfg.graceinit,
               "graceinit_version": graceinit_version(cfg.graceinit),
               "seconds": round(time.monotonic() - started, 1), "passed": ok,
               "scenarios": results}
    with open(os.path.join(cfg.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    log("%s in %.0f s: %s" % ("PASSED" if ok else "FAILED", summary["seconds"],
                              os.path.join(cfg.out, "summary.json")))
    return 0 if ok else 1


def graceinit_version(path):
    try:
        return subprocess.run([path, "--version"], capture_output=True, text=True,
                              timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "?"


if __name__ == "__main__":
    sys.exit(main())
