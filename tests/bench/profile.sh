#!/usr/bin/env bash
# Where graceinit's start-up, signal and exit time goes, to go with run.sh's figures. As root:
#
#   tests/bench/profile.sh [--graceinit PATH] [--graceinit-static PATH] [--runs N] [--out DIR]
#
# 1. Start-up: fork + exec + exit wall time (bench_timeit, interleaved, median and p10-p90 in
#    ms) of empty-main probes linked against nothing, each library graceinit links directly,
#    and all of them (with graceinit's -z relro -z now), beside graceinit --version itself, the
#    static build and tini: what the dynamic loader and the libraries' constructors cost before
#    graceinit's main() runs a single line.
# 2. Signals and exit: graceinit as PID 1 (bench_run idle) with strace attached: the system
#    calls from the signalfd read to the kill() that forwards a SIGUSR1, then a SIGTERM, then
#    from the child's reaping to exit_group, with the time between calls (strace -r; strace
#    makes each call slower, the order and the gaps are what matter).
# Needs gcc, binutils (readelf), strace (installed with apt-get unless --no-install).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
graceinit="" static="" runs=300 out="$repo/build-bench/profile" install=1
while [ $# -gt 0 ]; do
	case "$1" in
	--graceinit) graceinit=$2; shift 2 ;;
	--graceinit-static) static=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--out) out=$2; shift 2 ;;
	--no-install) install=0; shift ;;
	*) echo "usage: $0 [--graceinit PATH] [--graceinit-static PATH] [--runs N] [--out DIR]" \
		"[--no-install]" >&2; exit 2 ;;
	esac
done
[ "$(id -u)" = 0 ] || { echo "profile.sh: needs root (PID namespaces)" >&2; exit 1; }
if ! command -v strace >/dev/null || ! command -v readelf >/dev/null; then
	[ "$install" = 1 ] || { echo "profile.sh: needs strace and binutils" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends strace binutils
fi
mkdir -p "$out"
if [ -z "$graceinit" ]; then
	cmake -S "$repo" -B "$out/graceinit-build" -DGRACEINIT_TESTS=OFF \
		-DCMAKE_BUILD_TYPE=Release >/dev/null
	cmake --build "$out/graceinit-build" -j2 >/dev/null
	graceinit="$out/graceinit-build/graceinit"
fi
if [ -z "$static" ] && [ -x "$repo/build-static/graceinit" ]; then
	static="$repo/build-static/graceinit"
fi
for t in timeit run child; do
	gcc -O2 -static -std=gnu11 -Wall -Wextra -o "$out/bench_$t" "$here/$t.c"
done

echo "## 1. Start-up: fork + exec + exit, ms (median p10 p90; $runs runs each, interleaved)"
echo
probes=()
printf 'int main(void) { return 0; }\n' >"$out/empty.c"
mapfile -t needed < <(readelf -d "$graceinit" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p' |
	grep -v '^libc\.so')
gcc -O2 -o "$out/probe-nothing" "$out/empty.c"
probes+=("$out/probe-nothing")
all=()
for lib in "${needed[@]}"; do
	name=${lib%%.so*}
	gcc -O2 -o "$out/probe-$name" "$out/empty.c" -Wl,--no-as-needed "-l:$lib"
	probes+=("$out/probe-$name")
	all+=("-l:$lib")
done
gcc -O2 -o "$out/probe-all-lazy" "$out/empty.c" -Wl,--no-as-needed "${all[@]}"
gcc -O2 -o "$out/probe-all" "$out/empty.c" -Wl,-z,relro,-z,now -Wl,--no-as-needed "${all[@]}"
probes+=("$out/probe-all-lazy" "$out/probe-all" "$graceinit")
[ -n "$static" ] && probes+=("$static")
for b in /usr/bin/tini /usr/bin/tini-static; do [ -x "$b" ] && probes+=("$b"); done
printf '%-8s %-8s %-8s %-5s %s\n' median p10 p90 libs program
"$out/bench_timeit" "$runs" "${probes[@]}" | while read -r med p10 p90 prog; do
	libs=$(ldd "$prog" 2>/dev/null | grep -c '=>' || true)
	printf '%-8s %-8s %-8s %-5s %s\n' "$med" "$p10" "$p90" "$libs" "${prog#"$out"/}"
done
echo
echo "(probe-X: an empty main() linked against X only; probe-all: against all of graceinit's"
echo "libraries with -z relro -z now as graceinit is; libs: shared objects loaded, from ldd)"

echo
echo "## 2. Signals and exit: strace -r of graceinit as PID 1"
echo
fifo="$out/fifo"
"$out/bench_run" -f "$fifo" idle -- "$graceinit" -- "$out/bench_child" "$fifo" \
	>"$out/idle.out" 2>"$out/idle.err" &
runner=$!
for _ in $(seq 100); do grep -q '^main=' "$out/idle.out" 2>/dev/null && break; sleep 0.05; done
pid=$(sed -n 's/^init=//p' "$out/idle.out")
[ -n "$pid" ] || { echo "graceinit did not start:"; cat "$out/idle.err"; exit 1; }
strace -r -T -p "$pid" -o "$out/strace.txt" 2>/dev/null &
tracer=$!
sleep 0.5
kill -USR1 "$pid"
sleep 0.2
kill -TERM "$pid"
wait "$runner" || true
wait "$tracer" || true
echo '```'
cat "$out/strace.txt"
echo '```'
echo
echo "(first column: seconds since the previous call began. SIGUSR1: read of the signalfd, then"
echo "kill(). SIGTERM: everything between the read and kill() delays the app's stop signal."
echo "Exit: the gap before exit_group is the libraries' destructors.)"
