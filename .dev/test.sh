#!/usr/bin/env bash
# Runs every check CI runs, in this order, and stops at the first failure:
# setup (with the browser, the fuzzing tools, the warehouse venv and the replicas' services),
# the services started (PostgreSQL and Garage, .dev/services.sh), rustfmt, clippy (native and
# wasm32), unit, integration and doc tests, every fuzz target for a short bounded
# time, the engine's tests in headless Chromium (WASM), the release wasm build, the engine's
# browser tests again as the app ships them (optimised),
# then the browser tests against the real server.
#
#   bash .dev/test.sh
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/sieve/target); SIEVE_FUZZ_SECONDS,
# seconds per fuzz target (default 25; `bash .dev/fuzz.sh` is the long run);
# SIEVE_FUZZ_TARGET_DIR (see .dev/fuzz.sh); SIEVE_VENV, the Python venv with chdb that
# app/engine/tests/clickhouse.rs runs (default ~/.cache/sieve/venv, set in .dev/common.sh);
# SIEVE_SERVICES_DIR, where PostgreSQL and Garage keep their data for the replica tests (default
# a new temporary directory, stopped and removed at the end).

# shellcheck source=.dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT" || exit

SIEVE_BIN="$CARGO_TARGET_DIR/debug/sieve"
# Output of the test runners, for the closing count.
TEST_LOG="$(mktemp -t sieve-test-log.XXXXXX)"
# The replica tests' PostgreSQL and Garage (tests/src/services.rs reads the variable).
if [[ -z ${SIEVE_SERVICES_DIR:-} ]]; then
    SIEVE_SERVICES_DIR="$(mktemp -d -t sieve-services.XXXXXX)"
    # PostgreSQL runs as the `postgres` user when we are root: it must reach its directory.
    chmod 755 "$SIEVE_SERVICES_DIR"
    remove_services_dir=true
else
    remove_services_dir=false
fi
export SIEVE_SERVICES_DIR
cleanup() {
    rm -f "$TEST_LOG"
    bash "$ROOT/.dev/services.sh" stop "$SIEVE_SERVICES_DIR" >/dev/null 2>&1 || true
    if [[ $remove_services_dir == true ]]; then
        rm -rf "$(readlink -f "$SIEVE_SERVICES_DIR/postgres")" "$SIEVE_SERVICES_DIR"
    fi
}
trap cleanup EXIT

# Run a test runner, keeping a copy of its output for count_tests.
logged() {
    "$@" 2>&1 | tee -a "$TEST_LOG"
}

# "tests: N passed, N failed" over cargo test's and node's closing lines.
count_tests() {
    awk '
        /^test result: / { for (i = 1; i <= NF; i++) { if ($(i) ~ /^passed;?$/) pass += $(i - 1); if ($(i) ~ /^failed;?$/) fail += $(i - 1) } }
        /^# pass [0-9]+$/ { pass += $3 }
        /^# fail [0-9]+$/ { fail += $3 }
        END { printf "tests: %d passed, %d failed\n", pass, fail }
    ' "$TEST_LOG"
}

browser_tests() {
    # The node test runner picks up tests/browser/**/*.test.mjs.
    (cd tests/browser && SIEVE_BIN="$SIEVE_BIN" SIEVE_DIST="$ROOT/dist" logged node --test)
}

started=$SECONDS
step "setup (build tools + browser + fuzzing + warehouse + services)" bash .dev/setup.sh --browser --fuzz --warehouse --services
step "services (PostgreSQL, Garage) in $SIEVE_SERVICES_DIR" bash .dev/services.sh start "$SIEVE_SERVICES_DIR"
step "rustfmt" cargo fmt --all --check
step "clippy (native)" cargo clippy --workspace --all-targets -- -D warnings
step "clippy (wasm32)" cargo clippy -p app -p engine --target wasm32-unknown-unknown -- -D warnings
step "tests" logged cargo test --workspace --all-targets
step "doc tests" logged cargo test --workspace --doc
# Each fuzz target from the committed corpora for a short bounded time: any crash fails the run.
step "fuzzing (${SIEVE_FUZZ_SECONDS:-25}s per target, unoptimised build)" \
    env SIEVE_FUZZ_PROFILE="${SIEVE_FUZZ_PROFILE:-dev}" bash .dev/fuzz.sh "${SIEVE_FUZZ_SECONDS:-25}"
# The engine as the browser runs it: app/tests/ in headless Chromium (wasm-bindgen-test-runner
# drives chromedriver; it adds --headless and --no-sandbox itself). The benchmark there is
# #[ignore]d: .dev/bench-browser.sh runs it.
step "wasm tests (headless Chromium)" logged env CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    CHROMEDRIVER="$(command -v chromedriver)" WASM_BINDGEN_TEST_TIMEOUT=300 \
    cargo test --target wasm32-unknown-unknown -p app --tests
step "app build (trunk build --release)" trunk build --release
# The engine's browser tests again, compiled as the app ships (profile wasm-release, after the
# trunk build so its dependencies are built): a SIMD128 kernel once passed unoptimised and
# summed wrongly optimised.
step "wasm tests, shipped profile (headless Chromium)" logged env \
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    CHROMEDRIVER="$(command -v chromedriver)" WASM_BINDGEN_TEST_TIMEOUT=300 \
    cargo test --profile wasm-release --target wasm32-unknown-unknown -p app --test engine_in_browser
# Debug build: its dependencies are already compiled by the test step.
step "server build (sieve)" cargo build -p server --bin sieve
step "browser tests (tests/browser)" browser_tests
print_step_times
say "all checks passed in $((SECONDS - started))s"
count_tests
