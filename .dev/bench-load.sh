#!/usr/bin/env bash
# Open-loop load on 127.0.0.1 (sieve-load: fixed request rates, latency from the intended send
# time), bounded in time: the membership API and /estimate at fixed rates, then /estimate's
# capacity (closed loop) and an overload run at 3x that capacity, which should answer the excess
# with fast 503s while admitted requests keep their latency and memory stays flat. Prints
# markdown for BENCHMARKS.md, with the server's RSS sampled every 100 ms.
#
#   bash .dev/bench-load.sh                      # about 3 minutes after the builds
#   USERS=10000000 bash .dev/bench-load.sh
#
# Environment (all optional):
#   USERS            synthetic users (default 1000000; 100 groups x 20 values, `sieve synth`,
#                    cached under ~/.cache/sieve/bench-load)
#   RUN_SECONDS      seconds per run (default 15)
#   MAX_INFLIGHT     the server's --max-inflight (default 4: two per core; 8 made 503s ~8x slower)
#   MEMBERSHIP_RATES open-loop rates for /users/{id}/tags (default "5000 10000")
#   OVERLOAD         multiple of the measured capacity offered in the overload run (default 3)
#   CONTRAST=0       skip the last run: the same overload against a server that does not shed
#                    (--max-inflight 100000), to show what shedding prevents
#   PORT             (default 18191)

# shellcheck source=.dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT" || exit

USERS="${USERS:-1000000}"
RUN_SECONDS="${RUN_SECONDS:-15}"
MAX_INFLIGHT="${MAX_INFLIGHT:-4}"
MEMBERSHIP_RATES="${MEMBERSHIP_RATES:-5000 10000}"
OVERLOAD="${OVERLOAD:-3}"
PORT="${PORT:-18191}"
WORK="$HOME/.cache/sieve/bench-load/u$USERS"
LOGS="$(mktemp -d -t sieve-bench-load.XXXXXX)"
say "logs in $LOGS"

step "build sieve and sieve-load (release)" cargo build --release -p server --bin sieve -p sieve-tests --bin sieve-load
SIEVE="$CARGO_TARGET_DIR/release/sieve"
LOAD="$CARGO_TARGET_DIR/release/sieve-load"

synthesise() {
    rm -rf "$WORK" && mkdir -p "$WORK"
    "$SIEVE" synth --data-dir "$WORK/data" --users "$USERS" --groups 100 --values-per-group 20 \
        --tokens-out "$WORK/tokens.json.tmp" >"$LOGS/synth.log" 2>&1
    mv "$WORK/tokens.json.tmp" "$WORK/tokens.json"
}
if [[ ! -f $WORK/tokens.json ]]; then
    step "synthesise $USERS users x 2,000 tag values (once; cached)" synthesise
fi
token() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$WORK/tokens.json" "$1"; }
VIEWER="$(token viewer)"
SERVICE="$(token service)"
mkdir -p "$WORK/dist" && echo '<!doctype html>' >"$WORK/dist/index.html"

# Estimates of 2, 5 and 10 conditions over the synthetic groups (exact tier), in turn.
cat >"$LOGS/rules.jsonl" <<'EOF'
{"rule":{"all":[{"tag":"g000","in":["v0","v1"]},{"tag":"g001","in":["v2"]}]}}
{"rule":{"all":[{"tag":"g000","in":["v0","v1","v2"]},{"not":{"tag":"g001","in":["v0"]}},{"tag":"g002","in":["v1","v3"]},{"any":[{"tag":"g003","in":["v0"]},{"tag":"g004","in":["v1"]}]},{"tag":"g005","in":["v2","v5"]}]}}
{"rule":{"all":[{"tag":"g000","in":["v0","v1","v2","v3"]},{"not":{"tag":"g001","in":["v0"]}},{"tag":"g002","in":["v1","v3","v5"]},{"any":[{"tag":"g003","in":["v0"]},{"tag":"g004","in":["v1"]}]},{"tag":"g005","in":["v2","v5","v7"]},{"not":{"tag":"g006","in":["v3"]}},{"tag":"g007","in":["v0","v1","v2","v4"]},{"any":[{"tag":"g008","in":["v1"]},{"tag":"g009","in":["v2","v3"]}]},{"not":{"tag":"g010","in":["v0"]}},{"tag":"g011","in":["v0","v1","v2","v3","v4","v5"]}]}}
EOF

SERVER=""
trap 'if [[ -n $SERVER ]]; then kill "$SERVER" 2>/dev/null || true; fi' EXIT
# start_server MAX_INFLIGHT: a release server on the synthetic data; its pid in $SERVER.
start_server() {
    RUST_LOG=warn "$SIEVE" serve --addr "127.0.0.1:$PORT" --data-dir "$WORK/data" --dist "$WORK/dist" \
        --max-inflight "$1" >>"$LOGS/server.out" 2>>"$LOGS/server.err" &
    SERVER=$!
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null && break; sleep 0.1; done
    curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null || die "the server did not start: $LOGS/server.err"
}
stop_server() {
    kill "$SERVER" 2>/dev/null || true
    wait "$SERVER" 2>/dev/null || true
    SERVER=""
}
start_server "$MAX_INFLIGHT"

# warm_up FILE: the first lookup builds the version's membership index, the first estimates
# decode bitmaps; their answers go to FILE.
warm_up() {
    curl -sf -H "Authorization: Bearer $SERVICE" "http://127.0.0.1:$PORT/api/v1/apps/bench/users/u1/tags" >/dev/null
    while read -r rule; do
        curl -sf -H "Authorization: Bearer $VIEWER" -d "$rule" "http://127.0.0.1:$PORT/api/v1/apps/bench/estimate" >>"$1"
        echo >>"$1"
    done <"$LOGS/rules.jsonl"
}
step "warm up (membership index, decoded bitmaps)" warm_up "$LOGS/estimates.txt"

# load LABEL ARGS...: one sieve-load run; its table row to $LOGS/rows.md, RSS series to $LOGS/rss.txt.
load() {
    local label="$1"
    shift
    "$LOAD" --addr "127.0.0.1:$PORT" --pid "$SERVER" --label "$label" "$@" >>"$LOGS/rows.md" 2>"$LOGS/rss-current.txt"
    local line
    while IFS= read -r line; do printf '%s: %s\n' "$label" "$line"; done <"$LOGS/rss-current.txt" >>"$LOGS/rss.txt"
    tail -n 1 "$LOGS/rows.md"
}
estimate() { load "$@" --token "$VIEWER" --method POST --path /api/v1/apps/bench/estimate --body-file "$LOGS/rules.jsonl"; }
membership() {
    load "$@" --token "$SERVICE" --path '/api/v1/apps/bench/users/u{user}/tags' --users "$USERS" --connections 32
}

for rate in $MEMBERSHIP_RATES; do
    step "membership at $rate req/s" membership "membership, $rate/s" --rate "$rate" --seconds "$RUN_SECONDS"
done
step "estimate capacity (closed loop, $MAX_INFLIGHT connections)" \
    estimate "estimate capacity" --closed --rate 1 --connections "$MAX_INFLIGHT" --seconds 10
CAPACITY="$(tail -n 1 "$LOGS/rows.md" | awk -F'|' '{gsub(/ /, "", $4); print $4}')"
[[ $CAPACITY =~ ^[0-9]+$ && $CAPACITY -gt 0 ]] || die "could not read the capacity from: $(tail -n 1 "$LOGS/rows.md")"
HALF=$((CAPACITY / 2))
OVER=$((CAPACITY * OVERLOAD))
step "estimate at half capacity ($HALF req/s)" \
    estimate "estimate, ½ capacity" --rate "$HALF" --connections 32 --seconds "$RUN_SECONDS"
# Enough connections that requests beyond --max-inflight reach the server (and are shed there)
# instead of waiting in the generator.
step "estimate at ${OVERLOAD}x capacity ($OVER req/s)" \
    estimate "estimate, ${OVERLOAD}× capacity" --rate "$OVER" --connections $((MAX_INFLIGHT * 8)) --seconds "$RUN_SECONDS"
step "estimate at half capacity again, after the overload" \
    estimate "estimate, ½ capacity, after" --rate "$HALF" --connections 32 --seconds "$RUN_SECONDS"
if [[ ${CONTRAST:-1} != 0 ]]; then
    # Without shedding, the same overload queues: latency from the intended send time grows for
    # as long as the run lasts (the generator's connections bound what reaches the server).
    stop_server
    start_server 100000
    step "warm up the non-shedding server" warm_up /dev/null
    # A third of the run length: the backlog it builds takes about three times as long to drain.
    CONTRAST_SECONDS=$(((RUN_SECONDS + 2) / 3))
    step "estimate at ${OVERLOAD}x capacity for ${CONTRAST_SECONDS}s, without load shedding" \
        estimate "estimate, ${OVERLOAD}× capacity, no shedding, ${CONTRAST_SECONDS} s" --rate "$OVER" \
        --connections $((MAX_INFLIGHT * 8)) --seconds "$CONTRAST_SECONDS"
fi

say "results"
echo "Load on 127.0.0.1, $(date -u '+%Y-%m-%d %H:%M UTC'): $(lscpu | sed -n 's/^Model name: *//p' | head -n 1)," \
    "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $USERS users x 2,000 tag values;" \
    "server --max-inflight $MAX_INFLIGHT; $RUN_SECONDS s per run; commit $(git rev-parse --short HEAD)$(git diff --quiet HEAD || echo ' with local changes')."
echo
echo "| run | offered req/s | answered req/s | ok | ok p50 ms | ok p99 ms | ok p99.9 ms | ok max ms | shed 503 | 503 p50 ms | 503 p99 ms | other errors | server RSS MiB (start → max → end) |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
cat "$LOGS/rows.md"
echo
echo "Server RSS (MiB) per second of each run:"
echo '```'
cat "$LOGS/rss.txt"
echo '```'
echo "Estimate answers (count per rule):"
echo '```'
cat "$LOGS/estimates.txt"
echo '```'
print_step_times
