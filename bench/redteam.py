"""The red team's method as a script: build a demo-sized lake with the workflow against the simulator, then
run the whole family of issue 15's attacks and mistakes against copies of it, and print attempts / OK /
defects per family.

    uv run python bench/redteam.py [--tickers 50] [--start 2025-01-02] [--end 2025-03-31] [--out DIR]

An attack is OK when it is refused or survived as the issue asks: one `quantmini:` line and a non-zero
exit (or a quarantine with a reason), no traceback, nothing written where it must not be, the rest of the
lake still read. Anything else is a defect and is printed with what happened. Not part of the test suite
(tests/test_adversarial*.py hold one test per case); figures go in bench/README.md.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import gzip
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import polars as pl
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow_scripts"))

from quantmini import calendar  # noqa: E402
from quantmini.lake import LakePaths  # noqa: E402
from quantmini.parquet_io import write_parquet  # noqa: E402
from quantmini.sim.server import SimProcess  # noqa: E402

TYPES = ["stocks_daily", "splits", "dividends", "ticker_changes", "tickers"]
RESULTS: list[tuple[str, str, bool, str]] = []  # family, attack, ok, detail


def cli(*args, cwd: Path, env_extra=None, timeout=300) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY",
                                                             "QUANTMINI_API_URL")}
    env.update(env_extra or {})
    try:
        return subprocess.run([sys.executable, "-m", "quantmini.cli", *args], cwd=cwd, env=env, capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(args, 124, "", "timeout")


def tree(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def record(family: str, attack: str, ok: bool, detail: str = "") -> None:
    RESULTS.append((family, attack, bool(ok), "" if ok else detail[-300:]))
    print(f"  {'OK    ' if ok else 'DEFECT'} {family}: {attack}" + ("" if ok else f" -- {detail[-300:]}"), flush=True)


def refused(proc, needle: str = "") -> tuple[bool, str]:
    lines = [l for l in proc.stderr.strip().splitlines() if l]
    ok = (proc.returncode != 0 and len(lines) == 1 and lines[0].startswith("quantmini:")
          and needle.lower() in lines[0].lower() and "Traceback" not in proc.stderr)
    return ok, f"rc={proc.returncode} stderr={proc.stderr[-300:]!r}"


# ---------------------------------------------------------------------- the lake
def build(work: Path, tickers: int, start: str, end: str) -> Path:
    market_end = (calendar.to_date(end) + dt.timedelta(days=40)).isoformat()
    cfg = {"data_root": str(work / "lake"), "source": "sim", "start": start, "end": end, "universe": "all",
           "data_types": TYPES, "max_concurrency": 8, "retries": 8}
    (work / "config.yaml").write_text(yaml.safe_dump(cfg))
    with SimProcess(tickers=tickers, seed=11, start=start, end=market_end) as sim:
        t0 = time.monotonic()
        proc = cli("ingest", "--to", "gold", "--config", str(work / "config.yaml"), cwd=work,
                   env_extra={"QUANTMINI_API_URL": sim.url}, timeout=1800)
        print(f"built the lake in {time.monotonic() - t0:.0f} s (rc {proc.returncode})", flush=True)
        if proc.returncode:
            sys.exit(f"build failed: {proc.stderr[-2000:]}")
    return work / "lake"


def fresh(lake: Path, scratch: Path, name: str) -> Path:
    dst = scratch / name / "lake"
    shutil.copytree(lake, dst)
    return dst


# ---------------------------------------------------------------------- families
def query_attacks(lake: Path, scratch: Path) -> None:
    fam = "query is read-only"
    cwd = scratch / "cwd"
    cwd.mkdir(exist_ok=True)
    part = next(lake.glob("bronze/stocks_daily/year=*/month=*/data.parquet"))
    writes = [f"COPY (SELECT 'pwned' AS x) TO '{part}' (FORMAT parquet)", "COPY (SELECT 1) TO 'pwned.csv'",
              "EXPORT DATABASE 'pwned'", "CREATE TABLE pwned AS SELECT 1", "ATTACH 'pwned.duckdb' AS p",
              "INSTALL httpfs", "LOAD httpfs", "SET enable_external_access = true", "PRAGMA enable_profiling",
              "CALL pragma_version()", "SELECT 1; COPY (SELECT 1) TO 'pwned.csv'", "DROP VIEW bronze_stocks_daily",
              "CREATE OR REPLACE VIEW bronze_stocks_daily AS SELECT 1", "DETACH memory", "CHECKPOINT"]
    before = tree(lake)
    for sql in writes:
        ok, why = refused(cli("query", "--data-root", str(lake), sql, cwd=cwd), "read-only")
        ok = ok and tree(lake) == before and not list(cwd.glob("pwned*"))
        record(fam, sql[:60], ok, why)
    (lake / "secret.csv").write_text("s\nSECRET-VALUE\n")
    reads = ["SELECT * FROM read_csv('/etc/passwd')", "SELECT * FROM read_text('/etc/hostname')",
             "SELECT * FROM glob('/etc/*')", f"SELECT * FROM read_csv('{lake}/secret.csv')",
             f"SELECT * FROM read_parquet('{lake}/bronze/../bronze/stocks_daily/../../secret.csv')",
             "SELECT * FROM read_parquet('https://example.invalid/x.parquet')",
             "SELECT * FROM read_json('/proc/self/environ')", "SELECT * FROM sniff_csv('/etc/passwd')"]
    for sql in reads:
        proc = cli("query", "--data-root", str(lake), "--format", "csv", sql, cwd=cwd)
        ok, why = refused(proc, "query:")
        record(fam, sql[:60], ok and "SECRET-VALUE" not in proc.stdout and "root:" not in proc.stdout, why)
    (lake / "secret.csv").unlink()
    other = scratch / "etc"
    other.mkdir()
    (other / "hosts").write_text("127.0.0.1 localhost\n")
    proc = cli("query", "--data-root", str(other), "SELECT 1", cwd=cwd)
    record(fam, "--data-root <not a lake> writes nothing there", list(other.iterdir()) == [other / "hosts"],
           str(list(other.iterdir())))
    t0 = time.monotonic()
    proc = cli("query", "--data-root", str(lake), "--memory-limit", "200MB",
               "SELECT list(x) FROM range(200000000) t(x)", cwd=cwd, timeout=120)
    ok, why = refused(proc, "out of memory")
    record(fam, "200M-element list under --memory-limit 200MB", ok, why)
    t0 = time.monotonic()
    proc = cli("query", "--data-root", str(lake), "--limit", "3", "SELECT x FROM range(300000000) t(x)", cwd=cwd,
               timeout=60)
    record(fam, "--limit 3 over 300M rows fetches 3", proc.returncode == 0 and time.monotonic() - t0 < 30,
           f"rc={proc.returncode} {time.monotonic() - t0:.0f}s")
    record(fam, "nothing written into the lake by every query above", tree(lake) == before, "lake changed")


def reader_attacks(lake: Path, scratch: Path) -> None:
    fam = "readers"
    cwd = scratch / "cwd"
    evil_name = """evil" AS SELECT 1; COPY (SELECT 1 AS x) TO 'pwned.csv'; CREATE VIEW "x"""
    root = fresh(lake, scratch, "evil")
    evil = root / "bronze" / evil_name / "year=2025" / "month=06"
    evil.mkdir(parents=True)
    shutil.copy(next(root.glob("bronze/stocks_daily/year=*/month=*/data.parquet")), evil / "data.parquet")
    for cmd in (("status",), ("validate",), ("query", "SELECT count(*) FROM bronze_stocks_daily")):
        proc = cli(*cmd, "--data-root", str(root), cwd=cwd)
        record(fam, f"SQL in a directory name: {cmd[0]}", "Traceback" not in proc.stderr
               and not list(cwd.rglob("pwned*")) and not list(root.rglob("pwned*")), proc.stderr[-300:])
    root = fresh(lake, scratch, "stray")
    part = next(root.glob("bronze/stocks_daily/year=*/month=*"))
    n = cli("query", "--data-root", str(root), "--format", "csv", "SELECT count(*) AS n FROM bronze_stocks_daily",
            cwd=cwd).stdout
    write_parquet(pl.DataFrame({"junk": [1]}), part / "data.bak.parquet")
    proc = cli("query", "--data-root", str(root), "--format", "csv", "SELECT count(*) AS n FROM bronze_stocks_daily",
               cwd=cwd)
    record(fam, "stray data.bak.parquet: the view is unchanged", proc.stdout == n, proc.stderr[-300:])
    proc = cli("validate", "--data-root", str(root), cwd=cwd)
    record(fam, "stray data.bak.parquet: validate names it", "data.bak.parquet" in proc.stdout, proc.stdout[-300:])
    root = fresh(lake, scratch, "corrupt")
    bad = next(root.glob("bronze/stocks_daily/year=*/month=*/data.parquet"))
    bad.write_bytes(os.urandom(bad.stat().st_size))
    for cmd in (("validate",), ("status",), ("gaps", "-t", "stocks_daily"), ("query", "SELECT 1")):
        proc = cli(*cmd, "--data-root", str(root), "--config", str(lake.parent / "config.yaml"), cwd=cwd)
        out = (proc.stdout + proc.stderr).replace("\n", "")
        ok = "Traceback" not in out and (cmd[0] == "query" or str(bad) in out)
        record(fam, f"random bytes over a bronze partition: {cmd[0]}", ok, out[-300:])
    root = fresh(lake, scratch, "landing")
    f = sorted(root.glob("landing/stocks_daily/**/*.json.gz"))[2]
    f.write_bytes(f.read_bytes()[:40])
    proc = cli("validate", "--data-root", str(root), cwd=cwd)
    record(fam, "truncated landing .json.gz: validate", str(f) in proc.stdout.replace("\n", ""), proc.stdout[-300:])
    for damage in ("truncate", "head"):
        root = fresh(lake, scratch, f"gold-{damage}")
        f = sorted(root.glob("gold/qlib/features/*/close.day.bin"))[0]
        raw = f.read_bytes()
        f.write_bytes(raw[:-2] if damage == "truncate" else struct.pack("<f", 9999.5) + raw[4:])
        proc = cli("validate", "--data-root", str(root), cwd=cwd)
        record(fam, f"gold .bin ({damage}): validate", str(f) in proc.stdout.replace("\n", ""), proc.stdout[-300:])
    empty = scratch / "empty"
    empty.mkdir()
    for cmd in ("status", "validate"):
        ok, why = refused(cli(cmd, "--data-root", str(empty), cwd=cwd), "no lake at")
        record(fam, f"{cmd} on an empty directory is not OK", ok, why)


def config_attacks(lake: Path, scratch: Path) -> None:
    fam = "config and arguments"
    work = scratch / "cfg"
    work.mkdir()
    base = yaml.safe_load((lake.parent / "config.yaml").read_text())
    cases = [({"start": "1990-01-02", "end": "1990-02-28"}, None, "early dates plan a run"),
             ({"start": "1975-01-02", "end": "1975-02-28"}, "before 1981-01-01", "start before the calendar"),
             ({"sim": {"faults": "429=0.5,bogus=0.1"}}, "sim.faults", "bad sim.faults"),
             ({"universe": ["AAPL"], "data_types": ["stocks_daily", "options_daily"],
               "options": {"underlyings": ["ZZZZ"]}}, "options.underlyings", "underlying outside the universe")]
    for over, needle, name in cases:
        (work / "config.yaml").write_text(yaml.safe_dump({**base, "data_root": str(work / "lake"), **over}))
        proc = cli("ingest", "-n", "--config", str(work / "config.yaml"), cwd=work)
        if needle is None:
            record(fam, name, proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-300:])
        else:
            ok = proc.returncode != 0 and needle in proc.stderr and "Traceback" not in proc.stderr
            record(fam, name, ok, proc.stderr[-300:])
    for value in ("nan", "inf", "-1"):
        proc = cli("gaps", "--thin-ratio", value, "--data-root", str(lake), cwd=work)
        record(fam, f"--thin-ratio {value}", proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr)
    proc = cli("query", "--memory-limit", "lots", "SELECT 1", "--data-root", str(lake), cwd=work)
    record(fam, "--memory-limit lots", proc.returncode == 2 and "memory size" in proc.stderr, proc.stderr)


def listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every path under root with its mtime and size: a dry run must change none of them."""
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.rglob("*"))}


def interrupted(args, cwd: Path, env: dict, ready) -> subprocess.CompletedProcess:
    """`quantmini ARGS` in its own process group, sent SIGINT (Ctrl-C reaches the whole group) once
    `ready()` holds (or after that many seconds)."""
    proc = subprocess.Popen([sys.executable, "-m", "quantmini.cli", *args], cwd=cwd, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + (ready if not callable(ready) else 600)
    while time.monotonic() < deadline and proc.poll() is None and not (callable(ready) and ready()):
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGINT)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    return subprocess.CompletedProcess(args, proc.returncode, out, err)


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def signal_attacks(lake: Path, scratch: Path, tickers: int, start: str) -> None:
    """SIGKILL of a build (its simulator must die with it, its temp folder be swept by the next run),
    Ctrl-C of each command (one line, exit 130), dry runs (nothing written into the lake)."""
    fam = "kills, Ctrl-C, dry runs"
    work = scratch / "signals"
    tmp = work / "tmp"
    tmp.mkdir(parents=True)
    base = yaml.safe_load((lake.parent / "config.yaml").read_text())
    env = {k: v for k, v in os.environ.items() if k not in ("MASSIVE_API_KEY", "POLYGON_API_KEY",
                                                             "QUANTMINI_API_URL")}
    env["TMPDIR"] = str(tmp)
    sims = lambda: sorted(tmp.glob("quantmini-sim-*"))  # noqa: E731
    # a build with its own simulator, SIGKILLed once the simulator answers (and again once jobs run)
    for k, moment in enumerate(("simulator ready", "jobs running")):
        small = {**base, "data_root": str(work / f"lake{k}"), "data_types": ["stocks_daily"],
                 "end": (calendar.to_date(start) + dt.timedelta(days=40)).isoformat(), "sim": {"tickers": 5, "seed": 3}}
        (work / "config.yaml").write_text(yaml.safe_dump(small))
        proc = subprocess.Popen([sys.executable, "-m", "quantmini.cli", "ingest", "--config", str(work / "config.yaml")],
                                cwd=work, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not [d for d in sims() if (d / "ready.json").exists()]:
            time.sleep(0.05)
        if moment == "jobs running":
            while time.monotonic() < deadline and not list((work / f"lake{k}" / "logs").rglob("landing_*/**/*.log")):
                time.sleep(0.05)
        ready = [d / "ready.json" for d in sims() if (d / "ready.json").exists()]
        pid = json.loads(ready[0].read_text())["pid"] if ready else 0
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        t0 = time.monotonic()
        while alive(pid) and time.monotonic() - t0 < 10:
            time.sleep(0.1)
        record(fam, f"SIGKILL of a build ({moment}): its simulator stops", pid and not alive(pid),
               f"simulator pid {pid} still running after 10 s")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # the jobs it had started
        stale = sims()
        done = cli("ingest", "--config", str(work / "config.yaml"), cwd=work, env_extra={"TMPDIR": str(tmp)},
                   timeout=900)
        record(fam, f"SIGKILL of a build ({moment}): the next run sweeps its folder and completes",
               stale and done.returncode == 0 and not sims(), f"stale {stale}, left {sims()}, rc {done.returncode}")
    # killed writers' temporary files, swept by a run with nothing to do
    part = next((work / "lake1" / "bronze" / "stocks_daily").glob("year=*/month=*"))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    leftover = part / f".data.parquet.{dead.pid}-abcd1234.tmp"
    leftover.write_bytes(b"partial")
    proc = cli("ingest", "--config", str(work / "config.yaml"), cwd=work, env_extra={"TMPDIR": str(tmp)})
    record(fam, "a killed writer's temp file: swept by a run with nothing to do",
           proc.returncode == 0 and not leftover.exists(), proc.stderr[-300:])
    # Ctrl-C
    for args, when in ((["status", "--data-root", str(lake)], 0.3), (["validate", "--data-root", str(lake)], 1.0),
                       (["gaps", "--data-root", str(lake), "--config", str(lake.parent / "config.yaml")], 1.0),
                       (["query", "--data-root", str(lake), "SELECT count(*) FROM range(10000000000) t(x)"], 4.0)):
        proc = interrupted(args, work, env, when)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        record(fam, f"Ctrl-C of {args[0]} after {when} s", proc.returncode == 130 and lines[-1:] ==
               ["quantmini: interrupted"] and "Traceback" not in proc.stderr, f"rc={proc.returncode} {proc.stderr[-300:]}")
    for args in (["ingest", "-e", (calendar.to_date(small["end"]) + dt.timedelta(days=30)).isoformat()],
                 ["gaps", "--backfill", "-e", (calendar.to_date(small["end"]) + dt.timedelta(days=60)).isoformat()]):
        t0 = time.time()
        logs = work / "lake1" / "logs"
        jobs = lambda: any(f.stat().st_mtime > t0 for f in logs.rglob("landing_*/**/*.log"))  # noqa: E731
        proc = interrupted([*args, "--config", str(work / "config.yaml")], work, env, jobs)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        time.sleep(1)
        record(fam, f"Ctrl-C of {' '.join(args[:2])} while jobs run", proc.returncode == 130 and lines[-1:] ==
               ["quantmini: interrupted"] and "Traceback" not in proc.stderr and not sims(),
               f"rc={proc.returncode} sims={sims()} {proc.stderr[-300:]}")
    # dry runs write nothing into the lake, .snakemake/ gone or not
    root = fresh(lake, scratch, "dry")
    cfg = {**base, "data_root": str(root), "sim": {"tickers": tickers, "seed": 11, "market_start": start}}
    (root.parent / "config.yaml").write_text(yaml.safe_dump(cfg))
    real = pl.read_parquet(next(root.glob("bronze/stocks_daily/year=*/month=*/data.parquet")))["ticker"][0]
    later = (calendar.to_date(base["end"]) + dt.timedelta(days=20)).isoformat()
    before = listing(root)
    for name, args in (("a new session", ["-e", later]), ("a changed universe", []), ("the same range", [])):
        if name == "a changed universe":
            (root.parent / "config.yaml").write_text(yaml.safe_dump({**cfg, "universe": [real]}))
        shutil.rmtree(root.parent / ".snakemake", ignore_errors=True)
        proc = cli("ingest", "-n", *args, "--config", str(root.parent / "config.yaml"), cwd=root.parent,
                   env_extra={"TMPDIR": str(tmp)})
        (root.parent / "config.yaml").write_text(yaml.safe_dump(cfg))
        record(fam, f"ingest -n ({name}) writes nothing into the lake", proc.returncode == 0 and
               listing(root) == before, f"rc={proc.returncode} {proc.stderr[-200:]} changed: "
               f"{sorted(set(listing(root).items()) ^ set(before.items()))[:3]}")
    smk = [sys.executable, "-m", "snakemake", "-n", "-s", str(REPO / "Snakefile"), "--directory", str(root.parent),
           "--profile", str(REPO / "profiles" / "default"), "--configfile", str(root.parent / "config.yaml"),
           "--config", f"end={later}"]
    proc = subprocess.run(smk, env=env, capture_output=True, text=True, timeout=600)
    record(fam, "snakemake -n (a new session) writes nothing into the lake",
           proc.returncode == 0 and listing(root) == before, proc.stderr[-300:])


def vendor_attacks(scratch: Path) -> None:
    from quantmini.datatypes.stocks_daily import silver
    from quantmini.datatypes.stocks_daily.bronze import build_stocks_daily_month
    from quantmini.qlib_writer import publish

    fam = "vendor data"
    days = calendar.sessions("2025-01-02", "2025-01-31")

    def bar(sym, day, **over):
        stamp = int(dt.datetime(day.year, day.month, day.day, 16, tzinfo=calendar.NY).timestamp() * 1000)
        return {"T": sym, "o": 10.0, "h": 10.1, "l": 9.9, "c": 10.0, "v": 1e3, "vw": 10.0, "n": 5, "t": stamp, **over}

    def month(name, bars_of):
        lake = LakePaths(scratch / "vendor" / name)
        for day in days:
            p = lake.landing_day("stocks_daily", day)
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(gzip.compress(json.dumps({"status": "OK", "results": bars_of(day)}).encode()))
        outs = (lake.bronze("stocks_daily", 2025, 1), lake.quarantine("stocks_daily", 2025, 1),
                lake.validation_report("stocks_daily", 2025, 1))
        try:
            build_stocks_daily_month(lake, 2025, 1, days, "all", *outs)
        except Exception as exc:  # noqa: BLE001 -- a failed build is the defect being looked for
            return None, None, f"{type(exc).__name__}: {exc}"
        return pl.read_parquet(outs[0]), pl.read_parquet(outs[1]), lake

    for field, value in (("v", "1000"), ("c", None), ("n", True), ("o", [1]), ("T", 7), ("t", "x")):
        clean, quarantine, _ = month(f"type-{field}", lambda d, f=field, v=value: [
            bar("AAPL", d), bar("MSFT", d, **({f: v} if d == days[2] else {}))])
        # the requirement: the day is not blocked (AAPL's bar of that day is kept) and nothing raises; a
        # value polars can coerce (True -> 1, 7 -> "7") is kept as coerced, any other goes to quarantine
        ok = clean is not None and "AAPL" in clean.filter(pl.col("date") == days[2])["ticker"].to_list()
        record(fam, f"wrong JSON type {field}={value!r} on one bar", ok, f"build: {_}")
    real = ["AAPL", "BRK.B", "AHLpC", "BF-B", "ZVZZT", "CON"]
    hostile = ["../x", "a/b", "", ".hidden", "A B", "X" * 40, "A\\B", "A\x00B", "aapl"]
    clean, quarantine, _ = month("symbols", lambda d: [bar(t, d) for t in real + hostile])
    kept = set(clean["ticker"].unique()) if clean is not None else set()
    record(fam, "real symbols kept (dots, lower case, dash, CON)", set(real) <= kept, str(kept))
    for t in hostile:
        record(fam, f"hostile symbol {t[:12]!r} quarantined", clean is not None and t not in kept, str(kept))
    if clean is not None:
        try:
            publish(scratch / "vendor" / "qlib", clean.select(pl.col("ticker").alias("symbol"), "date", "close"),
                    days, ["close"])
            record(fam, "gold publishes the rest", True)
        except Exception as exc:  # noqa: BLE001
            record(fam, "gold publishes the rest", False, str(exc))
    clean, quarantine, lake = month("all-bad", lambda d: [bar("../x", d), bar("AAPL", d, v="x")])
    try:
        silver.build_month([lake.bronze("stocks_daily", 2025, 1)], [], [], [], 2025, 1, scratch / "s.parquet",
                           scratch / "e.parquet", sessions=days)
        record(fam, "a month of only quarantined rows: silver", True)
    except Exception as exc:  # noqa: BLE001
        record(fam, "a month of only quarantined rows: silver", False, str(exc))


def concurrency_attack(lake: Path, scratch: Path, reps: int) -> None:
    from quantmini.lake_db import Lake

    root = fresh(lake, scratch, "concurrency")
    part = sorted(root.glob("bronze/stocks_daily/year=*/month=*/data.parquet"))[0]
    old = pl.read_parquet(part)
    new = pl.concat([old, old.with_columns(pl.col("ticker") + "X")]).with_columns(pl.col("close") * 2)
    want = {old.height, new.height}
    y, m = part.parent.parent.name[5:], part.parent.name[6:]
    sql = f"SELECT count(*) AS n FROM bronze_stocks_daily WHERE year = {int(y)} AND month = {int(m)}"
    stop, errors, seen, reads = threading.Event(), [], set(), [0, 0]

    def reader(k):
        with Lake(root) as db:
            while not stop.is_set():
                try:
                    seen.add(db.query(sql)["n"][0])
                    reads[k] += 1
                except Exception as exc:  # noqa: BLE001
                    errors.append(repr(exc)[:120])

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    writes, t0 = 0, time.monotonic()
    while (writes < reps or min(reads) < reps) and time.monotonic() - t0 < 300:
        write_parquet(new if writes % 2 == 0 else old, part)
        writes += 1
    stop.set()
    for t in threads:
        t.join()
    record("readers", f"query during {writes} rewrites ({sum(reads)} reads)", not errors and seen <= want,
           f"{len(errors)} errors e.g. {errors[:1]}, seen {seen - want}")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tickers", type=int, default=50)
    p.add_argument("--start", default="2025-01-02")
    p.add_argument("--end", default="2025-03-31")
    p.add_argument("--reps", type=int, default=800, help="rewrites and reads per reader of the concurrency attack")
    p.add_argument("--families", default="query,readers,config,vendor,concurrency,signals",
                   help="comma-separated subset of: query, readers, config, vendor, concurrency, signals")
    p.add_argument("--out", help="keep the lake and scratch here (default: a temporary folder, removed)")
    args = p.parse_args()
    base = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="quantmini-redteam-"))
    try:
        work = base / "work"
        work.mkdir(parents=True, exist_ok=True)
        lake = work / "lake"
        if not (lake / "gold").is_dir():  # --out DIR of an earlier run: its lake is reused
            lake = build(work, args.tickers, args.start, args.end)
        scratch = base / "scratch"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        t0 = time.monotonic()
        families = set(args.families.split(","))
        if "query" in families:
            query_attacks(fresh(lake, scratch, "query"), scratch)
        if "readers" in families:
            reader_attacks(lake, scratch)
        if "config" in families:
            config_attacks(lake, scratch)
        if "vendor" in families:
            vendor_attacks(scratch)
        if "concurrency" in families:
            concurrency_attack(lake, scratch, args.reps)
        if "signals" in families:
            signal_attacks(lake, scratch, args.tickers, args.start)
        print(f"\n{'family':<24} {'attempts':>8} {'OK':>5} {'defects':>8}   ({time.monotonic() - t0:.0f} s)")
        for fam in dict.fromkeys(r[0] for r in RESULTS):
            rows = [r for r in RESULTS if r[0] == fam]
            print(f"{fam:<24} {len(rows):>8} {sum(r[2] for r in rows):>5} {sum(not r[2] for r in rows):>8}")
        total_ok = sum(r[2] for r in RESULTS)
        print(f"{'total':<24} {len(RESULTS):>8} {total_ok:>5} {len(RESULTS) - total_ok:>8}")
        for fam, attack, ok, detail in RESULTS:
            if not ok:
                print(f"DEFECT {fam}: {attack}: {detail}")
        return 0 if total_ok == len(RESULTS) else 1
    finally:
        if not args.out:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
