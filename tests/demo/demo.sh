#!/usr/bin/env bash
# A demo you can watch: why a container needs an init, then graceinit as PID 1 in its own PID
# namespace (as a container runtime starts it) forwarding, rewriting, reaping and exiting with
# the app's status; then its Kubernetes face: the probe endpoints and a drain (not ready at
# once, the stop signal only after the drain delay). Needs root (unshare) and a build (made here
# if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
top=$PWD
bin=$top/build/graceinit
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

if [ ! -x "$bin" ]; then
	say "building graceinit"
	cmake -S . -B build >/dev/null && cmake --build build -j"$(nproc)" >/dev/null
fi

# The outside pid of a namespace's PID 1: the only child of `unshare --fork`.
init_of() {
	local u=$1 kids=""
	for _ in $(seq 200); do
		kids=$(cat "/proc/$u/task/$u/children" 2>/dev/null || true)
		[ -n "$kids" ] && { echo "${kids%% *}"; return; }
		sleep 0.01
	done
	echo "no init under $u" >&2
	exit 1
}
inside() { nsenter -t "$1" -p -m -- "${@:2}"; }

say "1. The problem: a shell as PID 1 ignores SIGTERM"
unshare --pid --fork --mount-proc sh -c 'sleep 100; :' 2>/dev/null &
u=$!
pid1=$(init_of $u)
sleep 0.2
echo "\$ kill -TERM <PID 1>   (what 'docker stop' and the kubelet do)"
kill -TERM "$pid1"
sleep 2
if kill -0 "$pid1" 2>/dev/null; then
	echo "still running 2 s later: the kubelet would wait out the grace period, then SIGKILL."
fi
kill -KILL "$pid1"
wait $u 2>/dev/null || true

say "2. graceinit as PID 1, supervising tests/demo/app.sh"
echo "\$ graceinit --log-level debug --rewrite USR2:HUP -- sh tests/demo/app.sh"
unshare --pid --fork --mount-proc "$bin" --log-level debug --rewrite USR2:HUP -- \
	sh tests/demo/app.sh &
u=$!
pid1=$(init_of $u)
sleep 0.5
echo "--- the namespace's processes (ps inside it):"
inside "$pid1" ps -o pid,ppid,pgid,stat,args -e
sleep 0.2

say "3. Signals are forwarded to the app's process group"
echo "(the shell prints 'Hangup' when its own 'sleep' child, in the same group, gets the signal too)"
echo "\$ kill -HUP <PID 1>"
kill -HUP "$pid1"
sleep 0.5
echo "\$ kill -USR2 <PID 1>   (--rewrite USR2:HUP turns it into SIGHUP)"
kill -USR2 "$pid1"
sleep 0.5

say "4. Orphans are reaped"
echo "\$ kill -USR1 <PID 1>   (the app makes 200 orphans; graceinit inherits and reaps them)"
kill -USR1 "$pid1"
sleep 0.2
echo "processes in the namespace now: $(inside "$pid1" ps -e --no-headers | wc -l)"
sleep 1.5
echo "1.5 s later, zombies left: $(inside "$pid1" ps -e -o stat= | grep -c '^Z' || true)"

say "5. SIGTERM: the app shuts down cleanly and graceinit exits with its status"
start=$(date +%s%N)
echo "\$ kill -TERM <PID 1>"
kill -TERM "$pid1"
set +e
wait $u
status=$?
set -e
echo "graceinit exited with status $status after $((($(date +%s%N) - start) / 1000000)) ms"

say "6. The Kubernetes face: graceinit serves the pod's probes"
echo "\$ graceinit --http :9797 --drain-delay 2s --grace-period 10s -- sh tests/demo/app.sh"
echo "  (in its own PID and network namespace, like a pod)"
unshare --pid --fork --mount-proc --net sh -c 'ip link set lo up && exec "$0" "$@"' \
	"$bin" --http :9797 --drain-delay 2s --grace-period 10s -- sh tests/demo/app.sh &
u=$!
pid1=$(init_of $u)
get() { nsenter -t "$pid1" -n -- curl -s -w '%{http_code}' -o "${2:-/dev/null}" "http://127.0.0.1:9797$1"; }
for _ in $(seq 100); do [ "$(get /livez)" = 200 ] && break; sleep 0.05; done
for path in /livez '/readyz?verbose'; do
	echo "\$ curl localhost:9797$path"
	nsenter -t "$pid1" -n -- curl -s "http://127.0.0.1:9797$path"
done
echo "\$ curl localhost:9797/status   (abridged)"
nsenter -t "$pid1" -n -- curl -s http://127.0.0.1:9797/status |
	python3 -c 'import json,sys; d=json.load(sys.stdin); [print(f"  {k}: {json.dumps(d[k])}") for k in ("state","ready","live","child","drain")]'
echo "\$ curl localhost:9797/metrics | grep -E '^graceinit_(ready|live|zombies)'"
nsenter -t "$pid1" -n -- curl -s http://127.0.0.1:9797/metrics | grep -E '^graceinit_(ready|live|zombies)'

say "7. A drain: SIGTERM (what the kubelet sends when the pod is deleted)"
echo "The pod goes not-ready at once, so load balancers stop sending it requests; the app"
echo "gets its stop signal only after --drain-delay, while it still serves what arrives."
start=$(date +%s%N)
kill -TERM "$pid1"
while kill -0 "$pid1" 2>/dev/null; do
	ms=$((($(date +%s%N) - start) / 1000000))
	r=$(get /readyz 2>/dev/null || true)
	l=$(get /livez 2>/dev/null || true)
	[ -n "$r" ] && printf '  +%4d ms   /readyz %s   /livez %s\n' "$ms" "$r" "$l"
	sleep 0.4
done
set +e
wait $u
status=$?
set -e
echo "graceinit exited with status $status after $((($(date +%s%N) - start) / 1000000)) ms"
say "done"
