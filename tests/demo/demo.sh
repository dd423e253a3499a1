#!/usr/bin/env bash
# A demo you can watch: why a container needs an init, then graceinit as PID 1 in its own PID
# namespace (as a container runtime starts it) forwarding, rewriting, reaping and exiting with
# the app's status. Needs root (unshare) and a build (made here if missing).
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
say "done"
