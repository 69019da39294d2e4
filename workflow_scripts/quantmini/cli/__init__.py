"""`quantmini`: operate the lake. `ingest` runs the Snakemake workflow through Snakemake's Python API
(the same rules, the same lock; no second pipeline); `status`, `gaps`, `validate` and `query` read the
lake; `sim` is the simulator's own CLI. Bad input: one line on stderr, exit 2; a failed run: exit 1.
"""

from __future__ import annotations

import argparse
import sys

from quantmini import config as qm_config
from quantmini.argtypes import number
from quantmini.cli.common import DATA_TYPES, LAYERS, UsageError, date_arg, fail, memory_size, positive
from quantmini.cli.ingest import ingest
from quantmini.cli.inspect import gaps, status, validate
from quantmini.cli.query import query
from quantmini.cli.sim import sim


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        print(f"quantmini: error: {message}", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="quantmini", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def common(sp, data_root=True):
        sp.add_argument("--config", metavar="FILE", help="config file over config/config.yaml (as --configfile)")
        if data_root:
            sp.add_argument("--data-root", metavar="DIR", help="the lake (default: data_root of the config)")

    i = sub.add_parser("ingest", help="build the lake for a date range (incremental: only what is missing)")
    i.add_argument("-t", "--type", action="append", metavar="TYPE",
                   help=f"data type, repeatable or comma-separated: {', '.join(DATA_TYPES)} (default: config)")
    i.add_argument("-s", "--start", type=date_arg, help="first date (default: config start)")
    i.add_argument("-e", "--end", type=date_arg, help="last date or 'today' (default: config end)")
    i.add_argument("--to", choices=LAYERS, default="bronze", help="the layer to build up to (default: bronze)")
    i.add_argument("--max-concurrent", type=positive, help="concurrent requests per download job")
    i.add_argument("--cores", type=positive, help="cores for Snakemake (default: the profile's)")
    i.add_argument("-n", "--dry-run", action="store_true", help="show what would run")
    i.add_argument("--incremental", action="store_true", help="accepted for the old CLI; always incremental")
    i.add_argument("--summary", metavar="FILE", help="write a PIPELINE_SUMMARY.md of the run")
    common(i, data_root=False)
    i.set_defaults(func=ingest)

    s = sub.add_parser("status", help="what the lake holds per layer and type")
    common(s)
    s.set_defaults(func=status)

    g = sub.add_parser("gaps", help="completeness report; exit 0 = complete, 1 = gaps found")
    g.add_argument("-t", "--type", action="append", metavar="TYPE")
    g.add_argument("-s", "--start", type=date_arg)
    g.add_argument("-e", "--end", type=date_arg)
    g.add_argument("--out", metavar="DIR", help="report directory (default: <lake>/reports/gaps)")
    g.add_argument("--thin-ratio", type=number(float, 0, 1), help="a session/month below this fraction of its baseline is thin")
    g.add_argument("--backfill", action="store_true", help="land and rebuild the partitions with gaps, then report")
    g.add_argument("--to", choices=LAYERS, default="bronze", help="backfill up to this layer")
    g.add_argument("--cores", type=positive)
    common(g)
    g.set_defaults(func=gaps)

    v = sub.add_parser("validate", help="validation reports, and bronze re-checked against them and its schema")
    common(v)
    v.set_defaults(func=validate)

    q = sub.add_parser("query", help="SQL over the lake (DuckDB views bronze_*, silver_*, quarantine_*)")
    q.add_argument("sql")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    q.add_argument("--limit", type=positive, help="rows fetched at most (default: 100 in a table, all in csv/json, "
                   "streamed)")
    q.add_argument("--memory-limit", type=memory_size, default="1GB", metavar="SIZE",
                   help="DuckDB memory limit: a query needing more fails (default: 1GB)")
    common(q)
    q.set_defaults(func=query)

    m = sub.add_parser("sim", help="the simulator: quantmini sim serve ... | quantmini sim truth --out DIR",
                       add_help=False)
    m.add_argument("sim_args", nargs=argparse.REMAINDER)
    m.set_defaults(func=sim)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, qm_config.ConfigError) as exc:
        return fail(str(exc), 2)
    except (LookupError, ValueError, OSError) as exc:
        return fail(f"{args.command}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", 1)
    except KeyboardInterrupt:
        return fail("interrupted", 130)


if __name__ == "__main__":
    sys.exit(main())
