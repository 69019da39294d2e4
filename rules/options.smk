# options_daily: per-YEAR landing; bronze and silver (IV, greeks) per year for closed months and one job
# for the open month, the only options jobs a daily update runs (quantmini/datatypes/options).
from quantmini.datatypes.stocks_daily.silver import lookback_months as _opt_lookback

OPT_UNDERLYINGS = list(config.get("options", {}).get("underlyings", []))
OPT_RATE = config.get("options", {}).get("rate", 0.04)
if enabled("options_daily") and not OPT_UNDERLYINGS:
    qm_die("config: options.underlyings: empty, but data_types has options_daily (list the underlyings)")
OPT_DIV_MONTHS = 12  # the dividend yield's window: the 12 months before the month, and the month
OPT_OPEN = max(PARTITIONS)
OPT_CLOSED_YEARS = sorted({ym[0] for ym in PARTITIONS if ym != OPT_OPEN})

_OPT_BRONZE, _OPT_CONTRACTS = bronze_of("options_daily", Y, M)  # catalog: options_daily's two tables
_OPT_QUARANTINE, _OPT_CONTRACTS_QUARANTINE = quarantine_of("options_daily", Y, M)
_OPT_REPORT, _OPT_CONTRACTS_REPORT = report_of("options_daily", Y, M)
OPT_OUT = {  # the month's outputs of the options bronze jobs, as wildcard patterns
    "bronze": _OPT_BRONZE, "quarantine": _OPT_QUARANTINE, "report": _OPT_REPORT,
    "contracts": _OPT_CONTRACTS, "contracts_quarantine": _OPT_CONTRACTS_QUARANTINE,
    "contracts_report": _OPT_CONTRACTS_REPORT,
}


def opt_path(pattern, ym):
    return pattern.format(year=f"{ym[0]:04d}", month=f"{ym[1]:02d}")


def opt_months(year):
    """{'YYYY-MM': [sessions]} of the year's months in range (the landing job's)."""
    return {f"{y:04d}-{m:02d}": [d.isoformat() for d in PARTITIONS[(y, m)].sessions]
            for (y, m) in sorted(PARTITIONS) if y == year}


def opt_closed(year):
    return [ym for ym in sorted(PARTITIONS) if ym[0] == year and ym != OPT_OPEN]


def opt_sessions(months):
    return {f"{y:04d}-{m:02d}": [d.isoformat() for d in PARTITIONS[(y, m)].sessions] for (y, m) in months}


def opt_landing(ym):
    return LAKE.landing_year_manifest("options_daily", ym[0])


def opt_silver_month(ym):
    """What silver reads for month ym: its options and stocks bronze, the trailing dividends, and the ticker
    changes of every month in range up to ym (a contract keeps its root after a rename until it expires)."""
    window = [w for w in _opt_lookback(ym[0], ym[1], OPT_DIV_MONTHS) if w in PARTITIONS] + [ym]
    div = [LAKE.bronze("dividends", a, b) for a, b in window]
    changes = [LAKE.bronze("ticker_changes", a, b) for a, b in sorted(PARTITIONS) if (a, b) <= ym]
    return {"key": f"{ym[0]:04d}-{ym[1]:02d}", "options": opt_path(OPT_OUT["bronze"], ym),
            "stocks": LAKE.bronze("stocks_daily", *ym),
            "dividends": div if enabled("dividends") else [],
            "changes": changes if enabled("ticker_changes") else [],
            "silver": LAKE.silver("options_daily", *ym)}


def opt_silver_inputs(months, open_month):
    """Closed months' corporate actions as `ancient` (their per-year jobs rerun as `end` moves on, with
    the same content); only the open month's own files may make the open job stale."""
    specs = [opt_silver_month(ym) for ym in months]
    current = opt_silver_month(OPT_OPEN) if open_month else {"dividends": [], "changes": []}
    out = {"options": [s["options"] for s in specs], "stocks": [s["stocks"] for s in specs]}
    for kind in ("dividends", "changes"):
        files = sorted({d for s in specs for d in s[kind]})
        out[kind] = [d if d in current[kind][-1:] else ancient(d) for d in files]
    return out


rule landing_options_daily:
    output:
        manifest=LAKE.landing_year_manifest("options_daily", Y),
    params:
        months=lambda wc: opt_months(int(wc.year)),
        underlyings=OPT_UNDERLYINGS,
    resources:
        api=1,
    log:
        log_of("landing_options_daily", YEAR),
    benchmark:
        benchmark_of("landing_options_daily", YEAR)
    script:
        "../workflow_scripts/landing_options_daily.py"


for _name, _months, _manifest in (
    [(f"{y:04d}", opt_closed(y), ancient(opt_landing((y, 1)))) for y in OPT_CLOSED_YEARS]
    + [("open", [OPT_OPEN], opt_landing(OPT_OPEN))]
):

    rule:
        name:
            f"bronze_options_daily_{_name}"
        input:
            manifest=_manifest,
        output:
            **{k: [opt_path(p, ym) for ym in _months] for k, p in OPT_OUT.items()},
        params:
            months=opt_sessions(_months),
        log:
            log_of("bronze_options_daily", _name),
        benchmark:
            benchmark_of("bronze_options_daily", _name)
        script:
            "../workflow_scripts/bronze_options_daily.py"

    rule:
        name:
            f"silver_options_daily_{_name}"
        input:
            **opt_silver_inputs(_months, _name == "open"),
        output:
            silver=[opt_silver_month(ym)["silver"] for ym in _months],
        params:
            months=[opt_silver_month(ym) for ym in _months],
            rate=OPT_RATE,
        log:
            log_of("silver_options_daily", _name),
        benchmark:
            benchmark_of("silver_options_daily", _name)
        script:
            "../workflow_scripts/silver_options_daily.py"


TARGETS["options_daily"] = per_month(OPT_OUT["bronze"]) + per_month(OPT_OUT["contracts"])
SILVER_TARGETS["options_daily"] = per_month(LAKE.silver("options_daily", Y, M))
