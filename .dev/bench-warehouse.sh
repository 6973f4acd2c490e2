#!/usr/bin/env bash
# Warehouse-scale load (issue 13): a u32 app of USERS users (10 categorical groups × 20 values, a
# numeric group of 100 numbers and an event), written by `sieve synth` as the bitmap files a
# warehouse hands over and, when ROWS=1, as the CSV rows of the same data; each set uploaded to a
# release server on 127.0.0.1. Prints import time, MB/s and user-values/s per form, the server's
# resident memory, the snapshot's bytes, what a browser downloads for its first estimate of a
# 10-tag rule (sample tier), and the exact /estimate of a 10-condition rule (min and median of 9).
#   bash .dev/bench-warehouse.sh                        # 10M users, bitmaps and rows
#   USERS=100000000 ROWS=0 bash .dev/bench-warehouse.sh # 100M users, bitmaps only
#   SAMPLE_RATE=256 …                                    # the server's --sample-rate (default 64)
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/sieve/target}"
USERS="${USERS:-10000000}"
ROWS="${ROWS:-1}"
SAMPLE_RATE="${SAMPLE_RATE:-64}"
PORT="${PORT:-18191}"
WORK="${BENCH_DIR:-$HOME/.cache/sieve/bench-warehouse}/u$USERS"
DS=2026-11-20
ADMIN=bench-admin

cargo build --release -p server --bin sieve
SIEVE="$CARGO_TARGET_DIR/release/sieve"
mkdir -p "$WORK"
forms=(bitmaps)
[ "$ROWS" = 1 ] && forms+=(rows)
for form in "${forms[@]}"; do
  if [ ! -f "$WORK/$form/done" ]; then
    rm -rf "${WORK:?}/$form"
    start=$(date +%s.%N)
    "$SIEVE" synth --ids u32 --users "$USERS" --groups 10 --values-per-group 20 "--$form-out" "$WORK/$form" 2>/dev/null
    echo "$form files written in $(echo "$(date +%s.%N) - $start" | bc) s, $(du -sm "$WORK/$form" | cut -f1) MB"
    touch "$WORK/$form/done"
  fi
done

rm -rf "$WORK/data" && mkdir -p "$WORK/dist" && echo '<!doctype html>' >"$WORK/dist/index.html"
RUST_LOG=warn "$SIEVE" serve --addr "127.0.0.1:$PORT" --data-dir "$WORK/data" --dist "$WORK/dist" \
  --admin-token "$ADMIN" --max-bitmap-mb 1024 --request-timeout-secs 600 --sample-rate "$SAMPLE_RATE" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/api/v1/health" >/dev/null && break; sleep 0.1; done
api() { curl -sf -H "Authorization: Bearer $1" "${@:2}"; }
rss() { echo "$(($(awk '/VmRSS/{print $2}' /proc/$SERVER/status) / 1024)) MiB"; }

for form in "${forms[@]}"; do
  api "$ADMIN" -X POST "http://127.0.0.1:$PORT/api/v1/apps" -d "{\"id\":\"$form\",\"name\":\"$form\",\"ids\":\"u32\"}" >/dev/null
  TOKEN=$(api "$ADMIN" -X POST "http://127.0.0.1:$PORT/api/v1/apps/$form/tokens" -d '{"role":"editor"}' |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
  echo "$TOKEN" >"$WORK/$form.token"
  query="format=csv"
  [ "$form" = bitmaps ] && query="format=bitmaps"
  bytes=$(du -sb "$WORK/$form" | cut -f1)
  start=$(date +%s.%N)
  for f in "$WORK/$form"/tags/g*.csv; do
    api "$TOKEN" -X PUT -T "$f" "http://127.0.0.1:$PORT/api/v1/apps/$form/days/$DS/tags/$(basename "$f" .csv)?$query" >/dev/null
  done
  api "$TOKEN" -X PUT -T "$WORK/$form/tags/score.csv" \
    "http://127.0.0.1:$PORT/api/v1/apps/$form/days/$DS/tags/score?kind=numeric&$query" >/dev/null
  api "$TOKEN" -X PUT -T "$WORK/$form/events/visit.csv" \
    "http://127.0.0.1:$PORT/api/v1/apps/$form/days/$DS/events/visit?$query" >/dev/null
  took=$(echo "$(date +%s.%N) - $start" | bc)
  # User-values: every user holds one value in each of the 10 groups, ~70% a number, ~50% a count.
  values=$(python3 -c "print(round($USERS * 11.2))")
  python3 -c "print(f'$form import: {$took:.1f} s for {$bytes/1e6:.0f} MB: {$bytes/1e6/$took:.1f} MB/s, {$values/$took/1e6:.2f} M user-values/s')"
  echo "server RSS after the $form import: $(rss)"
done

TOKEN=$(cat "$WORK/bitmaps.token")
api "$TOKEN" "http://127.0.0.1:$PORT/api/v1/apps/bitmaps/days/$DS/manifest" >"$WORK/manifest.json"
if [ "$ROWS" = 1 ]; then
  api "$(cat "$WORK/rows.token")" "http://127.0.0.1:$PORT/api/v1/apps/rows/days/$DS/manifest" >"$WORK/rows-manifest.json"
  python3 - "$WORK/manifest.json" "$WORK/rows-manifest.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
same = all(a[k] == b[k] for k in ("universe", "sample", "groups", "events"))
print("bitmap and row imports publish the same blobs:", same)
EOF
fi
python3 - "$WORK/manifest.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
refs = []
def walk(v):
    if isinstance(v, dict):
        if "blob" in v and "bytes" in v:
            refs.append(v)
        for x in v.values():
            walk(x)
    elif isinstance(v, list):
        for x in v:
            walk(x)
walk(m)
total = sum(r["bytes"] for r in {r["blob"]: r for r in refs}.values())
print(f"snapshot: {total/1e6:.1f} MB in {len({r['blob'] for r in refs})} blobs")
# The first estimate of the 10-condition rule below, as the browser makes it: the sample
# universe, the sample bitmaps of the 16 values it names, and the sample slices of the numeric
# group and the event.
values = {f"g00{g}": {f"v{g % 3}", f"v{g % 3 + 4}"} for g in range(8)}
blobs = {m["sample"]["universe"]["blob"]: m["sample"]["universe"]["bytes"]}
for g in m["groups"]:
    for v in g["values"]:
        if v["value"] in values.get(g["name"], ()):
            blobs[v["sample"]["blob"]] = v["sample"]["bytes"]
    if g["name"] == "score":
        for t in [g["numeric"]["bsi"]["exists"]] + g["numeric"]["bsi"]["slices"]:
            blobs[t["sample"]["blob"]] = t["sample"]["bytes"]
for e in m["events"]:
    for t in [e["bsi"]["exists"]] + e["bsi"]["slices"]:
        blobs[t["sample"]["blob"]] = t["sample"]["bytes"]
print(f"first estimate of the 10-condition rule (sample tier download): {sum(blobs.values())/1e6:.2f} MB in {len(blobs)} blobs")
EOF
RULE='{"all":['
for g in 0 1 2 3 4 5 6 7; do RULE+="{\"tag\":\"g00$g\",\"in\":[\"v$((g % 3))\",\"v$((g % 3 + 4))\"]},"; done
RULE+='{"tag":"score","between":[20,80]},{"event":"visit","last_days":1,"count":{">=":2}}]}'
times=()
for _ in $(seq 9); do
  start=$(date +%s.%N)
  out=$(api "$TOKEN" -X POST "http://127.0.0.1:$PORT/api/v1/apps/bitmaps/estimate" -d "{\"rule\":$RULE,\"tier\":\"exact\"}")
  times+=("$(echo "($(date +%s.%N) - $start) * 1000" | bc)")
done
count=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["count"])')
printf '%s\n' "${times[@]}" | sort -n | python3 -c "
import sys; t=[float(x) for x in sys.stdin]
print(f'exact /estimate of a 10-condition rule ($count users): min {t[0]:.0f} ms, median {t[len(t)//2]:.0f} ms (9 runs, curl on 127.0.0.1)')"
echo "server RSS at the end: $(rss)"
