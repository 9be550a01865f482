"""A local NASA Exoplanet Archive TAP service: ``GET|POST /TAP/sync?query=<ADQL>&format=csv``.

Tables, with the archive's column names, live in an in-memory SQLite database and the received
ADQL runs as SQL, so results really are filtered by the query:

* ``k2pandc``: one row per K2 planet or candidate (``default_flag`` 1), and a second, non-default solution
  (``default_flag`` 0) for some (``Planet.other_solution``);
* ``cumulative``: one row per Kepler KOI (``kepler_name`` NULL unless confirmed);
* ``toi``: one row per TESS TOI;
* ``pscomppars``: one row per confirmed planet of every mission (K2/Kepler CONFIRMED, TESS CP/KP);
* ``q1_q17_dr24_tce``: Kepler's DR24 threshold-crossing events, one per KOI (``av_training_set`` PC for a confirmed
  or candidate KOI, AFP for a false positive) and ``missions_kepler.EXTRA_TCES`` (NTP, UNK).

Ephemerides come in each table's own columns and units: ``k2pandc`` ``pl_orbper`` (days), ``pl_tranmid`` (BJD,
``pl_tsystemref`` "BJD_TDB"), ``pl_trandur`` (hours), ``pl_trandep`` (percent); ``cumulative`` ``koi_period``,
``koi_time0bk`` (BKJD = BJD - 2454833), ``koi_duration`` (hours), ``koi_depth`` (ppm); ``toi`` ``pl_orbper``,
``pl_tranmid`` (BJD), ``pl_trandurh`` (hours), ``pl_trandep`` (ppm); ``q1_q17_dr24_tce`` ``tce_period``,
``tce_time0bk`` (BKJD), ``tce_duration`` (hours), ``tce_depth`` (ppm). A value the archive lacks is NULL (an empty
CSV cell), as for the objects without an epoch (``NO_EPHEMERIS`` of each ``missions_*`` module).

``SELECT TOP n`` is rewritten to ``LIMIT n``; everything else is passed as is.
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
from dataclasses import replace

from ._server import BackgroundServer, Reply, Request, serve
from .faults import FaultQueue, Instrumented, RequestCounter
from .missions_kepler import EXTRA_TCES
from .records import CONFIRMED, MISSIONS, Host, Planet
from .timeline import KEPLER_BJD_OFFSET
from .universe import Universe

SYNC_PATH = "/TAP/sync"
FAULT_KINDS = frozenset({"html_error", "truncated_csv", "http503", "hang"})
K2PANDC_COLUMNS = (
    ("pl_name", "TEXT"), ("hostname", "TEXT"), ("k2_name", "TEXT"), ("epic_hostname", "TEXT"),
    ("tic_id", "TEXT"), ("default_flag", "INTEGER"), ("disposition", "TEXT"), ("disc_facility", "TEXT"),
    ("ra", "REAL"), ("dec", "REAL"), ("k2_campaigns", "TEXT"), ("k2_campaigns_num", "INTEGER"),
    ("rowupdate", "TEXT"), ("pl_pubdate", "TEXT"), ("releasedate", "TEXT"), ("pl_orbper", "REAL"),
    ("pl_tranmid", "REAL"), ("pl_trandur", "REAL"), ("pl_trandep", "REAL"), ("pl_tsystemref", "TEXT"),
)
CUMULATIVE_COLUMNS = (
    ("rowid", "INTEGER"), ("kepid", "INTEGER"), ("kepoi_name", "TEXT"), ("kepler_name", "TEXT"),
    ("koi_disposition", "TEXT"), ("koi_pdisposition", "TEXT"), ("koi_score", "REAL"), ("koi_period", "REAL"),
    ("koi_time0bk", "REAL"), ("koi_duration", "REAL"), ("koi_depth", "REAL"),
    ("ra", "REAL"), ("dec", "REAL"), ("koi_vet_stat", "TEXT"), ("koi_vet_date", "TEXT"),
)
TOI_COLUMNS = (
    ("rowid", "INTEGER"), ("toi", "REAL"), ("toipfx", "INTEGER"), ("tid", "INTEGER"), ("ctoi_alias", "REAL"),
    ("pl_pnum", "INTEGER"), ("tfopwg_disp", "TEXT"), ("ra", "REAL"), ("dec", "REAL"), ("pl_orbper", "REAL"),
    ("pl_tranmid", "REAL"), ("pl_trandurh", "REAL"), ("pl_trandep", "REAL"),
    ("toi_created", "TEXT"), ("rowupdate", "TEXT"), ("release_date", "TEXT"),
)
DR24_TCE_COLUMNS = (
    ("kepid", "INTEGER"), ("tce_plnt_num", "INTEGER"), ("tce_period", "REAL"), ("tce_time0bk", "REAL"),
    ("tce_duration", "REAL"), ("tce_depth", "REAL"), ("av_training_set", "TEXT"),
)
PSCOMPPARS_COLUMNS = (
    ("pl_name", "TEXT"), ("hostname", "TEXT"), ("tic_id", "TEXT"), ("disc_facility", "TEXT"), ("ra", "REAL"),
    ("dec", "REAL"), ("rowupdate", "TEXT"),
)
_FORMATS = {"csv": "csv", "text/csv": "csv", "tsv": "tsv", "text/tab-separated-values": "tsv",
            "json": "json", "application/json": "json"}
_TOP = re.compile(r"^\s*select\s+(distinct\s+)?top\s+(\d+)\s+", re.IGNORECASE)
_KOI_SCORES = {"CONFIRMED": 1.0, "CANDIDATE": 0.95, "FALSE POSITIVE": 0.0}
_DISC_FACILITIES = {"K2": "K2", "Kepler": "Kepler", "TESS": "Transiting Exoplanet Survey Satellite (TESS)"}
_TRAINING_LABELS = {"CONFIRMED": "PC", "CANDIDATE": "PC", "FALSE POSITIVE": "AFP"}


def k2pandc_rows(universe: Universe) -> list[tuple]:
    """``k2pandc`` rows, in :data:`K2PANDC_COLUMNS` order: each K2 planet's default solution, then for those with
    ``other_solution`` a non-default one."""
    rows = []
    for i, host in enumerate(universe.hosts_of("K2")):
        campaigns = ",".join(str(c) for c in host.units)
        for planet in host.planets:
            k2_name = planet.pl_name if planet.pl_name.startswith("K2-") else None
            common = (planet.pl_name, host.hostname, k2_name, f"EPIC {host.target_id}", _tic_id(host, i))
            described = (planet.disposition, "K2", host.ra, host.dec, campaigns, len(host.units),
                         planet.rowupdate.isoformat(), planet.releasedate.strftime("%Y-%m"),
                         planet.releasedate.isoformat())
            default = _other_solution(planet) if planet.default_lacks_epoch else planet
            rows.append((*common, 1, *described, *_k2_ephemeris(default, epoch=not planet.default_lacks_epoch)))
            if planet.other_solution:
                other = planet if planet.default_lacks_epoch else _other_solution(planet)
                rows.append((*common, 0, *described, *_k2_ephemeris(other, epoch=True)))
    return rows


def _k2_ephemeris(planet: Planet, epoch: bool) -> tuple:
    """pl_orbper, pl_tranmid, pl_trandur, pl_trandep (percent) and pl_tsystemref of one solution."""
    tranmid = planet.epoch_bjd if epoch else None
    return (planet.period, tranmid, planet.duration_hours, round(planet.depth_ppm / 1e4, 6),
            None if tranmid is None else "BJD_TDB")


def _other_solution(planet: Planet) -> Planet:
    """Another paper's solution for the planet: values slightly off those planted in its light curves."""
    epoch = None if planet.epoch_bjd is None else round(planet.epoch_bjd + 0.0021, 6)
    return replace(planet, period=round(planet.period * (1 + 2e-5), 6), epoch_bjd=epoch,
                   duration_hours=round(planet.duration_hours * 1.04, 4), depth_ppm=round(planet.depth_ppm * 0.95, 1))


def cumulative_rows(universe: Universe) -> list[tuple]:
    """One ``cumulative`` row per Kepler KOI, in :data:`CUMULATIVE_COLUMNS` order."""
    kois = [(h, p) for h in universe.hosts_of("Kepler") for p in h.planets]
    return [(
        rowid, host.target_id, planet.designation,
        planet.pl_name if planet.disposition == "CONFIRMED" else None, planet.disposition,
        "FALSE POSITIVE" if planet.disposition == "FALSE POSITIVE" else "CANDIDATE",
        _KOI_SCORES[planet.disposition], planet.period, _bkjd(planet.epoch_bjd), planet.duration_hours,
        planet.depth_ppm, host.ra, host.dec, "Done", planet.rowupdate.isoformat(),
    ) for rowid, (host, planet) in enumerate(kois, start=1)]


def dr24_tce_rows(universe: Universe) -> list[tuple]:
    """``q1_q17_dr24_tce`` rows, in :data:`DR24_TCE_COLUMNS` order: a TCE per KOI (numbered 1, 2... on each star,
    the KOI's ephemeris) and the extra TCEs (``missions_kepler.EXTRA_TCES``) of the stars in the universe."""
    rows = []
    extras = {}
    for tce in EXTRA_TCES:
        extras.setdefault(tce.kic, []).append(tce)
    for host in universe.hosts_of("Kepler"):
        rows += [(host.target_id, number, p.period, _bkjd(p.epoch_bjd), p.duration_hours, p.depth_ppm,
                  _TRAINING_LABELS[p.disposition]) for number, p in enumerate(host.planets, start=1)]
        rows += [(host.target_id, number, t.period, t.time0bk, t.duration_hours, t.depth_ppm, t.av_training_set)
                 for number, t in enumerate(extras.get(host.target_id, ()), start=len(host.planets) + 1)]
    return rows


def _bkjd(epoch_bjd: float | None) -> float | None:
    return None if epoch_bjd is None else round(epoch_bjd - KEPLER_BJD_OFFSET, 7)


def toi_rows(universe: Universe) -> list[tuple]:
    """One ``toi`` row per TESS TOI, in :data:`TOI_COLUMNS` order (planets without a TOI have none)."""
    tois = [(h, p) for h in universe.hosts_of("TESS") for p in h.planets if p.designation]
    rows = []
    for rowid, (host, planet) in enumerate(tois, start=1):
        prefix, number = planet.designation.split(".")
        rows.append((
            rowid, float(planet.designation), int(prefix), host.target_id, float(f"{host.target_id}.{number}"),
            sum(1 for p in host.planets if p.designation), planet.disposition, host.ra, host.dec, planet.period,
            planet.epoch_bjd, planet.duration_hours, planet.depth_ppm, f"{planet.releasedate.isoformat()} 00:00:00",
            f"{planet.rowupdate.isoformat()} 12:00:00", planet.releasedate.isoformat(),
        ))
    return rows


def pscomppars_rows(universe: Universe) -> list[tuple]:
    """One ``pscomppars`` row per confirmed planet of every mission, in :data:`PSCOMPPARS_COLUMNS` order."""
    rows = []
    for mission in MISSIONS:
        for i, host in enumerate(universe.hosts_of(mission)):
            rows += [(planet.pl_name, host.hostname, _tic_id(host, i), _disc_facility(host, planet), host.ra,
                      host.dec, planet.rowupdate.isoformat())
                     for planet in host.planets if planet.disposition in CONFIRMED[mission]]
    return rows


def _tic_id(host: Host, index: int) -> str:
    """TESS hosts' own TIC id; for K2 and Kepler hosts a stable synthetic one."""
    if host.mission == "TESS":
        return f"TIC {host.target_id}"
    return f"TIC {(300000000 if host.mission == 'K2' else 500000000) + index * 7919}"


def _disc_facility(host: Host, planet: Planet) -> str:
    if host.mission == "TESS" and not planet.designation:
        return "Anglo-Australian Telescope"  # pi Men b: found by radial velocities, not by TESS
    return _DISC_FACILITIES[host.mission]


_TABLES = (
    ("k2pandc", K2PANDC_COLUMNS, k2pandc_rows), ("cumulative", CUMULATIVE_COLUMNS, cumulative_rows),
    ("toi", TOI_COLUMNS, toi_rows), ("pscomppars", PSCOMPPARS_COLUMNS, pscomppars_rows),
    ("q1_q17_dr24_tce", DR24_TCE_COLUMNS, dr24_tce_rows),
)


def build_database(universe: Universe) -> sqlite3.Connection:
    db = sqlite3.connect(":memory:", check_same_thread=False)
    for table, columns, rows in _TABLES:
        db.execute(f"CREATE TABLE {table} ({', '.join(f'{name} {kind}' for name, kind in columns)})")
        db.executemany(f"INSERT INTO {table} VALUES ({', '.join('?' * len(columns))})", rows(universe))
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
