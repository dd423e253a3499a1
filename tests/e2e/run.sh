#!/usr/bin/env bash
# graceinit's end-to-end drain test: a pod (an init + a naive HTTP app that exits the moment it
# gets SIGTERM) behind a load balancer that keeps routing to it for P seconds after its
# deletion, clients at a steady rate, and a kubelet that deletes the pod the way Kubernetes
# does (preStop hook, SIGTERM, SIGKILL at the grace period). Compares no init, tini, dumb-init,
# the preStop-sleep workaround and graceinit (fixed delay, EndpointSlice watch, sidecar), then
# draws a timeline per scenario and a summary. As root:
#
#   tests/e2e/run.sh            full run: all scenarios, P 3 s, grace 15 s, 100 req/s (~3 min)
#   tests/e2e/run.sh --quick    smoke run for CI (< 60 s): tini + graceinit with the watch,
#                               P 1 s, grace 6 s, 20 req/s; no timing assertion, but fails when
#                               graceinit loses a request, its watch does not confirm the
#                               deregistration, or a scenario cannot run
#
# Options: --out DIR (default build-e2e/), --graceinit PATH (default $GRACEINIT_BIN, else a
# Release build in OUT/graceinit-build), --scenarios a,b (no-init, tini, dumb-init,
# prestop-sleep, graceinit-delay, graceinit-watch, graceinit-sidecar), --propagation S,
# --grace S, --rate N, --drain-delay S, --margin S (--endpoints-margin), --no-install,
# --no-publish / --publish (copy the PNGs and results.md to tests/e2e/results/: by default
# only a full run of all scenarios with the default parameters does).
#
# Everything runs in two network namespaces made here, "node" (load balancer, clients, fake
# Kubernetes API server) and "pod", joined by a veth pair 10.250.0.1/30 <-> 10.250.0.2/30 that
# exists only inside them; nothing is added to the host's interfaces. The namespaces, the veth
# and every process in them are removed on exit.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
command_line="tests/e2e/run.sh${*:+ $*}"

out="$repo/build-e2e"
quick=0
graceinit="${GRACEINIT_BIN:-}"
scenarios=""
install=1
publish=auto
opts=()

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
die() { echo "run.sh: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=1 ;;
	--out) out=$2; shift ;;
	--graceinit) graceinit=$2; shift ;;
	--scenarios) scenarios=$2; shift ;;
	--propagation | --grace | --rate | --drain-delay | --margin) opts+=("$1" "$2"); shift ;;
	--no-install) install=0 ;;
	--no-publish) publish=no ;;
	--publish) publish=yes ;;
	-h | --help) usage; exit 0 ;;
	*) die "unknown option $1 (see --help)" ;;
	esac
	shift
done
[ "$(id -u)" = 0 ] || die "needs root (network and PID namespaces)"
mkdir -p "$out"
out=$(cd "$out" && pwd)
export PYTHONDONTWRITEBYTECODE=1

# -- what the test needs, from Debian's packages ------------------------------------------------
need=()
for pair in ip:iproute2 unshare:util-linux nsenter:util-linux tini:tini dumb-init:dumb-init \
	/usr/bin/python3:python3 openssl:openssl cc:gcc; do
	command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
[ -n "$graceinit" ] || command -v cmake >/dev/null 2>&1 || need+=(cmake build-essential)
plots=1
if ! /usr/bin/python3 -c 'import matplotlib' >/dev/null 2>&1; then
	if [ "$quick" = 1 ]; then
		plots=0 # the smoke run does not install a plotting stack just for CI
	else
		need+=(python3-matplotlib)
	fi
fi
if [ "${#need[@]}" -gt 0 ]; then
	[ "$install" = 1 ] || die "missing packages: ${need[*]} (and --no-install)"
	echo "== installing ${need[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# -- the binaries -------------------------------------------------------------------------------
if [ -z "$graceinit" ]; then
	echo "== building graceinit (Release) in $out/graceinit-build"
	cmake -S "$repo" -B "$out/graceinit-build" -DGRACEINIT_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$out/graceinit-build" -j"$(nproc)" >/dev/null
	graceinit="$out/graceinit-build/graceinit"
fi
[ -x "$graceinit" ] || die "no graceinit binary at $graceinit"
graceinit=$(cd "$(dirname "$graceinit")" && pwd)/$(basename "$graceinit")
cc -O2 -Wall -Wextra -pthread -o "$out/e2e-app" "$here/app.c"

# -- the namespaces -----------------------------------------------------------------------------
node_ns="e2e-node-$$"
pod_ns="e2e-pod-$$"
kubelet_pid=""
cleanup() {
	local ns pids
	if [ -n "$kubelet_pid" ]; then
		kill -TERM "$kubelet_pid" 2>/dev/null || true
	fi
	for ns in "$pod_ns" "$node_ns"; do
		[ -e "/run/netns/$ns" ] || continue
		# Only processes of the namespaces made here: this run's pods, clients and servers.
		pids=$(ip netns pids "$ns" 2>/dev/null || true)
		if [ -n "$pids" ]; then
			# shellcheck disable=SC2086
			kill -KILL $pids 2>/dev/null || true
		fi
		ip netns del "$ns" 2>/dev/null || true
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

ip netns add "$node_ns"
ip netns add "$pod_ns"
# Both ends are created directly inside the namespaces: the veth never exists on the host.
ip link add veth-pod netns "$node_ns" type veth peer name eth0 netns "$pod_ns"
ip -n "$node_ns" addr add 10.250.0.1/30 dev veth-pod
ip -n "$pod_ns" addr add 10.250.0.2/30 dev eth0
for ns in "$node_ns" "$pod_ns"; do ip -n "$ns" link set lo up; done
ip -n "$node_ns" link set veth-pod up
ip -n "$pod_ns" link set eth0 up

# -- the run ------------------------------------------------------------------------------------
args=(--graceinit "$graceinit" --app "$out/e2e-app" --pod-netns "/run/netns/$pod_ns"
	--out "$out" --command "$command_line")
if [ "$quick" = 1 ]; then
	args+=(--quick --scenarios "${scenarios:-tini,graceinit-watch}" --propagation 1 --grace 6
		--rate 20 --warmup 1 --after 3 --margin 0.5)
else
	args+=(--scenarios "${scenarios:-all}")
fi
args+=("${opts[@]+"${opts[@]}"}")
echo "== graceinit $("$graceinit" --version 2>&1 | head -1); output in $out"
rm -f "$out/summary.json" "$out/results.md" # never report an earlier run's
rc=0
# In the background so that a signal to this script is handled at once (the trap), not when
# the run ends; timeout is a hard bound on the whole run, whatever happens inside.
# nice -10: the test times events to the millisecond, on machines that may be busy.
timeout -s KILL "$([ "$quick" = 1 ] && echo 240 || echo 900)" nice -n -10 \
	ip netns exec "$node_ns" /usr/bin/python3 "$here/kubelet.py" "${args[@]}" &
kubelet_pid=$!
wait "$kubelet_pid" || rc=$?
kubelet_pid=""
cleanup

# -- pictures and the table ---------------------------------------------------------------------
if [ ! -f "$out/summary.json" ]; then
	echo "run.sh: no summary (kubelet.py exited $rc)" >&2
	exit "$((rc ? rc : 1))"
fi
if [ "$publish" = auto ]; then
	publish=no
	[ "$quick" = 0 ] && [ -z "$scenarios" ] && [ "${#opts[@]}" = 0 ] && publish=yes
fi
plot_args=(--out "$out")
[ "$publish" = yes ] && plot_args+=(--publish "$here/results")
if [ "$plots" = 1 ]; then
	/usr/bin/python3 "$here/plot.py" "${plot_args[@]}" || rc=$((rc ? rc : 1))
else
	/usr/bin/python3 "$here/plot.py" --table-only "${plot_args[@]}" || rc=$((rc ? rc : 1))
	echo "(python3-matplotlib not installed: no pictures in the smoke run)"
fi
exit "$rc"
