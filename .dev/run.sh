#!/usr/bin/env bash
# Runs Sieve locally: installs the build tools (setup.sh, no browser), builds the
# app with trunk and the server with cargo (both release), creates demo data on
# the first run, then serves app and API on http://127.0.0.1:8080 (Ctrl-C stops).
#
#   bash .dev/run.sh
#
# Environment: SIEVE_ADDR (default 127.0.0.1:8080); SIEVE_DEMO_USERS and
# SIEVE_DEMO_DAYS (size of the first run's demo data; default: `sieve demo`'s own,
# 1,000,000 users over 30 days, about 2 GB of CSV); CARGO_TARGET_DIR (default
# ~/.cache/sieve/target).

# shellcheck source=.dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT" || exit

ADDR="${SIEVE_ADDR:-127.0.0.1:8080}"
DATA_DIR=./data
SIEVE="$CARGO_TARGET_DIR/release/sieve"

build_app() {
    trunk build --release
}

build_server() {
    cargo build --release -p server --bin sieve
}

# Demo data for a first run (no ./data yet). For now this step generates the
# demo CSVs with `sieve demo` into data/demo-csv, which is what a later ingest
# step loads into the server; the server itself starts on an empty store.
# It writes into a scratch folder first and renames it to ./data only when
# generation succeeded, so an interrupted first run is simply redone.
prepare_demo_data() {
    local scratch=./data.partial
    rm -rf "$scratch"
    mkdir -p "$scratch"
    local size=()
    [[ -z ${SIEVE_DEMO_USERS:-} ]] || size+=(--users "$SIEVE_DEMO_USERS")
    [[ -z ${SIEVE_DEMO_DAYS:-} ]] || size+=(--days "$SIEVE_DEMO_DAYS")
    "$SIEVE" demo --out "$scratch/demo-csv" "${size[@]}"
    mv "$scratch" "$DATA_DIR"
    note "demo CSVs in $DATA_DIR/demo-csv: $(find "$DATA_DIR/demo-csv" -type f | wc -l) files"
}

step "setup (build tools)" bash .dev/setup.sh
step "build the app (trunk build --release)" build_app
step "build the server (cargo build --release)" build_server
if [[ -e $DATA_DIR ]]; then
    note "using the existing $DATA_DIR"
else
    step "demo data (first run)" prepare_demo_data
fi
print_step_times

say "Sieve on http://$ADDR (Ctrl-C stops)"
exec "$SIEVE" serve --addr "$ADDR" --data-dir "$DATA_DIR" --dist ./dist
