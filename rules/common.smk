# Shared set-up: configuration (validated), the lake's paths (quantmini.lake, per type from quantmini.catalog),
# partitions, and the API endpoint for the run.
import sys
from pathlib import Path

sys.path.insert(0, str(Path(workflow.basedir) / "workflow_scripts"))

from quantmini import catalog as qm_catalog
from quantmini import config as qm_config
from quantmini import runstate as qm_run
from quantmini.jobframe import die as qm_die
from quantmini.lake import MONTH_WILDCARDS, RulePaths


from snakemake.utils import min_version

min_version("9.0")


configfile: str(Path(workflow.basedir) / "config" / "config.yaml")


try:
    config.update(qm_config.validate(config))
except qm_config.ConfigError as exc:
    qm_die(str(exc))

qm_run.check_writable(config["data_root"])
KILLED_RUN = qm_run.clear_stale_lock()  # a killed run left locks (and maybe temporary files)

LAKE = RulePaths(config["data_root"])  # every lake path of every rule comes from here
PARTITIONS = {(p.year, p.month): p for p in qm_config.month_partitions(config)}
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


def month_keys():
    return [(f"{y:04d}", f"{m:02d}") for (y, m) in sorted(PARTITIONS)]


def per_month(pattern):
    return [pattern.format(year=y, month=m) for y, m in month_keys()]


def enabled(dtype):
    return dtype in config["data_types"]


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


onstart:
    qm_run.record_run()
    if KILLED_RUN:  # only then: walking a big lake on every run would cost seconds
        qm_run.sweep_temp_files(config["data_root"])
    qm_run.start_api(config)
    qm_run.check_universe(config, PARTITIONS[min(PARTITIONS)].sessions[0].isoformat())


onsuccess:
    qm_run.stop_api()
    qm_run.forget_run()


onerror:
    qm_run.stop_api()
    qm_run.forget_run()
