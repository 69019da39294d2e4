"""Key and endpoint settings of a run, read from the environment (never from config, never written).

The API endpoint of a run travels to the jobs in the environment (QUANTMINI_API_URL), never in params:
params are recorded in Snakemake's metadata and a changing port would make every job stale.
"""

from __future__ import annotations

import os

from quantmini.credentials import file_api_key
from quantmini.jobframe import die

API_KEY_ENV_VARS = ("MASSIVE_API_KEY", "POLYGON_API_KEY")
API_URL_ENV = "QUANTMINI_API_URL"
API_VERIFY_ENV = "QUANTMINI_API_VERIFY"


def api_key(env=None) -> str | None:
    """The API key from MASSIVE_API_KEY, else POLYGON_API_KEY (blank counts as unset), else
    config/credentials.yaml (quantmini.credentials; raises CredentialsError for a file others can read),
    else None. Never taken from config.yaml, never written anywhere by us.
    """
    env = os.environ if env is None else env
    for name in API_KEY_ENV_VARS:
        value = (env.get(name) or "").strip()
        if value:
            return value
    return file_api_key()


HTTP_TIMEOUT_ENV = "QUANTMINI_HTTP_TIMEOUT_S"
DEFAULT_HTTP_TIMEOUT_S = 30.0


def http_timeout(env=None) -> float:
    """Seconds a request may take before the client retries it (QUANTMINI_HTTP_TIMEOUT_S, else 30).

    An environment knob rather than a config key: it changes no output, so it must not be a param.
    """
    env = os.environ if env is None else env
    raw = (env.get(HTTP_TIMEOUT_ENV) or "").strip()
    try:
        value = float(raw) if raw else DEFAULT_HTTP_TIMEOUT_S
    except ValueError:
        die(f"{HTTP_TIMEOUT_ENV}={raw!r} is not a number of seconds")
    if not value > 0:
        die(f"{HTTP_TIMEOUT_ENV}={raw!r} must be > 0")
    return value


def api_url(cfg: dict) -> str:
    """The endpoint a job talks to: the run's, else the configured one."""
    url = os.environ.get(API_URL_ENV)
    if url:
        return url
    if cfg["source"] == "polygon":
        return cfg["polygon"]["base_url"]
    if cfg["sim"].get("url"):
        return cfg["sim"]["url"]
    raise RuntimeError(
        "source is 'sim' but no simulator is running for this job "
        "(run the workflow through snakemake, which starts one, or set sim.url)"
    )


def api_verify() -> bool | str:
    """TLS verification for the run: True, False ("0"), or a CA bundle path (the simulator's cert)."""
    value = os.environ.get(API_VERIFY_ENV, "")
    if not value:
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    return value
