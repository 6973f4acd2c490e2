# shellcheck shell=bash
# Shared by the .dev scripts: strict mode, paths, logging, the tool environment.
# Source it; don't run it.

set -Eeuo pipefail

# Any failing command ends the script and says which step it was in.
CURRENT_STEP=""
on_error() {
    local status=$1 line=$2
    printf 'ERROR: %s failed (exit %s, %s line %s)\n' \
        "${CURRENT_STEP:-command}" "$status" "${BASH_SOURCE[1]##*/}" "$line" >&2
    exit "$status"
}
trap 'on_error $? $LINENO' ERR

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export ROOT

# One shared target dir for every cargo and trunk command (this machine has two
# cores and several people building: never a second one).
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sieve/target}"
export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
# wasm-opt from npm binaryen@132 comes first, so Debian's binaryen (which builds
# a page that breaks at run time) is never picked up; then cargo-installed tools.
export PATH="$ROOT/.dev/node_modules/.bin:$CARGO_HOME/bin:$PATH"
# The Python venv with chdb (ClickHouse in-process) that the engine's warehouse bitmap
# tests run (`bash .dev/setup.sh --warehouse` makes it).
export SIEVE_VENV="${SIEVE_VENV:-$HOME/.cache/sieve/venv}"
# Trunk's update check only fails here (no network but the registries).
export TRUNK_SKIP_VERSION_CHECK=true

if [[ -t 1 ]]; then BOLD=$'\033[1m' RED=$'\033[1;31m' PLAIN=$'\033[0m'; else BOLD="" RED="" PLAIN=""; fi
say() { printf '%s==> %s%s\n' "$BOLD" "$*" "$PLAIN"; }
note() { printf '    %s\n' "$*"; }
die() {
    printf '%sERROR: %s%s\n' "$RED" "$*" "$PLAIN" >&2
    exit 1
}

# Run a named step and report how long it took; a failing step ends the script
# (through the ERR trap above).
step() {
    local name="$1"
    shift
    local started=$SECONDS
    CURRENT_STEP="$name"
    say "$name"
    "$@"
    CURRENT_STEP=""
    note "ok: $name ($((SECONDS - started))s)"
    STEP_TIMES+=("$(printf '%5ss  %s' "$((SECONDS - started))" "$name")")
}
STEP_TIMES=()

print_step_times() {
    say "timings"
    local line
    for line in "${STEP_TIMES[@]}"; do
        note "$line"
    done
}

# The wasm-bindgen version the app is built with: the one locked in Cargo.lock.
locked_version() {
    local package="$1"
    awk -v want="$package" '
        /^\[\[package\]\]/ { name = "" }
        /^name = /         { gsub(/"/, "", $3); name = $3 }
        /^version = /      { if (name == want) { gsub(/"/, "", $3); print $3; exit } }
    ' "$ROOT/Cargo.lock"
}

# The directory of PostgreSQL's server binaries (the newest Debian installs), or nothing.
postgres_bin_dir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x $dir/initdb && -x $dir/pg_ctl ]] && {
            echo "$dir"
            return
        }
    done
}
