"""`quantmini query`: SQL over the lake (DuckDB views of every table)."""

from __future__ import annotations

import sys

from quantmini.cli.common import console, fail, lake_root, rich_table


def query(args) -> int:
    import duckdb

    from quantmini.lake_db import Lake

    with Lake(lake_root(args)) as lake:
        catalog = lake.write_catalog()
    con = duckdb.connect(str(catalog), read_only=True)
    try:
        rel = con.sql(args.sql)
        df = rel.pl() if rel is not None else None
    except duckdb.Error as exc:
        return fail(f"query: {str(exc).splitlines()[0]}", 1)
    finally:
        con.close()
    if df is None:
        return 0
    if args.format == "csv":
        sys.stdout.write(df.write_csv())
    elif args.format == "json":
        sys.stdout.write(df.write_json() + "\n")
    else:
        console().print(rich_table(df.head(args.limit),
                                     title=f"{df.height} row(s)" + (f", first {args.limit} shown" if df.height > args.limit else "")))
    return 0
