#!/usr/bin/env bash
# Runs Sieve locally: installs the build tools (setup.sh, no browser), builds the
# app with trunk and the server with cargo (both release), loads demo data through
# the upload routes on the first run, then serves app and API on
# http://127.0.0.1:8080 and prints a sign-in link for the demo app (Ctrl-C stops).
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

# Demo data for a first run (no ./data yet): `sieve demo` writes the CSV files a user would
# upload, then a temporary server takes them through the real HTTP upload routes (`sieve
# load`), creating the app `demo`, its tokens and a few example segments. Everything happens
# in ./data.partial, renamed to ./data only when it all succeeded, so an interrupted first run
# is simply redone. The CSVs are removed afterwards (they are only input).
prepare_demo_data() {
    local scratch=./data.partial
    rm -rf "$scratch"
    mkdir -p "$scratch"
    local size=()
    [[ -z ${SIEVE_DEMO_USERS:-} ]] || size+=(--users "$SIEVE_DEMO_USERS")
    [[ -z ${SIEVE_DEMO_DAYS:-} ]] || size+=(--days "$SIEVE_DEMO_DAYS")
    "$SIEVE" demo --out "$scratch/demo-csv" "${size[@]}"
    local port=18089
    RUST_LOG=warn "$SIEVE" serve --addr "127.0.0.1:$port" --data-dir "$scratch" --dist ./dist --admin-token "$ADMIN_TOKEN" &
    local loader_server=$!
    # shellcheck disable=SC2064 # expand now: the pid is known now
    trap "kill $loader_server 2>/dev/null || true" EXIT
    local ready=""
    for _ in $(seq 100); do
        if curl -sf "http://127.0.0.1:$port/api/v1/health" >/dev/null; then ready=1; break; fi
        sleep 0.1
    done
    [[ -n $ready ]] || die "the loading server did not start"
    "$SIEVE" load --url "http://127.0.0.1:$port" --admin-token "$ADMIN_TOKEN" --dir "$scratch/demo-csv" \
        --tokens-out "$scratch/demo-tokens.json"
    kill "$loader_server" && wait "$loader_server" 2>/dev/null || true
    trap - EXIT
    rm -rf "$scratch/demo-csv"
    mv "$scratch" "$DATA_DIR"
}

# The admin token: SIEVE_ADMIN_TOKEN if set, else one made on the first run and kept in
# ./.sieve-admin-token (git-ignored), so the same token works across runs.
admin_token() {
    if [[ -n ${SIEVE_ADMIN_TOKEN:-} ]]; then
        printf '%s' "$SIEVE_ADMIN_TOKEN"
    else
        [[ -s .sieve-admin-token ]] || head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > .sieve-admin-token
        cat .sieve-admin-token
    fi
}

step "setup (build tools)" bash .dev/setup.sh
step "build the app (trunk build --release)" build_app
step "build the server (cargo build --release)" build_server
ADMIN_TOKEN="$(admin_token)"
if [[ -e $DATA_DIR ]]; then
    note "using the existing $DATA_DIR"
else
    step "demo data (first run)" prepare_demo_data
fi
print_step_times

say "Sieve on http://$ADDR (Ctrl-C stops)"
if [[ -s $DATA_DIR/demo-tokens.json ]]; then
    editor=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["editor"])' "$DATA_DIR/demo-tokens.json")
    say "Sign in to the demo app: http://$ADDR/signin#app=demo&token=$editor"
fi
exec "$SIEVE" serve --addr "$ADDR" --data-dir "$DATA_DIR" --dist ./dist --admin-token "$ADMIN_TOKEN"
