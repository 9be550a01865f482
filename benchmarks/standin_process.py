"""The offline stand-ins (tests/standins) in a process of their own, driven through a pipe.

A separate process keeps the stand-ins' CPU work and memory (moto holds every object in memory) out
of the figures of the process being measured. The synthetic catalog has ``n_targets`` confirmed K2
hosts, each with two to four long-cadence light curves of real LLC size (0.40-0.96 MB, see LLC_ROWS).
"""

from __future__ import annotations

import math
import multiprocessing
import random
import threading
import time
import traceback
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from benchmarks._paths import add_repo_paths

# Rows of the synthetic LIGHTCURVE table: 3900 rows is 0.40 MB, 9400 rows 0.96 MB (real LLC files: 0.4-1 MB).
LLC_ROWS = (3900, 9400)
DESTINATION_BUCKET = "bench-destination"
CATALOG_LABEL = "_catalog"  # k2ingest.settings.CATALOG_DIR
PART_HOSTS = 350  # a multiple of 10: build_universe's pattern of confirmed hosts repeats every 10 hosts


def hosts_for_confirmed(n_targets: int) -> int:
    """How many hosts ``build_universe`` needs for ``n_targets`` confirmed ones (host i with i % 10 in
    (3, 7) has no confirmed planet)."""
    hosts = confirmed = 0
    while confirmed < n_targets:
        confirmed += hosts % 10 not in (3, 7)
        hosts += 1
    return hosts


def realistic_universe(n_targets: int, seed: int = 0) -> Any:
    """``build_universe`` with ``n_targets`` confirmed hosts and each LLC file resized to a real LLC size.

    ``build_universe`` names hosts K2-1 to K2-399, so larger catalogs are built in parts of
    ``PART_HOSTS`` hosts (different seeds); hosts of part k are renamed K2-<n + 400 k>.
    """
    add_repo_paths()
    from tests.standins import build_universe
    from tests.standins.fits_factory import llc_size
    from tests.standins.universe import Universe

    n_hosts = hosts_for_confirmed(n_targets)
    hosts, observations = [], []
    for part, start in enumerate(range(0, n_hosts, PART_HOSTS)):
        base = build_universe(min(PART_HOSTS, n_hosts - start), seed=seed * 100 + part, fits_rows=LLC_ROWS[0])
        hosts += [_renamed(h, part) for h in base.hosts]
        observations += base.observations
    rng = random.Random(f"llc-sizes-{seed}")
    rows = {f.data_uri: rng.randint(*LLC_ROWS) for h in hosts for f in h.files}
    hosts = [replace(h, files=tuple(replace(f, rows=rows[f.data_uri], size=llc_size(rows[f.data_uri]))
                                    for f in h.files)) for h in hosts]
    observations = [replace(o, products=tuple(replace(p, size=llc_size(rows[p.data_uri])) if p.data_uri in rows
                                              else p for p in o.products))
                    for o in observations]
    universe = Universe(tuple(hosts), tuple(observations), seed)
    assert len({h.epic_id for h in hosts}) == len(hosts) and len({h.hostname for h in hosts}) == len(hosts)
    assert len(universe.confirmed_hosts()) == n_targets, (len(universe.confirmed_hosts()), n_targets)
    return universe


def _renamed(host: Any, part: int) -> Any:
    if part == 0 or not host.hostname.startswith("K2-"):
        return host
    name = f"K2-{int(host.hostname[3:]) + 400 * part}"
    planets = tuple(replace(p, pl_name=p.pl_name.replace(host.hostname, name, 1)) for p in host.planets)
    return replace(host, hostname=name, planets=planets)


class StandinProcess:
    """Start the stand-ins in a spawned process; ask it for counters, buckets and objects; stop it."""

    def __init__(self, n_targets: int, *, seed: int = 0, mast_latency_s: float = 0.15, s3_latency_s: float = 0.02,
                 tap_latency_s: float = 0.15) -> None:
        self.config = dict(n_targets=n_targets, seed=seed, mast_latency_s=mast_latency_s,
                           s3_latency_s=s3_latency_s, tap_latency_s=tap_latency_s)
        self.info: dict[str, Any] = {}
        self._process = None
        self._conn = None

    def start(self) -> StandinProcess:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve, args=(child, self.config), name="standins", daemon=True)
        self._process.start()
        child.close()
        self.info = self._receive()
        return self

    def call(self, command: str, *args: Any) -> Any:
        self._conn.send((command, args))
        return self._receive()

    def counters(self) -> dict[str, Any]:
        return self.call("counters")

    def reset_counters(self) -> None:
        self.call("reset")

    def stop(self) -> None:
        if self._process is None:
            return
        try:
            self.call("stop")
        except (EOFError, OSError, RuntimeError):
            pass
        self._process.join(30)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(10)
        self._process = None

    def __enter__(self) -> StandinProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _receive(self) -> Any:
        status, value = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"stand-in process failed:\n{value}")
        return value


def _serve(conn: Any, config: dict[str, Any]) -> None:
    """The stand-in process: build the catalog, serve it, answer commands until ``stop``."""
    try:
        add_repo_paths()
        from tests.standins import Standins

        started = time.perf_counter()
        universe = realistic_universe(config["n_targets"], config["seed"])
        # Upload without latency (it is set below), so that start-up is not slowed by it.
        standins = Standins(universe).start()
        standins.s3.create_bucket(DESTINATION_BUCKET)
        egress = _count_s3_egress(standins)
        standins.mast.latency_s = config["mast_latency_s"]
        standins.tap.latency_s = config["tap_latency_s"]
        standins.s3.latency_s = config["s3_latency_s"]
        _reset(standins)
        confirmed = universe.confirmed_hosts()
        conn.send(("ok", {
            "env": standins.airflow_env(),
            "mast_url": standins.mast.base_url,
            "tap_url": standins.tap.base_url,
            "s3_endpoint": standins.s3.endpoint_url,
            "destination_bucket": DESTINATION_BUCKET,
            "targets": [h.epic_id for h in confirmed],
            "files": sum(len(h.files) for h in confirmed),
            "bytes": sum(f.size for h in confirmed for f in h.files),
            "setup_s": time.perf_counter() - started,
        }))
    except BaseException:
        conn.send(("error", traceback.format_exc()))
        return
    try:
        while True:
            command, args = conn.recv()
            if command == "stop":
                conn.send(("ok", None))
                return
            try:
                conn.send(("ok", _command(standins, egress, command, args)))
            except Exception:
                conn.send(("error", traceback.format_exc()))
    finally:
        standins.stop()


def _command(standins: Any, egress: EgressCounter, command: str, args: tuple) -> Any:
    if command == "counters":
        return {
            "s3_bytes_read": egress.by_bucket(),
            "mast_by_service": dict(standins.mast.requests_by_service),
            "mast": standins.mast.request_count,
            "s3": standins.s3.request_count,
            "s3_by_method": dict(standins.s3.requests_by_method),
            "tap": standins.tap.request_count,
            "cpu_s": _cpu_seconds(),
        }
    if command == "reset":
        egress.reset()
        return _reset(standins)
    if command == "create_bucket":
        return standins.s3.create_bucket(*args)
    if command == "put_fits":
        return _put_fits(standins, *args)
    raise ValueError(f"unknown command {command!r}")


class EgressCounter:
    """WSGI wrapper counting the body bytes of S3 GET replies, by bucket (catalog tables apart, under
    ``<bucket>/_catalog``): what clients read from S3.

    It counts at the server, independently of what the client code reports about itself.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self._bytes: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, environ: dict, start_response: Any) -> Any:
        if environ.get("REQUEST_METHOD") != "GET" or environ.get("HTTP_X_STANDIN_ADMIN") == "1":
            return self.app(environ, start_response)
        path = unquote(environ.get("PATH_INFO", "")).strip("/")
        bucket, _, key = path.partition("/")
        label = f"{bucket}/{CATALOG_LABEL}" if f"{CATALOG_LABEL}/" in key else bucket
        return self._counted(self.app(environ, start_response), label)

    def _counted(self, body: Any, bucket: str) -> Any:
        try:
            for chunk in body:
                with self._lock:
                    self._bytes[bucket] = self._bytes.get(bucket, 0) + len(chunk)
                yield chunk
        finally:
            if hasattr(body, "close"):
                body.close()

    def by_bucket(self) -> dict[str, int]:
        with self._lock:
            return dict(self._bytes)

    def reset(self) -> None:
        with self._lock:
            self._bytes.clear()


def _count_s3_egress(standins: Any) -> EgressCounter:
    """Wrap the S3 stand-in's WSGI app (werkzeug reads ``server.app`` at each request)."""
    server = standins.s3._server.server
    server.app = counter = EgressCounter(server.app)
    return counter


def _cpu_seconds() -> float:
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return round(usage.ru_utime + usage.ru_stime, 3)


def _reset(standins: Any) -> None:
    for standin in (standins.mast, standins.tap, standins.s3):
        standin.reset_counters()


def llc_rows_for(size: int) -> int:
    """Rows of the synthetic LIGHTCURVE table that make a file of at least ``size`` bytes."""
    from tests.standins.fits_factory import llc_size

    per_row = (llc_size(28800) - llc_size(0)) / 28800
    rows = max(0, math.ceil((size - llc_size(0)) / per_row))
    while llc_size(rows) < size:
        rows += 1
    return rows


def llc_mb_range() -> tuple[float, float]:
    from tests.standins.fits_factory import llc_size

    return tuple(round(llc_size(rows) / 1e6, 2) for rows in LLC_ROWS)


def _put_fits(standins: Any, key: str, size: int) -> int:
    """Store a valid LLC-like FITS file of at least ``size`` bytes at ``key``; returns its size."""
    from tests.standins.fits_factory import make_llc_fits

    content = make_llc_fits(211900000, 5, llc_rows_for(size), 0)
    latency, standins.s3.latency_s = standins.s3.latency_s, 0.0
    try:
        standins.s3.put_object(key, content)
    finally:
        standins.s3.latency_s = latency
    return len(content)
