"""`quantmini bars SYMBOL`: a security's daily bars from silver, adjusted continuously as of the lake's end
(or `--as-of`). The symbol resolves to the security (permanent `security_id`), so a renamed security's
whole history comes back under every symbol it traded as."""

from __future__ import annotations

import sys

from quantmini.cli.common import console, lake_root, rich_table

COLUMNS = ["security_id", "ticker", "date", "close", "factor", "adj_open", "adj_high", "adj_low", "adj_close",
           "adj_volume", "change"]


def bars(args) -> int:
    from quantmini.lake_db import Lake

    with Lake(lake_root(args)) as lake:
        df = lake.stocks_daily(args.symbol, args.start, args.end, layer="silver", as_of=args.as_of)
    if df.is_empty():
        raise LookupError(f"no silver bars for {args.symbol!r} in the requested range")
    df = df.select(COLUMNS)
    if args.format == "csv":
        sys.stdout.write(df.write_csv())
    elif args.format == "json":
        sys.stdout.write(df.write_json() + "\n")
    else:
        console().print(rich_table(df.tail(args.limit), title=f"{args.symbol}: {df.height} session(s)"
                                   + (f", last {args.limit} shown" if df.height > args.limit else "")))
    return 0
