#!/usr/bin/env bash
# Issue 7's benchmark report: one run on the same generated data, rewritten into BENCHMARKS.md
# between the markers `<!-- report:begin -->` and `<!-- report:end -->`.
#
#   bash .dev/bench-report.sh           # 10M and 100M users (11-20 min on 2 cores: the first run
#                                       # also generates 5 GB of data, about 2 min)
#   bash .dev/bench-report.sh --quick   # 1M users, a couple of minutes (for development)
#   bash .dev/bench-report.sh --render ~/.cache/sieve/report-runs/<date>
#                                       # only rewrite the section from a stored run (after
#                                       # editing app/engine/peers/notes.md or report.py)
#
# Steps: a Python venv at .venv with the pinned SQL peers (app/engine/peers/requirements.txt;
# Debian's python3-venv is installed when missing); the data, generated once per size into
# $SIEVE_REPORT_DATA (default ~/.cache/sieve/report-data); the Rust peers (engine, CRoaring,
# roaring-rs; wire bytes per tag); the SQL peers (chDB, DuckDB), which must return the engine's
# counts; the browser bench (.dev/bench-browser.sh: WASM in Chromium vs native, its own 10M
# population); then the report. Raw results stay in ~/.cache/sieve/report-runs/<date>/.
# Every peer's count must equal the engine's: any difference stops the run.

# shellcheck source=.dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT" || exit

PEERS_DIR="$ROOT/app/engine/peers"
VENV="$ROOT/.venv"

# Writes BENCHMARKS.md's section from the run in folder $1.
render() {
    "$VENV/bin/python" "$PEERS_DIR/report.py" --run "$1" --lock "$PEERS_DIR/Cargo.lock" \
        --notes "$PEERS_DIR/notes.md" --benchmarks "$ROOT/BENCHMARKS.md"
}

quick=false
while [[ $# -gt 0 ]]; do
    case "$1" in
        --quick) quick=true ;;
        --render)
            [[ -d ${2:-} ]] || die "--render needs a run folder (~/.cache/sieve/report-runs/<date>)"
            render "$2"
            exit 0
            ;;
        -h | --help)
            sed -n '2,18p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument: $1 (try --help)" ;;
    esac
    shift
done

if [[ $quick == true ]]; then
    SIZES=(1000000)
    BROWSER_USERS=1000000
    BUDGET_MS=600
else
    SIZES=(10000000 100000000)
    BROWSER_USERS=10000000
    BUDGET_MS=1500
fi
DATA_ROOT="${SIEVE_REPORT_DATA:-$HOME/.cache/sieve/report-data}"
RUN="$HOME/.cache/sieve/report-runs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$RUN" "$DATA_ROOT"
say "raw results in $RUN"

machine() {
    local when="$1"
    {
        echo "${when}_epoch=$(date +%s)"
        echo "${when}_date=$(date -u '+%Y-%m-%d %H:%M UTC')"
        echo "${when}_load=$(cut -d' ' -f1-3 /proc/loadavg)"
        if [[ $when == start ]]; then
            echo "cpu=$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
            echo "cpus=$(nproc)"
            echo "ram_kib=$(awk '/^MemTotal:/ {print $2}' /proc/meminfo)"
            # shellcheck source=/dev/null
            echo "os=$(. /etc/os-release && echo "$PRETTY_NAME")"
            echo "rustc=$(rustc --version)"
            echo "commit=$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- app .dev || echo ' with local changes')"
            echo "quick=$quick"
        fi
    } >>"$RUN/machine.env"
}
machine start
# The 1-minute load average every 10 s: the report says how busy the shared machine was.
(while true; do cut -d' ' -f1 /proc/loadavg; sleep 10; done) >"$RUN/load.txt" &
LOAD_SAMPLER=$!
trap 'kill "$LOAD_SAMPLER" 2>/dev/null || true' EXIT

venv() {
    if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c 'import ensurepip' 2>/dev/null; then
        apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv
    fi
    [[ -x $VENV/bin/python ]] || python3 -m venv "$VENV"
    # Installs only when a pin is missing or different (pip's own check is slower).
    if ! "$VENV/bin/python" - "$PEERS_DIR/requirements.txt" <<'PY'; then
import sys
from importlib.metadata import PackageNotFoundError, version
for line in open(sys.argv[1]):
    line = line.split("#")[0].strip()
    if line:
        name, pin = line.split("==")
        try:
            if version(name) != pin:
                sys.exit(1)
        except PackageNotFoundError:
            sys.exit(1)
PY
        "$VENV/bin/pip" install -q -r "$PEERS_DIR/requirements.txt"
    fi
}

browser_tools() {
    local tool
    for tool in chromium chromedriver wasm-bindgen-test-runner wasm-dis node; do
        command -v "$tool" >/dev/null || {
            bash "$ROOT/.dev/setup.sh" --browser
            return
        }
    done
}

step "python venv with the SQL peers" venv
step "browser tools" browser_tools
step "build the Rust peers" cargo build --release --locked --manifest-path "$PEERS_DIR/Cargo.toml"
PEERS="$CARGO_TARGET_DIR/release/peers"

for users in "${SIZES[@]}"; do
    step "data: $users users" "$PEERS" gen --users "$users" --data-root "$DATA_ROOT"
    step "Rust peers: $users users" "$PEERS" run --users "$users" --data-root "$DATA_ROOT" \
        --out "$RUN/rust-$users.json" --budget-ms "$BUDGET_MS"
    step "SQL peers: $users users" "$VENV/bin/python" "$PEERS_DIR/peers.py" --data "$DATA_ROOT/users-$users" \
        --expect "$RUN/rust-$users.json" --out "$RUN/sql-$users.json" --budget-ms "$BUDGET_MS"
done

# The browser bench builds and times its own population (the engine bench's, in the browser's
# memory): WASM in Chromium and native, same code, same data, same run.
browser() {
    SIEVE_BENCH_USERS="$BROWSER_USERS" SIEVE_BENCH_SAMPLE_USERS=0 SIEVE_BENCH_SHIPPED=0 SIEVE_BENCH_BUNDLE=0 \
        bash "$ROOT/.dev/bench-browser.sh" >"$RUN/browser.md"
}
step "browser bench: $BROWSER_USERS users, WASM vs native" browser

machine end
kill "$LOAD_SAMPLER" 2>/dev/null || true
printf '%s\n' "${STEP_TIMES[@]}" >"$RUN/steps.txt"
step "BENCHMARKS.md" render "$RUN"
print_step_times
