#!/usr/bin/env bash
# Browser benchmark (DESIGN.md §6): estimate latency of 2-, 5- and 10-condition rules in
# headless Chromium (WASM with SIMD128), on the sample tier and the full tier of 10M synthetic
# users, next to the same code natively in the same run; plus the app's WASM bundle size.
# Prints a markdown table for BENCHMARKS.md (build logs go to a temporary folder it names).
#
#   bash .dev/bench-browser.sh
#
# The benchmark is app/tests/bench_estimate.rs (#[ignore]d, so the test step never runs it),
# run three times: by wasm-bindgen-test-runner in Chromium built with the release profile
# (opt-level 3) and with the wasm-release profile the app ships with (opt-level "z", LTO),
# then natively (release, x86-64-v2). Same seed, same users, same counts (checked here).
#
# Environment (all optional):
#   SIEVE_BENCH_USERS         full tier users                       (default 10000000)
#   SIEVE_BENCH_SAMPLE_USERS  population whose sample tier is drawn
#                             directly, without its full tier; 0 skips (default 100000000)
#   SIEVE_BENCH_SECONDS       measuring time per row and target      (default 1.5)
#   SIEVE_BENCH_SHIPPED=0     skip the wasm-release (opt-level "z") run
#   SIEVE_BENCH_NATIVE=0      skip the native run
#   SIEVE_BENCH_BUNDLE=0      skip `trunk build --release` and the bundle size

# shellcheck source=.dev/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
cd "$ROOT" || exit

export SIEVE_BENCH_USERS="${SIEVE_BENCH_USERS:-10000000}"
export SIEVE_BENCH_SAMPLE_USERS="${SIEVE_BENCH_SAMPLE_USERS:-100000000}"
export SIEVE_BENCH_SECONDS="${SIEVE_BENCH_SECONDS:-1.5}"

for tool in chromium chromedriver wasm-bindgen-test-runner node python3; do
    command -v "$tool" >/dev/null || die "$tool is missing: run bash .dev/setup.sh --browser"
done

LOGS="$(mktemp -d -t sieve-bench-browser.XXXXXX)"
say "logs in $LOGS"

# Runs the benchmark in Chromium, built with cargo profile $1; BENCH/INFO lines to $LOGS/$2.
wasm_run() {
    local profile="$1" name="$2"
    say "wasm in Chromium, profile $profile (build, then about a minute of measuring)"
    CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
        CHROMEDRIVER="$(command -v chromedriver)" \
        WASM_BINDGEN_TEST_TIMEOUT=1800 \
        cargo test --profile "$profile" --target wasm32-unknown-unknown -p app --test bench_estimate \
        -- --include-ignored --nocapture >"$LOGS/$name.log" 2>&1 ||
        die "the $profile wasm run failed: $LOGS/$name.log"
    grep -E '^(BENCH|INFO)\|' "$LOGS/$name.log" | sed "s/|wasm|/|$name|/" >"$LOGS/$name.txt"
    # Does the module really contain SIMD instructions? (binaryen's disassembler, from setup)
    local module
    module="$(sed -n 's/^ *Running .*(\(.*bench_estimate-[^)]*\.wasm\))$/\1/p' "$LOGS/$name.log" | tail -n 1)"
    echo "INFO|$name|simd_instructions_in_module|$(simd_count "$module")" >>"$LOGS/$name.txt"
}

# Number of SIMD128 instructions in a wasm module.
simd_count() {
    wasm-dis "$1" 2>/dev/null | grep -cE '\b(v128|i8x16|i16x8|i32x4|i64x2|f32x4|f64x2)\.' || true
}

wasm_run release wasm
if [[ ${SIEVE_BENCH_SHIPPED:-1} != 0 ]]; then
    wasm_run wasm-release wasm-z
fi
if [[ ${SIEVE_BENCH_NATIVE:-1} != 0 ]]; then
    say "native (release)"
    cargo test --release -p app --test bench_estimate -- --include-ignored --nocapture \
        >"$LOGS/native.log" 2>&1 || die "the native run failed: $LOGS/native.log"
    grep -E '^(BENCH|INFO)\|' "$LOGS/native.log" >"$LOGS/native.txt"
fi

# The app's bundle as it ships: trunk's release build (wasm-release profile, then wasm-opt).
if [[ ${SIEVE_BENCH_BUNDLE:-1} != 0 ]]; then
    say "bundle (trunk build --release)"
    if trunk build --release >"$LOGS/trunk.log" 2>&1; then
        for wasm in dist/*.wasm; do
            node -e '
                const fs = require("fs"), zlib = require("zlib");
                const raw = fs.readFileSync(process.argv[1]);
                const br = zlib.brotliCompressSync(raw, { params: {
                    [zlib.constants.BROTLI_PARAM_QUALITY]: 11,
                    [zlib.constants.BROTLI_PARAM_SIZE_HINT]: raw.length } });
                const gz = zlib.gzipSync(raw, { level: 9 });
                console.log(["BUNDLE", process.argv[1], raw.length, br.length, gz.length, process.argv[2]].join("|"));
            ' "$wasm" "$(simd_count "$wasm")" >>"$LOGS/bundle.txt"
        done
    else
        echo "BUNDLE_FAILED|$LOGS/trunk.log" >>"$LOGS/bundle.txt"
    fi
fi

# Machine and versions.
{
    echo "MACHINE|date|$(date -u '+%Y-%m-%d %H:%M UTC')"
    echo "MACHINE|cpu|$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)"
    echo "MACHINE|cpus|$(nproc)"
    echo "MACHINE|load|$(cut -d' ' -f1-3 /proc/loadavg)"
    echo "MACHINE|chromium|$(chromium --version 2>/dev/null | tail -n 1)"
    echo "MACHINE|rustc|$(rustc --version)"
    echo "MACHINE|commit|$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' with local changes')"
} >"$LOGS/machine.txt"

say "results"
cat "$LOGS"/*.txt >"$LOGS/all.txt"
python3 - "$LOGS/all.txt" <<'EOF'
import sys
from collections import defaultdict

bench, info, bundle, machine = {}, defaultdict(dict), [], {}
for line in open(sys.argv[1]):
    f = line.rstrip("\n").split("|")
    if f[0] == "BENCH":
        target, rule, conds, tier, kind, users, result, p50, p90, batches, batch = f[1:]
        bench[(target, rule, tier, kind)] = dict(conds=int(conds), users=int(users), result=int(result),
                                                 p50=float(p50), p90=float(p90), batches=int(batches), batch=int(batch))
    elif f[0] == "INFO":
        info[f[1]][f[2]] = f[3]
    elif f[0].startswith("BUNDLE"):
        bundle.append(f)
    elif f[0] == "MACHINE":
        machine[f[1]] = f[2]

# Same code, same data: every target must count the same.
bad = []
for (target, rule, tier, kind), r in bench.items():
    ref = bench.get(("wasm", rule, tier, kind))
    if ref and ref["result"] != r["result"]:
        bad.append(f"{rule} {tier} {kind}: wasm {ref['result']} vs {target} {r['result']}")
if bad:
    sys.exit("counts differ between targets:\n" + "\n".join(bad))

def ms(x):
    return "–" if x is None else (f"{x:.3f}" if x < 10 else f"{x:.1f}")

have_z, have_native = any(k[0] == "wasm-z" for k in bench), any(k[0] == "native" for k in bench)
print(f"Browser benchmark, {machine.get('date')}: {machine.get('cpu')}, {machine.get('cpus')} CPUs; "
      f"load average {machine.get('load')} at the end; {machine.get('chromium')}; {machine.get('rustc')};"
      f" commit {machine.get('commit')}.")
print()
head = "| rule | tier | users in tier | what | count in tier | WASM p50 ms | WASM p90 ms |"
sep = "|---|---|---|---|---|---|---|"
if have_z:
    head += " WASM opt-z p50 ms |"
    sep += "---|"
if have_native:
    head += " native p50 ms | native p90 ms | WASM ÷ native |"
    sep += "---|---|---|"
print(head)
print(sep)
order = {"sample": 0, "full": 1, "sample-of-big": 2}
rows = sorted((k for k in bench if k[0] == "wasm"), key=lambda k: (order[k[2]], bench[k]["conds"], k[1], k[3]))
for _, rule, tier, kind in rows:
    w = bench[("wasm", rule, tier, kind)]
    users = f"{w['users']:,}"
    if tier == "sample":
        tier_name = f"sample of {bench[('wasm', rule, 'full', 'count')]['users']:,}"
    elif tier == "sample-of-big":
        tier_name = f"sample of {int(info['wasm'].get('sample_population', 0)):,}"
    else:
        tier_name = "full"
    line = f"| {rule} | {tier_name} | {users} | {kind} | {w['result']:,} | {ms(w['p50'])} | {ms(w['p90'])} |"
    if have_z:
        z = bench.get(("wasm-z", rule, tier, kind))
        line += f" {ms(z and z['p50'])} |"
    if have_native:
        n = bench.get(("native", rule, tier, kind))
        ratio = f"{w['p50'] / n['p50']:.1f}×" if n and n["p50"] > 0 else "–"
        line += f" {ms(n and n['p50'])} | {ms(n and n['p90'])} | {ratio} |"
    print(line)
print()
print("p50/p90 are over batches of back-to-back evaluations (a batch lasts ≥ 2 ms; its time ÷ its size is one"
      " sample), measured with `performance.now()` in Chromium and `Instant` natively. `estimate` = count on the"
      " sample tier + the scaled 95% interval; `count` = exact count on the full tier; `funnel` = count with every"
      " step of the top-level `all`.")
for target in ("wasm", "wasm-z", "native"):
    if target in info:
        i = info[target]
        print(f"- {target}: " + ", ".join(f"{k} = {v}" for k, v in i.items()))
for f in bundle:
    if f[0] == "BUNDLE_FAILED":
        print(f"- bundle: trunk build --release failed (log: {f[1]})")
    else:
        _, path, raw, br, gz, simd = f
        print(f"- bundle `{path}`: {int(raw):,} B raw, {int(br):,} B brotli (q11), {int(gz):,} B gzip -9;"
              f" {simd} SIMD128 instructions")
print()
print("<details><summary>raw lines</summary>\n\n```")
print(open(sys.argv[1]).read().rstrip())
print("```\n</details>")
EOF
