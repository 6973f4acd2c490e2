"""Issue 7's benchmark report, Python side: ClickHouse (through chDB) and DuckDB answer the
report's queries on the data `peers gen` wrote, and must give the engine's counts.

    .venv/bin/python app/engine/peers/peers.py --data DIR/users-N --expect rust.json --out sql.json

`bash .dev/bench-report.sh` runs it inside the repository's `.venv` (pins in requirements.txt).
What each peer holds, loaded before any timing:

- ``chdb``: a Memory table ``tags(tag String, bm AggregateFunction(groupBitmap, UInt32))``, one
  row per tag value, filled with ``groupBitmapState`` straight from the ``.u32`` files through
  ``file(…, 'RowBinary', 'id UInt32')`` (no ids pass through Python). Queries use
  ``bitmapAndCardinality``, ``bitmapOrCardinality``, ``bitmapAndnotCardinality`` for pairs and
  ``bitmapAnd``/``bitmapOr``/``bitmapAndnot`` inside a rule; a pair's two rows come from a
  self-join, a rule's bitmaps are picked by ``anyIf(bm, tag = …)`` (see ``chdb_sql``).
- ``duckdb-bits``: a table ``bits(tag VARCHAR, bm BIT)``, one row per tag value, each an
  uncompressed bitstring over the universe built with ``bitstring_agg(id, 0, n - 1)``;
  counts are ``bit_count(a & b)``, ``a | b``, ``a & ~b`` (bitstrings pivoted into columns the
  same way, with ``first(bm) FILTER (WHERE tag = …)``).
- ``duckdb-scan``: one row per user, one UTINYINT column per tag group (the value's code, 255
  for none), so a rule is a boolean expression and the count is ``count_if(expr)``: the natural
  column-store formulation (``count(*) … WHERE expr`` was as fast for ANDs but 10x slower for
  ORs at 10M users).

The fastest DuckDB formulations we found; the relational one (a ``(tag, user_id)`` table with
``INTERSECT``/``EXCEPT`` or ``IN`` semi-joins) was 8-10x slower than ``bit_count`` at 1M users,
so it is not raced. Timing is the same round-robin method as the Rust side (``timer.rs``):
warm-up, batches of at least 0.5 ms, samples alternating between peers until the budget is
spent, each batch preceded by one untimed call of the same peer; a sample is one call of ``query`` through the Python API, result fetched (so SQL
parsing and planning are included; ``SELECT 1`` is reported as each engine's floor).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

Rule = dict[str, Any]


def race(
    peers: dict[str, Callable[[], int]], expected: int, budget_s: float, min_rounds: int, max_rounds: int
) -> dict[str, dict[str, float]]:
    """Times each peer round-robin; every answer must equal ``expected`` (else SystemExit)."""

    def call(name: str, op: Callable[[], int]) -> None:
        got = op()
        if got != expected:
            sys.exit(f"peers.py: {name} answered {got} instead of {expected}")

    batches: dict[str, int] = {}
    for name, op in peers.items():
        t0 = time.perf_counter()
        calls = 0
        while calls < 3 or time.perf_counter() - t0 < 0.03:
            call(name, op)
            calls += 1
        per_call = (time.perf_counter() - t0) / calls
        batches[name] = max(1, min(1 << 20, int(0.0005 / per_call)))
    samples: dict[str, list[float]] = {name: [] for name in peers}
    started, rounds = time.perf_counter(), 0
    while rounds < max_rounds and (rounds < min_rounds or time.perf_counter() - started < budget_s):
        for name, op in peers.items():
            batch = batches[name]
            call(name, op)  # untimed: the peer's own data back in the caches (see timer.rs)
            t0 = time.perf_counter()
            for _ in range(batch):
                call(name, op)
            samples[name].append((time.perf_counter() - t0) * 1e3 / batch)
        rounds += 1
    out = {}
    for name, s in samples.items():
        s.sort()
        n = len(s)
        median = s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2
        out[name] = {"median_ms": median, "min_ms": s[0], "samples": n, "batch": batches[name]}
    return out


def split_all(rule: Rule) -> tuple[list[Rule], list[Rule]]:
    """A top-level ``all``'s plain members and the insides of its negated members."""
    plain = [m for m in rule["all"] if "not" not in m]
    nots = [m["not"] for m in rule["all"] if "not" in m]
    return plain, nots


def tag_keys(rule: Rule) -> list[str]:
    """Every ``group=value`` a rule reads, in order, without repeats."""
    keys: list[str] = []

    def walk(node: Rule) -> None:
        if "tag" in node:
            keys.extend(f"{node['tag']}={v}" for v in node["in"] if f"{node['tag']}={v}" not in keys)
        for child in node.get("all", []) + node.get("any", []):
            walk(child)
        if "not" in node:
            walk(node["not"])

    walk(rule)
    return keys


class BitmapSql:
    """Rule → SQL over bitmap values, for one engine's spelling of and/or/andnot."""

    def __init__(self, ref: Callable[[str], str], f: dict[str, str]):
        self.ref, self.f = ref, f

    def expr(self, node: Rule) -> str:
        if "tag" in node:
            refs = [self.ref(f"{node['tag']}={v}") for v in node["in"]]
            return self.fold(self.f["or"], refs)
        if "any" in node:
            return self.fold(self.f["or"], [self.expr(m) for m in node["any"]])
        if "all" in node:
            plain, nots = split_all(node)
            acc = self.fold(self.f["and"], [self.expr(m) for m in plain])
            for m in nots:
                acc = self.f["andnot"].format(acc, self.expr(m))
            return acc
        if "not" in node:
            return self.f["not"].format(self.expr(node["not"]))
        raise ValueError(f"unsupported rule node {node}")

    def fold(self, template: str, parts: list[str]) -> str:
        acc = parts[0]
        for p in parts[1:]:
            acc = template.format(acc, p)
        return acc

    def count(self, rule: Rule) -> str:
        """The count, with a count-only function for the last operation where there is one."""
        f = self.f
        if "all" in rule:
            plain, nots = split_all(rule)
            ops = [(False, m) for m in plain] + [(True, m) for m in nots]
            (negated, last), ops = ops[-1], ops[:-1]
            if not ops:
                return f["card"].format(self.expr(rule))
            rest: Rule = {"all": [{"not": m} if n else m for n, m in ops]}
            return (f["andnot_card"] if negated else f["and_card"]).format(self.expr(rest), self.expr(last))
        if "any" in rule and len(rule["any"]) == 2:
            return f["or_card"].format(self.expr(rule["any"][0]), self.expr(rule["any"][1]))
        return f["card"].format(self.expr(rule))


CLICKHOUSE = {
    "and": "bitmapAnd({}, {})",
    "or": "bitmapOr({}, {})",
    "andnot": "bitmapAndnot({}, {})",
    "not": "bitmapAndnot(universe, {})",
    "card": "bitmapCardinality({})",
    "and_card": "bitmapAndCardinality({}, {})",
    "andnot_card": "bitmapAndnotCardinality({}, {})",
    "or_card": "bitmapOrCardinality({}, {})",
}

DUCKDB_BITS = {
    "and": "({} & {})",
    "or": "({} | {})",
    "andnot": "({} & ~{})",
    "not": "(~{})",
    "card": "bit_count({})",
    "and_card": "bit_count({} & {})",
    "andnot_card": "bit_count({} & ~{})",
    "or_card": "bit_count({} | {})",
}


def has_bare_not(node: Rule) -> bool:
    """Whether a ``not`` appears other than as a member of an ``all`` (a difference)."""
    if "not" in node:
        return True
    if "all" in node:
        return any(has_bare_not(m["not"] if "not" in m else m) for m in node["all"])
    return any(has_bare_not(m) for m in node.get("any", []))


def quoted(keys: list[str]) -> str:
    """SQL string literals for tag keys (which never contain quotes)."""
    return ", ".join(f"'{k}'" for k in keys)


def chdb_sql(rule: Rule) -> str:
    """ClickHouse, the faster of two forms for each shape (measured at 10M users): two tags are
    a self-join that hands both rows' states straight to the function (2x faster than
    ``anyIf``); a rule picks each bitmap with ``anyIf`` in one pass over the rule's rows (a
    25-way self-join was 1.6x slower, a scalar subquery per tag 2.7x slower)."""
    if has_bare_not(rule):
        raise ValueError("a `not` outside an `all` needs a universe bitmap, which the report's queries never use")
    keys = tag_keys(rule)
    if len(keys) == 2:
        alias = {k: f"t{i}.bm" for i, k in enumerate(keys)}
        expr = BitmapSql(alias.__getitem__, CLICKHOUSE).count(rule)
        where = " AND ".join(f"t{i}.tag = '{k}'" for i, k in enumerate(keys))
        return f"SELECT {expr} FROM r.tags AS t0, r.tags AS t1 WHERE {where}"
    expr = BitmapSql(lambda k: f"anyIf(bm, tag = '{k}')", CLICKHOUSE).count(rule)
    return f"SELECT {expr} FROM r.tags WHERE tag IN ({quoted(keys)})"


def duckdb_bits_sql(rule: Rule) -> str:
    """DuckDB bitstrings: one pass over the rule's rows of ``bits`` pivots each bitstring into a
    column (``first(bm) FILTER (WHERE tag = …)``), then one bitwise expression and ``bit_count``
    (a little faster than a scalar subquery per tag)."""
    keys = tag_keys(rule)
    alias = {k: f"t{i}" for i, k in enumerate(keys)}
    cols = ", ".join(f"first(bm) FILTER (WHERE tag = '{k}') AS {alias[k]}" for k in keys)
    expr = BitmapSql(alias.__getitem__, DUCKDB_BITS).count(rule)
    return f"SELECT {expr} FROM (SELECT {cols} FROM bits WHERE tag IN ({quoted(keys)}))"


def scan_where(node: Rule, codes: dict[str, int]) -> str:
    """DuckDB one-row-per-user: a rule is a boolean expression over the groups' code columns."""
    if "tag" in node:
        vals = [str(codes[f"{node['tag']}={v}"]) for v in node["in"]]
        return f'"{node["tag"]}" = {vals[0]}' if len(vals) == 1 else f'"{node["tag"]}" IN ({", ".join(vals)})'
    if "all" in node:
        return "(" + " AND ".join(scan_where(m, codes) for m in node["all"]) + ")"
    if "any" in node:
        return "(" + " OR ".join(scan_where(m, codes) for m in node["any"]) + ")"
    if "not" in node:
        return f"(NOT {scan_where(node['not'], codes)})"
    raise ValueError(f"unsupported rule node {node}")


def load_chdb(data: Path, manifest: dict[str, Any]) -> Any:
    from chdb.session import Session

    sess = Session()
    sess.query("CREATE DATABASE IF NOT EXISTS r")
    sess.query("CREATE TABLE r.tags (tag String, bm AggregateFunction(groupBitmap, UInt32)) ENGINE = Memory")
    for group in manifest["groups"]:
        for v in group["values"]:
            path = (data / v["u32_file"]).resolve()
            sess.query(
                f"INSERT INTO r.tags SELECT '{v['key']}', groupBitmapState(id) "
                f"FROM file('{path}', 'RowBinary', 'id UInt32')"
            )
    got = dict(
        line.split(",")
        for line in str(sess.query("SELECT tag, bitmapCardinality(bm) FROM r.tags", "CSV")).replace('"', "").split()
    )
    for group in manifest["groups"]:
        for v in group["values"]:
            if int(got[v["key"]]) != v["count"]:
                sys.exit(f"peers.py: chDB loaded {got[v['key']]} users for {v['key']}, expected {v['count']}")
    return sess


def load_duckdb(data: Path, manifest: dict[str, Any]) -> Any:
    import duckdb
    import numpy as np
    import pyarrow as pa

    n = manifest["users"]
    con = duckdb.connect()
    con.execute("CREATE TABLE bits (tag VARCHAR, bm BIT)")
    for group in manifest["groups"]:
        for v in group["values"]:
            ids = pa.table({"id": np.fromfile(data / v["u32_file"], dtype="<u4")})  # noqa: F841 (read by DuckDB)
            con.execute(f"INSERT INTO bits SELECT ?, bitstring_agg(id, 0, {n - 1}) FROM ids", [v["key"]])
            del ids
    columns = {g["name"]: np.fromfile(data / g["codes_file"], dtype="u1") for g in manifest["groups"]}
    users = pa.table(columns)  # noqa: F841 (read by DuckDB)
    con.execute("CREATE TABLE users AS SELECT * FROM users")
    del users, columns
    for group in manifest["groups"]:
        for v in group["values"]:
            bits = con.execute("SELECT bit_count(bm) FROM bits WHERE tag = ?", [v["key"]]).fetchone()
            scan = con.execute(f'SELECT count(*) FROM users WHERE "{group["name"]}" = {v["code"]}').fetchone()
            if bits is None or scan is None or bits[0] != v["count"] or scan[0] != v["count"]:
                sys.exit(f"peers.py: DuckDB loaded {bits} / {scan} users for {v['key']}, expected {v['count']}")
    return con


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, required=True, help="the population's folder (users-N)")
    ap.add_argument("--expect", type=Path, required=True, help="the Rust peers' results (engine counts)")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget-ms", type=float, default=1500)
    ap.add_argument("--min-rounds", type=int, default=7)
    args = ap.parse_args()

    import chdb
    import duckdb

    manifest = json.loads((args.data / "data.json").read_text())
    expected = {q["name"]: q["count"] for q in json.loads(args.expect.read_text())["queries"]}
    codes = {v["key"]: v["code"] for g in manifest["groups"] for v in g["values"]}
    n = manifest["users"]

    t0 = time.perf_counter()
    sess = load_chdb(args.data, manifest)
    chdb_load_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    con = load_duckdb(args.data, manifest)
    duckdb_load_s = time.perf_counter() - t0
    print(f"sql peers: {n} users loaded (chDB {chdb_load_s:.1f} s, DuckDB {duckdb_load_s:.1f} s)", file=sys.stderr)

    def ch(sql: str) -> Callable[[], int]:
        return lambda: int(str(sess.query(sql, "CSV")).strip())

    def duck(sql: str) -> Callable[[], int]:
        def run() -> int:
            row = con.execute(sql).fetchone()
            return int(row[0]) if row else -1

        return run

    budget_s, rounds = args.budget_ms / 1e3, args.min_rounds
    floor = race({"chdb": ch("SELECT 1"), "duckdb": duck("SELECT 1")}, 1, budget_s / 3, rounds, 500)
    results = []
    for q in manifest["queries"]:
        want = expected[q["name"]]
        rule = q["rule"]
        sqls = {
            "chdb": chdb_sql(rule),
            "duckdb-bits": duckdb_bits_sql(rule),
            "duckdb-scan": f"SELECT count_if({scan_where(rule, codes)}) FROM users",
        }
        peers = {"chdb": ch(sqls["chdb"]), "duckdb-bits": duck(sqls["duckdb-bits"]), "duckdb-scan": duck(sqls["duckdb-scan"])}
        timings = race(peers, want, budget_s, rounds, 500)
        line = ", ".join(f"{p} {t['median_ms']:.3f} ms" for p, t in timings.items())
        print(f"sql peers: {n} {q['name']:<24} count {want:>11}  {line}", file=sys.stderr)
        results.append({"name": q["name"], "count": want, "timings": timings, "sql": sqls})

    versions = {
        "chdb": chdb.__version__,
        "clickhouse": str(sess.query("SELECT version()", "CSV")).strip().strip('"'),
        "duckdb": duckdb.__version__,
        "chdb_max_threads": str(sess.query("SELECT getSetting('max_threads')", "CSV")).strip().strip('"'),
        "duckdb_threads": str(con.execute("SELECT current_setting('threads')").fetchone()[0]),  # type: ignore[index]
    }
    report = {
        "users": n,
        "versions": versions,
        "load_seconds": {"chdb": chdb_load_s, "duckdb": duckdb_load_s},
        "select_1": floor,
        "queries": results,
    }
    args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
