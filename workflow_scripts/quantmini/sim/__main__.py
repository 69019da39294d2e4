"""CLI: `python -m quantmini.sim serve ...` runs the simulator; `... truth --out DIR` exports ground truth."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys

from quantmini.argtypes import number
from quantmini.sim.faults import parse_fault_spec


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one clear line, exit 2
        print(f"quantmini.sim: error: {message}", file=sys.stderr)
        sys.exit(2)


def _date(raw: str) -> str:
    try:
        return dt.date.fromisoformat(raw).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{raw}' is not a YYYY-MM-DD date") from None


def _month(raw: str) -> str:
    try:
        dt.date.fromisoformat(raw + "-01")
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{raw}' is not a YYYY-MM month") from None
    return raw


def _revise(raw: str) -> str:
    from quantmini.sim.revise import parse_spec

    try:
        parse_spec(raw)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return raw


_positive_int = number(int, 1)
_port = number(int, 0, 65535)
_nonneg_float = number(float, 0)


def _faults(raw: str) -> str:
    try:
        parse_fault_spec(raw)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return raw


def _market_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--tickers", type=_positive_int, default=50, help="number of securities")
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--start", type=_date, default="2019-01-02")
    p.add_argument("--end", type=_date, default=None, help="default: the last XNYS session up to today")
    p.add_argument("--no-vendor-errors", action="store_true", help="serve only true splits")
    p.add_argument("--extra-vendor-errors", action="store_true",
                   help="also serve misdated bars (a non-session, the wrong session) and a split with a wrong ratio")
    p.add_argument("--plant-signal", type=_nonneg_float, default=0.0,
                   help="share of news insights whose sentiment is the sign of the coming label (sim/planted.py)")
    p.add_argument("--plant-leak", type=_nonneg_float, default=0.0,
                   help="share of news insights whose sentiment is the sign of a label 3 sessions old")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m quantmini.sim", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    s = sub.add_parser("serve", help="serve the Polygon-compatible REST API")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=_port, default=0, help="0 picks a free port")
    s.add_argument("--tls", action="store_true", help="also serve TLS (ALPN h2, http/1.1) on --tls-port")
    s.add_argument("--tls-port", type=_port, default=0)
    s.add_argument("--tls-dir", default=None, help="where to write cert.pem/key.pem (default: a temp dir)")
    _market_args(s)
    s.add_argument("--api-key", default=None, help="require this key (default: $QUANTMINI_SIM_API_KEY; none = open)")
    s.add_argument("--faults", type=_faults, default=None, help="e.g. 429=0.2,500=0.1,reset=0.05,repeat_cursor=0.3")
    s.add_argument("--fault-seed", type=int, default=0)
    s.add_argument("--fault-max-consecutive", type=_positive_int, default=2)
    s.add_argument("--fault-slow-s", type=_nonneg_float, default=2.0)
    s.add_argument("--latency-ms", type=_nonneg_float, default=0.0)
    s.add_argument("--gzip-level", type=number(int, 0, 9), default=1,
                   help="gzip level for bodies of requests that accept gzip (0: never compress)")
    s.add_argument("--plan-start", type=_date, default=None,
                   help="play a plan whose history starts here: aggregates before it answer 403 NOT_AUTHORIZED")
    s.add_argument("--delayed-minutes", type=_nonneg_float, default=0.0,
                   help="play a delayed plan: aggregates whose data ended less than N minutes ago say DELAYED")
    s.add_argument("--legacy-shapes", action="store_true",
                   help="serve older shapes: splits/dividends without id, financials without acceptance_datetime")
    s.add_argument("--bad-month", type=_month, default=None,
                   help="YYYY-MM: every grouped-daily bar of that month has high < low (all quarantined)")
    s.add_argument("--revise", type=_revise, default=None, metavar="YYYY-MM-DD[@N]",
                   help="serve that session's grouped bars revised from the (N+1)-th request on (default N=0)")
    s.add_argument("--request-log", default=None, help="append one JSON line per request")
    s.add_argument("--ready-file", default=None, help="written (atomically) once the server answers")
    s.add_argument("--parent-fd", type=int, default=None,
                   help="a pipe's read end inherited from the owner: stop when it reaches EOF (the owner died)")
    t = sub.add_parser("truth", help="export the ground truth as Parquet files")
    t.add_argument("--out", required=True)
    _market_args(t)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.end and args.end < args.start:
        parser.error(f"--end {args.end} is before --start {args.start}")
    if args.command == "truth":
        from quantmini.sim.market import Market, MarketConfig

        try:
            market = Market(MarketConfig(seed=args.seed, n_tickers=args.tickers, start=args.start, end=args.end,
                                         vendor_errors=not args.no_vendor_errors,
                                         extra_vendor_errors=args.extra_vendor_errors,
                                         plant_signal=args.plant_signal, plant_leak=args.plant_leak))
        except ValueError as err:
            parser.error(str(err))
        for path in market.export_truth(args.out):
            print(path)
        from quantmini.sim.financials import export_truth as export_fundamentals

        for path in export_fundamentals(market, args.out):
            print(path)
        from quantmini.sim.news import export_truth as export_news

        for path in export_news(market, args.out):
            print(path)
        from quantmini.sim.options import export_truth as export_options

        for path in export_options(market, args.out):
            print(path)
        return 0
    from quantmini.sim.server import ServeOptions, serve

    opts = ServeOptions(host=args.host, port=args.port, tls=args.tls, tls_port=args.tls_port,
                        tls_dir=args.tls_dir, tickers=args.tickers, seed=args.seed, start=args.start,
                        end=args.end, vendor_errors=not args.no_vendor_errors,
                        extra_vendor_errors=args.extra_vendor_errors,
                        plant_signal=args.plant_signal, plant_leak=args.plant_leak,
                        api_key=args.api_key or os.environ.get("QUANTMINI_SIM_API_KEY") or None,
                        faults=args.faults, fault_seed=args.fault_seed,
                        fault_max_consecutive=args.fault_max_consecutive, fault_slow_s=args.fault_slow_s,
                        latency_ms=args.latency_ms, gzip_level=args.gzip_level, request_log=args.request_log,
                        plan_start=args.plan_start, delayed_minutes=args.delayed_minutes,
                        legacy_shapes=args.legacy_shapes, bad_month=args.bad_month, revise=args.revise,
                        ready_file=args.ready_file, parent_fd=args.parent_fd)
    try:
        serve(opts)
    except ValueError as err:  # e.g. a range without sessions
        parser.error(str(err))
    except OSError as err:  # e.g. the port is taken
        print(f"quantmini.sim: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
