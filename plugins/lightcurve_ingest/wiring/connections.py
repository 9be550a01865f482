"""The one place Airflow connections become clients: MAST, the archive, the public bucket and the destination.

Each connection falls back to the public service when it is absent (the destination's never does).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.settings import (
    ARCHIVE_CONN_ID,
    DEFAULT_ARCHIVE_URL,
    DEFAULT_MAST_URL,
    MAST_CONN_ID,
    S3_ATTEMPTS,
    SOURCE_REGION,
    SOURCE_S3_CONN_ID,
    http_timeout_seconds,
)
from lightcurve_ingest.storage.backends import Storage
from lightcurve_ingest.tasks.services import Services, open_destination

log = logging.getLogger(__name__)


def get_connection_or_none(conn_id: str) -> Any:
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return None


def http_base_url(conn: Any, conn_id: str) -> str:
    """The base URL an HTTP connection describes: its host may be a full URL or a bare host name."""
    host = (conn.host or "").strip().rstrip("/")
    if "://" in host:
        url = host
    else:
        scheme = next((s for s in (conn.schema, conn.conn_type) if s in ("http", "https")), "https")
        url = f"{scheme}://{host}"
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise InvalidInputError(f"connection {conn_id}", f"host {conn.host!r} is not an http(s) URL or host name")
    if conn.port and parsed.port is None:
        url = f"{parsed.scheme}://{parsed.hostname}:{conn.port}{parsed.path}"
    return url.rstrip("/")


def base_url(conn_id: str, default: str) -> str:
    conn = get_connection_or_none(conn_id)
    if conn is None:
        log.info("No %r connection: using %s", conn_id, default)
        return default
    return http_base_url(conn, conn_id)


def mast_base_url() -> str:
    return base_url(MAST_CONN_ID, DEFAULT_MAST_URL)


def archive_base_url() -> str:
    return base_url(ARCHIVE_CONN_ID, DEFAULT_ARCHIVE_URL)


# "standard": exponential backoff with full jitter, capped at 20 s; throttling (SlowDown) retried
S3_RETRIES = {"mode": "standard", "total_max_attempts": S3_ATTEMPTS}


def source_s3_config(config_kwargs: dict | None = None) -> Any:
    """botocore Config of the source client: always unsigned, with timeouts and capped, jittered retries.

    ``config_kwargs`` (a connection's extra) may change the timeouts, never the retries (the retry budget) or
    the signing: the public bucket is read anonymously, so no credential (the connection's, or the machine's
    default chain) ever signs a request to it.
    """
    from botocore import UNSIGNED
    from botocore.config import Config

    settings = {
        "connect_timeout": http_timeout_seconds(),
        "read_timeout": http_timeout_seconds(),
        **(config_kwargs or {}),
        "retries": S3_RETRIES,
        "signature_version": UNSIGNED,
    }
    return Config(**settings)


def dest_s3_config(config_kwargs: dict | None = None) -> Any:
    """botocore Config of a destination's client: the connection's ``config_kwargs`` as the provider reads them,
    but the retries of the retry budget (a server-side copy reads a file through this client)."""
    from botocore import UNSIGNED
    from botocore.config import Config

    settings = dict(config_kwargs or {})
    if settings.get("signature_version") == "unsigned":
        settings["signature_version"] = UNSIGNED
    return Config(**{**settings, "retries": S3_RETRIES})


def source_s3_hook() -> Any:
    """S3Hook reading ``stpubdata``: the ``mast_public_s3`` connection, else anonymous in us-east-1.

    Never signed, whatever the connection holds: see :func:`source_s3_config`.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    conn = get_connection_or_none(SOURCE_S3_CONN_ID)
    if conn is not None:
        config_kwargs = dict((conn.extra_dejson or {}).get("config_kwargs") or {})
        return S3Hook(aws_conn_id=SOURCE_S3_CONN_ID, config=source_s3_config(config_kwargs))
    log.info("No %r connection: reading the public bucket anonymously in %s", SOURCE_S3_CONN_ID, SOURCE_REGION)
    return S3Hook(aws_conn_id=None, region_name=SOURCE_REGION, config=source_s3_config())


def dest_s3_hook(conn_id: str) -> Any:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    conn = get_connection_or_none(conn_id)
    if conn is None:
        raise InvalidInputError("dest_aws_conn_id", f"Airflow connection {conn_id!r} does not exist")
    config_kwargs = dict((conn.extra_dejson or {}).get("config_kwargs") or {})
    return S3Hook(aws_conn_id=conn_id, config=dest_s3_config(config_kwargs))


def services_from_connections() -> Services:
    """The clients of a run, from the Airflow connections (or the public defaults)."""
    return Services(mast_url=mast_base_url(), archive_url=archive_base_url(), source_hook=None,
                    dest_hook_factory=dest_s3_hook, source_hook_factory=source_s3_hook)


def open_destination_storage(destination: str, dest_aws_conn_id: str) -> Storage:
    """A destination's storage (the ``destination`` param's value), through its Airflow connection."""
    return open_destination(destination, dest_aws_conn_id, dest_s3_hook)
