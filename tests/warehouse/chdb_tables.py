#!/usr/bin/env python3
"""Real ClickHouse (chDB, in-process) writing Sieve's bitmap uploads the way a warehouse does.

Reads one JSON request on stdin and writes one JSON answer on stdout:

    {"tables": [{"key": "value", "type": "UInt32" | "UInt64", "rows": [["<user id>", "<value>"], ...]}, ...],
     "read": ["<base64 of an AggregateFunction(groupBitmap, UInt32) state>", ...]}

    {"csv": ["<key>,bitmap\\n<value>,<base64>\\n...", ...],
     "read": [[<id>, ...], ...]}

Each table's CSV is what the source design's pipeline writes: `SELECT value,
base64Encode(CAST(groupBitmapState(toUInt32(user_id)) AS String)) ... GROUP BY value`, the
key column named as given (`value`, `number` or `count`). "read" gives `bitmapToArray` of each
state, sorted. Runs in the venv `bash .dev/setup.sh --warehouse` makes.
"""

import json
import sys

import chdb
import pyarrow as pa


def rows(result):
    """The rows of a chDB result in the JSONCompact format, as lists."""
    return json.loads(result.bytes())["data"]


def bitmaps(table):
    """One row per value with the base64 of its users' groupBitmap state, as CSV text."""
    cast = {"UInt32": "toUInt32", "UInt64": "toUInt64"}[table.get("type", "UInt32")]
    # chDB's Python(name) finds `rows_table` among this function's locals.
    rows_table = pa.table(
        {
            "user_id": pa.array([r[0] for r in table["rows"]], type=pa.string()),
            "value": pa.array([r[1] for r in table["rows"]], type=pa.string()),
        }
    )
    # Columns from pyarrow are Nullable, and the state of a Nullable column starts with a
    # null flag: assumeNotNull gives the plain UInt32 column a warehouse table has.
    result = chdb.query(
        f"SELECT value, base64Encode(CAST(groupBitmapState({cast}(assumeNotNull(user_id))) AS String)) "
        "FROM Python(rows_table) GROUP BY value ORDER BY value",
        "JSONCompact",
    )
    lines = [f"{table['key']},bitmap"] + [f"{v},{b}" for v, b in rows(result)]
    return "\n".join(lines) + "\n"


def read(states):
    """The ids of each base64 state, sorted."""
    states_table = pa.table(
        {
            "case": pa.array(list(range(len(states))), type=pa.uint32()),
            "state": pa.array(states, type=pa.string()),
        }
    )
    result = chdb.query(
        "SELECT case, arraySort(bitmapToArray(CAST(base64Decode(assumeNotNull(state)) "
        "AS AggregateFunction(groupBitmap, UInt32)))) "
        "FROM Python(states_table) ORDER BY case",
        "JSONCompact",
    )
    return [[int(x) for x in ids] for _, ids in rows(result)]


def main():
    request = json.load(sys.stdin)
    answer = {
        "csv": [bitmaps(t) for t in request.get("tables", [])],
        "read": read(request["read"]) if request.get("read") else [],
    }
    json.dump(answer, sys.stdout)


if __name__ == "__main__":
    main()
