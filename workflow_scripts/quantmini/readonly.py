"""A DuckDB connection that can read the lake's tables and nothing else, and write nothing anywhere.

`quantmini query` runs SQL a user typed (or pasted from somewhere) with the rights of whoever runs it, often
the account that owns the lake. Four locks, each a DuckDB setting or check, so a statement can neither
replace a partition, read `/etc/passwd`, fetch an extension from the internet, nor exhaust the machine:

- only one statement, and only SELECT (or EXPLAIN of one): COPY, EXPORT, CREATE, ATTACH, INSTALL, LOAD,
  SET, PRAGMA, CALL are refused before DuckDB runs anything (`check_statement`);
- `enable_external_access = false` with `allowed_directories` = the lake's table folders: file access
  outside them fails (reads as well as writes; `..` tricks are caught by DuckDB itself);
- extensions neither installed nor loaded automatically; `temp_directory = ''`: nothing spills to disk;
- `memory_limit`: a query that needs more fails with "Out of Memory" instead of taking the machine;
- `lock_configuration = true` last, so the SQL cannot SET any of this back.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import duckdb

DEFAULT_MEMORY_LIMIT = "1GB"
_ALLOWED = {"SELECT", "EXPLAIN"}


class ReadOnlyError(ValueError):
    """A statement that would change something, or more than one statement."""


def check_statement(sql: str) -> None:
    """Refuse anything but exactly one SELECT (or EXPLAIN) statement; parse errors pass through to DuckDB."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.ParserException:
        return  # DuckDB will report the same parser error when it runs the SQL
    if len(statements) != 1:
        raise ReadOnlyError(f"read-only: one SELECT statement expected, got {len(statements)} statements")
    kind = str(statements[0].type).rsplit(".", 1)[-1]
    if kind not in _ALLOWED:
        raise ReadOnlyError(f"read-only: {kind} statements are not allowed (only SELECT)")


def connect(readable: Iterable[str | os.PathLike] = (), memory_limit: str = DEFAULT_MEMORY_LIMIT,
            setup: Iterable[str] = (), optional: Iterable[str] = (), filesystem=None) -> duckdb.DuckDBPyConnection:
    """An in-memory connection that can read only under `readable` (directories), after running `setup`
    (view definitions: they run before the locks and may name any of `readable`) and then `optional`
    (views a lake may not support yet, e.g. over columns an older silver lacks: the rest are skipped at
    the first that does not bind). `filesystem`: an fsspec filesystem DuckDB reads `readable` URLs
    (s3://...) through, for a lake on object storage."""
    con = duckdb.connect(config={
        "autoinstall_known_extensions": False, "autoload_known_extensions": False,
        "memory_limit": memory_limit, "temp_directory": "",
        # no block cache keyed by path: a partition renamed over between two reads must not be served
        # from the blocks of the file it replaced (torn reads, tests/test_concurrency.py)
        "enable_external_file_cache": False,
    })
    try:
        if filesystem is not None:
            con.register_filesystem(filesystem)
        for sql in setup:
            con.execute(sql)
        for sql in optional:
            try:
                con.execute(sql)
            except duckdb.BinderException:
                break
        dirs = [(str(d) if "://" in str(d) else str(Path(d).resolve())).rstrip("/") + "/" for d in readable]
        con.execute("SET allowed_directories = ?", [dirs]) if dirs else None
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except BaseException:
        con.close()
        raise
    return con
