"""The lake on S3-compatible object storage (README "Object storage"), against a real S3 server on loopback
(moto's standalone server, with authentication on).

One small market (2 months, stocks_daily and corporate actions, silver, gold, the gaps report) is built
twice from the same simulator: on disk, and into a bucket with `storage: s3://lake/t`. The disk build is
the reference: the bucket must hold the same objects, byte for byte; a daily update must run the same
jobs in both; `quantmini query`/`status` and the Lake API must read the bucket in place and answer as on
disk, reading only the month a filter names. Bad storage settings stop before any job with one line, and
the credentials reach no object, file or output.
"""

from __future__ import annotations

import base64
import concurrent.futures as cf
import gzip
import io
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import quote_plus

import pyarrow.parquet as pq
import pytest
import s3fs
from quantmini.lake_db import Lake
from quantmini.sim.server import SimProcess
from s3_server import S3Server
from workflow_helpers import quantmini_cli, run_workflow, snakemake_cmd, write_config

START, END, UPDATED_END = "2025-01-02", "2025-02-26", "2025-02-27"
TYPES = ["stocks_daily", "splits", "dividends", "ticker_changes", "tickers"]
PREFIX = "t"
COMPARED = ("landing", "bronze", "silver", "quarantine", "reports/validation")


def config(work: Path, storage: str | None, end: str) -> None:
    extra = {"storage": storage, "data_root": "lake"} if storage else {}
    write_config(work, start=START, end=end, data_types=TYPES, alpha158=False, **extra)


def jobs_run(output: str) -> set[tuple[str, str]]:
    """(rule, wildcards) of every job a Snakemake run executed, from its log."""
    out, rule = set(), None
    for line in output.splitlines():
        m = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if m:
            rule = m.group(1)
            out.add((rule, ""))
            continue
        m = re.match(r"^wildcards: (.*)$", line.strip())
        if m and rule:
            out.discard((rule, ""))
            out.add((rule, m.group(1)))
            rule = None
    return out


def disk_files(lake: Path) -> dict[str, bytes]:
    return {str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.rglob("*")) if p.is_file()}


def compared(files: dict[str, bytes]) -> dict[str, bytes]:
    """The lake's data objects: landing bodies and manifests, bronze, silver, quarantine, validation
    reports (not logs, benchmarks or Snakemake's folder markers), and the gaps summary's verdict (its
    `root` and paths name where it was read)."""
    out = {k: v for k, v in files.items() if k.startswith(COMPARED) and not k.endswith(".snakemake_timestamp")}
    if "reports/gaps/gaps.json" in files:
        summary = json.loads(files["reports/gaps/gaps.json"])
        out["gaps verdict"] = json.dumps([summary["complete"], summary["counts"], summary["types"]]).encode()
    return out


@pytest.fixture(scope="module")
def s3():
    with S3Server(bucket="lake") as server:
        yield server


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    log = tmp_path_factory.mktemp("sim") / "requests.jsonl"
    with SimProcess(tickers=8, seed=11, start=START, end="2025-02-28", request_log=str(log)) as s:
        yield s


@pytest.fixture(scope="module")
def built(s3, sim, tmp_path_factory):
    """The same lake on disk and in the bucket; then a second run of each (the no-op) and a one-session
    update of each. SimpleNamespace of the works and each run's output."""
    from types import SimpleNamespace

    disk, remote = tmp_path_factory.mktemp("disk"), tmp_path_factory.mktemp("remote")
    config(disk, None, END)
    config(remote, f"s3://lake/{PREFIX}", END)

    def run(work, *args, **kw):
        p = run_workflow(work, sim.url, *args, env_extra=s3.env, **kw)
        return p.stdout + p.stderr

    with cf.ThreadPoolExecutor(2) as pool:  # two independent builds: run side by side
        first = list(pool.map(run, [disk, remote]))
    ns = SimpleNamespace(disk=disk, remote=remote, first=first)
    ns.objects = s3.objects(PREFIX)  # the bucket after the first build, and the disk lake
    ns.disk_files = disk_files(disk / "lake")
    ns.noop = run(remote, extra=("-n",))
    for work in (disk, remote):
        config(work, f"s3://lake/{PREFIX}" if work is remote else None, UPDATED_END)
    with cf.ThreadPoolExecutor(2) as pool:
        ns.update = list(pool.map(run, [disk, remote]))
    ns.updated_objects = s3.objects(PREFIX)
    return ns


def test_the_bucket_holds_the_same_lake_as_the_disk_object_by_object(built):
    on_disk = compared(built.disk_files)
    in_bucket = compared({k.removeprefix("lake/"): v for k, v in built.objects.items()})
    assert any(k.startswith("silver/stocks_daily/") for k in in_bucket)
    assert sum(k.startswith("landing/stocks_daily/year=2025/month=02/") and k.endswith(".json.gz")
               for k in in_bucket) == 17  # the sessions 2025-02-03 .. 2025-02-26
    assert sorted(on_disk) == sorted(in_bucket)
    differ = sorted(k for k in on_disk if on_disk[k] != in_bucket[k])
    assert not differ, f"objects differ from the disk build: {differ}"
    # gold stays on disk, beside the run, and equals the disk build's
    gold = disk_files(built.remote / "lake" / "gold" / "qlib")
    assert gold and gold.keys() == disk_files(built.disk / "lake" / "gold" / "qlib").keys()
    assert not [k for k in built.objects if k.startswith("lake/gold/")]


def test_a_second_run_is_a_no_op(built):
    assert "Nothing to be done" in built.noop, built.noop[-2000:]


def test_a_one_session_update_runs_the_same_jobs_as_on_disk(built):
    # on disk the month's session plan is rewritten while the DAG is built; on object storage by its rule
    disk_jobs, remote_jobs = ({j for j in jobs_run(o) if j[0] != "session_plan"} for o in built.update)
    months = {w for _, w in remote_jobs if "month=" in w}
    assert months == {"year=2025, month=02"}, remote_jobs  # January is closed: nothing of it reruns
    assert ("bronze_stocks_daily", "year=2025, month=02") in remote_jobs
    assert remote_jobs == disk_jobs
    on_disk = compared(disk_files(built.disk / "lake"))
    in_bucket = compared({k.removeprefix("lake/"): v for k, v in built.updated_objects.items()})
    assert not sorted(k for k in in_bucket if on_disk.get(k) != in_bucket[k])
    # a corporate-action listing of the open month is landed again under its new window's name: on disk
    # the superseded file stays beside it (land once), on object storage the rerun job's landing folder
    # output was replaced whole; no manifest names the superseded files
    superseded = sorted(on_disk.keys() - in_bucket.keys())
    assert superseded and all(k.startswith("landing/") and "2025-02-26" in k for k in superseded), superseded
    for k in superseded:  # not in its type's manifest (corporate actions: one per year)
        manifest = in_bucket["/".join(k.split("/")[:3]) + "/_manifest.json"]
        assert k.rsplit("/", 1)[1].encode() not in manifest, k
    january = [k for k in built.objects if "month=01" in k and not k.startswith("lake/logs/")]
    assert january and all(built.updated_objects[k] == built.objects[k] for k in january)


class CountingS3(s3fs.S3FileSystem):
    """s3fs counting the bytes of every ranged GET, per object."""

    fetched: dict[str, int] = {}

    def _open(self, path, mode="rb", **kwargs):
        f = super()._open(path, mode, **kwargs)
        fetch = f.cache.fetcher  # every GET of the file goes through its block cache's fetcher

        def counted(start, end):
            data = fetch(start, end)
            CountingS3.fetched[path] = CountingS3.fetched.get(path, 0) + len(data)
            return data

        f.cache.fetcher = counted
        return f


def test_the_lake_api_reads_the_bucket_in_place_and_prunes_months(built, s3, monkeypatch):
    for k, v in s3.env.items():
        monkeypatch.setenv(k, v)
    with Lake(built.disk / "lake") as lake:
        want_all, want_jan = lake.stocks_daily(), lake.stocks_daily(start="2025-01-01", end="2025-01-31")
        want_silver = lake.stocks_daily(layer="silver", start="2025-02-01")
    # small blocks: a read of a footer fetches little more than the footer (these objects are ~10 KB)
    fs = CountingS3(endpoint_url=s3.endpoint, skip_instance_cache=True, default_block_size=256)
    with Lake(f"s3://lake/{PREFIX}/lake", filesystem=fs) as lake:
        CountingS3.fetched.clear()
        got_jan = lake.stocks_daily(start="2025-01-01", end="2025-01-31")
        jan_reads = dict(CountingS3.fetched)
        CountingS3.fetched.clear()
        got_all = lake.stocks_daily()
        all_reads = dict(CountingS3.fetched)
        assert lake.stocks_daily(layer="silver", start="2025-02-01").equals(want_silver)
    assert got_jan.equals(want_jan) and got_all.equals(want_all)
    jan = f"lake/{PREFIX}/lake/bronze/stocks_daily/year=2025/month=01/data.parquet"
    feb = jan.replace("month=01", "month=02")
    # the whole table reads both months' objects; a January query does not touch February's (DuckDB
    # prunes the view's file list on year/month; the view's first object is read to bind it in any case)
    assert all_reads.get(jan, 0) > 0 and all_reads.get(feb, 0) > 0, all_reads
    assert jan_reads.get(jan, 0) > 0 and feb not in jan_reads, jan_reads
    sum_jan, sum_all = sum(jan_reads.values()), sum(all_reads.values())
    print(f"bytes read: one month {sum_jan}, whole table {sum_all}")


def test_quantmini_query_and_status_read_the_bucket(built, s3):
    env_work = built.remote
    os.environ.update(s3.env)
    try:
        q = quantmini_cli(env_work, "query", "SELECT month, count(*) AS n FROM bronze_stocks_daily GROUP BY month "
                          "ORDER BY month", "--format", "csv")
        st = quantmini_cli(env_work, "status")
    finally:
        for k in s3.env:
            os.environ.pop(k, None)
    assert q.returncode == 0, q.stderr
    with Lake(built.disk / "lake") as lake:
        want = lake.query("SELECT month, count(*) AS n FROM bronze_stocks_daily GROUP BY month ORDER BY month")
    assert q.stdout.strip().splitlines()[1:] == [f"{m},{n}" for m, n in want.iter_rows()]
    assert st.returncode == 0, st.stderr
    assert "bronze" in st.stdout and "stocks_daily bronze: 2025-01-02 .. 2025-02-27" in st.stdout
    assert "gold qlib: 38 sessions" in st.stdout


def _cli(work: Path, s3, *args: str) -> subprocess.CompletedProcess:
    os.environ.update(s3.env)
    try:
        return quantmini_cli(work, *args)
    finally:
        for k in s3.env:
            os.environ.pop(k, None)


def _verdict(out: str) -> str:
    """`gaps`' verdict line without the lake's location: 'START .. END: COMPLETE - counts'."""
    found = re.search(r"lake \S+, (\S+ \.\. \S+: \w+ - .*?unreadable files \d+)", " ".join(out.split()))
    assert found, out
    return found.group(1)


def test_gaps_reads_the_bucket_in_place(built, s3, tmp_path):
    """`quantmini gaps` on the bucket lake gives the disk lake's verdict (COMPLETE, exit 0) and puts its
    report in the bucket; on a copy with a bronze month and a landing body deleted it names both (exit 1)."""
    disk, remote = _cli(built.disk, s3, "gaps"), _cli(built.remote, s3, "gaps")
    assert disk.returncode == 0 and remote.returncode == 0, (disk.stdout, remote.stdout, remote.stderr)
    assert "COMPLETE" in _verdict(remote.stdout) and _verdict(remote.stdout) == _verdict(disk.stdout)
    assert f"report: s3://lake/{PREFIX}/lake/reports/gaps/gaps.md" in " ".join(remote.stdout.split())
    fs = s3.filesystem()
    report = json.loads(fs.cat_file(f"lake/{PREFIX}/lake/reports/gaps/gaps.json"))
    assert report["complete"] is True and report["root"] == f"s3://lake/{PREFIX}/lake"

    fs.copy(f"lake/{PREFIX}/lake", "lake/holes/lake", recursive=True)
    bronze = "lake/holes/lake/bronze/stocks_daily/year=2025/month=01/data.parquet"
    body = "lake/holes/lake/landing/stocks_daily/year=2025/month=02/2025-02-10.json.gz"
    assert fs.exists(bronze) and fs.exists(body)
    fs.rm_file(bronze)
    fs.rm_file(body)
    config(tmp_path, "s3://lake/holes", UPDATED_END)
    holes = _cli(tmp_path, s3, "gaps")
    assert holes.returncode == 1, holes.stdout + holes.stderr
    assert "INCOMPLETE" in _verdict(holes.stdout)
    report = json.loads(fs.cat_file("lake/holes/lake/reports/gaps/gaps.json"))
    text = json.dumps(report)
    assert f"s3://{bronze}" in text and f"s3://{body}" in text, text[:2000]


def test_validate_reads_the_bucket_in_place(built, s3, tmp_path):
    """`quantmini validate` on the bucket lake: OK like the disk lake; on a copy with random bytes over a
    bronze object, a cut landing body and a stray object, exit 1 naming each by its s3:// URL."""
    disk, remote = _cli(built.disk, s3, "validate"), _cli(built.remote, s3, "validate")
    assert disk.returncode == 0 and "validation: OK" in disk.stdout, disk.stdout + disk.stderr
    assert remote.returncode == 0 and "validation: OK" in remote.stdout, remote.stdout + remote.stderr

    fs = s3.filesystem()
    fs.copy(f"lake/{PREFIX}/lake", "lake/broken/lake", recursive=True)
    bronze = "lake/broken/lake/bronze/stocks_daily/year=2025/month=01/data.parquet"
    body = "lake/broken/lake/landing/stocks_daily/year=2025/month=02/2025-02-10.json.gz"
    stray = "lake/broken/lake/bronze/stocks_daily/year=2025/month=02/data.bak.parquet"
    fs.pipe_file(bronze, os.urandom(4096))
    fs.pipe_file(body, fs.cat_file(body)[:200])
    fs.pipe_file(stray, fs.cat_file("lake/broken/lake/bronze/stocks_daily/year=2025/month=02/data.parquet"))
    config(tmp_path, "s3://lake/broken", UPDATED_END)
    broken = _cli(tmp_path, s3, "validate")
    out = " ".join((broken.stdout + broken.stderr).split())
    assert broken.returncode == 1, out
    assert f"unreadable Parquet file s3://{bronze}" in out, out
    assert f"corrupt landing file s3://{body}" in out, out
    assert f"stray file s3://{stray}" in out, out


def test_credentials_reach_no_object_file_or_output(built, s3):
    needles = [s for v in (s3.env["AWS_SECRET_ACCESS_KEY"], s3.env["AWS_ACCESS_KEY_ID"])
               for s in (v.encode(), quote_plus(v).encode(), base64.b64encode(v.encode()))]
    blobs = {f"s3:{k}": v for k, v in built.updated_objects.items()}
    blobs |= {str(p): p.read_bytes() for p in built.remote.rglob("*") if p.is_file()}
    assert any(".snakemake/metadata" in k for k in blobs) and any("logs/" in k for k in blobs)
    leaks = [k for k, v in blobs.items() for n in needles if n in v]
    assert not leaks, leaks
    output = "".join(built.first + built.update).encode() + built.noop.encode()
    assert not [n for n in needles if n in output]


def _storage_run(work: Path, env: dict) -> subprocess.Popen:
    full = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | env
    return subprocess.Popen(snakemake_cmd(work, extra=("-n",)), env=full, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_bad_storage_settings_stop_before_any_job_with_one_line(s3, tmp_path):
    work = tmp_path / "w"
    work.mkdir()
    config(work, f"s3://lake/{PREFIX}", END)
    good = s3.env
    cases = {
        "no such bucket": ({**good}, "s3://nosuchbucket/x", "bucket 'nosuchbucket' does not exist"),
        "wrong secret": ({**good, "AWS_SECRET_ACCESS_KEY": "Wr0ng-secret-marker"}, None,
                         ("refused the credentials for bucket 'lake' (403",
                          "): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")),
        "unreachable": ({**good, "AWS_ENDPOINT_URL": "http://127.0.0.1:9"}, None, "cannot reach the S3 endpoint"),
        "no credentials": ({"AWS_ENDPOINT_URL": s3.endpoint, "AWS_CONFIG_FILE": "/dev/null",
                            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}, None, "no credentials"),
    }
    procs = {}
    for name, (env, url, _) in cases.items():
        w = work / name.replace(" ", "_")
        w.mkdir()
        config(w, url or f"s3://lake/{PREFIX}", END)
        procs[name] = _storage_run(w, env)
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        env, _, want = cases[name]
        lines = [ln for ln in err.splitlines() if ln.startswith("quantmini:")]
        assert proc.returncode != 0, name
        assert len(lines) == 1 and all(w in lines[0] for w in (want if isinstance(want, tuple) else (want,))), \
            (name, err[-2000:])
        assert "Traceback" not in out + err and "Building DAG" not in out + err, name
        for secret in {env.get("AWS_SECRET_ACCESS_KEY"), good["AWS_SECRET_ACCESS_KEY"]} - {None}:
            assert secret not in out + err, name
        assert not list((work / name.replace(" ", "_")).glob("lake/landing")), name


def test_a_killed_run_leaves_no_partial_object(s3, sim, tmp_path):
    """SIGKILL a build while it uploads: every object under a final key is whole (Snakemake uploads a
    job's outputs only after it succeeded, each in one PUT)."""
    config(tmp_path, "s3://lake/killed", END)
    env = {k: v for k, v in os.environ.items() if k != "QUANTMINI_API_URL"} | s3.env | {"QUANTMINI_API_URL": sim.url}
    proc = subprocess.Popen(snakemake_cmd(tmp_path), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 240
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            keys = s3.objects("killed")
            if any(k.startswith("lake/bronze/") for k in keys):
                break
            time.sleep(0.5)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    objects = s3.objects("killed")
    assert any(k.startswith("lake/bronze/") for k in objects), "the run was killed before any upload"
    for key, body in objects.items():
        if key.endswith(".parquet"):
            pq.read_table(io.BytesIO(body))
        elif key.endswith(".json.gz"):
            json.loads(gzip.decompress(body))
        elif key.endswith(".json"):
            json.loads(body)
