"""Snakemake script: a month's plan file (its expected sessions), when it is missing (quantmini/session_plans.py)."""

from quantmini import jobframe
from quantmini import session_plans as plan

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = jobframe.job_logging(smk.log[0])
with jobframe.failing_as("session plan", log):
    plan.write_plan(smk.output.plan, list(smk.params.sessions))
