"""Human-readable reports about the lake: the gaps report (Markdown, HTML, PNG plots, JSON) and the
cron run's PIPELINE_SUMMARY.md. Every file is written atomically."""

from __future__ import annotations

import base64
import datetime as dt
import html
import io
import json
from pathlib import Path

import numpy as np
import polars as pl

from quantmini import atomic
from quantmini.gaps import Gaps
from quantmini.lake import LakePaths

MAX_TABLE_ROWS = 50
HEATMAP_TICKERS = 60


def _table_md(df: pl.DataFrame, limit: int = MAX_TABLE_ROWS) -> str:
    if not df.height:
        return "_none_\n"
    cols = df.columns
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in df.head(limit).iter_rows():
        lines.append("| " + " | ".join("" if v is None else str(v).replace("|", "\\|") for v in row) + " |")
    if df.height > limit:
        lines.append(f"\n… and {df.height - limit} more (all of them in gaps.json)")
    return "\n".join(lines) + "\n"


def _table_html(df: pl.DataFrame, limit: int = MAX_TABLE_ROWS) -> str:
    if not df.height:
        return "<p><em>none</em></p>"
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if v is None else str(v))}</td>" for v in row) + "</tr>"
                   for row in df.head(limit).iter_rows())
    more = f"<p>… and {df.height - limit} more (all of them in gaps.json)</p>" if df.height > limit else ""
    return f"<table><tr>{head}</tr>{body}</table>{more}"


def _sections(g: Gaps) -> list[tuple[str, pl.DataFrame]]:
    return [
        ("Missing partitions", g.missing_partitions.drop("path")),
        ("Sessions without any bar", g.missing_sessions),
        ("Sessions without a landing file", g.missing_landing),
        ("Ticker gaps (sessions inside a ticker's own span without its bar)", g.ticker_gap_ranges()),
        ("Thin sessions and months (fewer rows than the ones before)", g.thin),
        ("Quarantined rows", g.quarantine),
    ]


def _verdict(g: Gaps) -> str:
    return "COMPLETE" if g.complete else "INCOMPLETE"


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def coverage_png(g: Gaps) -> bytes:
    """Heat-map of tickers x sessions: a bar, a gap inside the ticker's span, or outside its span."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import ListedColormap

    dates = g.rows_per_session["date"].to_list()
    spans = g.spans.join(g.ticker_gaps.group_by("ticker").len("gaps"), on="ticker", how="left").with_columns(
        pl.col("gaps").fill_null(0)).sort(["gaps", "ticker"], descending=[True, False]).head(HEATMAP_TICKERS)
    tickers = spans["ticker"].to_list()
    pos = {d: i for i, d in enumerate(dates)}
    grid = np.zeros((len(tickers), len(dates)), dtype=np.int8)  # 0 outside span
    for r, (first, last) in enumerate(spans.select("first", "last").iter_rows()):
        grid[r, pos[first]:pos[last] + 1] = 2  # expected: present unless marked below
    rows = {t: i for i, t in enumerate(tickers)}
    for t, d in g.ticker_gaps.filter(pl.col("ticker").is_in(tickers)).iter_rows():
        grid[rows[t], pos[d]] = 1
    for d in g.missing_sessions["date"].to_list():
        grid[:, pos[d]] = np.where(grid[:, pos[d]] == 0, 0, 1)
    fig, ax = plt.subplots(figsize=(min(16, 4 + len(dates) / 12), 1.5 + 0.22 * max(len(tickers), 1)))
    ax.imshow(grid if tickers else np.zeros((1, len(dates))), aspect="auto", interpolation="nearest",
              cmap=ListedColormap(["#eeeeee", "#d62728", "#2ca02c"]), vmin=0, vmax=2)
    ax.set_yticks(range(len(tickers)), tickers, fontsize=7)
    step = max(1, len(dates) // 12)
    ax.set_xticks(range(0, len(dates), step), [dates[i].isoformat() for i in range(0, len(dates), step)],
                  rotation=45, ha="right", fontsize=7)
    shown = f"{len(tickers)} of {g.spans.height} tickers, most gaps first" if g.spans.height > len(tickers) else \
        f"{len(tickers)} tickers"
    ax.set_title(f"stocks_daily coverage {g.start}..{g.end} ({shown}): green bar, red gap, grey outside span",
                 fontsize=9)
    out = _png(fig)
    plt.close(fig)
    return out


def rows_png(g: Gaps) -> bytes:
    """Rows per session, with sessions without bars and thin sessions marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    r = g.rows_per_session
    fig, ax = plt.subplots(figsize=(10, 3.2))
    ax.plot(r["date"].to_list(), r["rows"].to_list(), drawstyle="steps-mid", lw=1, color="#1f77b4", label="rows")
    thin = g.thin.filter(pl.col("level") == "session").with_columns(pl.col("key").str.to_date())
    if thin.height:
        ax.scatter(thin["key"].to_list(), thin["rows"].to_list(), color="#ff7f0e", zorder=3, label="thin session")
    if g.missing_sessions.height:
        ax.scatter(g.missing_sessions["date"].to_list(), [0] * g.missing_sessions.height, color="#d62728",
                   marker="x", zorder=3, label="no bars")
    ax.set_ylim(bottom=0)
    ax.set_ylabel("rows")
    ax.set_title(f"stocks_daily bronze rows per session {g.start}..{g.end}", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    fig.autofmt_xdate()
    out = _png(fig)
    plt.close(fig)
    return out


def gaps_json(g: Gaps) -> dict:
    def rows(df: pl.DataFrame) -> list[dict]:
        return json.loads(df.write_json()) if df.height else []

    return {
        "complete": g.complete, "root": str(g.root), "start": g.start.isoformat(), "end": g.end.isoformat(),
        "types": g.types, "counts": g.counts(),
        "months_to_repair": {t: [f"{y:04d}-{m:02d}" for y, m in v] for t, v in g.months_to_repair().items()},
        "missing_partitions": rows(g.missing_partitions), "missing_sessions": rows(g.missing_sessions),
        "missing_landing": rows(g.missing_landing), "ticker_gaps": rows(g.ticker_gap_ranges()),
        "thin": rows(g.thin), "quarantine": rows(g.quarantine),
    }


def render_markdown(g: Gaps, backfill: str) -> str:
    counts = g.counts()
    out = [f"# Lake completeness: {_verdict(g)}\n",
           (f"Lake `{g.root}`, XNYS sessions {g.start} .. {g.end} ({g.rows_per_session.height} sessions), "
            f"types: {', '.join(g.types)}.\n"),
           _table_md(pl.DataFrame({"check": list(counts), "count": list(counts.values())})),
           "![coverage](coverage.png)\n", "![rows per session](rows_per_session.png)\n"]
    for title, df in _sections(g):
        out += [f"## {title}\n", _table_md(df)]
    if not g.complete:
        out += ["## Backfill\n", f"```\n{backfill}\n```\n"]
    return "\n".join(out)


def render_html(g: Gaps, backfill: str, pngs: dict[str, bytes]) -> str:
    counts = g.counts()
    imgs = "".join(f'<p><img alt="{name}" src="data:image/png;base64,{base64.b64encode(data).decode()}"></p>'
                   for name, data in pngs.items())
    parts = [f"<h1>Lake completeness: {_verdict(g)}</h1>",
             (f"<p>Lake <code>{html.escape(str(g.root))}</code>, XNYS sessions {g.start} .. {g.end} "
              f"({g.rows_per_session.height} sessions), types: {html.escape(', '.join(g.types))}.</p>"),
             _table_html(pl.DataFrame({"check": list(counts), "count": list(counts.values())})), imgs]
    for title, df in _sections(g):
        parts += [f"<h2>{html.escape(title)}</h2>", _table_html(df)]
    if not g.complete:
        parts += ["<h2>Backfill</h2>", f"<pre>{html.escape(backfill)}</pre>"]
    style = ("body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}img{max-width:100%}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Lake completeness</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n")


def backfill_command(g: Gaps) -> str:
    return f"uv run quantmini gaps --backfill -s {g.start} -e {g.end}"


def write_gaps_report(g: Gaps, out_dir: str | Path, backfill: str | None = None) -> dict[str, Path]:
    """Write gaps.md, gaps.html (self-contained), coverage.png, rows_per_session.png and gaps.json."""
    out_dir = Path(out_dir)
    pngs = {"coverage.png": coverage_png(g), "rows_per_session.png": rows_png(g)}
    backfill = backfill or backfill_command(g)
    files = {
        **pngs,
        "gaps.md": render_markdown(g, backfill).encode(),
        "gaps.html": render_html(g, backfill, pngs).encode(),
        "gaps.json": (json.dumps(gaps_json(g), indent=1, default=str) + "\n").encode(),
    }
    paths = {}
    for name, data in files.items():
        atomic.write_bytes(out_dir / name, data)
        paths[name] = out_dir / name
    return paths


def report_range(root: str | Path, first: str, last: str, types: list[str], out_dir: str | Path,
                 log_path: str | Path, cfg: dict | None = None) -> Gaps:
    """The gaps_report rule: the report of the configured range; the verdict goes to the rule's log."""
    from quantmini.gaps import find_gaps

    g = find_gaps(root, dt.date.fromisoformat(first), dt.date.fromisoformat(last), types, cfg=cfg)
    write_gaps_report(g, out_dir)
    atomic.write_text(log_path, ("complete" if g.complete else "INCOMPLETE") + f" {g.counts()}\n")
    return g


# ---------------------------------------------------------------------- cron: PIPELINE_SUMMARY.md
def fetched_since(root: Path, since: float) -> pl.DataFrame:
    """Landing files written at or after `since` (epoch seconds): what this run downloaded, per type."""
    from quantmini import catalog

    rows = [(t.name, f.name.removesuffix(".json.gz")) for t in catalog.CATALOG.values()
            for folder in t.landing_folders for f in sorted(LakePaths(root).landing_folder(folder).rglob("*.json.gz"))
            if f.stat().st_mtime >= since]
    df = pl.DataFrame(rows, schema={"type": pl.Utf8, "unit": pl.Utf8}, orient="row")
    return df.group_by("type").agg(files=pl.len(), first=pl.col("unit").min(), last=pl.col("unit").max()).sort("type")


def pipeline_summary(root: Path, *, started: dt.datetime, finished: dt.datetime, ok: bool, error: str | None,
                     cfg: dict, fetched: pl.DataFrame, status: pl.DataFrame, validation: pl.DataFrame,
                     gaps: Gaps | None) -> str:
    """PIPELINE_SUMMARY.md of one run: outcome, what was fetched, rows per layer, validation result."""
    val = (validation.group_by("type").agg(
        partitions=pl.len(), rows_in=pl.col("rows_in").sum(), rows_valid=pl.col("rows_valid").sum(),
        rows_quarantined=pl.col("rows_quarantined").sum(), partitions_not_ok=(~pl.col("ok")).sum()).sort("type")
        if validation.height else validation)
    gold = LakePaths(root).gold_dir()
    gold_line = "not built"
    if (gold / "calendars" / "day.txt").exists():
        cal = (gold / "calendars" / "day.txt").read_text().split()
        inst = (gold / "instruments" / "all.txt").read_text().splitlines() if (gold / "instruments" / "all.txt").exists() else []
        gold_line = f"{len(inst)} instruments, {len(cal)} sessions ({cal[0] if cal else '-'} .. {cal[-1] if cal else '-'})"
    out = [
        f"# QuantMini pipeline summary: {'OK' if ok else 'FAILED'}\n",
        (f"- started {started.isoformat(timespec='seconds')}, finished {finished.isoformat(timespec='seconds')} "
         f"({(finished - started).total_seconds():.0f} s)"),
        f"- range {cfg['start']} .. {cfg['end']}, source `{cfg['source']}`, types {', '.join(cfg['data_types'])}",
        f"- lake `{root}`",
    ]
    if error:
        out.append(f"- error: {error}")
    out += ["\n## Fetched in this run\n", _table_md(fetched) if fetched.height else "nothing new (already up to date)\n",
            "## Rows per layer\n", _table_md(status.select("layer", "type", "partitions", "first", "last", "rows")),
            f"gold (Qlib provider): {gold_line}\n",
            "## Validation\n", _table_md(val)]
    if gaps is not None:
        c = gaps.counts()
        out.append(f"Completeness ({gaps.start} .. {gaps.end}): **{_verdict(gaps)}** — "
                   + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in c.items()) + "\n")
    return "\n".join(out)
