#!/usr/bin/env bash
# graceinit's micro-benchmarks against tini, dumb-init and catatonit, all as PID 1 of a fresh
# PID namespace, in one interleaved run. As root:
#
#   tests/bench/run.sh            full run (a few minutes; < 10 min), builds graceinit Release
#   tests/bench/run.sh --quick    smoke run for CI (< 60 s), never asserts on timings
#
# Options: --out DIR (default build-bench/), --graceinit PATH (skip the build),
# --graceinit-static PATH|none, --inits a,b,..., --reps N, --no-install. See bench.py.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
export BENCH_COMMAND="${BENCH_COMMAND:-$0${*:+ $*}}"
exec /usr/bin/python3 "$here/bench.py" "$@"
