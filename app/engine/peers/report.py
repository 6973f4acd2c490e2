"""Turns one run of `.dev/bench-report.sh` into BENCHMARKS.md's generated section.

    python3 app/engine/peers/report.py --run DIR --lock Cargo.lock --notes notes.md --benchmarks BENCHMARKS.md

Reads the run's files (machine.env, rust-N.json, sql-N.json, browser.md, steps.txt) and
replaces everything between ``<!-- report:begin -->`` and ``<!-- report:end -->`` (appending
the section when the markers are missing). Standard library only.
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path
from typing import Any

BEGIN, END = "<!-- report:begin -->", "<!-- report:end -->"
PEERS = [
    ("croaring", "CRoaring"),
    ("roaring-rs", "roaring-rs"),
    ("chdb", "chDB"),
    ("duckdb-bits", "DuckDB bitstrings"),
    ("duckdb-scan", "DuckDB scan"),
]
# The engine on every core (`engine::count_parallel`), beside its one-thread figures: not a
# peer, so it is left out of the summary and of "where a peer beat the engine".
ALL_CORES = ("engine-all-cores", "engine, all cores")


def ms(x: float) -> str:
    return f"{x:.4f}" if x < 0.01 else f"{x:.3f}" if x < 10 else f"{x:.1f}" if x < 1000 else f"{x:,.0f}"


def users_label(n: int) -> str:
    return f"{n // 1_000_000}M" if n % 1_000_000 == 0 else f"{n:,}"


def ratio(peer: float, engine: float) -> str:
    r = peer / engine
    return f"**{r:.2f}×**" if r < 1 else f"{r:.1f}×" if r < 100 else f"{r:,.0f}×"


def lock_versions(lock: Path) -> dict[str, str]:
    """Package versions from a Cargo.lock."""
    out, name = {}, None
    for line in lock.read_text().splitlines():
        if m := re.match(r'name = "(.+)"', line):
            name = m.group(1)
        elif (m := re.match(r'version = "(.+)"', line)) and name:
            out[name] = m.group(1)
    return out


def load_summary(run: Path) -> str:
    """Median and maximum of the 1-minute load averages sampled during the run."""
    path = run / "load.txt"
    loads = sorted(float(x) for x in path.read_text().split()) if path.exists() else []
    if not loads:
        return "no samples"
    return f"median {loads[len(loads) // 2]:.1f}, max {loads[-1]:.1f} ({len(loads)} samples)"


def read_env(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def merged(run: Path, users: int) -> list[dict[str, Any]]:
    """Rust and SQL timings per query; the counts were checked equal by the peers already."""
    rust = json.loads((run / f"rust-{users}.json").read_text())
    sql = {q["name"]: q for q in json.loads((run / f"sql-{users}.json").read_text())["queries"]}
    rows = []
    for q in rust["queries"]:
        s = sql[q["name"]]
        if s["count"] != q["count"]:
            raise SystemExit(f"report: {q['name']} counted {q['count']} by the engine and {s['count']} in SQL")
        rows.append({**q, "timings": {**q["timings"], **s["timings"]}})
    return rows


def with_all_cores(rows: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """PEERS, preceded by the engine on every core when the run measured it."""
    return ([ALL_CORES] if all(ALL_CORES[0] in r["timings"] for r in rows) else []) + PEERS


def speed_table(rows: list[dict[str, Any]]) -> list[str]:
    cols = with_all_cores(rows)
    head = "| query | users matching | engine ms | " + " | ".join(f"{label} ms (÷ engine)" for _, label in cols) + " |"
    out = [head, "|---|---|---|" + "---|" * len(cols)]
    for r in rows:
        t, e = r["timings"], r["timings"]["engine"]["median_ms"]
        cells = [f"{ms(t[p]['median_ms'])} ({ratio(t[p]['median_ms'], e)})" for p, _ in cols]
        name = f"**{r['name']}**" if r["op"] == "rule" else r["name"]
        out.append(f"| {name} | {r['count']:,} | **{ms(e)}** | " + " | ".join(cells) + " |")
    return out


def min_table(rows: list[dict[str, Any]]) -> list[str]:
    peers = [("engine", "engine")] + with_all_cores(rows)
    out = ["| query | " + " | ".join(f"{label} min ms (samples)" for _, label in peers) + " |"]
    out.append("|---|" + "---|" * len(peers))
    for r in rows:
        t = r["timings"]
        out.append(f"| {r['name']} | " + " | ".join(f"{ms(t[p]['min_ms'])} ({t[p]['samples']})" for p, _ in peers) + " |")
    return out


def summary(sizes: dict[int, list[dict[str, Any]]]) -> list[str]:
    out = [
        "| users | peer | 10cond-dense: peer ÷ engine | (by minimum) | 10cond-sparse | (by minimum) "
        "| geometric mean, all queries | engine's worst query |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for users, rows in sizes.items():
        by = {r["name"]: r for r in rows}
        for p, label in PEERS:
            rs = [(r["timings"][p]["median_ms"] / r["timings"]["engine"]["median_ms"], r["name"]) for r in rows]
            geo = math.exp(sum(math.log(x) for x, _ in rs) / len(rs))
            worst = min(rs)

            def cell(name: str, stat: str = "median_ms") -> str:
                return ratio(by[name]["timings"][p][stat], by[name]["timings"]["engine"][stat])

            out.append(
                f"| {users_label(users)} | {label} | {cell('10cond-dense')} | {cell('10cond-dense', 'min_ms')} "
                f"| {cell('10cond-sparse')} | {cell('10cond-sparse', 'min_ms')} | {geo:.2f}× "
                f"| {worst[1]}: {worst[0]:.2f}× |"
            )
    return out


def losses(sizes: dict[int, list[dict[str, Any]]]) -> list[str]:
    """One line per size and peer: the queries where its median beat the engine's."""
    out = []
    for users, rows in sizes.items():
        for p, label in PEERS:
            won = [
                f"{r['name']} {r['timings'][p]['median_ms'] / r['timings']['engine']['median_ms']:.2f}×"
                for r in rows
                if r["timings"][p]["median_ms"] < r["timings"]["engine"]["median_ms"]
            ]
            if won:
                out.append(f"- {users_label(users)}, {label} ({len(won)} of {len(rows)}): " + ", ".join(won))
    return out or ["- none: the engine's median is the lowest on every query at every size."]


def wire_table(rust: dict[str, Any]) -> list[str]:
    n = rust["users"]
    out = [
        "| tag | layout | users | Sieve blob B | bits/id | CRoaring portable B | zstd-3 B | zstd-19 B | floor B "
        "| blob ÷ floor | zstd-19 ÷ floor |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for w in sorted(rust["wire"], key=lambda w: -w["count"]):
        floor = w["floor_bytes"]
        share = w["count"] / n
        z19 = "–" if w["zstd19_bytes"] is None else f"{w['zstd19_bytes']:,}"
        z19_ratio = "–" if w["zstd19_bytes"] is None else f"{w['zstd19_bytes'] / floor:.2f}"
        out.append(
            f"| {w['key']} ({share:.2%}) | {w['layout']} | {w['count']:,} | {w['blob_bytes']:,} "
            f"| {8 * w['blob_bytes'] / w['count']:.2f} | {w['croaring_portable_bytes']:,} | {w['zstd3_bytes']:,} "
            f"| {z19} | {floor:,.0f} | {w['blob_bytes'] / floor:.2f} | {z19_ratio} |"
        )
    return out


def browser_rows(run: Path) -> tuple[list[str], list[str]]:
    """WASM vs native from the browser bench's raw `BENCH|…` lines, and its header line."""
    text = (run / "browser.md").read_text()
    bench: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    info = []
    for line in text.splitlines():
        f = line.split("|")
        if f[0] == "BENCH":
            target, rule, _conds, tier, kind, users, result, p50, p90 = f[1:10]
            bench[(target, rule, tier, kind)] = {"users": int(users), "result": int(result), "p50": float(p50), "p90": float(p90)}
        elif f[0] == "INFO" and f[1] == "wasm" and f[2] in ("simd128", "heap_full_tier_mb"):
            info.append(f"{f[2]} = {f[3]}")
    out = [
        "| rule | tier | users in tier | what | WASM p50 ms | WASM p90 ms | native p50 ms | WASM ÷ native |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for (target, rule, tier, kind), w in sorted(bench.items(), key=lambda kv: (kv[0][2] != "sample", kv[0][1], kv[0][3])):
        if target != "wasm":
            continue
        n = bench.get(("native", rule, tier, kind))
        if n is None or n["result"] != w["result"]:
            raise SystemExit(f"report: browser bench {rule} {tier} {kind}: native missing or counted differently")
        out.append(
            f"| {rule} | {tier} | {w['users']:,} | {kind} | {ms(w['p50'])} | {ms(w['p90'])} | {ms(n['p50'])} "
            f"| {w['p50'] / n['p50']:.2f}× |"
        )
    head = next((line for line in text.splitlines() if line.startswith("Browser benchmark,")), "")
    return out, [head] + ([f"WASM module: {', '.join(info)}."] if info else [])


def section(run: Path, lock: Path, notes: Path) -> str:
    env = read_env(run / "machine.env")
    versions = lock_versions(lock)
    sizes_found = sorted(int(p.stem.split("-")[1]) for p in run.glob("rust-*.json"))
    sizes = {n: merged(run, n) for n in sizes_found}
    sql = json.loads((run / f"sql-{sizes_found[0]}.json").read_text())
    v = sql["versions"]
    minutes = (int(env["end_epoch"]) - int(env["start_epoch"])) / 60
    quick = env.get("quick") == "true"
    rust0 = json.loads((run / f"rust-{sizes_found[0]}.json").read_text())
    queries = json.loads((Path(rust0["data_dir"]) / "data.json").read_text())["queries"]
    L: list[str] = [BEGIN, ""]
    L.append("## Engine vs CRoaring, roaring-rs, ClickHouse (chDB) and DuckDB: one run, same data")
    L.append(
        "_Generated by `bash .dev/bench-report.sh`"
        + (" `--quick` (1M users: a development run, not the reference figures)" if quick else "")
        + " from one run; the next run rewrites everything between the `report:` markers. Sources: "
        "`app/engine/peers/` (Rust peers, `peers.py`, this report's text in `report.py` and `notes.md`)._"
    )
    L.append("")
    ram_gib = int(env["ram_kib"]) / 2**20
    L.append(
        f"**Machine**: {env['cpu']}, {env['cpus']} CPUs, {ram_gib:.1f} GiB RAM, {env['os']}; {env['rustc']}; "
        f"commit {env['commit']}. **Date**: {env['start_date']} to {env['end_date']}: the whole run (data, all "
        f"peers, browser bench) took **{minutes:.1f} min**. Load average (1, 5, 15 min) at the start "
        f"{env['start_load']}, at the end {env['end_load']}; sampled every 10 s during the run: {load_summary(run)}. "
        "The machine's 2 cores are shared with other builds, so absolute times wobble (a load above 2 means "
        "runnable work was waiting for a core); every peer was sampled round-robin under the same conditions."
    )
    L.append("")
    L.append(
        "**Peers**: the engine (`engine::count` on a validated plan; x86-64-v2 build, whose popcount kernels "
        "switch to AVX2 at run time where the CPU has it; *engine, all cores* is `engine::count_parallel` with "
        "every core, which stays on one thread below its break-even); CRoaring "
        f"{versions.get('croaring-sys', '?')} through crate `croaring` {versions.get('croaring', '?')} (C built "
        f"with -O3 by `cc`; it picks AVX2/AVX-512 kernels at run time, which this CPU has); roaring-rs "
        f"{versions.get('roaring', '?')} (the engine's own version; x86-64-v2); ClickHouse {v['clickhouse']} "
        f"through chDB {v['chdb']} (max_threads {v['chdb_max_threads']}); DuckDB {v['duckdb']} (threads "
        f"{v['duckdb_threads']}). The Rust peers use one thread (but *engine, all cores*); the SQL engines keep their "
        "default of every core."
    )
    L.append("")
    L.append(
        "**Data** (`peers gen`, deterministic, seed 7): users `0..n`, the engine bench's tag groups — gender, "
        "age band, province (skewed), device, channel, member level, paid and interest flags (3–60% per value, "
        "independent random draws); `active_30d` (55%) and `active_1d` (15%) clustered in runs of consecutive "
        "ids; sparse tags at 1%, 0.1% and 0.01% (random), and a 1% cohort (runs of ~500 ids) added here. Each tag is a "
        "roaring portable file (read by the engine, CRoaring and roaring-rs, whose counts must agree) and a "
        "`u32` id file (chDB's `groupBitmapState` reads it with `file()`); DuckDB's scan table gets one byte "
        "per user and group."
    )
    L.append("")
    pair_lines = [f"{q['class']}: `{q['pair'][0]}` with `{q['pair'][1]}`" for q in queries if q["op"] == "and"]
    L.append(
        "**Queries**: AND, OR and ANDNOT counts of four pairs ("
        + "; ".join(pair_lines)
        + ") and two 10-condition rules (tags, OR-of-values, NOT, an `any`; `10cond-sparse` starts from the 0.1% tag), "
        "written once as engine rule JSON; the bitmap peers evaluate it with their best calls "
        "(count-only `and_cardinality`/`bitmapAndCardinality`/`bit_count` for the last step, CRoaring's `fast_or`, "
        "operands smallest first, NOT as a difference), the scan as `count_if` of a boolean expression. The SQL "
        "of every query is in the run's `sql-N.json`."
    )
    L.append("")
    L.append(
        "**Method**: per query, every peer's count must equal the engine's (the run stops otherwise); then each peer "
        "warms up, and samples are taken round-robin across peers (a batch lasting ≥ 0.5 ms ÷ its size, each after "
        "one untimed call of the same peer, so every peer runs with its own data in the caches) until "
        f"{'0.6' if quick else '1.5'} s and ≥ 7 rounds have passed. Cells: median ms, and in brackets the peer's "
        "time ÷ the engine's (**bold below 1**: the peer was faster). SQL times are one call through the Python "
        "API with the result fetched, so they include parsing and planning; their floor (`SELECT 1`): "
        + ", ".join(f"{p} {ms(t['median_ms'])} ms" for p, t in sql["select_1"].items())
        + "."
    )
    L.append("")
    L.append("### Summary: peer time ÷ engine time")
    L += summary(sizes)
    for users, rows in sizes.items():
        L += ["", f"### {users:,} users", ""]
        L += speed_table(rows)
        L += ["", "<details><summary>minimum ms and samples per peer</summary>", ""]
        L += min_table(rows)
        L += ["", "</details>"]
    L += ["", "### Where a peer beat the engine (median; peer time ÷ engine time)", ""]
    L += losses(sizes)
    L += ["", "### Wire bytes per tag", ""]
    L.append(
        "What Sieve sends per tag (the blob: 16-byte header + the shorter of our roaring portable and Elias–Fano "
        "encodings) against CRoaring's portable "
        "format after `run_optimize`, zstd of the portable bytes, and the information floor log2 C(n, k) (the bits "
        "needed to name a uniformly random k-subset of n users; clustered tags carry less information, so the floor "
        "overstates them). DESIGN.md §6 aims at ≤ 1.15× the floor for sparse tags (1%, 0.1%). zstd-19 is left out "
        "(–) above 4 MiB of portable bytes, where it runs at a few MB/s."
    )
    for users in sizes_found:
        rust = json.loads((run / f"rust-{users}.json").read_text())
        L += ["", f"{users:,} users:", ""]
        L += wire_table(rust)
    rows, head = browser_rows(run)
    L += ["", "### WASM in Chromium vs native", ""]
    L.append(
        "From `.dev/bench-browser.sh` in the same run, on its own population (the engine bench's synthetic users, "
        "generated inside the page; the browser cannot map the report's files), with the same code natively in "
        "the same run: so this table compares targets, and the tables above compare peers. " + " ".join(head)
    )
    L.append("")
    L += rows
    native = {r["name"]: r for r in sizes.get(10_000_000, [])}
    if "10cond-dense" in native:
        t = native["10cond-dense"]["timings"]["engine"]["median_ms"]
        L.append("")
        L.append(f"For reference, the engine natively on the report's own 10M data: 10cond-dense {ms(t)} ms.")
    L += ["", "### Notes", ""]
    L.append(notes.read_text().strip())
    L += ["", "<details><summary>step times of this run</summary>", "", "```"]
    L += (run / "steps.txt").read_text().rstrip().splitlines()
    L += ["```", "", "</details>", "", END]
    return "\n".join(L) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--lock", type=Path, required=True)
    ap.add_argument("--notes", type=Path, required=True)
    ap.add_argument("--benchmarks", type=Path, required=True)
    args = ap.parse_args()
    text = section(args.run, args.lock, args.notes)
    doc = args.benchmarks.read_text()
    if BEGIN in doc and END in doc:
        before, rest = doc.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        doc = before + text + after
    else:
        doc = doc.rstrip("\n") + "\n\n" + text
    args.benchmarks.write_text(doc)
    (args.run / "section.md").write_text(text)


if __name__ == "__main__":
    main()
