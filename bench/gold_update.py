"""Gold's daily update on a built lake (e.g. one `scale.py` left): the incremental publish with its state
beside the full publish that compares every file, in CPU seconds, and the two providers compared byte for
byte.

Run: uv run python bench/gold_update.py bench/out/scale/lake --out /tmp/gold-update

The lake without its last silver month is published with a state; the provider is copied; then the last
month is published both ways (the incremental with the state, the full without).
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "workflow_scripts"))

from quantmini.datatypes.stocks_daily.gold import publish  # noqa: E402
from quantmini.lake import LakePaths  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("lake", type=Path, help="a lake's data_root with silver and gold built")
    ap.add_argument("--out", type=Path, required=True, help="scratch directory (replaced)")
    args = ap.parse_args()
    lake = LakePaths(args.lake)
    silver = sorted(lake.table_dir("silver", "stocks_daily").rglob("data.parquet"))
    events = sorted(lake.table_dir("silver", "corporate_actions").rglob("events.parquet"))
    changes = sorted(lake.table_dir("bronze", "ticker_changes").rglob("data.parquet"))
    cal = [dt.date.fromisoformat(x) for x in lake.gold_calendar().read_text().split()]
    if len(silver) < 2:
        raise SystemExit(f"{args.lake}: needs a lake with silver months and gold built")
    month_start = dt.date(cal[-1].year, cal[-1].month, 1)
    shutil.rmtree(args.out, ignore_errors=True)
    inc, full, state = args.out / "incremental", args.out / "full", args.out / "state.json"
    publish(silver[:-1], events, changes, [d for d in cal if d < month_start], inc, state_file=state)
    shutil.copytree(inc, full)
    for label, provider, st in (("incremental (state)", inc, state), ("full compare", full, None)):
        cpu, wall = time.process_time(), time.perf_counter()
        stats = publish(silver, events, changes, cal, provider, state_file=st)
        print(f"{label:20s} CPU {time.process_time() - cpu:6.2f} s  wall {time.perf_counter() - wall:6.2f} s  "
              f"appended {stats.files_appended}, rewritten {stats.files_rewritten}, created {stats.files_created}, "
              f"unchanged {stats.files_unchanged}")
    tree = lambda root: {p.relative_to(root): p.read_bytes() for p in root.rglob("*")  # noqa: E731
                         if p.is_file() and p.name != state.name}
    a, b = tree(inc), tree(full)
    print(f"providers byte-identical: {a == b} ({len(a)} files)")


if __name__ == "__main__":
    main()
