#!/usr/bin/env bash
# `make demo` (offline): corefeed-sim on 127.0.0.1:9300 (candles close every 3 s), corefeed with
# deploy/config.sim.toml, then corefeed-demo's live summary of Redis and RabbitMQ.
# Both background processes are stopped on exit or Ctrl-C; logs go to a temp dir.
#   DEMO_SECONDS=30 (0 = until Ctrl-C)   SIM_ADDR=127.0.0.1:9300
set -euo pipefail
cd "$(dirname "$0")/.."
SIM_ADDR=${SIM_ADDR:-127.0.0.1:9300}
CONFIG=${DEMO_CONFIG:-deploy/config.sim.toml}
BIN=./target/release
LOGS=$(mktemp -d -t corefeed-demo.XXXXXX)

cargo build --release --bins -p corefeed -p corefeed-bench >&2

pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  echo "demo: stopped corefeed and corefeed-sim; logs in $LOGS" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if curl -fsS "http://$SIM_ADDR/health" >/dev/null 2>&1; then
  echo "demo: something already answers on $SIM_ADDR; stop it first (or set SIM_ADDR and a matching DEMO_CONFIG)" >&2
  exit 1
fi
"$BIN/corefeed-sim" --listen "$SIM_ADDR" --symbols 50 --candle-close-ms 3000 \
  >"$LOGS/sim.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do curl -fsS "http://$SIM_ADDR/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://$SIM_ADDR/health" >/dev/null || { echo "demo: corefeed-sim did not start; see $LOGS/sim.log" >&2; tail "$LOGS/sim.log" >&2; exit 1; }
echo "demo: corefeed-sim up on $SIM_ADDR (log $LOGS/sim.log)" >&2

HTTP=$(sed -n 's/^listen *= *"\(.*\)"/\1/p' "$CONFIG" | head -1)
HTTP=${HTTP:-127.0.0.1:3000}
"$BIN/corefeed" run --config "$CONFIG" >"$LOGS/corefeed.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 150); do curl -fsS "http://$HTTP/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fsS "http://$HTTP/health" >/dev/null || { echo "demo: corefeed did not answer /health on $HTTP; see $LOGS/corefeed.log" >&2; tail -20 "$LOGS/corefeed.log" >&2; exit 1; }
echo "demo: corefeed up, http://$HTTP/health ok (log $LOGS/corefeed.log)" >&2

"$BIN/corefeed-demo"
