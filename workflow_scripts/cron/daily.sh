#!/usr/bin/env bash
# Daily cron entry: bring the lake up to the last settled XNYS session (end=today) through
# `quantmini ingest` (the Snakemake workflow), append to a dated log and write PIPELINE_SUMMARY.md.
# Exit status: quantmini's (0 = done or nothing to do, non-zero = failed or another run holds the lock).
#
#   45 20 * * 1-5  PATH=/usr/local/bin:/usr/bin:/bin /path/to/quantmini/workflow_scripts/cron/daily.sh
#
# Environment (all optional):
#   QUANTMINI_WORKDIR  where the lake's relative data_root and .snakemake live (default: the repository)
#   QUANTMINI_CONFIG   config file over config/config.yaml
#   QUANTMINI_LOG_DIR  dated logs and PIPELINE_SUMMARY.md (default: <workdir>/logs/cron)
#   QUANTMINI_TARGET   layer to build: all (default), gold, silver or bronze
#   QUANTMINI_CORES    cores for Snakemake (default: the profile's)
#   QUANTMINI_PYTHON   run `$QUANTMINI_PYTHON -m quantmini.cli` instead of `uv run quantmini`
set -uo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
workdir="${QUANTMINI_WORKDIR:-$repo}"
cd "$workdir" || { echo "quantmini cron: cannot enter $workdir" >&2; exit 2; }
log_dir="${QUANTMINI_LOG_DIR:-$workdir/logs/cron}"
mkdir -p "$log_dir" || exit 2
day="$(date +%Y-%m-%d)"
log="$log_dir/$day.log"
summary="$log_dir/PIPELINE_SUMMARY.md"

args=(ingest --to "${QUANTMINI_TARGET:-all}" -e today --summary "$summary")
[ -n "${QUANTMINI_CONFIG:-}" ] && args+=(--config "$QUANTMINI_CONFIG")
[ -n "${QUANTMINI_CORES:-}" ] && args+=(--cores "$QUANTMINI_CORES")
if [ -n "${QUANTMINI_PYTHON:-}" ]; then
    cmd=("$QUANTMINI_PYTHON" -m quantmini.cli)
else
    cmd=(uv run --project "$repo" quantmini)
fi

echo "== $(date -Iseconds) start (pid $$): quantmini ${args[*]}" >>"$log"
"${cmd[@]}" "${args[@]}" >>"$log" 2>&1
rc=$?
echo "== $(date -Iseconds) exit $rc" >>"$log"
[ -f "$summary" ] && cp "$summary" "$log_dir/$day.PIPELINE_SUMMARY.md"
if [ "$rc" -ne 0 ]; then
    # cron mails stderr: the one line that says why, and where the rest is
    msg="$(grep '^quantmini: ' "$log" | tail -n 1)"
    echo "${msg:-quantmini: daily run failed (exit $rc)}; log: $log" >&2
fi
exit "$rc"
