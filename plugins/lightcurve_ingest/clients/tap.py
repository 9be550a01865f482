"""The NASA Exoplanet Archive's TAP service (``/TAP/sync``, CSV replies), with requests.

A client only: which tables and columns each mission asks for is in ``missions``.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Iterable

from lightcurve_ingest.clients.sessions import TimeoutSession
from lightcurve_ingest.errors import ServiceReplyError
from lightcurve_ingest.settings import http_timeout_seconds

log = logging.getLogger(__name__)


def adql_string(value: str) -> str:
    """An ADQL string literal: single quotes doubled, so a value can never end the literal."""
    return "'" + str(value).replace("'", "''") + "'"


def adql_list(values: Iterable[str | int]) -> str:
    """``(1, 2)`` or ``('a', 'b')``: integers as they are, anything else as quoted literals."""
    return "(" + ", ".join(str(v) if isinstance(v, int) else adql_string(v) for v in values) + ")"


class TapClient:
    """Synchronous TAP queries against ``base_url``."""

    def __init__(self, base_url: str, timeout: float | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = TimeoutSession(http_timeout_seconds() if timeout is None else timeout)

    def query(self, adql: str, required: tuple[str, ...] = ()) -> list[dict[str, str]]:
        """Run one ADQL query and return its rows; anything but a complete CSV table with the ``required``
        columns raises."""
        log.info("TAP query: %s", adql)
        response = self.session.get(f"{self.base_url}/TAP/sync", params={"query": adql, "format": "csv"})
        if response.status_code != 200:
            raise ServiceReplyError(
                f"Exoplanet Archive TAP replied HTTP {response.status_code}: {response.text[:300].strip()}")
        return parse_csv_table(response.text, required)


def parse_csv_table(text: str, required: tuple[str, ...] = ()) -> list[dict[str, str]]:
    """Parse a TAP CSV reply strictly: an HTML page or a truncated table is an error, not data."""
    if text.lstrip().startswith("<"):
        raise ServiceReplyError(f"Exoplanet Archive TAP sent HTML instead of CSV: {text[:200].strip()!r}")
    if text and not text.endswith("\n"):
        raise ServiceReplyError("Exoplanet Archive TAP reply is truncated (its last line is incomplete)")
    try:
        return _csv_rows(text, required)
    except csv.Error as err:  # a NUL byte, a stray quote or carriage return, a huge field...
        raise ServiceReplyError(f"Exoplanet Archive TAP sent a malformed CSV table: {err}") from None


def _csv_rows(text: str, required: tuple[str, ...]) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    try:
        header = next(reader)
    except StopIteration:
        raise ServiceReplyError("Exoplanet Archive TAP sent an empty reply (no header row)") from None
    missing = [c for c in required if c not in header]
    if missing:
        raise ServiceReplyError(f"Exoplanet Archive TAP reply lacks columns {missing}; header was {header}")
    if len(set(header)) != len(header):
        raise ServiceReplyError(f"Exoplanet Archive TAP reply repeats a column name; header was {header}")
    rows = []
    for number, values in enumerate(reader, start=2):
        if len(values) != len(header):
            raise ServiceReplyError(
                f"Exoplanet Archive TAP reply line {number} has {len(values)} fields, expected {len(header)}")
        rows.append(dict(zip(header, values, strict=True)))
    return rows
