#!/usr/bin/env python3
"""pyarrow writing the Parquet files Sieve's tests upload, as Spark, Hive or DuckDB would.

Reads one JSON request on stdin:

    {"files": [{"path": "<where>", "columns": {"user_id": "<type>", "value": "<type>"},
                "rows": [[<user>, <value>], ...], "row_group_size": <int>,
                "compression": "snappy" | "gzip" | "zstd" | "lz4" | "none"}, ...]}

Types: "string", "large_string", "dictionary" (dictionary-encoded strings), "int64", "uint32",
"int32", "bool", "float64", "decimal(P,S)" (values given as text), "list" (a type Sieve refuses).
Values may be null (JSON null). Column names are taken from "columns", in order. Writes nothing
on stdout; fails loudly. Runs in the venv `bash .dev/setup.sh --warehouse` makes.
"""

import decimal
import json
import sys

import pyarrow as pa
import pyarrow.parquet as pq


def arrow_type(name):
    if name.startswith("decimal("):
        precision, scale = name[len("decimal("):-1].split(",")
        return pa.decimal128(int(precision), int(scale))
    return {
        "string": pa.string(),
        "large_string": pa.large_string(),
        "dictionary": pa.dictionary(pa.int32(), pa.string()),
        "int64": pa.int64(),
        "int32": pa.int32(),
        "uint32": pa.uint32(),
        "bool": pa.bool_(),
        "float64": pa.float64(),
        "list": pa.list_(pa.int64()),
    }[name]


def column(values, type_name):
    t = arrow_type(type_name)
    if type_name.startswith("decimal("):
        values = [None if v is None else decimal.Decimal(v) for v in values]
    if type_name == "dictionary":
        return pa.array(values, type=pa.string()).dictionary_encode()
    return pa.array(values, type=t)


def main():
    request = json.load(sys.stdin)
    for f in request["files"]:
        names = list(f["columns"].keys())
        arrays = [column([r[i] for r in f["rows"]], f["columns"][n]) for i, n in enumerate(names)]
        table = pa.table(dict(zip(names, arrays)))
        compression = f.get("compression", "snappy")
        pq.write_table(
            table,
            f["path"],
            row_group_size=f.get("row_group_size", 1 << 20),
            compression=None if compression == "none" else compression,
        )


if __name__ == "__main__":
    main()
