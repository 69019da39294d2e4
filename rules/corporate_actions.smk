# splits, dividends, tickers, ticker_changes: per-YEAR landing and bronze jobs writing month partitions
# (quantmini/datatypes/corporate_actions; bronze_<type>_<YYYY> because a year's outputs are its months in range).
import datetime as _dt

from quantmini.datatypes.corporate_actions.ingest import year_windows

CA_TYPES = ("splits", "dividends", "tickers", "ticker_changes")
CA_YEARS = sorted({y for y, _ in PARTITIONS})
YEAR = "year={year}"


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
    pattern = {
        "bronze": f"{ROOT}/bronze/{dtype}/{MONTH}/data.parquet",
        "quarantine": f"{ROOT}/quarantine/{dtype}/{MONTH}/data.parquet",
        "report": f"{ROOT}/reports/validation/{dtype}/{MONTH}.json",
    }[kind]
    return [pattern.format(year=f"{y:04d}", month=f"{m:02d}") for y, m in ca_months(year)]


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
            manifest=f"{ROOT}/landing/{_dtype}/{YEAR}/_manifest.json",
        params:
            sessions=lambda wc: ca_sessions(int(wc.year)),
            windows=lambda wc: ca_windows(int(wc.year)),
            dtype=_dtype,
        resources:
            api=1,
        log:
            f"{ROOT}/logs/landing_{_dtype}/{YEAR}.log",
        benchmark:
            f"{ROOT}/benchmarks/landing_{_dtype}/{YEAR}.tsv"
        script:
            "../workflow_scripts/landing_corporate_actions.py"

    for _year in CA_YEARS:

        rule:
            name:
                f"bronze_{_dtype}_{_year}"
            input:
                manifest=f"{ROOT}/landing/{_dtype}/year={_year:04d}/_manifest.json",
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
                f"{ROOT}/logs/bronze_{_dtype}/year={_year:04d}.log",
            benchmark:
                f"{ROOT}/benchmarks/bronze_{_dtype}/year={_year:04d}.tsv"
            script:
                "../workflow_scripts/bronze_corporate_actions.py"

    TARGETS[_dtype] = per_month(f"{ROOT}/bronze/{_dtype}/{MONTH}/data.parquet")
