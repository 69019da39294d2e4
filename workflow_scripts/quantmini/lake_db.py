"""DuckDB over the lake: one SQL view per bronze/silver/quarantine table, Hive-partitioned by year/month.

Views read `<layer>/<type>/year=YYYY/month=MM/*.parquet` with typed partition columns, so a filter on
`year`/`month` skips whole files (DuckDB prunes the file list before opening anything). Every value a
caller gives (tickers, dates) is bound as a parameter, never pasted into SQL. `lake.duckdb` holds the
same views for BI tools and `quantmini query`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import duckdb
import polars as pl

from quantmini import atomic, readonly
from quantmini.calendar import to_date
from quantmini.lake import LakePaths
from quantmini.lake_files import DiskFiles, is_remote

LAYERS = ("bronze", "silver", "quarantine")
READ_ATTEMPTS = 200  # runs of a query while partitions keep being replaced under it (see Lake.query)
_USER_ERRORS = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)
CATALOG_NAME = "lake.duckdb"
_META = "_quantmini_views"


def _sql_literal(text: str) -> str:
    """A quoted SQL string literal (used for file globs we discovered ourselves, never user input)."""
    return "'" + text.replace("'", "''") + "'"


def _catalog_tables(layer: str, views: bool = False) -> list[tuple[str, str, str]]:
    """(view, folder, file pattern under the folder) of every table the catalog declares for a layer; a
    folder holding several tables (news) gets one view per stem, a one-table folder its own name.
    `views`: only the tables queries see (not `to_date` tables, whose months repeat earlier rows)."""
    from quantmini import catalog

    if layer == "silver":
        tables = [t for d in catalog.CATALOG.values() for t in d.silver if not (views and t.to_date)]
    else:
        tables = [t for d in catalog.CATALOG.values() for t in d.bronze]
        if layer == "quarantine":
            tables = [catalog.Table(t.name, t.stem) for t in tables]  # quarantine is per month
            tables += [catalog.Table(name) for name in catalog.SILVER_SIDE_TABLES]
    per_folder: dict[str, list] = {}
    for t in tables:
        per_folder.setdefault(t.name, [])
        if t.stem not in per_folder[t.name]:
            per_folder[t.name].append(t.stem)
    out = []
    for t in tables:
        view = t.name if len(per_folder[t.name]) == 1 else f"{t.name}_{t.stem}"
        pattern = "year=*/month=*/date=*/data.parquet" if t.grain == "session" else f"year=*/month=*/{t.stem}.parquet"
        out.append((f"{layer}_{view}", t.name, pattern))
    return list(dict.fromkeys(out))


def table_globs(root: str | os.PathLike) -> dict[str, str]:
    """View name (`<layer>_<table>`) -> Parquet glob, for every catalog table with at least one file.

    Only the files the catalog names are read (a stray `data.bak.parquet` is not the table), and only
    folders the catalog declares become views: see `foreign_folders` for the rest.
    """
    root = Path(root).resolve()
    out = {}
    for layer in LAYERS:
        for view, folder, pattern in _catalog_tables(layer, views=True):
            base = root / layer / folder
            if base.is_dir() and next(base.glob(pattern), None) is not None:
                out[view] = str(base / pattern)
    return out


def foreign_folders(root: str | os.PathLike, where=None) -> list[Path]:
    """Folders under bronze/, silver/ and quarantine/ that no catalog table owns (ignored by every reader).
    `where`: the lake's files (quantmini.lake_files; a bucket lake's listing), else the folder `root`."""
    where = where or DiskFiles(root)
    out = []
    for layer in LAYERS:
        known = {folder for _, folder, _ in _catalog_tables(layer)}
        base = where.root / layer
        out += [base / n for n in where.entries(base) if n not in known and not n.startswith(".")]
    return out


def stray_files(root: str | os.PathLike, where=None) -> list[Path]:
    """Parquet files inside a catalog table's folder that are not the table's (`data.bak.parquet`, a
    copy left by hand): every reader ignores them, `validate` names them."""
    where = where or DiskFiles(Path(root).resolve())
    out = []
    for layer in LAYERS:
        for _, folder, pattern in _catalog_tables(layer):
            base = where.root / layer / folder
            if where.is_dir(base):
                owned = set(where.glob(base, pattern))
                out += [p for p in where.rglob(base, "*.parquet") if p not in owned]
    # a folder holding several tables lists each file under every other table's pattern: keep the
    # files no table of the folder owns
    owned_any = {p for layer in LAYERS for _, folder, pattern in _catalog_tables(layer)
                 for p in where.glob(where.root / layer / folder, pattern)}
    return sorted({p for p in out if p not in owned_any})


def quote_ident(name: str) -> str:
    """A SQL identifier, quoted (view names come from the catalog; quoting keeps any name inert)."""
    return '"' + name.replace('"', '""') + '"'


def join_views(views: dict[str, str]) -> dict[str, str]:
    """Views over other views: silver_stocks_daily_news = silver stocks_daily with its news figures (both
    keyed (ticker, date); sessions without news have zero counts, null sentiment)."""
    out = {}
    if {"silver_stocks_daily", "silver_news_daily"} <= set(views):
        out["silver_stocks_daily_news"] = (
            'CREATE OR REPLACE VIEW "silver_stocks_daily_news" AS SELECT s.*, n.news_count, n.positive_count, '
            "n.neutral_count, n.negative_count, n.sentiment_mean FROM silver_stocks_daily s "
            "LEFT JOIN silver_news_daily n USING (ticker, date, year, month)")
    if {"silver_stocks_daily", "silver_fundamentals_daily"} <= set(views):  # point-in-time fundamentals
        out["silver_stocks_daily_fundamentals"] = (
            'CREATE OR REPLACE VIEW "silver_stocks_daily_fundamentals" AS SELECT s.*, '
            "f.* EXCLUDE (ticker, date, close, year, month) FROM silver_stocks_daily s "
            "LEFT JOIN silver_fundamentals_daily f USING (ticker, date, year, month)")
    return out


def view_sql(name: str, glob: str | list[str]) -> str:
    """The view over a glob (lake.duckdb: new partitions appear) or an explicit list of files (Lake)."""
    source = _sql_literal(glob) if isinstance(glob, str) else "[" + ", ".join(map(_sql_literal, glob)) + "]"
    return (
        f"CREATE OR REPLACE VIEW {quote_ident(name)} AS SELECT * FROM read_parquet({source}, "
        "hive_partitioning = true, hive_types = {'year': INTEGER, 'month': INTEGER})"
    )


def footer_problem(path: str | os.PathLike) -> str | None:
    """Why a Parquet file cannot be read (its footer does not parse), in one line, or None."""
    try:
        pl.read_parquet_schema(path)
    except Exception as exc:  # noqa: BLE001 -- any failure to read the footer makes the file unreadable
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return first[:200]
    return None


def month_filter(start: dt.date | None, end: dt.date | None) -> tuple[list[str], list[int]]:
    """Conditions on the partition columns only (the form DuckDB prunes files by), with their params."""
    where, params = [], []
    if start is not None:
        where.append("(year > ? OR (year = ? AND month >= ?))")
        params += [start.year, start.year, start.month]
    if end is not None:
        where.append("(year < ? OR (year = ? AND month <= ?))")
        params += [end.year, end.year, end.month]
    return where, params


def add_adjusted_views(con, views: dict[str, str]) -> None:
    """The continuous adjusted views and macros of silver stocks_daily (quantmini.adjusted_views); a lake
    whose silver predates `cum_factor`/`security_id` simply lacks them until silver is rebuilt."""
    from quantmini.adjusted_views import adjusted_view_sql

    for sql in adjusted_view_sql(views):
        try:
            con.execute(sql)
        except duckdb.BinderException:
            return


def date_range_filter(start, end) -> tuple[list[str], list]:
    """[start, end] on `date`, with the partition conditions that let DuckDB skip whole month files."""
    start = to_date(start) if start is not None else None
    end = to_date(end) if end is not None else None
    where, params = month_filter(start, end)
    if start is not None:
        where.append("date >= ?")
        params.append(start)
    if end is not None:
        where.append("date <= ?")
        params.append(end)
    return where, params


STATUS_SCHEMA = {"layer": pl.Utf8, "type": pl.Utf8, "partitions": pl.Int64, "first": pl.Utf8, "last": pl.Utf8,
                 "rows": pl.Int64, "bytes": pl.Int64, "updated": pl.Datetime}
_PARTITION = re.compile(r"year=(\d{4})/month=(\d{2})")
_YEAR = re.compile(r"year=(\d{4})")


def partition_of(path: Path) -> str | None:
    """`YYYY-MM` of a file under a month partition (at any depth: minute files sit in date=...), else
    `YYYY` of a file under a year folder (landing of year-grain types), else None."""
    text = path.as_posix()
    m = _PARTITION.search(text)
    if m:
        return f"{m.group(1)}-{m.group(2)}"
    y = _YEAR.search(text)
    return y.group(1) if y else None


def remote_table_files(fs, root: str) -> dict[str, list[str]]:
    """View name -> the table's object URLs under a remote lake root, as table_globs does on disk: one
    listing per table folder (no object is opened)."""
    base = root.removeprefix("s3://").rstrip("/")
    out = {}
    for layer in LAYERS:
        for view, folder, pattern in _catalog_tables(layer, views=True):
            found = sorted(fs.glob(f"{base}/{layer}/{folder}/{pattern}"))
            if found:
                out[view] = [f"s3://{f}" for f in found]
    return out


def _readable(files: list[str], problem_of, unreadable: dict[str, str]) -> list[str]:
    """The files whose footer parses; the others go into `unreadable` (file -> why)."""
    good = []
    for f in files:
        problem = problem_of(f)
        if problem:
            unreadable[f] = problem
        else:
            good.append(f)
    return good


def remote_footer_problem(fs, url: str) -> str | None:
    """footer_problem for an object: reads the Parquet footer only (a ranged GET at the object's end)."""
    import pyarrow.parquet as pq

    try:
        with fs.open(url, "rb") as fh:
            pq.read_schema(fh)
    except Exception as exc:  # noqa: BLE001 -- any failure to read the footer makes the object unreadable
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return first[:200]
    return None


class Lake:
    """The lake as SQL: `Lake(root).query("SELECT ...")`, `Lake(root).stocks_daily(...)` -> polars.

    `root` is a folder, or a lake on object storage (`s3://bucket/prefix/<data_root>`) read in place:
    DuckDB reads the objects through an fsspec filesystem (`filesystem`, default quantmini.storage's s3fs;
    DuckDB's own S3 extension is not needed), fetching only the byte ranges a query needs, so a filter on
    year/month reads only those months' objects."""

    def __init__(self, root: str | os.PathLike, memory_limit: str = readonly.DEFAULT_MEMORY_LIMIT, filesystem=None):
        if is_remote(root):
            self._open_remote(str(root).rstrip("/"), memory_limit, filesystem)
            return
        self.fs = None
        """Read-only (see quantmini.readonly): the connection reads only the lake's table folders,
        writes nothing, and `query` runs only SELECT statements.

        Each table's files are listed once, here; a table's footers are checked, and its view created,
        the first time a query names it (`prepare`): opening costs a glob, not a read of every footer
        (bench/README.md, `lake_open.py`). A view is the explicit list of readable files (`files`), so
        one corrupt file is named in `unreadable` (path -> reason) instead of failing every view, and a
        partition written later is not half-seen by this reader.
        """
        self.root = Path(root).resolve()
        globs = table_globs(self.root)
        self.listed: dict[str, list[str]] = {name: sorted(_glob(glob)) for name, glob in globs.items()}
        self.views = dict(globs)  # tables with files; one whose every file is unreadable drops out when checked
        self._files: dict[str, list[str]] = {}
        self._unreadable: dict[str, str] = {}
        self._checked: set[str] = set()
        self._derived = False  # the join and adjusted views (over every table): made by prepare(None)
        self.con = readonly.connect([self.root / layer for layer in LAYERS], memory_limit=memory_limit)

    @property
    def files(self) -> dict[str, list[str]]:
        """Every table's readable files (all footers checked)."""
        self.prepare()
        return self._files

    @property
    def unreadable(self) -> dict[str, str]:
        """Every file whose footer does not parse -> why (all footers checked)."""
        self.prepare()
        return self._unreadable

    def prepare(self, sql: str | None = None) -> None:
        """Check the footers of, and create the views of, the tables `sql` names (every table, and the
        join and adjusted views, when `sql` is None or names anything else: a derived view, a macro's
        table, a name DuckDB cannot tell without running it)."""
        names = None
        if sql is not None:
            try:
                names = set(duckdb.get_table_names(sql))
            except Exception:  # noqa: BLE001 -- unparsable here: prepare everything, DuckDB reports the rest
                names = None
        if names and names <= set(self.listed):  # none named (SELECT 1, a table macro): everything
            for name in sorted(names - self._checked):
                self._check(name)
            return
        for name in sorted(set(self.listed) - self._checked):
            self._check(name)
        if not self._derived:
            self._derived = True
            for sql_ in join_views(self._files).values():
                self.con.execute(sql_)
            from quantmini.adjusted_views import adjusted_view_sql

            for sql_ in adjusted_view_sql(self._files):  # the adjusted series by security
                try:
                    self.con.execute(sql_)
                except duckdb.BinderException:  # a silver older than its columns: the rest skipped
                    break

    def _check(self, name: str) -> None:
        self._checked.add(name)
        good = _readable(self.listed[name], footer_problem, self._unreadable)
        if good:
            self._files[name] = good
            self.con.execute(view_sql(name, good))
        else:
            self.views.pop(name, None)

    def _open_remote(self, root: str, memory_limit: str, filesystem) -> None:
        from quantmini import storage

        self.fs = filesystem if filesystem is not None else storage.filesystem()
        self.root = root
        # Every footer is checked and every view made here, at open (a bucket's listing and footers are
        # what a lazy open would save; not measured on object storage): nothing is left for prepare().
        self._files, self._unreadable = {}, {}
        self.listed = remote_table_files(self.fs, root)
        for name, listed in self.listed.items():
            good = _readable(listed, lambda f: remote_footer_problem(self.fs, f), self._unreadable)
            if good:
                self._files[name] = good
        self._checked, self._derived = set(self.listed), True
        self.views = {name: files[0].rsplit("/year=", 1)[0] for name, files in self._files.items()}
        setup = [view_sql(name, files) for name, files in self._files.items()] + list(join_views(self._files).values())
        from quantmini.adjusted_views import adjusted_view_sql

        self.con = readonly.connect([f"{root}/{layer}" for layer in LAYERS], memory_limit=memory_limit, setup=setup,
                                    optional=adjusted_view_sql(self._files), filesystem=self.fs)

    def __enter__(self) -> Lake:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def query(self, sql: str, params: Sequence | dict | None = None) -> pl.DataFrame:
        """Run a read-only query (one SELECT, readonly.check_statement) on a consistent snapshot.

        Writers replace a partition atomically (rename), but DuckDB opens a Parquet file more than once
        per query (schema at bind, footer and pages at scan): a rename in between makes it decode one
        file with another's footer -- an error ("don't know what type ..."), or in principle wrong
        numbers. So every file this reader listed is stat-ed before and after the query: a result (or
        an error) counts only if no file changed identity (inode, size, mtime, ctime) meanwhile, which
        means DuckDB read whole, unchanged files; otherwise the query runs again. A query that fails
        while nothing changed (a genuinely bad file, a SQL mistake) fails at once.
        """
        readonly.check_statement(sql)
        self.prepare(sql)
        try:
            return self.consistent(lambda: self.con.sql(sql, params=params or None).pl())
        except duckdb.CatalogException:
            if self._derived:
                raise
            self.prepare()  # a name only a full set-up defines (e.g. a macro of the adjusted views)
            return self.consistent(lambda: self.con.sql(sql, params=params or None).pl())

    def consistent(self, read):
        """`read()` until it ran while none of the listed files changed (see `query`)."""
        error = None
        for attempt in range(READ_ATTEMPTS):
            before = self._identity()
            try:
                result, error = read(), None
            except _USER_ERRORS:
                raise
            except duckdb.Error as exc:
                result, error = None, exc
            if self._identity() == before:
                if error is not None:
                    raise error
                return result
            time.sleep(min(0.001 * attempt, 0.05))
        raise error or RuntimeError(f"the lake changed during each of {READ_ATTEMPTS} attempts of a query")

    def _identity(self) -> tuple:
        if self.fs is not None:  # an object is replaced whole (one PUT): its ETag names the version read
            self.fs.invalidate_cache()
            return tuple((info.get("ETag"), info.get("size")) for files in self.files.values()
                         for info in map(self._info, files))
        out = []
        for files in self._files.values():
            for f in files:
                try:
                    st = os.stat(f)
                    out.append((st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns))
                except OSError:
                    out.append(None)
        return tuple(out)

    def explain_analyze(self, sql: str, params: Sequence | dict | None = None) -> str:
        self.prepare(sql)
        return "\n".join(row[1] for row in self.con.execute("EXPLAIN ANALYZE " + sql, params or []).fetchall())

    def stocks_daily_sql(
        self, tickers: Iterable[str] | str | None = None, start: dt.date | str | None = None,
        end: dt.date | str | None = None, layer: str = "bronze", as_of: dt.date | str | None = None,
    ) -> tuple[str, list]:
        """The SQL and bound parameters of `stocks_daily` (kept apart so a test can EXPLAIN it)."""
        if layer == "silver":
            return self._silver_stocks_daily_sql(tickers, start, end, as_of)
        if as_of is not None:
            raise ValueError("as_of applies to layer='silver' only (bronze is unadjusted)")
        if layer not in ("bronze", "silver"):
            raise ValueError(f"layer must be 'bronze' or 'silver', not {layer!r}")
        view = f"{layer}_stocks_daily"
        if view not in self.views:
            raise LookupError(f"the lake at {self.root} has no {layer} stocks_daily partitions")
        where, params = date_range_filter(start, end)
        if tickers is not None:
            tickers = [tickers] if isinstance(tickers, str) else [str(t) for t in tickers]
            where.append("list_contains(?, ticker)")
            params.append(tickers)
        key = "ticker, date"
        sql = f'SELECT * EXCLUDE (year, month) FROM "{view}"'
        if where:
            sql += " WHERE " + " AND ".join(where)
        return sql + f" ORDER BY {key}", params

    def _silver_stocks_daily_sql(self, tickers, start, end, as_of) -> tuple[str, list]:
        """Silver adjusted continuously as of `as_of` (default: the lake's end), by security: a symbol
        (or a security_id) selects every security that traded under it (up to `as_of`), whole history
        under every symbol it held. See quantmini.adjusted_views."""
        if "silver_stocks_daily" not in self.views:
            raise LookupError(f"the lake at {self.root} has no silver stocks_daily partitions")
        as_of = to_date(as_of) if as_of is not None else None
        source, params = ("silver_stocks_daily_as_of(?)", [as_of]) if as_of is not None else (
            "silver_stocks_daily_adjusted", [])
        where, p = date_range_filter(start, end)
        params += p
        if tickers is not None:
            tickers = [tickers] if isinstance(tickers, str) else [str(t) for t in tickers]
            cut = " AND date <= ?" if as_of is not None else ""
            where.append("security_id IN (SELECT security_id FROM silver_stocks_daily WHERE "
                         f"(list_contains(?, ticker) OR list_contains(?, security_id)){cut})")
            params += [tickers, tickers] + ([as_of] if as_of is not None else [])
        sql = f"SELECT * EXCLUDE (year, month) FROM {source}"
        if where:
            sql += " WHERE " + " AND ".join(where)
        return sql + " ORDER BY security_id, date", params

    def stocks_daily(
        self, tickers: Iterable[str] | str | None = None, start: dt.date | str | None = None,
        end: dt.date | str | None = None, layer: str = "bronze", as_of: dt.date | str | None = None,
    ) -> pl.DataFrame:
        """Daily bars of `tickers` in [start, end] (inclusive) from bronze (raw, by symbol) or silver
        (by security, adjusted continuously as of `as_of`, default the lake's end)."""
        return self.query(*self.stocks_daily_sql(tickers, start, end, layer, as_of))

    def security_ids(self, symbol: str) -> list[str]:
        """The permanent ids of the securities that ever traded as `symbol` in silver."""
        return self.query("SELECT DISTINCT security_id FROM silver_stocks_daily WHERE ticker = ? ORDER BY 1",
                          [symbol])["security_id"].to_list()

    # ------------------------------------------------------------------ persistent catalog for BI tools
    @property
    def catalog_path(self) -> Path:
        return self.root / CATALOG_NAME

    def _catalog_is_current(self) -> bool:
        try:
            con = duckdb.connect(str(self.catalog_path), read_only=True)
        except duckdb.Error:
            return False
        try:
            stored = con.execute(f"SELECT name, pattern FROM {_META}").fetchall()
        except duckdb.Error:
            return False
        finally:
            con.close()
        return dict(stored) == table_globs(self.root)

    def write_catalog(self, force: bool = False) -> Path:
        """Write `<root>/lake.duckdb` (views only, absolute paths) unless it already lists every table.

        Written under a temporary name and renamed: a BI tool never opens a half-built file.
        """
        path = self.catalog_path
        if not force and path.exists() and self._catalog_is_current():
            return path
        with atomic.atomic_path(path) as tmp:
            tmp.unlink()  # DuckDB creates its own file
            con = duckdb.connect(str(tmp))
            globs = table_globs(self.root)
            try:
                for name, glob in globs.items():
                    con.execute(view_sql(name, glob))
                for sql in join_views(globs).values():
                    con.execute(sql)
                add_adjusted_views(con, self.views)
                con.execute(f"CREATE TABLE {_META} (name VARCHAR, pattern VARCHAR)")
                if globs:
                    con.executemany(f"INSERT INTO {_META} VALUES (?, ?)", list(globs.items()))
                con.execute("CHECKPOINT")
            finally:
                con.close()
        return path

    # ------------------------------------------------------------------ what the lake holds
    def status(self) -> pl.DataFrame:
        """Per table: partitions, first/last partition, rows, bytes, last update (from Parquet metadata)."""
        rows = []
        for name, listed in self.files.items():
            layer, dtype = name.split("_", 1)
            files = [p if self.fs is not None else Path(p) for p in listed]
            meta = self.con.execute(
                "SELECT sum(num_rows)::BIGINT FROM (SELECT DISTINCT file_name, num_rows FROM "
                "parquet_file_metadata(?))", [[str(f) for f in files]]
            ).fetchall()[0]
            parts = sorted({partition_of(Path(f)) for f in files} - {None})
            stats = [self._stat(f) for f in files]
            rows.append({
                "layer": layer, "type": dtype, "partitions": len(parts),
                "first": parts[0] if parts else None, "last": parts[-1] if parts else None,
                "rows": int(meta[0] or 0), "bytes": sum(s.st_size for s in stats),
                "updated": dt.datetime.fromtimestamp(max(s.st_mtime for s in stats)).replace(microsecond=0),
            })
        return pl.DataFrame(rows, schema=STATUS_SCHEMA)

    def landing_status(self, types: Iterable[str] | None = None) -> pl.DataFrame:
        """Per data type (the catalog's, or `types`): landing files, first/last month, bytes, last update."""
        from quantmini import catalog

        rows = []
        for t in catalog.CATALOG.values():
            if types is not None and t.name not in set(types):
                continue
            files = [f for folder in t.landing_folders for f in self._landing_files(folder)
                     if "revisions" not in f.parent.parts]  # replaced bodies kept by the revision sweep
            if not files:
                continue
            parts = sorted({partition_of(f) for f in files} - {None})
            months = [x for x in parts if len(x) == 7]
            parts = months or parts  # year folders (a year's listing) count where a type has no month folder
            stats = [self._stat(f) for f in files]
            rows.append({
                "layer": "landing", "type": t.name, "partitions": len(parts),
                "first": parts[0] if parts else None, "last": parts[-1] if parts else None,
                "rows": len(files), "bytes": sum(s.st_size for s in stats),
                "updated": dt.datetime.fromtimestamp(max(s.st_mtime for s in stats)).replace(microsecond=0),
            })
        return pl.DataFrame(rows, schema=STATUS_SCHEMA)

    def _info(self, url: str) -> dict:
        try:
            return self.fs.info(url)
        except FileNotFoundError:
            return {}

    def _stat(self, f) -> os.stat_result:
        """os.stat of a file, or the same two fields (size, modified) of an object."""
        if self.fs is None:
            return Path(f).stat()
        info = self._info(str(f) if not isinstance(f, Path) else "s3://" + f.as_posix())
        modified = info.get("LastModified")
        return os.stat_result((0, 0, 0, 0, 0, 0, info.get("size", 0), 0,
                               modified.timestamp() if modified else 0, 0))

    def _landing_files(self, folder: str) -> list[Path]:
        """A landing folder's gzip files (as paths; on object storage, `bucket/key` paths)."""
        if self.fs is None:
            return list(LakePaths(self.root).landing_folder(folder).rglob("*.json.gz"))
        base = f"{self.root.removeprefix('s3://')}/{LakePaths('').landing_folder(folder).as_posix()}"
        return [Path(k) for k in self.fs.glob(f"{base}/**/*.json.gz")]

    def validation_reports(self) -> pl.DataFrame:
        """Every validation report (reports/validation/<type>/year=YYYY/month=MM.json), one row each."""
        from quantmini import catalog

        folders = sorted({r for d in catalog.CATALOG.values() for r in d.report_dirs} | set(catalog.SILVER_SIDE_TABLES))
        rows = []
        paths = LakePaths(self.root)
        for f in sorted(f for d in folders for f in paths.validation_reports_dir(d).glob("year=*/month=*.json")):
            try:
                rep = json.loads(f.read_text())
            except ValueError:
                rep = {"ok": False, "unreadable": True}
            # corporate_actions reports count splits and dividends apart and have no `ok`: their
            # quarantined events are deliberate rejections of vendor errors, not a failure
            events = {k: rep.get(f"splits_{k}", 0) + rep.get(f"dividends_{k}", 0) for k in ("in", "kept", "quarantined")}
            rows.append({
                "type": f.parent.parent.name, "partition": f"{f.parent.name[5:]}-{f.stem[6:]}",
                "rows_in": rep.get("rows_in", events["in"]), "rows_valid": rep.get("rows_valid", events["kept"]),
                "rows_quarantined": rep.get("rows_quarantined", events["quarantined"]),
                "ok": bool(rep.get("ok", True)),
                "reasons": json.dumps(rep.get("quarantined_by_reason") or {}, sort_keys=True),
                "sessions_without_bars": ",".join(rep.get("sessions_without_bars") or []),
            })
        return pl.DataFrame(rows, schema={
            "type": pl.Utf8, "partition": pl.Utf8, "rows_in": pl.Int64, "rows_valid": pl.Int64,
            "rows_quarantined": pl.Int64, "ok": pl.Boolean, "reasons": pl.Utf8, "sessions_without_bars": pl.Utf8,
        })


def _glob(pattern: str) -> list[str]:
    import glob

    return glob.glob(pattern)
