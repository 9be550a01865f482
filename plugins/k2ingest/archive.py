"""The NASA Exoplanet Archive's TAP service: which stars host K2 planets, and their EPIC ids."""

from __future__ import annotations

import csv
import io
import logging
from datetime import datetime, timedelta

from k2ingest.errors import ServiceReplyError
from k2ingest.sessions import TimeoutSession
from k2ingest.settings import HTTP_TIMEOUT_SECONDS
from k2ingest.targets import Target, parse_epic_id, validate_host_name

log = logging.getLogger(__name__)

HOST_COLUMNS = ("hostname", "epic_hostname")


def adql_string(value: str) -> str:
    """An ADQL string literal: single quotes doubled, so a value can never end the literal."""
    return "'" + str(value).replace("'", "''") + "'"


def first_day_on_or_after(moment: datetime) -> str:
    """The first day (``YYYY-MM-DD``) whose midnight is at or after ``moment``."""
    day = moment.date()
    if (moment.hour, moment.minute, moment.second, moment.microsecond) != (0, 0, 0, 0):
        day += timedelta(days=1)
    return day.isoformat()


class ArchiveClient:
    """Synchronous TAP queries (``/TAP/sync``, CSV replies) against ``base_url``."""

    def __init__(self, base_url: str, timeout: float = HTTP_TIMEOUT_SECONDS) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = TimeoutSession(timeout)

    def confirmed_k2_hosts(self, updated_from: datetime | None = None,
                           updated_to: datetime | None = None) -> list[Target]:
        """Distinct hosts of CONFIRMED K2 planets; with a window, only rows added or updated in it.

        A row is new in ``[updated_from, updated_to)`` when its ``rowupdate`` (set when the row is
        added or edited) or its ``releasedate`` (when it became public) falls in the window. Both
        columns hold days, so a day belongs to the window that contains its midnight.
        """
        where = "disposition = 'CONFIRMED' and epic_hostname is not null"
        if updated_from is not None and updated_to is not None:
            start = adql_string(first_day_on_or_after(updated_from))
            end = adql_string(first_day_on_or_after(updated_to))
            in_window = "({col} >= " + start + " and {col} < " + end + ")"
            where += f" and ({in_window.format(col='rowupdate')} or {in_window.format(col='releasedate')})"
        return self._hosts(where)

    def hosts_named(self, names: list[str]) -> list[Target]:
        """The K2 hosts with these archive host names (any disposition); unknown names are absent."""
        if not names:
            return []
        quoted = ", ".join(adql_string(validate_host_name(n)) for n in names)
        return self._hosts(f"hostname in ({quoted}) and epic_hostname is not null")

    def _hosts(self, where: str) -> list[Target]:
        rows = self.query(f"select distinct hostname, epic_hostname from k2pandc where {where}")
        targets = {}
        for row in rows:
            epic_id = parse_epic_id(row["epic_hostname"], field="epic_hostname")
            targets[epic_id] = Target(epic_id=epic_id, hostname=row["hostname"].strip())
        return sorted(targets.values())

    def query(self, adql: str) -> list[dict[str, str]]:
        """Run one ADQL query and return its rows; anything but a complete CSV table raises."""
        log.info("TAP query: %s", adql)
        response = self.session.get(f"{self.base_url}/TAP/sync", params={"query": adql, "format": "csv"})
        if response.status_code != 200:
            raise ServiceReplyError(
                f"Exoplanet Archive TAP replied HTTP {response.status_code}: {response.text[:300].strip()}")
        return parse_csv_table(response.text, required=HOST_COLUMNS if "epic_hostname" in adql else ())


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
