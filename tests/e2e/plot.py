#!/usr/bin/env python3
"""Pictures and the table of graceinit's end-to-end drain test, from OUT/summary.json (written
by kubelet.py): one timeline PNG per scenario (requests over time by outcome, with the drain's
events marked), summary.png (failed requests and shutdown time per scenario), and results.md.

    plot.py --out DIR [--publish DIR] [--table-only]

--publish copies the PNGs and results.md to DIR (tests/e2e/results/ for a full run).
Python 3 + Debian's python3-matplotlib (not needed with --table-only).
"""

import argparse
import json
import os
import shutil
import sys

COLORS = {"ok": "#2ca02c", "failed": "#d62728", "not_routed": "#b8b8b8"}
LABELS = {"ok": "ok (the pod answered)", "failed": "failed (refused, reset, 5xx, timeout)",
          "not_routed": "not routed (503 from the LB: no backend)"}
# name: (color, line style, width)
EVENT_STYLE = {
    "deletion": ("black", "-", 1.6),
    "LB stops routing": ("#7f7f7f", "--", 1.4),
    "endpoint flipped": ("#9467bd", "-.", 1.6),
    "preStop return": ("#1f77b4", "-", 1.6),
    "SIGTERM": ("#ff7f0e", "-", 1.6),
    "stop signal": ("#d62728", ":", 2.4),
    "SIGKILL": ("#8c0000", "-", 2.4),
    "exit": ("black", "--", 1.8),
    "sidecar SIGTERM": ("#17becf", "-", 1.2),
    "sidecar exit": ("#17becf", "--", 1.2),
    "graceinit: deregistration confirmed": ("#9467bd", ":", 1.6),
}
EVENT_TEXT = {
    "deletion": "deletion (T0)",
    "LB stops routing": "LB stops routing (T0 + P)",
    "endpoint flipped": "EndpointSlice: not ready",
    "preStop return": "preStop hook returns",
    "SIGTERM": "kubelet's SIGTERM",
    "stop signal": "app gets its stop signal",
    "SIGKILL": "kubelet's SIGKILL",
    "exit": "app container exits",
    "sidecar SIGTERM": "sidecar's SIGTERM",
    "sidecar exit": "sidecar exits",
    "graceinit: deregistration confirmed": "graceinit sees it (+ margin next)",
}


def load(out):
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f)


def records(out, sc):
    with open(os.path.join(out, sc["records"])) as f:
        return [json.loads(line) for line in f]


def png_name(index, sc):
    return "%d-%s.png" % (index, sc["name"])


def fmt_failed(sc):
    if not sc.get("ran"):
        return "did not run"
    n = sc["counts"]["failed"]
    if n == 0:
        return "**0**"
    kinds = ", ".join("%d %s" % (v, k) for k, v in sorted(sc["failed_by"].items(),
                                                          key=lambda kv: -kv[1]))
    return "**%d** (%s)" % (n, kinds)


def timeline(plt, out, summary, index, sc):
    recs = records(out, sc)
    t0 = sc["t0"]
    width = 0.2
    lo = -summary["warmup"]
    hi = max(summary["after"], max(e["rel"] for e in sc["events"]) + 0.3)
    nbins = int(round((hi - lo) / width)) + 1
    edges = [lo + i * width for i in range(nbins + 1)]
    series = {k: [0.0] * nbins for k in COLORS}
    for r in recs:
        # By the real send time: on a loaded machine the clients lag, and a request sent after
        # the deletion must show after it, whenever it was planned.
        b = int((r["t"] - t0 - lo) / width)
        if 0 <= b < nbins:
            series[r["outcome"]][b] += 1 / width  # requests per second
    fig, ax = plt.subplots(figsize=(11, 3.9), dpi=90)
    bottom = [0.0] * nbins
    for k in ("ok", "failed", "not_routed"):
        ax.bar(edges[:-1], series[k], width=width, bottom=bottom, align="edge",
               color=COLORS[k], label="%s: %d" % (LABELS[k], sc["counts"][k]), linewidth=0)
        bottom = [a + b for a, b in zip(bottom, series[k])]
    ymax = max(max(bottom), summary["rate"]) * 1.45
    ax.axvspan(0, sc["propagation"], color="#fff2b3", alpha=0.6, zorder=0,
               label="P: the LB still routes to the pod")
    seen = set()
    for e in sorted(sc["events"], key=lambda e: e["rel"]):
        if e["name"] in seen or e["name"] not in EVENT_STYLE:
            continue
        seen.add(e["name"])
        color, style, lw = EVENT_STYLE[e["name"]]
        ax.axvline(e["rel"], color=color, linestyle=style, linewidth=lw,
                   label="%+.2f s  %s" % (e["rel"], EVENT_TEXT[e["name"]]))
    ax.set_xlim(lo, hi)
    ax.set_ylim(0, ymax)
    ax.set_xlabel("seconds since the pod's deletion (T0)")
    ax.set_ylabel("requests / s (0.2 s bins)")
    failed = sc["counts"]["failed"]
    head = "%d. %s" % (index, sc["title"])
    sub = "failed %d%s · not routed %d · deletion → exit %.2f s" % (
        failed, " (%s)" % ", ".join("%d %s" % (v, k) for k, v in sc["failed_by"].items())
        if failed else "", sc["counts"]["not_routed"], sc["deletion_to_exit"])
    if sc.get("exit_after_flip") is not None:
        sub += " (%.2f s after the endpoint flip)" % sc["exit_after_flip"]
    ax.set_title(head + "\n" + sub, fontsize=10.5, loc="left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    fig.tight_layout()
    path = os.path.join(out, png_name(index, sc))
    fig.savefig(path)
    plt.close(fig)
    return path


def summary_png(plt, out, summary, ran):
    names = ["%d. %s" % (i, sc["short"]) for i, sc in ran][::-1]
    scs = [sc for _, sc in ran][::-1]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 0.55 * len(scs) + 1.6), dpi=90,
                                 sharey=True)
    failed = [sc["counts"]["failed"] for sc in scs]
    colors = ["#1f77b4" if sc["graceinit"] else "#7f7f7f" for sc in scs]
    a1.barh(names, failed, color=["#d62728" if f else c for f, c in zip(failed, colors)])
    for y, f in enumerate(failed):
        a1.text(f, y, " %d" % f, va="center", fontsize=9)
    a1.set_xlim(0, max(failed + [1]) * 1.25)
    a1.set_title("failed requests (at %g req/s, P = %g s)" % (summary["rate"],
                                                              summary["propagation"]),
                 fontsize=10)
    exits = [sc["deletion_to_exit"] for sc in scs]
    a2.barh(names, exits, color=colors)
    for y, (e, sc) in enumerate(zip(exits, scs)):
        killed = any(ev["name"] == "SIGKILL" for ev in sc["events"])
        a2.text(e, y, " %.2f s%s" % (e, " (SIGKILL)" if killed else ""), va="center",
                fontsize=9)
    a2.axvline(summary["propagation"], color="#7f7f7f", linestyle="--", linewidth=1.2,
               label="LB stops routing (P)")
    a2.axvline(summary["grace"], color="#8c0000", linestyle="-", linewidth=1.2,
               label="grace period (SIGKILL)")
    a2.set_xlim(0, summary["grace"] * 1.3)
    a2.set_title("deletion → app exit (s)", fontsize=10)
    a2.legend(loc="lower right", fontsize=8)
    for a in (a1, a2):
        a.grid(axis="x", color="#dddddd", linewidth=0.6)
        a.set_axisbelow(True)
    fig.suptitle("graceinit end-to-end: a pod deleted under load (blue: graceinit)",
                 fontsize=11, x=0.01, ha="left")
    fig.tight_layout()
    path = os.path.join(out, "summary.png")
    fig.savefig(path)
    plt.close(fig)
    return path


def table(summary, pngs):
    s = summary
    lines = [
        "# graceinit end-to-end drain test: results",
        "",
        "Produced by `%s` (%s; the run took %.0f s)." % (s["command"],
                                                         s["graceinit_version"],
                                                         s["seconds"]),
        "",
        "A pod (an init + an HTTP app that exits the moment it gets SIGTERM) behind a load "
        "balancer that keeps routing to it for **P = %g s** after its deletion; clients at "
        "**%g requests/s** from %g s before the deletion to %g s after it; grace period "
        "**%g s**; EndpointSlice watch scenarios: the fake API server flips the endpoint to "
        "not ready at T0 + P, graceinit's `--endpoints-margin` is %g s. *Failed*: connection "
        "refused/reset, 5xx from the pod, timeouts; *not routed*: answered 503 by the load "
        "balancer itself once it stopped routing to the pod (in a cluster: sent to the other "
        "replicas)." % (s["propagation"], s["rate"], s["warmup"], s["after"], s["grace"],
                        s["margin"]),
        "",
        "| # | scenario | failed | not routed | ok | deletion → stop signal | deletion → exit "
        "| target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for i, sc in enumerate(s["scenarios"], 1):
        if not sc.get("ran"):
            lines.append("| %d | %s | did not run: %s | | | | | |" % (i, sc["title"],
                                                                       sc["error"]))
            continue
        stop = "%.2f s" % sc["deletion_to_stop"] if sc["deletion_to_stop"] is not None else "-"
        if sc["name"] == "no-init":
            stop += " (SIGKILL)"
        exit_ = "%.2f s" % sc["deletion_to_exit"]
        if sc.get("exit_after_flip") is not None:
            exit_ += " (flip + %.2f s)" % sc["exit_after_flip"]
        if sc["sidecar"] and sc["deletion_to_pod_end"] != sc["deletion_to_exit"]:
            exit_ += "; sidecar %.2f s" % sc["deletion_to_pod_end"]
        targets = "; ".join("%s %s" % ("met:" if t["met"] else "**MISSED**:", t["what"])
                            for t in sc["targets"]) or "-"
        name = "[%s](%s)" % (sc["title"].replace("|", "\\|"), pngs[i]) if i in pngs \
            else sc["title"].replace("|", "\\|")
        lines.append("| %d | %s | %s | %d | %d | %s | %s | %s |" % (
            i, name, fmt_failed(sc), sc["counts"]["not_routed"], sc["counts"]["ok"], stop,
            exit_, targets))
    lines += ["", "Overall: **%s**." % ("all targets met" if s["passed"] else
                                        "a target was missed or a scenario did not run"), ""]
    loads = ["%d: %.1f → %.1f" % (i, sc["loadavg_before"], sc["loadavg_after"])
             for i, sc in enumerate(s["scenarios"], 1) if "loadavg_before" in sc]
    if loads:
        lines += ["The machine's 1-minute load average (%d CPUs) before → after each scenario: "
                  "%s. The timings are to the millisecond on an idle machine; under load "
                  "every process, graceinit included, runs late." % (os.cpu_count(),
                                                                      "; ".join(loads)), ""]
    if "summary.png" in pngs.values():
        lines += ["![summary](summary.png)", ""]
    for i in sorted(k for k in pngs if isinstance(k, int)):
        lines += ["![%s](%s)" % (s["scenarios"][i - 1]["name"], pngs[i]), ""]
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--publish", help="copy the PNGs and results.md to this directory")
    ap.add_argument("--table-only", action="store_true")
    args = ap.parse_args()
    summary = load(args.out)
    ran = [(i, sc) for i, sc in enumerate(summary["scenarios"], 1) if sc.get("ran")]
    pngs = {}
    if not args.table_only:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        for name in os.listdir(args.out):  # pictures of an earlier run
            if name.endswith(".png"):
                os.remove(os.path.join(args.out, name))
        for i, sc in ran:
            timeline(plt, args.out, summary, i, sc)
            pngs[i] = png_name(i, sc)
        if ran:
            summary_png(plt, args.out, summary, ran)
            pngs["summary"] = "summary.png"
    text = table(summary, pngs)
    with open(os.path.join(args.out, "results.md"), "w") as f:
        f.write(text)
    print(text)
    if args.publish:
        os.makedirs(args.publish, exist_ok=True)
        for name in os.listdir(args.publish):
            if name.endswith(".png") or name == "results.md":
                os.remove(os.path.join(args.publish, name))
        for name in list(pngs.values()) + ["results.md"]:
            shutil.copy(os.path.join(args.out, name), os.path.join(args.publish, name))
        print("published to %s" % args.publish)
    return 0


if __name__ == "__main__":
    sys.exit(main())
