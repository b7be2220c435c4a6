#!/usr/bin/env bash
# `make bench`: builds the release binaries (corefeed, corefeed-sim, corefeed-bench), runs the
# load/latency harness against the simulator and the local RabbitMQ/Redis, then (unless
# BENCH_QUICK=1 or BENCH_MICRO=0) the criterion micro-benchmarks, and writes bench/results/.
#   BENCH_QUICK=1   short windows, fewer and smaller scenarios (about 1.5 minutes)
#   BENCH_ONLY=ingest,e2e,latency,idle,cores,production,sockets   run a subset
# The sockets scenario needs one descriptor per socket: the soft RLIMIT_NOFILE is raised to the
# hard limit here (raising the hard limit itself needs CAP_SYS_RESOURCE; corefeed-bench tries).
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO=${CARGO:-cargo}

$CARGO build --release --bins -p corefeed -p corefeed-bench

if [[ "${BENCH_QUICK:-0}" == "0" && "${BENCH_MICRO:-1}" != "0" ]]; then
  echo "== micro-benchmarks (criterion) =="
  $CARGO bench -p corefeed-bench --bench micro -- --warm-up-time 1 --measurement-time 2 --noplot 2>&1 \
    | grep -E '^[a-z_/ ]+time:|^[a-z]' | grep -v '^Benchmarking' || true
fi

ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

args=()
[[ -n "${BENCH_ONLY:-}" ]] && args+=(--only "$BENCH_ONLY")
exec ./target/release/corefeed-bench --root . "${args[@]}"
