"""MAST's download service: one file by its dataURI, streamed to disk (``GET /api/v0.1/Download/file?uri=...``).

The files the public bucket lacks (most HLSPs) come from here, and every file when a run's ``source`` is ``mast``.
The base URL is the ``mast_api`` connection's. Requests go through a ``TimeoutSession``: a timeout on every read,
and capped, jittered retries of resets, timeouts, 429 and 5xx before the body starts. A body cut short (or longer
than announced) raises, so that the copy is retried and the bad bytes never show at the destination.
"""

from __future__ import annotations

import os
from pathlib import Path

import requests

from lightcurve_ingest.clients.sessions import TimeoutSession
from lightcurve_ingest.errors import ServiceReplyError
from lightcurve_ingest.settings import IO_CHUNK_BYTES, http_timeout_seconds

DOWNLOAD_PATH = "/api/v0.1/Download/file"


class MastDownloads:
    """Downloads from MAST's download service at ``base_url``."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = TimeoutSession(http_timeout_seconds() if timeout is None else timeout)

    def download(self, data_uri: str, target: Path) -> int:
        """Stream the file of ``data_uri`` into ``target`` (flushed to disk) and return its length as the reply's
        Content-Length announced it (the bytes written, when there is none). A reply other than 200, or a body
        shorter or longer than announced, raises ``ServiceReplyError``."""
        # identity: a compressed reply's Content-Length would not be the file's length
        with self.session.get(f"{self.base_url}{DOWNLOAD_PATH}", params={"uri": data_uri}, stream=True,
                              headers={"Accept-Encoding": "identity"}) as response:
            if response.status_code != 200:
                raise ServiceReplyError(f"MAST's download service replied HTTP {response.status_code} for "
                                        f"{data_uri}: {response.text[:200].strip()}")
            announced = _content_length(response, data_uri)
            written = _write(response, target, data_uri, announced)
        if announced is not None and written != announced:
            raise ServiceReplyError(f"MAST's download of {data_uri} sent {written} bytes, its Content-Length "
                                    f"says {announced}")
        return written if announced is None else announced


def _content_length(response: requests.Response, data_uri: str) -> int | None:
    value = response.headers.get("Content-Length")
    if value is None:
        return None
    if not value.strip().isdigit():
        raise ServiceReplyError(f"MAST's download of {data_uri} has Content-Length {value!r}")
    return int(value)


def _write(response: requests.Response, target: Path, data_uri: str, announced: int | None) -> int:
    """Write the body in chunks (memory stays flat) and fsync it; the bytes written."""
    written = 0
    with open(target, "wb") as handle:
        try:
            for chunk in response.iter_content(IO_CHUNK_BYTES):
                handle.write(chunk)
                written += len(chunk)
        except requests.RequestException as err:  # the connection broke off mid-body
            raise ServiceReplyError(f"MAST's download of {data_uri} broke off after {written} of "
                                    f"{announced if announced is not None else '?'} bytes: {err}") from err
        handle.flush()
        os.fsync(handle.fileno())
    return written
