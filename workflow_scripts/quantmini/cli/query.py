"""`quantmini query`: SQL over the lake (DuckDB views of every table), read-only.

The SQL runs on an in-memory connection locked by quantmini.readonly: one SELECT, reads only the lake's
table folders, writes nothing (not even `lake.duckdb`: `ingest` writes that), memory bounded by
`--memory-limit`. At most `--limit` rows are fetched (one more to know whether there were more); csv and
json stream every row in batches when no `--limit` is given, so memory stays bounded either way.
"""

from __future__ import annotations

import sys

from quantmini.cli.common import console, fail, lake_root, rich_table

TABLE_LIMIT = 100  # rows shown in a table when --limit is not given
BATCH = 10_000


def query(args) -> int:
    import duckdb
    import polars as pl

    from quantmini.lake_db import Lake
    from quantmini.readonly import check_statement

    check_statement(args.sql)  # ReadOnlyError (a ValueError): one line, exit 1
    limit = args.limit or (TABLE_LIMIT if args.format == "table" else None)
    with Lake(lake_root(args), memory_limit=args.memory_limit) as lake:
        try:
            lake.prepare(args.sql)  # the footers and views of the tables it names
            rel = lake.con.sql(args.sql)
            if rel is None:
                return 0
            if limit is not None:  # on a consistent snapshot (Lake.consistent): a rewrite meanwhile reruns it
                df = lake.consistent(lambda: lake.con.sql(args.sql).limit(limit + 1).pl())
                more, df = df.height > limit, df.head(limit)
                _write(df, args.format, more, limit)
                return 0
            reader = rel.fetch_record_batch(BATCH)
            first = True
            if args.format == "json":
                sys.stdout.write("[")
            for batch in reader:
                df = pl.from_arrow(batch)
                if args.format == "csv":
                    sys.stdout.write(df.write_csv(include_header=first))
                else:
                    if df.height:
                        sys.stdout.write(("" if first else ",") + df.write_json()[1:-1])
                if df.height:
                    first = False
            if first and args.format == "csv":
                sys.stdout.write(",".join(rel.columns) + "\n")
            if args.format == "json":
                sys.stdout.write("]\n")
        except duckdb.Error as exc:
            return fail(f"query: {str(exc).splitlines()[0]}", 1)
    return 0


def _write(df, fmt: str, more: bool, limit: int) -> None:
    if fmt == "csv":
        sys.stdout.write(df.write_csv())
    elif fmt == "json":
        sys.stdout.write(df.write_json() + "\n")
    else:
        console().print(rich_table(df, title=f"{df.height} row(s)" + (f", first {limit} shown" if more else "")))
    if more:
        print(f"quantmini: query: more than {limit} rows; only the first {limit} fetched (--limit)", file=sys.stderr)
