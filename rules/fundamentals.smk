# fundamentals: per-YEAR landing and bronze jobs for financials, short_interest and short_volume, and a
# per-month point-in-time silver join onto the daily bars (quantmini/datatypes/fundamentals).
from quantmini import calendar as _qm_calendar
from quantmini.datatypes.fundamentals.ingest import TABLES as FUND_TABLES
from quantmini.datatypes.fundamentals.ingest import window_key as _fund_key
from quantmini.datatypes.fundamentals.ingest import year_windows as _fund_year_windows
from quantmini.datatypes.fundamentals.silver import FILINGS_LOOKBACK_MONTHS, SHORT_INTEREST_LOOKBACK_MONTHS

FUND_HISTORY = qm_catalog.history_months(min(PARTITIONS))  # financials' look-back (catalog)
FUND_YEARS = sorted({y for y, _ in PARTITIONS})  # the first year's jobs also hold the history months
_FUND_WINDOWS = {}


def fund_windows(year):
    """The year's windows per table and month (the calendar is loaded here, once per year)."""
    if year not in _FUND_WINDOWS:
        sessions = {ym: list(p.sessions) for ym, p in PARTITIONS.items() if ym[0] == year}
        history = FUND_HISTORY if year == FUND_YEARS[0] else []
        _FUND_WINDOWS[year] = _fund_year_windows(year, sessions, history)
    return _FUND_WINDOWS[year]


def fund_files(kind, year):
    path = {"bronze": LAKE.bronze, "quarantine": LAKE.quarantine, "report": LAKE.validation_report}[kind]
    return [path(w["table"], w["year"], w["month"]) for w in fund_windows(year)]


rule landing_fundamentals:
    output:
        manifest=LAKE.landing_year_manifest("fundamentals", Y),
    params:
        windows=lambda wc: fund_windows(int(wc.year)),
    resources:
        api=1,
    log:
        log_of("landing_fundamentals", YEAR),
    benchmark:
        benchmark_of("landing_fundamentals", YEAR)
    script:
        "../workflow_scripts/landing_fundamentals.py"


for _year in FUND_YEARS:

    rule:
        name:
            f"bronze_fundamentals_{_year}"
        input:
            manifest=LAKE.landing_year_manifest("fundamentals", _year),
        output:
            bronze=fund_files("bronze", _year),
            quarantine=fund_files("quarantine", _year),
            report=fund_files("report", _year),
        params:
            year=_year,
            windows=fund_windows(_year),
            universe=config["universe"],
        log:
            log_of("bronze_fundamentals", f"year={_year:04d}"),
        benchmark:
            benchmark_of("bronze_fundamentals", f"year={_year:04d}")
        script:
            "../workflow_scripts/bronze_fundamentals.py"


def _fund_months(year, month, before, available):
    """(year, month) and the `before` months preceding it that are in `available`, oldest first."""
    months, y, m = [(year, month)], year, month
    for _ in range(before):
        y, m = (y, m - 1) if m > 1 else (y - 1, 12)
        months.append((y, m))
    return [ym for ym in reversed(months) if ym in available]


def fund_inputs(table, before, layer="bronze"):
    """Input function: the table's month files of this silver month's window; all but the range's open
    month are `ancient` (their per-year job reruns when `end` moves on, with the same content)."""
    available = set(PARTITIONS) | (set(FUND_HISTORY) if table == "financials" else set())

    def files(wc):
        if table in ("splits", "corporate_actions") and not enabled("splits"):
            return []
        if table == "ticker_changes" and not enabled("ticker_changes"):
            return []
        year, month = int(wc.year), int(wc.month)
        out = []
        for y, m in _fund_months(year, month, before, available):
            path = LAKE.quarantine(table, y, m) if table == "corporate_actions" else LAKE.bronze(table, y, m)
            out.append(path if (y, m) == max(PARTITIONS) else ancient(path))
        return out

    return files


def fund_sessions(wc):
    """[session, its close in UTC] of this month and the previous one in range (short interest's lag)."""
    year, month = int(wc.year), int(wc.month)
    days = [d for ym in _fund_months(year, month, SHORT_INTEREST_LOOKBACK_MONTHS, set(PARTITIONS))
            for d in PARTITIONS[ym].sessions]
    return [[d.isoformat(), _qm_calendar.session_bounds_utc(d)[1].isoformat()] for d in days]


rule silver_fundamentals:
    input:
        bars=LAKE.bronze("stocks_daily", Y, M),
        financials=fund_inputs("financials", FILINGS_LOOKBACK_MONTHS),
        short_interest=fund_inputs("short_interest", SHORT_INTEREST_LOOKBACK_MONTHS),
        short_volume=fund_inputs("short_volume", 0),
        splits=fund_inputs("splits", FILINGS_LOOKBACK_MONTHS),
        split_quarantine=fund_inputs("corporate_actions", FILINGS_LOOKBACK_MONTHS),
        changes=fund_inputs("ticker_changes", FILINGS_LOOKBACK_MONTHS),
    output:
        silver=LAKE.silver("fundamentals_daily", Y, M),
    params:
        sessions=fund_sessions,
    log:
        log_of("silver_fundamentals", MONTH),
    benchmark:
        benchmark_of("silver_fundamentals", MONTH)
    script:
        "../workflow_scripts/silver_fundamentals.py"


TARGETS["fundamentals"] = [f for y in FUND_YEARS for f in fund_files("bronze", y)]
SILVER_TARGETS["fundamentals"] = per_month(rules.silver_fundamentals.output.silver)
