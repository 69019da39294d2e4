"""The lake on object storage vs on disk, in one run (README "Object storage"; figures in bench/README.md).

Builds the same lake twice from one simulator -- on disk, then into a bucket of a local S3 server (moto's
standalone server on loopback, `tests/s3_server.py`) -- layer by layer (bronze, silver, gold, then the
rest of `all`: the gaps report), then a one-session daily update of each; prints each step's wall time
and the ratio object storage / disk, the objects' total size, and the bytes a one-month query reads from
the bucket vs the whole table (partition pruning). The two lakes are checked equal object by object.

    uv run python bench/storage.py [--tickers 8] [--start 2025-01-02] [--end 2025-02-26]
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO / "workflow_scripts"))

from quantmini import calendar  # noqa: E402
from quantmini.lake_db import Lake  # noqa: E402
from quantmini.sim.server import SimProcess  # noqa: E402
from s3_server import S3Server  # noqa: E402
from test_storage import TYPES, CountingS3, compared, disk_files  # noqa: E402
from workflow_helpers import run_workflow, write_config  # noqa: E402

STEPS = ("bronze", "silver", "gold", "all")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tickers", type=int, default=8)
    ap.add_argument("--start", default="2025-01-02")
    ap.add_argument("--end", default="2025-02-26")
    args = ap.parse_args()
    end = dt.date.fromisoformat(args.end)
    following = calendar.sessions(end + dt.timedelta(days=1), end + dt.timedelta(days=10))[0]
    tmp = Path(tempfile.mkdtemp(prefix="quantmini-bench-storage-"))
    times: dict[tuple[str, str], float] = {}
    with S3Server(bucket="lake") as s3, SimProcess(tickers=args.tickers, seed=11, start=args.start,
                                                  end=following.isoformat()) as sim:
        works = {"disk": tmp / "disk", "s3": tmp / "s3"}
        for where, work in works.items():
            work.mkdir()
            for step, last in [(s, args.end) for s in STEPS] + [("daily update", following.isoformat())]:
                extra = {"storage": "s3://lake/bench", "data_root": "lake"} if where == "s3" else {}
                write_config(work, start=args.start, end=last, data_types=TYPES, alpha158=True, **extra)
                t0 = time.perf_counter()
                run_workflow(work, sim.url, *([] if step in ("all", "daily update") else [step]), env_extra=s3.env)
                times[(where, step)] = time.perf_counter() - t0
        objects = {k.removeprefix("lake/"): v for k, v in s3.objects("bench").items()}
        on_disk = compared(disk_files(works["disk"] / "lake"))
        in_bucket = compared(objects)
        # every object equals the disk lake's file; the disk keeps superseded landing windows beside their
        # replacements (land once), the bucket's rerun landing folders do not (tests/test_storage.py)
        same = all(on_disk.get(k) == v for k, v in in_bucket.items()) and \
            all(k.startswith("landing/") for k in on_disk.keys() - in_bucket.keys())
        fs = CountingS3(endpoint_url=s3.endpoint, skip_instance_cache=True, default_block_size=256,
                        key=s3.env["AWS_ACCESS_KEY_ID"], secret=s3.env["AWS_SECRET_ACCESS_KEY"])
        with Lake("s3://lake/bench/lake", filesystem=fs) as lake:
            last_month = dt.date.fromisoformat(following.isoformat()).replace(day=1)
            CountingS3.fetched.clear()
            month = lake.stocks_daily(layer="silver", start=last_month)
            month_bytes = sum(CountingS3.fetched.values())
            CountingS3.fetched.clear()
            whole = lake.stocks_daily(layer="silver")
            whole_bytes = sum(CountingS3.fetched.values())
    print(f"lake: {args.tickers} tickers, {args.start} .. {args.end} (+ update to {following}), "
          f"types {', '.join(TYPES)}, Alpha158 in silver")
    print(f"{'step':<14}{'disk s':>10}{'s3 s':>10}{'s3/disk':>10}")
    for step in (*STEPS, "daily update"):
        d, s = times[("disk", step)], times[("s3", step)]
        print(f"{step:<14}{d:>10.1f}{s:>10.1f}{s / d:>10.2f}")
    print(f"objects: {len(objects)} ({sum(map(len, objects.values())) / 1e6:.2f} MB); data objects equal to "
          f"the disk lake's, byte for byte: {same}")
    print(f"silver stocks_daily from the bucket: one month {month.height} rows, {month_bytes} bytes read; "
          f"whole table {whole.height} rows, {whole_bytes} bytes read ({month_bytes / whole_bytes:.2f})")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
