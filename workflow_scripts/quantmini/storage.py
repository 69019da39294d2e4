"""Object storage: where the lake's landing, bronze, silver and reports live when `storage: s3://...` is set.

Snakemake's own storage support does the moving (snakemake-storage-plugin-s3 as the default storage
provider, README "Object storage"): every declared input is downloaded into the job's local cache and
every output uploaded after the job, so jobs keep reading and writing plain files, an object appears under
its final key only whole (one PUT after the job succeeded), and a job sees exactly its declared inputs.
Gold stays local (pyqlib reads a filesystem). Readers outside Snakemake (`quantmini query`, the Lake API)
read the bucket in place through fsspec's s3fs (`filesystem`).

Endpoint and credentials come only from the environment (AWS_ENDPOINT_URL or QUANTMINI_S3_ENDPOINT,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, or any source boto3's default chain reads); no message quotes them.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

ENDPOINT_ENV = "QUANTMINI_S3_ENDPOINT"  # an alias of boto3's own AWS_ENDPOINT_URL
# the data types whose landing is declared as a job output on object storage (rules/common.smk, STORAGE)
SUPPORTED_TYPES = ("stocks_daily", "splits", "dividends", "ticker_changes", "tickers")


class StorageError(ValueError):
    """A storage problem, already phrased as one line for the user (never quoting a credential)."""


def parse_url(url: str) -> tuple[str, str]:
    """`s3://bucket/prefix` -> (bucket, prefix without slashes at either end)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise StorageError(f"config: storage: {url!r} is not an s3://bucket/prefix URL")
    prefix = parts.path.strip("/")
    if ".." in prefix.split("/"):
        raise StorageError(f"config: storage: {url!r}: '..' is not allowed in the prefix")
    return parts.netloc, prefix


def endpoint(env=None) -> str | None:
    """The S3 endpoint from the environment: AWS_ENDPOINT_URL (boto3's own), else QUANTMINI_S3_ENDPOINT;
    None = AWS itself."""
    env = os.environ if env is None else env
    return (env.get("AWS_ENDPOINT_URL") or env.get(ENDPOINT_ENV) or "").strip() or None


def shown(url: str | None) -> str:
    """An endpoint as a message may show it: scheme, host and port, never a user:password part."""
    if not url:
        return "AWS S3"
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}" + (f":{parts.port}" if parts.port else "")


def check_config(cfg: dict) -> None:
    """What object storage does not cover yet, as one line (before any job)."""
    other = [t for t in cfg["data_types"] if t not in SUPPORTED_TYPES]
    if other:
        raise StorageError(
            f"config: storage: data type {other[0]} is not built on object storage yet (supported: "
            f"{', '.join(SUPPORTED_TYPES)}); remove it from data_types or build on disk")
    if cfg["revision_sessions"]:
        raise StorageError("config: storage: revision_sessions must be 0 on object storage (the revision "
                           "sweep rewrites landing files in place, which object storage does not support yet)")
    if os.path.isabs(cfg["data_root"]) or ".." in cfg["data_root"].split("/"):
        raise StorageError(f"config: storage: data_root must be a relative path inside the bucket prefix, "
                           f"not {cfg['data_root']!r}")


def _client(timeout_s: float = 5.0):
    import boto3
    from botocore.config import Config

    return boto3.session.Session().client(
        "s3", endpoint_url=endpoint(),
        config=Config(connect_timeout=timeout_s, read_timeout=timeout_s, retries={"max_attempts": 1}))


def check_bucket(url: str) -> None:
    """Stop before any job when the bucket cannot be used: no such bucket, credentials missing or refused,
    an endpoint that does not answer. One HEAD of the bucket, then one PUT-free listing of the prefix."""
    import botocore.exceptions as bex

    bucket, prefix = parse_url(url)
    where = shown(endpoint())
    try:
        client = _client()
        client.head_bucket(Bucket=bucket)
        client.list_objects_v2(Bucket=bucket, Prefix=f"{prefix}/" if prefix else "", MaxKeys=1)
    except bex.NoCredentialsError:
        raise StorageError("storage: no credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
    except (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError) as exc:
        raise StorageError(f"storage: cannot reach the S3 endpoint {where} ({type(exc).__name__})") from None
    except bex.ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "?"))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("404", "NoSuchBucket"):
            raise StorageError(f"storage: bucket {bucket!r} does not exist at {where}") from None
        if code in ("403", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied") or status == 403:
            why = f"{status} {code}" if code != str(status) else f"{status}"
            raise StorageError(f"storage: {where} refused the credentials for bucket {bucket!r} ({why}): "
                               "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY") from None
        raise StorageError(f"storage: bucket {bucket!r} at {where} answered {status} {code}") from None
    except bex.BotoCoreError as exc:
        raise StorageError(f"storage: the S3 endpoint {where} cannot be used ({type(exc).__name__})") from None
    except ValueError as exc:  # e.g. a malformed endpoint URL
        raise StorageError(f"storage: bad S3 endpoint {where}: {type(exc).__name__}") from None


def enable(workflow, url: str) -> None:
    """Make the S3 plugin Snakemake's default storage with `url` as the prefix, before any rule is read:
    every relative input and output of every rule then lives in the bucket unless flagged local()."""
    if endpoint() and not os.environ.get("AWS_ENDPOINT_URL"):
        os.environ["AWS_ENDPOINT_URL"] = endpoint()  # boto3 (the plugin, and every job) reads this one
    _recheck_missing_folders()
    settings = workflow.storage_settings
    if settings.default_storage_provider is None:
        settings.default_storage_provider = "s3"
        settings.default_storage_prefix = url.rstrip("/")
        registry = workflow.storage_registry
        registry._default_storage_provider = registry.register_storage("s3", is_default=True)
    elif settings.default_storage_provider != "s3" or (settings.default_storage_prefix or "").rstrip("/") != url.rstrip("/"):
        raise StorageError(f"storage: {url} and --default-storage-prefix {settings.default_storage_prefix} disagree: "
                           "set only storage: in the config")


def _recheck_missing_folders() -> None:
    """snakemake-storage-plugin-s3 0.3.6 caches `is_dir() == False` for an object it once found missing,
    so a folder output uploaded by a job on another node (profiles/slurm-s3) stays "missing" for the
    submitting Snakemake. A folder found missing is listed again on the next check (one LIST per 404)."""
    from snakemake_storage_plugin_s3 import StorageObject

    if getattr(StorageObject, "_quantmini_rechecks", False):
        return

    def is_dir(self):
        if not self._is_dir:
            self._is_dir = any(self.get_subkeys())
        return self._is_dir

    StorageObject.is_dir = is_dir
    StorageObject._quantmini_rechecks = True


def local_root(workflow, url: str, data_root: str):
    """Where a job finds the lake's files Snakemake downloaded for it (and writes its outputs): the
    storage provider's local copy of `<url>/<data_root>`."""
    from pathlib import Path

    obj = workflow.storage_registry.default_storage_provider.object(f"{url.rstrip('/')}/{data_root}/x")
    return Path(obj.local_path()).parent


def filesystem():
    """An fsspec S3 filesystem on the configured endpoint (credentials from the environment), for
    readers outside Snakemake: polars, pyarrow and DuckDB (`register_filesystem`) read through it."""
    import s3fs

    return s3fs.S3FileSystem(endpoint_url=endpoint(), skip_instance_cache=True)
