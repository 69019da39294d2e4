"""`quantmini`: operate the lake. `ingest` runs the Snakemake workflow through Snakemake's Python API
(the same rules, the same lock; no second pipeline); `status`, `gaps`, `validate` and `query` read the
lake; `sim` is the simulator's own CLI. Bad input: one line on stderr, exit 2; a failed run: exit 1.
"""

from __future__ import annotations

import os
import signal
import sys


def _interrupted_while_starting(signum, frame):  # Ctrl-C during the imports below: nothing to clean up yet
    print("quantmini: interrupted", file=sys.stderr, flush=True)
    os._exit(130)


if sys.argv[:1] == ["-m"] or os.path.basename(sys.argv[0] if sys.argv else "") == "quantmini":
    signal.signal(signal.SIGINT, _interrupted_while_starting)  # started as the command, not imported

import argparse  # noqa: E402

from quantmini import config as qm_config  # noqa: E402
from quantmini.argtypes import number  # noqa: E402
from quantmini.cli.bars import bars  # noqa: E402
from quantmini.cli.common import (  # noqa: E402
    DATA_TYPES,
    INTERRUPTS,
    LAYERS,
    UsageError,
    date_arg,
    fail,
    memory_size,
    on_interrupt,
    positive,
)
from quantmini.cli.ingest import ingest  # noqa: E402
from quantmini.cli.inspect import accept, gaps, status, validate  # noqa: E402
from quantmini.cli.prune import prune  # noqa: E402
from quantmini.cli.query import query  # noqa: E402
from quantmini.cli.sim import sim  # noqa: E402


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
    g.add_argument("-t", "--type", action="append", metavar="TYPE",
                   help=f"data type to check, repeatable or comma-separated: {', '.join(DATA_TYPES)} "
                        "(default: config data_types)")
    g.add_argument("-s", "--start", type=date_arg, help="first date of the range checked (default: config start)")
    g.add_argument("-e", "--end", type=date_arg, help="last date or 'today' (default: config end)")
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

    a = sub.add_parser("accept", help="record a flagged session as an accepted exception (who, why); "
                                      "validate then passes it")
    a.add_argument("type", help="the flagging data type: stocks_minute")
    a.add_argument("session", type=date_arg, help="the flagged session, YYYY-MM-DD (as `validate` names it)")
    a.add_argument("--ticker", help="the flagged ticker (default: every ticker flagged on that session)")
    a.add_argument("--by", required=True, help="who accepts it")
    a.add_argument("--why", required=True, help="why it is acceptable (e.g. a known vendor gap)")
    common(a)
    a.set_defaults(func=accept)

    r = sub.add_parser("prune", help="delete partitions outside the configured range (a dry run unless --yes)")
    r.add_argument("-s", "--start", type=date_arg, help="first date of the range kept (default: config start)")
    r.add_argument("-e", "--end", type=date_arg, help="last date of the range kept, or 'today' (default: config end)")
    r.add_argument("--yes", action="store_true", help="delete them (default: only list what would be deleted)")
    common(r)
    r.set_defaults(func=prune)

    q = sub.add_parser("query", help="SQL over the lake (DuckDB views bronze_*, silver_*, quarantine_*)")
    q.add_argument("sql")
    q.add_argument("--format", choices=("table", "csv", "json"), default="table")
    q.add_argument("--limit", type=positive, help="rows fetched at most (default: 100 in a table, all in csv/json, "
                   "streamed)")
    q.add_argument("--memory-limit", type=memory_size, default="1GB", metavar="SIZE",
                   help="DuckDB memory limit: a query needing more fails (default: 1GB)")
    common(q)
    q.set_defaults(func=query)

    b = sub.add_parser("bars", help="a security's silver bars adjusted as of the lake's end (or --as-of), by symbol")
    b.add_argument("symbol", help="a symbol it traded as (any of a renamed security's) or its security_id")
    b.add_argument("-s", "--start", type=date_arg)
    b.add_argument("-e", "--end", type=date_arg)
    b.add_argument("--as-of", type=date_arg, help="adjust as of this date (rows up to it): what the lake showed then")
    b.add_argument("--format", choices=("table", "csv", "json"), default="table")
    b.add_argument("--limit", type=positive, default=100, help="rows shown in a table (the last ones)")
    common(b)
    b.set_defaults(func=bars)

    m = sub.add_parser("sim", help="the simulator: quantmini sim serve ... | quantmini sim truth --out DIR",
                       add_help=False)
    m.add_argument("sim_args", nargs=argparse.REMAINDER)
    m.set_defaults(func=sim)
    return p


def main(argv: list[str] | None = None) -> int:
    """Run a command. Ctrl-C (SIGINT) ends any of them with one line, `quantmini: interrupted`, exit 130."""
    INTERRUPTS.clear()
    previous = signal.signal(signal.SIGINT, on_interrupt)
    try:
        code = _main(argv)
        return fail("interrupted", 130) if INTERRUPTS else code  # e.g. Snakemake stopped its jobs itself
    except BaseException as exc:
        if INTERRUPTS or isinstance(exc, KeyboardInterrupt):
            return fail("interrupted", 130)
        raise
    finally:
        signal.signal(signal.SIGINT, previous)


def _main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["sim"]:  # everything after `sim` is the simulator's (--help included: REMAINDER
        return sim(argparse.Namespace(sim_args=argv[1:]))  # would leave a leading option to our parser)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (UsageError, qm_config.ConfigError) as exc:
        return fail(str(exc), 2)
    except (LookupError, ValueError, OSError) as exc:
        if INTERRUPTS:
            raise
        return fail(f"{args.command}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", 1)


if __name__ == "__main__":
    sys.exit(main())
