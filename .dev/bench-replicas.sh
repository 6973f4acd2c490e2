#!/usr/bin/env bash
# The embedded default against replicas on PostgreSQL + S3 (Garage), one machine, one run:
# upload (publish) latency, /estimate capacity and latency (closed loop), membership
# (/users/{id}/tags) latency at a fixed rate (open loop); then the same reads split over two
# replicas. One server runs at a time, except the two replicas together. Prints markdown rows
# for BENCHMARKS.md.
#
#   bash .dev/bench-replicas.sh          # about 5 minutes after the builds
#
# Environment (all optional):
#   USERS          synthetic users (default 1000000; 100 groups x 20 values, `sieve synth`,
#                  cached under ~/.cache/sieve/bench-replicas)
#   RUN_SECONDS    seconds per load run (default 10)
#   RATE           membership requests per second offered (default 1000)
#   UPLOADS        timed uploads per store (default 5)

# shellcheck source=.dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT" || exit

USERS="${USERS:-1000000}"
RUN_SECONDS="${RUN_SECONDS:-10}"
RATE="${RATE:-1000}"
UPLOADS="${UPLOADS:-5}"
WORK="$HOME/.cache/sieve/bench-replicas/u$USERS"
LOGS="$(mktemp -d -t sieve-bench-replicas.XXXXXX)"
SERVICES="$WORK/services"
say "logs in $LOGS"

step "build sieve and sieve-load (release)" cargo build --release -p server --bin sieve -p sieve-tests --bin sieve-load
step "services (PostgreSQL, Garage)" bash .dev/setup.sh --services-only
SIEVE="$CARGO_TARGET_DIR/release/sieve"
LOAD="$CARGO_TARGET_DIR/release/sieve-load"

synthesise() {
    rm -rf "$WORK/data" "$WORK/tokens.json" && mkdir -p "$WORK"
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
mkdir -p "$SERVICES" && chmod 755 "$SERVICES"

# A fresh database and bucket prefix for this run, then the embedded data copied into them.
eval "$(bash .dev/services.sh start "$SERVICES")"
RUN="bench_$(date +%s)"
PSQL="$(postgres_bin_dir)/psql"
"$PSQL" -X -q "${SIEVE_META_URL%/*}/postgres" -c "CREATE DATABASE $RUN"
export SIEVE_META_URL="${SIEVE_META_URL%/*}/$RUN" SIEVE_BLOB_URL="$SIEVE_BLOB_URL/$RUN"
step "sieve migrate (the synthetic app into PostgreSQL + Garage)" "$SIEVE" migrate --data-dir "$WORK/data"

PIDS=()
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
# serve NAME PORT [ENV...]: a release server; embedded when no env is given.
serve() {
    local name="$1" port="$2"
    shift 2
    local data="$WORK/data"
    if (($#)); then
        data="$LOGS/$name-data"
    fi
    env "$@" RUST_LOG=warn "$SIEVE" serve --addr "127.0.0.1:$port" --data-dir "$data" --dist "$WORK/dist" \
        --admin-token "$ADMIN" --max-inflight 64 >>"$LOGS/$name.out" 2>>"$LOGS/$name.err" &
    PIDS+=($!)
    for _ in $(seq 300); do curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null && return; sleep 0.1; done
    die "$name did not start: $LOGS/$name.err"
}
stop_all() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
    PIDS=()
}
ADMIN="bench-$RANDOM$RANDOM"
SHARED=("SIEVE_META_URL=$SIEVE_META_URL" "SIEVE_BLOB_URL=$SIEVE_BLOB_URL")

cat >"$LOGS/rule.jsonl" <<'EOF'
{"rule":{"all":[{"tag":"g000","in":["v0","v1","v2","v3"]},{"not":{"tag":"g001","in":["v0"]}},{"tag":"g002","in":["v1","v3","v5"]},{"any":[{"tag":"g003","in":["v0"]},{"tag":"g004","in":["v1"]}]},{"tag":"g005","in":["v2","v5","v7"]}]}}
EOF
python3 - "$LOGS/upload.csv" <<'EOF'
import sys
with open(sys.argv[1], "w") as f:
    f.write("user_id,value\n")
    for u in range(100_000):
        f.write(f"u{u},v{u % 7}\n")
EOF

# measure LABEL SLUG PORT: upload latency, then (after warming up on the last version)
# estimate capacity and membership latency against one server.
measure() {
    local label="$1" slug="$2" port="$3" i times=() editor
    editor="$(curl -sf -H "Authorization: Bearer $ADMIN" -d '{"role":"editor"}' \
        "http://127.0.0.1:$port/api/v1/apps/bench/tokens" | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')"
    local ds
    ds="$(latest_ds "$port")"
    for ((i = 0; i < UPLOADS; i++)); do
        # Each upload changes the values (a new version), so every one publishes.
        sed "s/,v\([0-9]\)\$/,w\1-$slug-$i/" "$LOGS/upload.csv" >"$LOGS/upload-$i.csv"
        times+=("$(curl -sf -o /dev/null -w '%{time_total}' -X PUT -H "Authorization: Bearer $editor" \
            --data-binary @"$LOGS/upload-$i.csv" "http://127.0.0.1:$port/api/v1/apps/bench/days/$ds/tags/bench_up")")
    done
    printf '%s upload (100,000 rows, %s runs): min %s s, median %s s\n' "$label" "$UPLOADS" \
        "$(printf '%s\n' "${times[@]}" | sort -n | head -n 1)" "$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((UPLOADS + 1) / 2))p")" |
        tee -a "$LOGS/uploads.txt"
    warm "$port"
    "$LOAD" --addr "127.0.0.1:$port" --label "$label: estimate capacity" --token "$VIEWER" --method POST \
        --path /api/v1/apps/bench/estimate --body-file "$LOGS/rule.jsonl" --closed --rate 1 --connections 4 \
        --seconds "$RUN_SECONDS" >>"$LOGS/rows.md"
    tail -n 1 "$LOGS/rows.md"
    "$LOAD" --addr "127.0.0.1:$port" --label "$label: membership $RATE/s" --token "$SERVICE" \
        --path '/api/v1/apps/bench/users/u{user}/tags' --users "$USERS" --connections 32 --rate "$RATE" \
        --seconds "$RUN_SECONDS" >>"$LOGS/rows.md"
    tail -n 1 "$LOGS/rows.md"
}
# warm PORT: the latest version's membership index and decoded bitmaps, before timed reads
# (the first lookup of a version builds, or takes, its index); how long it took goes to the log.
warm() {
    local started=$SECONDS
    curl -sf -o /dev/null -w "port $1: first membership lookup %{time_total} s\n" -H "Authorization: Bearer $SERVICE" \
        "http://127.0.0.1:$1/api/v1/apps/bench/users/u1/tags" | tee -a "$LOGS/uploads.txt"
    curl -sf -o /dev/null -H "Authorization: Bearer $VIEWER" -d @"$LOGS/rule.jsonl" "http://127.0.0.1:$1/api/v1/apps/bench/estimate"
    note "warmed up in $((SECONDS - started)) s"
}
# The app's latest published day, as a server lists it.
latest_ds() {
    curl -sf -H "Authorization: Bearer $VIEWER" "http://127.0.0.1:$1/api/v1/apps/bench/days" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["days"][-1]["ds"])'
}

serve embedded 18301
measure embedded embedded 18301
stop_all
serve replica 18302 "${SHARED[@]}"
measure "PostgreSQL + S3, one replica" pg 18302
stop_all

# Two replicas together: the same reads split over both (each at half the rate, 2 connections
# each for the estimates), after each warmed up.
serve r1 18303 "${SHARED[@]}"
serve r2 18304 "${SHARED[@]}"
LOADS=()
# r1 builds nothing new (the one-replica run shared the last version's index); r2 takes it too.
for port in 18303 18304; do warm "$port"; done
for port in 18303 18304; do
    "$LOAD" --addr "127.0.0.1:$port" --label "two replicas, $port: estimate capacity" --token "$VIEWER" --method POST \
        --path /api/v1/apps/bench/estimate --body-file "$LOGS/rule.jsonl" --closed --rate 1 --connections 2 \
        --seconds "$RUN_SECONDS" >"$LOGS/two-est-$port.md" &
    LOADS+=($!)
done
wait "${LOADS[@]}"
LOADS=()
cat "$LOGS"/two-est-*.md | tee -a "$LOGS/rows.md"
for port in 18303 18304; do
    "$LOAD" --addr "127.0.0.1:$port" --label "two replicas, $port: membership $((RATE / 2))/s" --token "$SERVICE" \
        --path '/api/v1/apps/bench/users/u{user}/tags' --users "$USERS" --connections 16 --rate "$((RATE / 2))" \
        --seconds "$RUN_SECONDS" >"$LOGS/two-mem-$port.md" &
    LOADS+=($!)
done
wait "${LOADS[@]}"
cat "$LOGS"/two-mem-*.md | tee -a "$LOGS/rows.md"
stop_all
say "rows (sieve-load's columns)"
cat "$LOGS/rows.md"
cat "$LOGS/uploads.txt"
