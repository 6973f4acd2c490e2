#!/usr/bin/env python3
"""Real ClickHouse (chDB, in-process) as the oracle for Sieve's warehouse bitmap codec.

Reads one JSON request on stdin and writes one JSON answer on stdout, so a test makes all its
calls in one process (importing chDB takes about half a second):

    {"write": [{"type": "UInt32" | "UInt64", "ids": [int, ...]}, ...],
     "read":  ["<hex of an AggregateFunction(groupBitmap, UInt32) state>", ...]}

    {"clickhouse": "26.9.2.1",
     "written": ["<hex of groupBitmapState over the ids>", ...],
     "read": [{"cardinality": int, "ids": [int, ...]} | {"error": "<ClickHouse's message>"}, ...]}

"written" holds what ClickHouse itself stores: `hex(CAST(groupBitmapState(x) AS String))` with
x of the given type. "read" is `bitmapCardinality` and `bitmapToArray` of each state cast back
to `AggregateFunction(groupBitmap, UInt32)`; the array is in the state's own order (a small set
keeps its stored order). Runs in the venv `bash .dev/setup.sh --warehouse` makes.
"""

import json
import sys

import chdb
import pyarrow as pa


def rows(result):
    """The rows of a chDB result in the JSONCompact format, as lists."""
    return json.loads(result.bytes())["data"]


# chDB's Python(name) table function finds `name` among the local variables of the function
# that calls chdb.query, so each query below is run where its pyarrow table is a local.


def write(cases, type_name):
    """groupBitmapState over each case's ids, in one query; {case index: hex}."""
    arrow_type = {"UInt32": pa.uint32(), "UInt64": pa.uint64()}[type_name]
    case, value, present = [], [], []
    for i, ids in cases:
        # A row with present = 0 keeps a case with no ids in the GROUP BY (an empty state).
        values = ids or [0]
        case += [i] * len(values)
        value += values
        present += [1 if ids else 0] * len(values)
    ids_table = pa.table(
        {
            "case": pa.array(case, type=pa.uint32()),
            "x": pa.array(value, type=arrow_type),
            "present": pa.array(present, type=pa.uint8()),
        }
    )
    result = chdb.query(
        "SELECT case, hex(CAST(groupBitmapStateIf(x, present = 1) AS String)) "
        "FROM Python(ids_table) GROUP BY case ORDER BY case",
        "JSONCompact",
    )
    return {int(c): h for c, h in rows(result)}


READ_SQL = (
    "SELECT case, toString(bitmapCardinality(b)), arrayMap(x -> toString(x), bitmapToArray(b)) "
    "FROM (SELECT case, CAST(state AS AggregateFunction(groupBitmap, UInt32)) AS b FROM Python(states_table)) "
    "ORDER BY case"
)


def read(states):
    """Cardinality and ids of each state; a state ClickHouse refuses gets its error."""
    def read_batch(indexed):
        states_table = pa.table(
            {
                "case": pa.array([i for i, _ in indexed], type=pa.uint32()),
                "state": pa.array([bytes.fromhex(s) for _, s in indexed], type=pa.binary()),
            }
        )
        result = chdb.query(READ_SQL, "JSONCompact")
        return {int(c): {"cardinality": int(n), "ids": [int(x) for x in ids]} for c, n, ids in rows(result)}

    def read_halving(indexed):
        # One bad state fails the whole query: halve the batch until the bad ones stand alone.
        try:
            return read_batch(indexed)
        except RuntimeError as e:
            if len(indexed) == 1:
                return {indexed[0][0]: {"error": str(e)}}
            middle = len(indexed) // 2
            return read_halving(indexed[:middle]) | read_halving(indexed[middle:])

    if not states:
        return []
    answers = read_halving(list(enumerate(states)))
    return [answers[i] for i in range(len(states))]


def main():
    request = json.load(sys.stdin)
    writes = request.get("write", [])
    written = {}
    for type_name in ("UInt32", "UInt64"):
        cases = [(i, w["ids"]) for i, w in enumerate(writes) if w["type"] == type_name]
        if cases:
            written.update(write(cases, type_name))
    unknown = {w["type"] for w in writes} - {"UInt32", "UInt64"}
    if unknown:
        raise SystemExit(f"unknown types {sorted(unknown)}: UInt32 or UInt64")
    answer = {
        "clickhouse": rows(chdb.query("SELECT version()", "JSONCompact"))[0][0],
        "written": [written[i] for i in range(len(writes))],
        "read": read(request.get("read", [])),
    }
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
