# fundamentals: financials by filing month, short interest by settlement month, short volume by session
# month (workflow_scripts/quantmini/fundamentals.py), and the point-in-time silver join onto the daily bars
# (quantmini/fundamentals_silver.py).
#
# One landing job and one bronze job per YEAR for the three tables (a job costs a Python start-up),
# writing month partitions bronze/<table>/year=YYYY/month=MM/. Financials also cover the
# HISTORY_MONTHS before the range (silver looks back to them); the range's first year's jobs hold them.
# params.windows (each month's date window) makes the current year stale when `end` moves on; landing
# chunks are immutable, so a rerun downloads only the days no chunk holds. Silver is one job per month,
# depending only on the bronze it reads; closed months' inputs are `ancient`, so they never rebuild.
from quantmini import calendar as _qm_calendar
from quantmini.fundamentals import TABLES as FUND_TABLES
from quantmini.fundamentals import history_months as _fund_history
from quantmini.fundamentals import window_key as _fund_key
from quantmini.fundamentals import year_windows as _fund_year_windows
from quantmini.fundamentals_silver import FILINGS_LOOKBACK_MONTHS, SHORT_INTEREST_LOOKBACK_MONTHS

FUND_HISTORY = _fund_history(min(PARTITIONS))
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
    pattern = {"bronze": "bronze/{table}/year={year:04d}/month={month:02d}/data.parquet",
               "quarantine": "quarantine/{table}/year={year:04d}/month={month:02d}/data.parquet",
               "report": "reports/validation/{table}/year={year:04d}/month={month:02d}.json"}[kind]
    return [f"{ROOT}/" + pattern.format(**w) for w in fund_windows(year)]


rule landing_fundamentals:
    output:
        manifest=f"{ROOT}/landing/fundamentals/{YEAR}/_manifest.json",
    params:
        windows=lambda wc: fund_windows(int(wc.year)),
    resources:
        api=1,
    log:
        f"{ROOT}/logs/landing_fundamentals/{YEAR}.log",
    benchmark:
        f"{ROOT}/benchmarks/landing_fundamentals/{YEAR}.tsv"
    script:
        "../workflow_scripts/landing_fundamentals.py"


for _year in FUND_YEARS:

    rule:
        name:
            f"bronze_fundamentals_{_year}"
        input:
            manifest=f"{ROOT}/landing/fundamentals/year={_year:04d}/_manifest.json",
        output:
            bronze=fund_files("bronze", _year),
            quarantine=fund_files("quarantine", _year),
            report=fund_files("report", _year),
        params:
            year=_year,
            windows=fund_windows(_year),
            universe=config["universe"],
        log:
            f"{ROOT}/logs/bronze_fundamentals/year={_year:04d}.log",
        benchmark:
            f"{ROOT}/benchmarks/bronze_fundamentals/year={_year:04d}.tsv"
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
            layer = "quarantine" if table == "corporate_actions" else "bronze"
            path = f"{ROOT}/{layer}/{table}/year={y:04d}/month={m:02d}/data.parquet"
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
        bars=lambda wc: revision_wait([(wc.year, wc.month)])  # rules/revisions.smk
        or f"{ROOT}/bronze/stocks_daily/year={wc.year}/month={wc.month}/data.parquet",
        financials=fund_inputs("financials", FILINGS_LOOKBACK_MONTHS),
        short_interest=fund_inputs("short_interest", SHORT_INTEREST_LOOKBACK_MONTHS),
        short_volume=fund_inputs("short_volume", 0),
        splits=fund_inputs("splits", FILINGS_LOOKBACK_MONTHS),
        split_quarantine=fund_inputs("corporate_actions", FILINGS_LOOKBACK_MONTHS),
        changes=fund_inputs("ticker_changes", FILINGS_LOOKBACK_MONTHS),
    output:
        silver=f"{ROOT}/silver/fundamentals_daily/{MONTH}/data.parquet",
    params:
        sessions=fund_sessions,
    log:
        f"{ROOT}/logs/silver_fundamentals/{MONTH}.log",
    benchmark:
        f"{ROOT}/benchmarks/silver_fundamentals/{MONTH}.tsv"
    script:
        "../workflow_scripts/silver_fundamentals.py"


TARGETS["fundamentals"] = [f for y in FUND_YEARS for f in fund_files("bronze", y)]
SILVER_TARGETS["fundamentals"] = per_month(rules.silver_fundamentals.output.silver)
