#!/usr/bin/env bash
# Runs every fuzz target (app/engine/fuzz, cargo-fuzz + libFuzzer, nightly) for a bounded time.
#   bash .dev/fuzz.sh          # 5 minutes per target (the long run: about 30 minutes in all)
#   bash .dev/fuzz.sh 30       # 30 s per target (what `bash .dev/test.sh` runs)
# Seeds are the committed corpora (golden fixtures, the roaring specification's test files,
# truncated and bit-flipped copies, rules, uploads); new inputs go to a scratch corpus, so the
# repository is not modified. A crash fails the run and leaves its input in
# app/engine/fuzz/artifacts/<target>/ (git-ignored): turn it into a regression test.
#
# Environment: SIEVE_FUZZ_TARGET_DIR (default ~/.cache/sieve/fuzz-target): the instrumented
# build has other compiler flags than the main one, so it gets its own target directory.
# SIEVE_FUZZ_PROFILE: `release` (default; optimised, the long run) or `dev` (unoptimised: the
# test command's short smoke run, where building the instrumented server crate from cold in
# release took 35 min on a loaded machine and in dev takes a fraction of it).

# shellcheck source=.dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

SECONDS_PER_TARGET="${1:-300}"
[[ $SECONDS_PER_TARGET =~ ^[1-9][0-9]*$ ]] || die "seconds per target must be a positive number: $SECONDS_PER_TARGET"
TARGETS=(blob_decode portable_vs_roaring rule_eval csv_stage manifest_decode warehouse_decode elias_fano_round_trip)

step "setup (nightly, cargo-fuzz)" bash "$ROOT/.dev/setup.sh" --fuzz-only
cd "$ROOT/app/engine/fuzz" || exit
export CARGO_TARGET_DIR="${SIEVE_FUZZ_TARGET_DIR:-$HOME/.cache/sieve/fuzz-target}"

PROFILE_FLAGS=()
case "${SIEVE_FUZZ_PROFILE:-release}" in
    release) ;;
    dev) PROFILE_FLAGS=(--dev) ;;
    *) die "SIEVE_FUZZ_PROFILE must be release or dev: ${SIEVE_FUZZ_PROFILE}" ;;
esac

step "build the fuzz targets (nightly, libFuzzer + AddressSanitizer, ${SIEVE_FUZZ_PROFILE:-release})" \
    cargo +nightly fuzz build "${PROFILE_FLAGS[@]}"

scratch="$(mktemp -d -t sieve-fuzz.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
for target in "${TARGETS[@]}"; do
    mkdir -p "$scratch/$target"
    # -timeout: one input taking 10 s is a finding (a hang) too.
    step "fuzz $target (${SECONDS_PER_TARGET}s)" cargo +nightly fuzz run "${PROFILE_FLAGS[@]}" "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096 -timeout=10 -print_final_stats=1
done
print_step_times
