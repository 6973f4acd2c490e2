#!/usr/bin/env bash
# Membership API (`/user/tags`) load test, DESIGN.md §6: 10M users × 2,000 tag values on this
# machine against 127.0.0.1. Writes the synthetic app once (cached under
# ~/.cache/sieve/bench-membership), then runs wrk (closed loop: peak throughput) and sieve-load
# (open loop at fixed rates, latency from the intended send time) and prints their figures.
#   RATES="10000 20000" sets the open-loop rates.
#   bash .dev/bench-membership.sh            # 10M users, 30 s
#   USERS=1000000 DURATION=10s bash .dev/bench-membership.sh
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sieve/target}"
USERS="${USERS:-10000000}"
DURATION="${DURATION:-30s}"
CONNECTIONS="${CONNECTIONS:-64}"
PORT="${PORT:-18181}"
WORK="${BENCH_DIR:-$HOME/.cache/sieve/bench-membership}/u$USERS"

command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; }
cargo build --release -p server --bin sieve
cargo build --release -p sieve-tests --bin sieve-load
SIEVE="$CARGO_TARGET_DIR/release/sieve"
if [ ! -f "$WORK/tokens.json" ]; then
  rm -rf "$WORK" && mkdir -p "$WORK"
  "$SIEVE" synth --data-dir "$WORK/data" --users "$USERS" --groups 100 --values-per-group 20 --tokens-out "$WORK/tokens.json.tmp"
  mv "$WORK/tokens.json.tmp" "$WORK/tokens.json"
fi
TOKEN=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["service"])' "$WORK/tokens.json")
mkdir -p "$WORK/dist" && echo '<!doctype html>' > "$WORK/dist/index.html"
# The first lookup builds the version's index (20-35 s at 10M users), longer than the default
# request timeout; opening a 10M-user data dir takes ~10 s.
RUST_LOG=warn "$SIEVE" serve --addr "127.0.0.1:$PORT" --data-dir "$WORK/data" --dist "$WORK/dist" --max-inflight 4096 \
  --request-timeout-secs 300 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 600); do curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null && break; sleep 0.1; done
# The first lookup builds the version's membership index; time it separately.
START=$(date +%s.%N)
curl -sf -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/api/v1/apps/bench/users/u1/tags" >/dev/null
echo "first lookup (builds the index): $(echo "$(date +%s.%N) - $START" | bc) s"
echo "server RSS after warm-up: $(($(awk '/VmRSS/{print $2}' /proc/$SERVER/status) / 1024)) MiB"
USERS="$USERS" TOKEN="$TOKEN" APP=bench wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency \
  -s tests/load/membership.lua "http://127.0.0.1:$PORT"
echo "server RSS after the run: $(($(awk '/VmRSS/{print $2}' /proc/$SERVER/status) / 1024)) MiB"
for rate in ${RATES:-10000 20000 30000}; do
  "$CARGO_TARGET_DIR/release/sieve-load" --addr "127.0.0.1:$PORT" --token "$TOKEN" --rate "$rate" \
    --seconds "${DURATION%s}" --connections 32 --users "$USERS" \
    --path '/api/v1/apps/bench/users/u{user}/tags' --pid "$SERVER" | tail -1
done
