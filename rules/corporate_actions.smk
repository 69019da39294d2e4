# splits, dividends, tickers, ticker_changes: per-YEAR landing and bronze jobs writing month partitions
# (quantmini/datatypes/corporate_actions; bronze_<type>_<YYYY> because a year's outputs are its months in range).
import datetime as _dt

from quantmini.datatypes.corporate_actions.ingest import year_windows

CA_TYPES = ("splits", "dividends", "tickers", "ticker_changes")
CA_YEARS = sorted({y for y, _ in PARTITIONS})


def ca_months(year):
    return [(y, m) for (y, m) in sorted(PARTITIONS) if y == year]


def ca_sessions(year):
    """The year's sessions in range: a new session reruns the current year only."""
    return [d.isoformat() for ym in ca_months(year) for d in PARTITIONS[ym].sessions]


_CA_WINDOWS = {}


def ca_windows(year):
    """The year's month windows (computed here, where the calendar is loaded, once per year)."""
    if year not in _CA_WINDOWS:
        days = [_dt.date.fromisoformat(d) for d in ca_sessions(year)]
        _CA_WINDOWS[year] = [w.to_params() for w in year_windows(year, days)]
    return _CA_WINDOWS[year]


def ca_month_files(kind, dtype, year):
    """The year's month files of one kind: bronze, quarantine or report."""
    files = {"bronze": bronze_of, "quarantine": quarantine_of, "report": report_of}[kind]
    return [f for y, m in ca_months(year) for f in files(dtype, y, m)]


def ca_landing_inputs(dtype):
    """ticker_changes: this year's tickers snapshots, and the previous year's last (none for the first year)."""

    def inputs(wildcards):
        if dtype != "ticker_changes":
            return {}
        year = int(wildcards.year)
        previous = ca_month_files("bronze", "tickers", year - 1)[-1:] if year - 1 in CA_YEARS else []
        return {
            "snapshots": ca_month_files("bronze", "tickers", year),
            "previous": previous,
        }

    return inputs


for _dtype in CA_TYPES:

    rule:
        name:
            f"landing_{_dtype}"
        input:
            unpack(ca_landing_inputs(_dtype)),
        output:
            manifest=LAKE.landing_year_manifest(_dtype, Y),
        params:
            sessions=lambda wc: ca_sessions(int(wc.year)),
            windows=lambda wc: ca_windows(int(wc.year)),
            dtype=_dtype,
        resources:
            api=1,
        log:
            log_of(f"landing_{_dtype}", YEAR),
        benchmark:
            benchmark_of(f"landing_{_dtype}", YEAR)
        script:
            "../workflow_scripts/landing_corporate_actions.py"

    for _year in CA_YEARS:

        rule:
            name:
                f"bronze_{_dtype}_{_year}"
            input:
                manifest=LAKE.landing_year_manifest(_dtype, _year),
            output:
                bronze=ca_month_files("bronze", _dtype, _year),
                quarantine=ca_month_files("quarantine", _dtype, _year),
                report=ca_month_files("report", _dtype, _year),
            params:
                year=_year,
                sessions=ca_sessions(_year),
                windows=ca_windows(_year),
                universe=config["universe"],
                dtype=_dtype,
            log:
                log_of(f"bronze_{_dtype}", f"year={_year:04d}"),
            benchmark:
                benchmark_of(f"bronze_{_dtype}", f"year={_year:04d}")
            script:
                "../workflow_scripts/bronze_corporate_actions.py"

    TARGETS[_dtype] = [f for y, m in sorted(PARTITIONS) for f in bronze_of(_dtype, y, m)]
