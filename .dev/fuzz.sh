#!/usr/bin/env bash
# Runs every fuzz target (app/engine/fuzz, cargo-fuzz + libFuzzer, nightly) for a bounded time.
#   bash .dev/fuzz.sh          # 30 s per target
#   bash .dev/fuzz.sh 600      # 10 minutes per target
# Seeds are the committed corpora (golden fixtures, truncated and bit-flipped copies, rules);
# new inputs go to a scratch corpus, so the repository is not modified. A crash leaves its input
# in app/engine/fuzz/artifacts/ (git-ignored): turn it into a regression test.

# shellcheck source=.dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT/app/engine/fuzz" || exit

SECONDS_PER_TARGET="${1:-30}"
# Sanitizer flags differ from the main build: a separate target directory keeps both caches.
export CARGO_TARGET_DIR="$HOME/.cache/sieve/fuzz-target"

if ! cargo fuzz --version >/dev/null 2>&1; then
    step "install cargo-fuzz" cargo install cargo-fuzz@0.13.2 --locked
fi
rustup toolchain list | grep -q nightly || die "fuzzing needs the nightly toolchain (rustup toolchain install nightly)"

scratch="$(mktemp -d -t sieve-fuzz.XXXXXX)"
trap 'rm -rf "$scratch"' EXIT
for target in blob_decode portable_vs_roaring rule_eval csv_stage; do
    mkdir -p "$scratch/$target"
    step "fuzz $target (${SECONDS_PER_TARGET}s)" cargo +nightly fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=4096
done
print_step_times
