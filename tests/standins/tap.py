"""A local NASA Exoplanet Archive TAP service: ``GET|POST /TAP/sync?query=<ADQL>&format=csv``.

Table ``k2pandc`` (one row per planet of the :class:`Universe`) lives in an in-memory
SQLite database and the received ADQL runs as SQL, so results really are filtered by
the query. ``SELECT TOP n`` is rewritten to ``LIMIT n``; everything else is passed as is.
Formats: ``csv``, ``tsv``, ``json`` (a list of objects); any other format, or none (the
real default is VOTable), gives HTTP 400. A query SQLite rejects gives HTTP 400 with a
plain-text message naming the problem, e.g. ``ERROR: invalid ADQL query: no such column: x``.
"""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import threading
from collections import Counter

from ._server import BackgroundServer, Reply, Request, serve
from .faults import FaultQueue, Instrumented, RequestCounter
from .universe import Universe

SYNC_PATH = "/TAP/sync"
FAULT_KINDS = frozenset({"html_error", "truncated_csv", "http503", "hang"})
K2PANDC_COLUMNS = (
    ("pl_name", "TEXT"), ("hostname", "TEXT"), ("k2_name", "TEXT"), ("epic_hostname", "TEXT"),
    ("tic_id", "TEXT"), ("default_flag", "INTEGER"), ("disposition", "TEXT"), ("disc_facility", "TEXT"),
    ("ra", "REAL"), ("dec", "REAL"), ("k2_campaigns", "TEXT"), ("k2_campaigns_num", "INTEGER"),
    ("rowupdate", "TEXT"), ("pl_pubdate", "TEXT"), ("releasedate", "TEXT"),
)
_FORMATS = {"csv": "csv", "text/csv": "csv", "tsv": "tsv", "text/tab-separated-values": "tsv",
            "json": "json", "application/json": "json"}
_TOP = re.compile(r"^\s*select\s+(distinct\s+)?top\s+(\d+)\s+", re.IGNORECASE)


def k2pandc_rows(universe: Universe) -> list[tuple]:
    """One ``k2pandc`` row per planet, in :data:`K2PANDC_COLUMNS` order."""
    rows = []
    for i, host in enumerate(universe.hosts):
        campaigns = ",".join(str(c) for c in host.campaigns)
        for planet in host.planets:
            k2_name = planet.pl_name if planet.pl_name.startswith("K2-") else None
            rows.append((
                planet.pl_name, host.hostname, k2_name, f"EPIC {host.epic_id}", f"TIC {300000000 + i * 7919}",
                1, planet.disposition, "K2", host.ra, host.dec, campaigns, len(host.campaigns),
                planet.rowupdate.isoformat(), planet.releasedate.strftime("%Y-%m"), planet.releasedate.isoformat(),
            ))
    return rows


def build_database(universe: Universe) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    columns = ", ".join(f"{name} {kind}" for name, kind in K2PANDC_COLUMNS)
    db.execute(f"CREATE TABLE k2pandc ({columns})")
    db.executemany(f"INSERT INTO k2pandc VALUES ({', '.join('?' * len(K2PANDC_COLUMNS))})", k2pandc_rows(universe))
    db.commit()
    db.execute("PRAGMA query_only = ON")
    return db


class TapStandin(Instrumented):
    """Serve ``universe`` as the exoplanet archive's TAP ``sync`` endpoint."""

    def __init__(self, universe: Universe, *, latency_s: float = 0.0, hang_s: float = 30.0, port: int = 0) -> None:
        self.universe = universe
        self.latency_s = latency_s
        self.hang_s = hang_s
        self.queries: list[str] = []  # every ADQL text received
        self.authorization_headers: list[str] = []  # every Authorization header received
        self._db = build_database(universe)
        self._db_lock = threading.Lock()
        self._faults = FaultQueue(FAULT_KINDS)
        self._counter = RequestCounter()
        self._stopping = threading.Event()
        self._server: BackgroundServer | None = serve(self._handle, "tap-standin", port)

    @property
    def base_url(self) -> str:
        return self._server.base_url

    @property
    def requests_by_service(self) -> Counter[str]:
        return self._counter.by_label

    def _clear_logs(self) -> None:
        self.queries.clear()
        self.authorization_headers.clear()

    def add_fault(self, kind: str, times: int = 1) -> None:
        """Make the next ``times`` TAP requests fail with ``kind``."""
        self._faults.add(kind, times)

    def stop(self) -> None:
        if self._server is not None:
            self._stopping.set()
            self._server.stop()
            self._server = None
            self._db.close()

    def __enter__(self) -> TapStandin:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _handle(self, request: Request) -> Reply:
        self._counter.count(request.path)
        if "authorization" in request.headers:
            self.authorization_headers.append(request.headers["authorization"])
        if request.path != SYNC_PATH:
            return Reply(404, b"Not Found", "text/plain")
        if self.latency_s:
            self._stopping.wait(self.latency_s)
        fault = self._faults.take(lambda kind, match: True)
        if fault == "hang":
            self._stopping.wait(self.hang_s)
        elif fault in ("html_error", "http503"):
            return _error_page(500 if fault == "html_error" else 503)
        reply = self._sync(request)
        return _truncate(reply) if fault == "truncated_csv" else reply

    def _sync(self, request: Request) -> Reply:
        params = {k.lower(): v[0] for k, v in request.form().items() if v}
        query = params.get("query", "")
        self.queries.append(query)
        fmt = _FORMATS.get(params.get("format", "votable").lower())
        if fmt is None:
            return _text(400, f"ERROR: format '{params.get('format', 'votable')}' is not supported by the "
                              "stand-in (use csv, tsv or json)")
        if not query.strip():
            return _text(400, "ERROR: missing required parameter QUERY")
        try:
            names, rows = self._execute(query)
        except (sqlite3.Error, sqlite3.Warning) as err:
            return _text(400, f"ERROR: invalid ADQL query: {err}")
        return _render(fmt, names, rows)

    def _execute(self, adql: str) -> tuple[list[str], list[tuple]]:
        sql = _to_sqlite(adql)
        if not sql.lstrip().lower().startswith("select"):
            raise sqlite3.OperationalError("only SELECT queries are allowed")
        with self._db_lock:
            cursor = self._db.execute(sql)
            return [d[0] for d in cursor.description], cursor.fetchall()


def _to_sqlite(adql: str) -> str:
    sql = adql.strip().rstrip(";")
    top = _TOP.match(sql)
    if top:
        sql = f"select {top.group(1) or ''}{sql[top.end():]} limit {top.group(2)}"
    return sql


def _render(fmt: str, names: list[str], rows: list[tuple]) -> Reply:
    if fmt == "json":
        body = json.dumps([dict(zip(names, row, strict=True)) for row in rows], indent=1)
        return Reply(200, body.encode(), "application/json")
    out = io.StringIO()
    writer = csv.writer(out, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
    writer.writerow(names)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    content_type = "text/csv" if fmt == "csv" else "text/tab-separated-values"
    return Reply(200, out.getvalue().encode(), f"{content_type}; charset=utf-8")


def _truncate(reply: Reply) -> Reply:
    """Keep the header line and cut the body in the middle of a data row."""
    if reply.status != 200:
        return reply
    header_end = reply.body.find(b"\n") + 1
    rest = reply.body[header_end:]
    cut = rest[: max(1, len(rest) // 2)] if rest else b"EPIC 2"
    if cut.endswith(b"\n"):
        cut = cut[:-1]
    return Reply(200, reply.body[:header_end] + cut, reply.content_type, reply.headers)


def _text(status: int, message: str) -> Reply:
    return Reply(status, (message + "\n").encode(), "text/plain; charset=utf-8")


def _error_page(status: int) -> Reply:
    title = "500 Internal Server Error" if status == 500 else "503 Service Unavailable"
    page = f"<!DOCTYPE html><html><head><title>{title}</title></head><body><h1>{title}</h1>" \
           "<p>The NASA Exoplanet Archive is experiencing problems. Please try again later.</p></body></html>"
    return Reply(status, page.encode(), "text/html; charset=utf-8")
