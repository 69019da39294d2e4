# Shared set-up: configuration (validated), the lake's paths (quantmini.lake, per type from quantmini.catalog),
# partitions, and the API endpoint for the run.
import functools as _functools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow_scripts"))

from quantmini import catalog as qm_catalog
from quantmini import config as qm_config
from quantmini import config_cli as qm_config_cli
from quantmini import runstate as qm_run
from quantmini import storage as qm_storage
from quantmini.jobframe import die as qm_die
from quantmini.lake import MONTH_WILDCARDS, RulePaths


from snakemake.utils import min_version

min_version("9.0")


configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


try:  # nested --config values arrive as strings (Snakemake's YAML BaseLoader): typed by the schema first
    config.update(qm_config.validate(qm_config_cli.coerce(config, qm_config._schema())))
except qm_config.ConfigError as exc:
    qm_die(str(exc))

# Object storage (README "Object storage"): the S3 plugin becomes Snakemake's default storage before any rule
# is read, so every relative input and output lives in the bucket (gold is flagged local()); a bucket that
# cannot be used stops the run here, before any job, with one line.
STORAGE = config.get("storage")
if not STORAGE and workflow.storage_settings.default_storage_provider == "s3":  # e.g. profiles/slurm-s3
    STORAGE = config["storage"] = (workflow.storage_settings.default_storage_prefix or "").rstrip("/") or None
if STORAGE:
    try:
        qm_storage.check_config(config)
        qm_storage.check_bucket(STORAGE)
        qm_storage.enable(workflow, STORAGE)
    except qm_storage.StorageError as exc:
        qm_die(str(exc))

qm_run.check_writable(config["data_root"], probe=False)  # parsing writes nothing (a dry run neither)
KILLED_RUN = qm_run.clear_stale_lock()  # a killed run left locks (and maybe temporary files)

LAKE = RulePaths(config["data_root"])  # every lake path of every rule comes from here
PARTITIONS = {(p.year, p.month): p for p in qm_config.month_partitions(config)}
qm_run.check_universe_at_planning(config, PARTITIONS[min(PARTITIONS)].sessions[0].isoformat())  # -n too

from quantmini import session_plans as qm_plans

SETTINGS = {}  # name -> a config setting that decides what partitions hold (`setting`)
_DAG_BUILD_DONE = []  # [whether this run executes jobs], once at_dag_build ran
_SETTINGS_KEPT = set()  # the settings whose file this run has kept current


def at_dag_build():
    """Once per run, from the first input function that asks (Snakemake knows the run's mode by then, not
    at parse time): keep the lake's plans current -- the months' expected sessions (and range stamps; the
    settings: `setting`), so a new session reruns what it must even when .snakemake/ (params metadata) is
    gone (quantmini/session_plans.py) -- and remove the temporary files of killed writers, a run with nothing to
    do included. Nothing in a dry run (-n) or a listing (no executor), nor in a job's own process."""
    if _DAG_BUILD_DONE:
        return _DAG_BUILD_DONE[0]
    executing = workflow.executor_plugin is not None and not workflow.dryrun and workflow.exec_mode.name == "DEFAULT"
    _DAG_BUILD_DONE.append(executing)
    if not executing:
        return False
    if STORAGE:  # the lake is the bucket: its plans are the session_plan / setting_plan rules' outputs
        return True
    qm_plans.write_session_plans(LAKE.paths, PARTITIONS)
    qm_plans.write_changed({LAKE.range_stamp(n): qm_plans.setting_text(v) for n, v in RANGE_STAMPS.items()})
    qm_run.sweep_temp_files(config["data_root"], folders=qm_run.EVERY_RUN_DIRS)
    return True


def setting(name, value):
    """Input function: the lake's file of a config setting that decides what the job's partitions hold
    (`LakePaths.setting_plan`). A changed value rewrites it at DAG build, so the job reruns without
    Snakemake's params metadata; the `setting_plan` rule creates it in a new lake. Kept current when a job
    of this run's DAG asks (a disabled data type's settings are not written)."""
    SETTINGS[name] = value
    path = LAKE.setting_plan(name)

    def files(wildcards):
        if at_dag_build() and not STORAGE and name not in _SETTINGS_KEPT:
            _SETTINGS_KEPT.add(name)
            qm_plans.write_setting_plans(LAKE.paths, {name: value})
        return [path]

    return files


if STORAGE:  # a job's LakePaths point into the local copy of the bucket, where its declared inputs are
    config["data_root"] = str(qm_storage.local_root(workflow, STORAGE, config["data_root"]))
MONTH = MONTH_WILDCARDS  # year={year}/month={month}: a rule's month partition (also its log's name)
YEAR = "year={year}"  # a year job's unit (its log's name)
Y, M = "{year}", "{month}"


wildcard_constraints:
    year=r"\d{4}",
    month=r"\d{2}",


def month_sessions(wildcards):
    """The sessions of the configured range in this month: a change (a new session) reruns the month."""
    part = PARTITIONS[(int(wildcards.year), int(wildcards.month))]
    return [d.isoformat() for d in part.sessions]


def session_plans(wildcards):
    """The plan file(s) of a landing job: its month's, or those of its year's months in range."""
    at_dag_build()
    y = int(wildcards.year)
    if hasattr(wildcards, "month"):
        return [LAKE.session_plan(y, int(wildcards.month))]
    return [LAKE.session_plan(yy, mm) for yy, mm in sorted(PARTITIONS) if yy == y]


def month_keys():
    return [(f"{y:04d}", f"{m:02d}") for (y, m) in sorted(PARTITIONS)]


def fill(pattern, **wildcards):
    """A path pattern with its wildcards filled in. A rule's output on object storage is storage-flagged,
    and str.format would drop its storage query: apply_wildcards keeps it."""
    if getattr(pattern, "is_storage", False):
        return pattern.apply_wildcards(wildcards)
    return pattern.format(**wildcards)


def per_month(pattern):
    return [fill(pattern, year=y, month=m) for y, m in month_keys()]


def enabled(dtype):
    return dtype in config["data_types"]


def landing_output(manifest, folder):
    """A landing job's output: its manifest on disk; on object storage its whole landing folder, so the
    files it lands are uploaded and its readers get them as a declared input (a folder output is removed
    before the job reruns, so there a rerun lands the folder's units again)."""
    return {"landing": directory(folder)} if STORAGE else {"manifest": manifest}


def kept(paths):
    """Outputs a per-year job rewrites with the same content for closed months, whose readers take them
    as `ancient`. Snakemake deletes a job's outputs when it starts, and a reader re-evaluated meanwhile
    (every revision sweep is a checkpoint) finds its ancient input missing and reruns: `update` keeps them
    in place (Snakemake backs them up and restores them if the job fails). Not on object storage."""
    if STORAGE:
        return paths
    return update(paths) if isinstance(paths, str) else [update(p) for p in paths]


def landing_input(rule):
    """What a reader of a landing job declares: the manifest, or on object storage the landing folder."""
    return rule.output.landing if STORAGE else rule.output.manifest


def log_of(rule, unit=None):
    return LAKE.log(rule, unit)


def benchmark_of(rule, unit=None):
    return LAKE.benchmark(rule, unit)


def bronze_of(dtype, y, m):
    """The month's bronze outputs of a data type (catalog): files, or a month folder for minute bars."""
    return [str(p) for p in qm_catalog.data_type(dtype).bronze_files(LAKE.paths, y, m)]


def quarantine_of(dtype, y, m):
    return [str(p) for p in qm_catalog.data_type(dtype).quarantine_files(LAKE.paths, y, m)]


def report_of(dtype, y, m):
    return [str(p) for p in qm_catalog.data_type(dtype).report_files(LAKE.paths, y, m)]


TARGETS = {}  # data type -> its bronze partitions; each rules/<type>.smk registers its own
SILVER_TARGETS = {}  # data type -> its silver files
GOLD_TARGETS = {}  # data type -> its gold outputs


# ------------------------------------------------------------------ stocks_daily (rules/stocks_daily.smk)
UNIVERSE_FILTER_PARAMS = (
    {"universe_types": config["universe_filter"]["types"]} if config.get("universe_filter") else {}
)


# ------------------------------------------------------------------ corporate_actions (rules/corporate_actions.smk)
import datetime as _dt

from quantmini.datatypes.corporate_actions.landing import year_windows

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


# ------------------------------------------------------------------ reference (rules/reference.smk)
def td_months(year):
    return [(y, m) for (y, m) in sorted(PARTITIONS) if y == year]


def td_file(kind, y, m):
    return {"bronze": bronze_of, "quarantine": quarantine_of, "report": report_of}[kind]("ticker_details", y, m)[0]


def td_params(year):
    return [{"year": y, "month": m, "sessions": [d.isoformat() for d in PARTITIONS[(y, m)].sessions]}
            for y, m in td_months(year)]


def universe_snapshot(wildcards):
    """bronze_stocks_daily's input when the universe filter is on: the month's ticker_details snapshot."""
    if not config.get("universe_filter"):
        return []
    ym = (int(wildcards.year), int(wildcards.month))
    path = td_file("bronze", *ym)
    return [path] if ym == max(PARTITIONS) else [ancient(path)]


# ------------------------------------------------------------------ options (rules/options.smk)
from quantmini.datatypes.stocks_daily.silver import lookback_months as _opt_lookback

OPT_UNDERLYINGS = list(config.get("options", {}).get("underlyings", []))
OPT_RATE = config.get("options", {}).get("rate", 0.04)
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


RANGE_STAMPS = {}  # name -> what a job set covers; rule range_stamp writes it to LAKE.range_stamp(name)


def range_stamp(name, value):
    """A file that changes exactly when `value` (e.g. the closed months of a year) changes.

    A job whose only input from a rerunning job is `ancient` (the closed-months options jobs read their
    year's landing manifest, rewritten every session) is never checked by Snakemake in that run: it is
    masked behind the rerunning job, so its own param change showed up only in the NEXT run. This input
    has no upstream job, so Snakemake always checks it, and its new mtime reruns the reader in this run.
    """
    RANGE_STAMPS[name] = value
    return LAKE.range_stamp(name)


@_functools.cache
def opt_silver_month(ym):
    """What silver reads for month ym: its options and stocks bronze, the trailing dividends, and the ticker
    changes of every month in range up to ym (a contract keeps its root after a rename until it expires).
    Kept per month: the rules ask for each month several times, and its changes list every earlier month."""
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


# ------------------------------------------------------------------ minute (rules/minute.smk)
MINUTE = config["minute"]
MINUTE_MONTHS = [(f"{y:04d}", f"{m:02d}") for y, m in qm_catalog.data_type("stocks_minute").months(sorted(PARTITIONS), config)]


def minute_months(pattern):
    return [fill(pattern, year=y, month=m) for y, m in MINUTE_MONTHS]


def minute_options_inputs(wildcards):
    """The month's bronze stocks_daily and options_daily; a closed month's options_daily is `ancient`
    (the yearly options job rewrites closed months with the same content, see rules/options.smk)."""
    y, m = int(wildcards.year), int(wildcards.month)
    revision_wait([(y, m)])  # rules/revisions.smk
    keep = (lambda p: p) if (y, m) == max(PARTITIONS) else ancient
    return {
        "daily": LAKE.bronze("stocks_daily", y, m),
        "options": keep(LAKE.bronze("options_daily", y, m)),
    }


# ------------------------------------------------------------------ news (rules/news.smk)
import datetime as _dt

from quantmini.datatypes.news import landing as qm_news_landing

NEWS_YEARS = sorted({y for y, _ in PARTITIONS})
_NEWS_FIRST = PARTITIONS[min(PARTITIONS)].sessions[0]
_NEWS_PREV = qm_news_landing.previous_session(_NEWS_FIRST)
_NEWS_CLOSES = {}


def news_closes(ym):
    """[[session, close UTC], ...] of a month's sessions in range (computed once per month)."""
    if ym not in _NEWS_CLOSES:
        _NEWS_CLOSES[ym] = qm_news_landing.session_closes(list(PARTITIONS[ym].sessions))
    return _NEWS_CLOSES[ym]


def news_prev_close(ym):
    """Close of the session before the month's first session in range."""
    months = sorted(PARTITIONS)
    k = months.index(ym)
    return news_closes(months[k - 1])[-1][1] if k else qm_news_landing.session_closes([_NEWS_PREV])[0][1]


NEWS_WINDOWS = qm_news_landing.news_windows(
    sorted(PARTITIONS),
    _dt.datetime.fromisoformat(news_prev_close(min(PARTITIONS)).replace("Z", "+00:00")),
    _dt.datetime.fromisoformat(news_closes(max(PARTITIONS))[-1][1].replace("Z", "+00:00")),
)


def news_windows(year):
    return [w.to_params() for w in NEWS_WINDOWS if w.year == year]


def news_file(kind, y, m):
    articles, article_tickers = bronze_of("news", y, m)
    q_articles, q_article_tickers = quarantine_of("news", y, m)
    return {"articles": articles, "article_tickers": article_tickers, "quarantine_articles": q_articles,
            "quarantine_article_tickers": q_article_tickers, "report": report_of("news", y, m)[0]}[kind]


def news_daily_inputs(wildcards):
    ym = (int(wildcards.year), int(wildcards.month))
    revision_wait([ym])  # rules/revisions.smk
    prev = (ym[0] - (ym[1] == 1), (ym[1] - 2) % 12 + 1)
    pairs = [news_file("article_tickers", *prev)] if prev in PARTITIONS else []
    this = news_file("article_tickers", *ym)
    pairs = [ancient(p) for p in pairs] + [this if ym == max(PARTITIONS) else ancient(this)]
    return {"pairs": pairs, "bars": LAKE.bronze("stocks_daily", *ym)}


_NEWS_KINDS = ("articles", "article_tickers", "quarantine_articles", "quarantine_article_tickers", "report")


# ------------------------------------------------------------------ fundamentals (rules/fundamentals.smk)
from quantmini import calendar as _qm_calendar
from quantmini.datatypes.fundamentals.landing import TABLES as FUND_TABLES
from quantmini.datatypes.fundamentals.landing import window_key as _fund_key
from quantmini.datatypes.fundamentals.landing import year_windows as _fund_year_windows
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


# ------------------------------------------------------------------ silver (rules/silver.smk)
from quantmini.datatypes.stocks_daily.silver import LOOKBACK_MONTHS, lookback_months


def window(wildcards, before):
    """(year, month) of this month and the `before` months preceding it that are in range."""
    year, month = int(wildcards.year), int(wildcards.month)
    return [ym for ym in lookback_months(year, month, before) if ym in PARTITIONS] + [(year, month)]


def window_files(dtype, before, closed_months_ancient=False):
    """Input function: the bronze files of this month's window for `dtype`.

    Corporate actions are landed and built per year, so their job reruns for every new session of the
    year; marking every closed month `ancient` (all but the range's last month) keeps that from
    rebuilding every silver month of the year. Closed months' landing windows are immutable, so their
    bronze cannot change but by a deliberate rebuild (then force silver with -R silver_stocks_daily).
    """

    def files(wildcards):
        if not enabled(dtype):
            return []
        months = window(wildcards, before)
        if dtype == "stocks_daily":
            revision_wait(months)  # rules/revisions.smk
        paths = [LAKE.bronze(dtype, y, m) for y, m in months]
        if closed_months_ancient:
            current = (int(wildcards.year), int(wildcards.month)) == max(PARTITIONS)
            paths = [ancient(p) for p in paths[:-1]] + (paths[-1:] if current else [ancient(paths[-1])])
        return paths

    return files


def months_upto(wildcards):
    """(year, month) of every partition of the range up to and including this month, oldest first."""
    here = (int(wildcards.year), int(wildcards.month))
    return sorted(ym for ym in PARTITIONS if ym <= here)


def previous_to_date(stem):
    """Input function: the previous month's running file of silver corporate_actions `stem` (every month's
    events or renames up to it; none for the range's first month). Each month's job extends it by its own
    month, so a silver month declares one file where it read one per earlier month (O(months^2) inputs)."""

    def files(wildcards):
        earlier = months_upto(wildcards)[:-1]
        return [LAKE.silver("corporate_actions", *earlier[-1], stem)] if earlier else []

    return files


def bronze_months(dtype):
    return per_month(LAKE.bronze(dtype, Y, M)) if enabled(dtype) else []


# ------------------------------------------------------------------ targets (rules/targets.smk)
def bronze_targets():
    return [f for dtype, files in TARGETS.items() if enabled(dtype) for f in files]


def silver_targets():
    return [f for dtype, files in SILVER_TARGETS.items() if enabled(dtype) for f in files]


def gold_targets():
    """Gold stays on disk (flagged local(), so object storage does not take it over)."""
    return [local(str(f)) for dtype, files in GOLD_TARGETS.items() if enabled(dtype) for f in files]


def report_storage_inputs():
    """What the gaps report reads beyond bronze and silver targets (landing folders, quarantine, validation
    reports, every silver table), declared on object storage, where a job sees only its declared inputs.
    On disk the report reads the lake in place and must not wait on these."""
    if not STORAGE:
        return {}
    months = sorted(PARTITIONS)
    out = {"landing": [], "quarantine": [], "reports": [], "silver_tables": []}
    for t in qm_catalog.enabled(config):
        out["landing"] += [str(p.parent) for p in t.landing_manifests(LAKE.paths, months, config)]
        for y, m in t.months(months, config):
            out["quarantine"] += quarantine_of(t.name, y, m)
            out["reports"] += report_of(t.name, y, m)
        out["silver_tables"] += [str(p) for _, _, p in t.expected_silver(LAKE.paths, months, config)]
    for side, owner in qm_catalog.SILVER_SIDE_TABLES.items():  # silver's own quarantine (catalog)
        if enabled(owner):
            out["quarantine"] += [LAKE.quarantine(side, y, m) for y, m in months]
            out["reports"] += [LAKE.validation_report(side, y, m) for y, m in months]
    return {k: sorted(set(v)) for k, v in out.items()}


# ------------------------------------------------------------------ revisions (rules/revisions.smk)
import os as _os

REVISION_SESSIONS = sorted(d for p in PARTITIONS.values() for d in p.sessions)[-config["revision_sessions"]:] \
    if config["revision_sessions"] else []
REVISION_MONTHS = sorted({(d.year, d.month) for d in REVISION_SESSIONS})
REVISABLE = [t.name for t in qm_catalog.revised(config)]  # enabled types the vendor revises (catalog)


def revision_window(dtype):
    """(months, sessions) of the revision window a type covers (minute types: inside their own months)."""
    own = set(qm_catalog.data_type(dtype).months(sorted(PARTITIONS), config))
    months = [ym for ym in REVISION_MONTHS if ym in own]
    return months, [d for d in REVISION_SESSIONS if (d.year, d.month) in months]


REVISED_TYPES = [d for d in REVISABLE if revision_window(d)[1]]  # the types swept in this run
REVISIONS_ON = "stocks_daily" in REVISED_TYPES


def sweep_manifests(dtype):
    """The landing manifests a type's sweep (rules/revisions.smk) re-checks: its window's."""
    return [str(p) for p in qm_catalog.data_type(dtype).landing_manifests(LAKE.paths, revision_window(dtype)[0])]


def sweep_report(dtype):
    """A type's sweep output: its report for this range end (the window's last session)."""
    return LAKE.revision_report(dtype, revision_window(dtype)[1][-1].isoformat())


REVISION_REPORTS = {sweep_report(d) for d in REVISED_TYPES}


def revision_wait(months, dtypes=("stocks_daily",)):
    """For input functions reading the landing or bronze of `dtypes` for `months` ((year, month) pairs):
    wait for those types' sweeps when a month is in the window. Every such reader must wait: a job whose
    input another job might rewrite is scheduled to rerun, and only waiting lets Snakemake re-evaluate it
    after the sweep (so an unchanged month rebuilds nothing downstream). Returns None (usable as
    `revision_wait(...) or path`)."""
    wanted = {(int(y), int(m)) for y, m in months}
    for dtype in dtypes:
        if dtype in REVISED_TYPES and wanted & set(revision_window(dtype)[0]) and not sweep_done(dtype):
            getattr(checkpoints, f"revisions_{dtype}").get()
    return None


@_functools.cache
def sweep_done(dtype):
    """This range end's sweep of `dtype` ran, and no landing manifest of its window changed since: it will
    not run again, so its readers need not wait for it (a checkpoint a job waits on makes Snakemake
    re-evaluate that job and the DAG after building it, on every run, the no-op included)."""
    try:
        done = _os.stat(sweep_report(dtype)).st_mtime_ns
        return all(_os.stat(m).st_mtime_ns <= done for m in sweep_manifests(dtype))
    except FileNotFoundError:
        return False


def revision_inputs(dtypes, months_of):
    """Input function for a job reading `dtypes` of the months `months_of(wildcards)` (or a list): waits
    for their sweeps (revision_wait), then lists the months' revision stamps that exist. A job reading a
    closed month as `ancient` (its per-year producer rewrites it unchanged) thus still rebuilds when a
    revision replaced that month's landing (the stamp is new), and never otherwise."""

    def inputs(wildcards):
        months = months_of(wildcards) if callable(months_of) else months_of
        revision_wait(months, dtypes)
        return [p for d in dtypes if d in REVISABLE for p in existing_stamps(d, months)]

    return inputs


_STAMP_LISTINGS = {}  # (type, year) -> (the year folder's mtime, its stamps' months)


def existing_stamps(dtype, months):
    """The revision stamps of `months` that exist. Options silver jobs list every earlier month's stamps:
    one stat per (type, year) folder, and a listing only when it changed (a sweep touches
    stamps while the run goes on), instead of a stat per stamp."""
    out = []
    by_year = {}
    for y, m in months:
        by_year.setdefault(int(y), []).append(int(m))
    for y, ms in by_year.items():
        folder = _os.path.dirname(LAKE.revision_stamp(dtype, y, 1))
        try:
            mtime = _os.stat(folder).st_mtime_ns
        except FileNotFoundError:
            continue
        known = _STAMP_LISTINGS.get((dtype, y))
        if known is None or known[0] != mtime:
            names = {e.name for e in _os.scandir(folder)}
            known = (mtime, {m for m in range(1, 13) if _os.path.basename(LAKE.revision_stamp(dtype, y, m)) in names})
            _STAMP_LISTINGS[(dtype, y)] = known
        out += [LAKE.revision_stamp(dtype, y, m) for m in ms if m in known[1]]
    return out


def chain_waits(wildcards):
    """Input function declaring nothing: waits for the corporate actions' sweeps when a month up to this one
    is in the window. For silver_corporate_actions (whose running files chain each month to the one before)
    and every job reading them: a job downstream of a waiting job must wait too (revision_wait)."""
    revision_wait(months_upto(wildcards), CA_TYPES)
    return []


def revision_gate(wildcards, manifest):
    """bronze_stocks_daily's landing input (manifest, or folder on object storage), after the sweep when
    the month is in the window."""
    revision_wait([(wildcards.year, wildcards.month)])
    return fill(manifest, **wildcards)


onstart:
    qm_run.check_writable(config["data_root"])  # a job will write: probe with a real file
    qm_run.record_run()
    if KILLED_RUN:  # also the temporary files whose names carry no pid (written before names did)
        qm_run.sweep_temp_files(config["data_root"], unowned=True)
    qm_run.start_api(config)
    qm_run.check_universe(config, PARTITIONS[min(PARTITIONS)].sessions[0].isoformat())


onsuccess:
    qm_run.stop_api()
    qm_run.forget_run()


onerror:
    qm_run.stop_api()
    qm_run.forget_run()
