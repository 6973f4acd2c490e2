#!/usr/bin/env bash
# Installs what building and testing Sieve needs, on a Debian machine that has
# only the Rust toolchain. Idempotent: each tool is checked with --version and
# installed only when missing or at the wrong version.
#
#   bash .dev/setup.sh             build tools: wasm32 target, trunk, wasm-bindgen, wasm-opt
#   bash .dev/setup.sh --browser   also Debian chromium + chromium-driver and the
#                                  browser tests' npm packages (tests/browser)
#   bash .dev/setup.sh --fuzz      also the nightly toolchain (rustup) and cargo-fuzz,
#                                  for the fuzz targets in app/engine/fuzz
#   bash .dev/setup.sh --fuzz-only only those (what .dev/fuzz.sh needs)
#   bash .dev/setup.sh --warehouse also a Python venv at $SIEVE_VENV (default
#                                  ~/.cache/sieve/venv) with pinned chdb (ClickHouse
#                                  in-process) and pyarrow: the real warehouse the
#                                  engine's bitmap codec tests check against
#   bash .dev/setup.sh --warehouse-only  only that venv
#   bash .dev/setup.sh --services  also the real services replicas use, for
#                                  .dev/services.sh and the replica tests: Debian
#                                  postgresql and Garage (crates.io, S3-compatible)
#   bash .dev/setup.sh --services-only  only those
#
# Everything it installs lives in $CARGO_HOME/bin, rustup's toolchains,
# .dev/node_modules, tests/browser/node_modules, $SIEVE_VENV, or comes from
# Debian's packages.

# shellcheck source=.dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

TRUNK_VERSION=0.21.14
BINARYEN_VERSION=132
CARGO_FUZZ_VERSION=0.13.2
# chdb 4.4.0 embeds ClickHouse 26.9; the engine's tests/clickhouse.rs reads its groupBitmap states.
CHDB_VERSION=4.4.0
PYARROW_VERSION=26.0.1
# Garage: a distributed S3-compatible object store (AGPL; only ever run as a separate process).
GARAGE_VERSION=2.5.0

with_build_tools=true
with_browser=false
with_fuzz=false
with_warehouse=false
with_services=false
for arg in "$@"; do
    case "$arg" in
        --browser) with_browser=true ;;
        --fuzz) with_fuzz=true ;;
        --fuzz-only)
            with_fuzz=true
            with_build_tools=false
            ;;
        --warehouse) with_warehouse=true ;;
        --warehouse-only)
            with_warehouse=true
            with_build_tools=false
            ;;
        --services) with_services=true ;;
        --services-only)
            with_services=true
            with_build_tools=false
            ;;
        -h | --help)
            sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *) die "unknown argument: $arg (try --help)" ;;
    esac
done

# ---------------------------------------------------------------- helpers

# First line of `CMD --version`, or nothing when CMD is missing or fails.
version_of() {
    command -v "$1" >/dev/null 2>&1 || return 0
    "$@" --version 2>/dev/null | head -n 1 || true
}

apt_updated=false
apt_install() {
    local sudo=()
    if [[ $EUID -ne 0 ]]; then
        command -v sudo >/dev/null || die "need root (or sudo) to apt-get install $*"
        sudo=(sudo)
    fi
    if [[ $apt_updated == false ]]; then
        note "\$ apt-get update"
        "${sudo[@]}" apt-get update -q || die "apt-get update failed"
        apt_updated=true
    fi
    note "\$ apt-get install -y $*"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "$@" ||
        die "apt-get install $* failed"
}

# Package version recorded in an npm package-lock.json.
npm_locked_version() {
    local lock="$1" package="$2"
    node -e '
        const lock = require(process.argv[1]);
        const entry = lock.packages["node_modules/" + process.argv[2]];
        if (!entry) process.exit(1);
        console.log(entry.version);
    ' "$lock" "$package"
}

# Package version installed in a node_modules folder, or nothing.
npm_installed_version() {
    local dir="$1" package="$2"
    local manifest="$dir/node_modules/$package/package.json"
    [[ -f $manifest ]] || return 0
    node -p 'require(process.argv[1]).version' "$manifest"
}

# `npm ci` in DIR unless PACKAGE is already installed there at its locked version.
npm_ci_if_needed() {
    local dir="$1" package="$2" locked installed
    locked="$(npm_locked_version "$dir/package-lock.json" "$package")" ||
        die "$package is not in $dir/package-lock.json"
    installed="$(npm_installed_version "$dir" "$package")"
    if [[ $installed == "$locked" ]]; then
        note "$package $installed already installed in ${dir#"$ROOT"/}"
        return
    fi
    note "installing $package $locked in ${dir#"$ROOT"/} (found: ${installed:-none})"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error) || die "npm ci in $dir failed"
}

# ---------------------------------------------------------------- steps

ensure_system_packages() {
    local missing=()
    command -v cc >/dev/null || missing+=(gcc libc6-dev)
    command -v node >/dev/null || missing+=(nodejs)
    command -v npm >/dev/null || missing+=(npm)
    if ((${#missing[@]})); then
        apt_install "${missing[@]}"
    fi
    # playwright-core and the browser tests (import.meta.dirname) need Node.js
    # 20.11 or newer; Debian 12's own nodejs is 18, enough for wasm-opt only.
    local node_version
    node_version="$(node --version)"
    if [[ $with_browser == true ]]; then
        node -e '
            const [major, minor] = process.versions.node.split(".").map(Number);
            process.exit(major > 20 || (major === 20 && minor >= 11) ? 0 : 1);
        ' || die "Node.js $node_version is too old for the browser tests: they need 20.11 or newer"
    fi
    note "cc present, node $node_version, npm $(npm --version 2>/dev/null)"
}

ensure_wasm_target() {
    if rustup target list --installed | grep -qx wasm32-unknown-unknown; then
        note "wasm32-unknown-unknown already installed"
    else
        rustup target add wasm32-unknown-unknown || die "rustup target add failed"
    fi
}

ensure_trunk() {
    local found
    found="$(version_of trunk)"
    if [[ $found == "trunk $TRUNK_VERSION" ]]; then
        note "$found already installed"
        return
    fi
    note "installing trunk $TRUNK_VERSION (found: ${found:-none}); ~8 min on 2 cores"
    # Newer trunk (0.22) needs a newer rustc than this toolchain.
    cargo install --locked "trunk@$TRUNK_VERSION" || die "cargo install trunk failed"
    [[ "$(version_of trunk)" == "trunk $TRUNK_VERSION" ]] ||
        die "trunk on PATH is '$(version_of trunk)', expected $TRUNK_VERSION: $(command -v trunk)"
}

ensure_wasm_bindgen() {
    local want found pinned
    want="$(locked_version wasm-bindgen)"
    [[ -n $want ]] || die "no wasm-bindgen package in Cargo.lock"
    pinned="$(sed -n 's/^wasm_bindgen *= *"\(.*\)"/\1/p' "$ROOT/Trunk.toml")"
    [[ $pinned == "$want" ]] ||
        die "Trunk.toml pins wasm_bindgen = \"$pinned\" but Cargo.lock has wasm-bindgen $want; make them equal"
    found="$(version_of wasm-bindgen)"
    if [[ $found == "wasm-bindgen $want" ]]; then
        note "$found already installed (matches Cargo.lock)"
        return
    fi
    note "installing wasm-bindgen-cli $want (found: ${found:-none}); ~3 min on 2 cores"
    # Not --locked: one of its locked dependency versions is missing from the
    # registry mirror.
    cargo install --force "wasm-bindgen-cli@$want" || die "cargo install wasm-bindgen-cli failed"
    [[ "$(version_of wasm-bindgen)" == "wasm-bindgen $want" ]] ||
        die "wasm-bindgen on PATH is '$(version_of wasm-bindgen)', expected $want: $(command -v wasm-bindgen)"
}

ensure_wasm_opt() {
    npm_ci_if_needed "$ROOT/.dev" binaryen
    local found
    found="$(version_of wasm-opt)"
    [[ $found == *"version $BINARYEN_VERSION"* ]] ||
        die "wasm-opt on PATH is '${found:-missing}' ($(command -v wasm-opt || true)), expected version $BINARYEN_VERSION"
    [[ "$(command -v wasm-opt)" == "$ROOT/.dev/node_modules/.bin/wasm-opt" ]] ||
        die "wasm-opt on PATH is not the npm one: $(command -v wasm-opt)"
    note "$found ($(command -v wasm-opt))"
}

ensure_chromium() {
    if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
        note "$(version_of chromium), $(version_of chromedriver) already installed"
        return
    fi
    apt_install chromium chromium-driver
    note "$(version_of chromium)"
}

ensure_browser_test_packages() {
    npm_ci_if_needed "$ROOT/tests/browser" playwright-core
}

# libFuzzer instrumentation (-Z sanitizer flags) needs a nightly compiler; any recent one will do.
ensure_nightly() {
    if rustup toolchain list | grep -q '^nightly'; then
        note "$(rustup run nightly rustc --version) already installed"
        return
    fi
    note "installing the nightly toolchain (minimal profile)"
    rustup toolchain install nightly --profile minimal || die "rustup toolchain install nightly failed"
    note "$(rustup run nightly rustc --version)"
}

ensure_cargo_fuzz() {
    local found
    found="$(version_of cargo-fuzz)"
    if [[ $found == "cargo-fuzz $CARGO_FUZZ_VERSION" ]]; then
        note "$found already installed"
        return
    fi
    note "installing cargo-fuzz $CARGO_FUZZ_VERSION (found: ${found:-none}); ~2 min on 2 cores"
    cargo install --locked "cargo-fuzz@$CARGO_FUZZ_VERSION" || die "cargo install cargo-fuzz failed"
    [[ "$(version_of cargo-fuzz)" == "cargo-fuzz $CARGO_FUZZ_VERSION" ]] ||
        die "cargo-fuzz on PATH is '$(version_of cargo-fuzz)', expected $CARGO_FUZZ_VERSION: $(command -v cargo-fuzz)"
}

# Version of a Python package installed in the venv, or nothing.
pip_installed_version() {
    "$SIEVE_VENV/bin/python" -c '
import importlib.metadata, sys
try:
    print(importlib.metadata.version(sys.argv[1]))
except importlib.metadata.PackageNotFoundError:
    pass
' "$1" 2>/dev/null || true
}

# The venv with ClickHouse in-process (chdb) for the warehouse bitmap tests.
ensure_warehouse_venv() {
    if [[ ! -x $SIEVE_VENV/bin/python ]]; then
        # Debian's python3 needs python3-venv for `python3 -m venv` (ensurepip).
        if ! command -v python3 >/dev/null || ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
            apt_install python3 python3-venv
        fi
        note "creating the venv $SIEVE_VENV"
        python3 -m venv "$SIEVE_VENV" || die "python3 -m venv $SIEVE_VENV failed (Debian: apt-get install python3-venv)"
    fi
    local wanted=("chdb==$CHDB_VERSION" "pyarrow==$PYARROW_VERSION") missing=() spec found
    for spec in "${wanted[@]}"; do
        found="$(pip_installed_version "${spec%%==*}")"
        if [[ $found == "${spec##*==}" ]]; then
            note "${spec%%==*} $found already installed in $SIEVE_VENV"
        else
            note "need ${spec} (found: ${found:-none})"
            missing+=("$spec")
        fi
    done
    if ((${#missing[@]})); then
        # Both pins together, so pip resolves chdb's dependencies against our pyarrow.
        "$SIEVE_VENV/bin/pip" install --quiet "${wanted[@]}" || die "pip install ${wanted[*]} failed"
    fi
    "$SIEVE_VENV/bin/python" -c 'import chdb; print("    chdb", chdb.__version__, "ClickHouse", chdb.query("SELECT version()", "TSV").bytes().decode().strip())' ||
        die "chdb does not load in $SIEVE_VENV"
}

# PostgreSQL's server binaries (initdb, pg_ctl), from Debian.
ensure_postgresql() {
    local bin
    bin="$(postgres_bin_dir)"
    if [[ -z $bin ]]; then
        apt_install postgresql
        bin="$(postgres_bin_dir)"
        [[ -n $bin ]] || die "postgresql installed but no initdb under /usr/lib/postgresql"
    fi
    note "$("$bin/postgres" --version) in $bin"
}

# Garage from crates.io, built in a target dir of its own that is removed afterwards (780 MB).
ensure_garage() {
    local found
    found="$(version_of garage)"
    if [[ $found == *"$GARAGE_VERSION"* ]]; then
        note "garage $GARAGE_VERSION already installed: $(command -v garage)"
        return
    fi
    note "installing garage $GARAGE_VERSION (found: ${found:-none}; ~10 min on 2 cores)"
    local target="${SIEVE_CACHE:-$HOME/.cache/sieve}/garage-target"
    CARGO_TARGET_DIR="$target" cargo install "garage@$GARAGE_VERSION" --no-default-features \
        --features sqlite,bundled-libs || die "cargo install garage failed"
    rm -rf "$target"
}

# ---------------------------------------------------------------- main

if [[ $with_build_tools == true ]]; then
    step "system packages (cc, node, npm)" ensure_system_packages
    step "rust target wasm32-unknown-unknown" ensure_wasm_target
    step "trunk $TRUNK_VERSION" ensure_trunk
    step "wasm-bindgen-cli (version from Cargo.lock)" ensure_wasm_bindgen
    step "wasm-opt (npm binaryen@$BINARYEN_VERSION)" ensure_wasm_opt
fi
if [[ $with_browser == true ]]; then
    step "chromium + chromium-driver (Debian)" ensure_chromium
    step "browser test packages (tests/browser)" ensure_browser_test_packages
fi
if [[ $with_fuzz == true ]]; then
    step "nightly toolchain (rustup)" ensure_nightly
    step "cargo-fuzz $CARGO_FUZZ_VERSION" ensure_cargo_fuzz
fi
if [[ $with_warehouse == true ]]; then
    step "warehouse venv (chdb $CHDB_VERSION, pyarrow $PYARROW_VERSION)" ensure_warehouse_venv
fi
if [[ $with_services == true ]]; then
    step "postgresql (Debian)" ensure_postgresql
    step "garage $GARAGE_VERSION (crates.io)" ensure_garage
fi
print_step_times
