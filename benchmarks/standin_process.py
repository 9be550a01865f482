"""The offline stand-ins (tests/standins) in a process of their own, driven through a pipe.

A separate process keeps the stand-ins' CPU work and memory (moto holds every object in memory) out
of the figures of the process being measured. The synthetic catalog has ``n_targets`` confirmed hosts of
one mission, each with the generator's two to four light curves (campaigns, quarters or sectors) at real
sizes: K2 long cadence 0.40-0.96 MB (LLC_ROWS), Kepler long cadence 0.45-0.50 MB (KEPLER_MB), TESS 2-minute
about 1.9 MB (TESS_MB, scaled by ``tess_mb``).
"""

from __future__ import annotations

import math
import multiprocessing
import random
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from benchmarks._paths import add_repo_paths

# Rows of the synthetic LIGHTCURVE table: 3900 rows is 0.40 MB, 9400 rows 0.96 MB (real LLC files: 0.4-1 MB).
LLC_ROWS = (3900, 9400)
KEPLER_MB = (0.45, 0.50)  # real Kepler long-cadence files (one quarter, ~4,400 cadences)
TESS_MB = 1.9  # a real 2-minute SPOC light curve of one sector (~19,000 cadences)
TESS_SPREAD = (0.97, 1.03)  # TESS files are TESS_MB give or take 3 %
DESTINATION_BUCKET = "bench-destination"
CATALOG_LABEL = "_catalog"  # lightcurve_ingest.settings.CATALOG_DIR
PART_HOSTS = 350  # a multiple of 10: build_universe's pattern of confirmed hosts repeats every 10 hosts
# slug: the stand-ins' name of the mission, and the fits_factory function giving a light curve's size from its rows
MISSIONS = {"k2": ("K2", "llc_size"), "kepler": ("Kepler", "kepler_llc_size"), "tess": ("TESS", "tess_lc_size")}


def hosts_for_confirmed(n_targets: int) -> int:
    """How many hosts ``build_universe`` needs for ``n_targets`` confirmed K2 ones (host i with i % 10 in
    (3, 7) has no confirmed planet)."""
    hosts = confirmed = 0
    while confirmed < n_targets:
        confirmed += hosts % 10 not in (3, 7)
        hosts += 1
    return hosts


def mission_universe(mission: str, n_targets: int, seed: int = 0, tess_mb: float = TESS_MB) -> Any:
    """A universe of one mission (``k2``, ``kepler``, ``tess``) with exactly ``n_targets`` confirmed hosts
    and its light curves at real sizes."""
    if mission == "k2":
        return realistic_universe(n_targets, seed)
    add_repo_paths()
    from tests.standins import build_universe

    # Kepler and TESS: 2 of the 4 named hosts and 2 in 10 generated ones have no confirmed planet, so
    # 5/4 n + 10 hosts hold n confirmed ones; one build, so that the named hosts (Kepler-10, pi Men) come once.
    count = n_targets * 5 // 4 + 10
    counts = {"kepler_hosts": count if mission == "kepler" else 0, "tess_hosts": count if mission == "tess" else 0}
    # 200 rows: thousands of hosts, and their 20-s light curves stay this small (the 2-minute ones are resized below)
    base = build_universe(0, seed=seed, fits_rows=200, **counts)
    hosts = _through_nth_confirmed(base.hosts, n_targets)
    kept = {(h.mission, h.target_id) for h in hosts}
    observations = [o for o in base.observations if (o.mission, o.target_id) in kept]
    universe = _resized(hosts, observations, seed, mission, light_curve_rows(mission, tess_mb))
    assert len(universe.confirmed_hosts(mission=MISSIONS[mission][0])) == n_targets
    return universe


def realistic_universe(n_targets: int, seed: int = 0) -> Any:
    """``build_universe`` with ``n_targets`` confirmed K2 hosts and each LLC file resized to a real LLC size.

    ``build_universe`` names hosts K2-1 to K2-399, so larger catalogs are built in parts of
    ``PART_HOSTS`` hosts (different seeds); hosts of part k are renamed K2-<n + 400 k>.
    """
    add_repo_paths()
    from tests.standins import build_universe

    n_hosts = hosts_for_confirmed(n_targets)
    hosts, observations = [], []
    for part, start in enumerate(range(0, n_hosts, PART_HOSTS)):
        base = build_universe(min(PART_HOSTS, n_hosts - start), seed=seed * 100 + part, fits_rows=LLC_ROWS[0],
                              kepler_hosts=0, tess_hosts=0)
        hosts += [_renamed(h, part) for h in base.hosts]
        observations += base.observations
    universe = _resized(hosts, observations, seed, "k2", LLC_ROWS)
    assert len({h.target_id for h in hosts}) == len(hosts) and len({h.hostname for h in hosts}) == len(hosts)
    assert len(universe.confirmed_hosts()) == n_targets, (len(universe.confirmed_hosts()), n_targets)
    return universe


def _through_nth_confirmed(hosts: tuple, n_targets: int) -> list:
    """The hosts up to the ``n_targets``-th with a confirmed planet (those without one before it included)."""
    confirmed = [i for i, h in enumerate(hosts) if h.has_confirmed_planet]
    assert len(confirmed) >= n_targets, (len(confirmed), n_targets)
    return list(hosts[:confirmed[n_targets - 1] + 1])


def _resized(hosts: list, observations: list, seed: int, mission: str, rows_range: tuple[int, int]) -> Any:
    """The universe with each light curve given a random row count of ``rows_range`` (and its size), in its
    files and MAST products. A Kepler bundle is resized to hold its resized members. TESS 20-s light curves
    (not copied unless asked) keep the generator's small size, to spare the stand-in's memory."""
    from tests.standins.universe import Universe

    size_of = _size_function(mission)
    # K2's sequence ("llc-sizes-<seed>") is the one of the K2-only benchmark: same files, same figures
    rng = random.Random(f"{'llc' if mission == 'k2' else mission}-sizes-{seed}")
    rows = {f.data_uri: rng.randint(*rows_range) for h in hosts for f in h.light_curves()}
    hosts = [_resized_host(h, rows, size_of) for h in hosts]
    sizes = {f.data_uri: f.size for h in hosts for f in h.files}
    observations = [replace(o, products=tuple(replace(p, size=sizes[p.data_uri]) if p.data_uri in sizes else p
                                              for p in o.products))
                    for o in observations]
    return Universe(tuple(hosts), tuple(observations), seed)


def _resized_host(host: Any, rows: dict[str, int], size_of: Callable[[int], int]) -> Any:
    from tests.standins.missions_kepler import bundle_size

    files = [replace(f, rows=rows[f.data_uri], size=size_of(rows[f.data_uri])) if f.data_uri in rows else f
             for f in host.files]
    members = [f for f in files if f.data_uri in rows]
    files = [replace(f, rows=sum(m.rows for m in members), size=bundle_size([m.size for m in members]))
             if f.kind == "bundle" else f for f in files]
    return replace(host, files=tuple(files))


def _renamed(host: Any, part: int) -> Any:
    if part == 0 or not host.hostname.startswith("K2-"):
        return host
    name = f"K2-{int(host.hostname[3:]) + 400 * part}"
    planets = tuple(replace(p, pl_name=p.pl_name.replace(host.hostname, name, 1)) for p in host.planets)
    return replace(host, hostname=name, planets=planets)


def _size_function(mission: str) -> Callable[[int], int]:
    add_repo_paths()
    from tests.standins import fits_factory

    return getattr(fits_factory, MISSIONS[mission][1])


def rows_for(mission: str, size: float) -> int:
    """Rows of the synthetic LIGHTCURVE table that make a ``mission`` light curve of at least ``size`` bytes."""
    size_of = _size_function(mission)
    per_row = (size_of(28800) - size_of(0)) / 28800
    rows = max(0, math.ceil((size - size_of(0)) / per_row))
    while size_of(rows) < size:
        rows += 1
    return rows


def light_curve_rows(mission: str, tess_mb: float = TESS_MB) -> tuple[int, int]:
    """The fewest and most rows of a mission's stand-in light curves."""
    if mission == "k2":
        return LLC_ROWS
    low, high = KEPLER_MB if mission == "kepler" else tuple(tess_mb * x for x in TESS_SPREAD)
    return rows_for(mission, low * 1e6), rows_for(mission, high * 1e6)


def light_curve_mb(mission: str, tess_mb: float = TESS_MB) -> tuple[float, float]:
    """The smallest and largest of a mission's stand-in light curves, in MB."""
    size_of = _size_function(mission)
    low, high = light_curve_rows(mission, tess_mb)
    return round(size_of(low) / 1e6, 2), round(size_of(high) / 1e6, 2)


class StandinProcess:
    """Start the stand-ins in a spawned process; ask it for counters, buckets and objects; stop it."""

    def __init__(self, n_targets: int, *, mission: str = "k2", seed: int = 0, mast_latency_s: float = 0.15,
                 s3_latency_s: float = 0.02, tap_latency_s: float = 0.15, tess_mb: float = TESS_MB) -> None:
        self.config = dict(n_targets=n_targets, mission=mission, seed=seed, mast_latency_s=mast_latency_s,
                           s3_latency_s=s3_latency_s, tap_latency_s=tap_latency_s, tess_mb=tess_mb)
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
        universe = mission_universe(config["mission"], config["n_targets"], config["seed"], config["tess_mb"])
        # Upload without latency (it is set below), so that start-up is not slowed by it.
        standins = Standins(universe).start()
        standins.s3.create_bucket(DESTINATION_BUCKET)
        egress = _count_s3_egress(standins)
        standins.mast.latency_s = config["mast_latency_s"]
        standins.tap.latency_s = config["tap_latency_s"]
        standins.s3.latency_s = config["s3_latency_s"]
        _reset(standins)
        confirmed = universe.confirmed_hosts(mission=MISSIONS[config["mission"]][0])
        light_curves = [f for h in confirmed for f in h.light_curves()]  # what the ingest copies
        conn.send(("ok", {
            "env": standins.airflow_env(),
            "mast_url": standins.mast.base_url,
            "tap_url": standins.tap.base_url,
            "s3_endpoint": standins.s3.endpoint_url,
            "destination_bucket": DESTINATION_BUCKET,
            "targets": [h.target_id for h in confirmed],
            "files": len(light_curves),
            "bytes": sum(f.size for f in light_curves),
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
    if command == "delete_prefix":
        return _delete_prefix(standins, *args)
    raise ValueError(f"unknown command {command!r}")


class EgressCounter:
    """WSGI wrapper counting the body bytes of S3 GET replies, by bucket (catalog tables apart, under
    ``<bucket>/_catalog``, their objects and listings): what clients read from S3.

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
        query = unquote(environ.get("QUERY_STRING", ""))  # the catalog's Delta log is listed: ?prefix=.../_catalog/
        label = f"{bucket}/{CATALOG_LABEL}" if f"{CATALOG_LABEL}/" in key + query else bucket
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


@contextmanager
def _without_s3_latency(standins: Any) -> Iterator[None]:
    """The stand-in's own S3 requests (set-up and clean-up) do not wait the injected latency."""
    latency, standins.s3.latency_s = standins.s3.latency_s, 0.0
    try:
        yield
    finally:
        standins.s3.latency_s = latency


def _put_fits(standins: Any, key: str, size: int) -> int:
    """Store a valid LLC-like FITS file of at least ``size`` bytes at ``key``; returns its size."""
    from tests.standins.fits_factory import make_llc_fits

    content = make_llc_fits(211900000, 5, rows_for("k2", size), 0)
    with _without_s3_latency(standins):
        standins.s3.put_object(key, content)
    return len(content)


def _delete_prefix(standins: Any, bucket: str, prefix: str) -> int:
    """Delete every object under ``prefix`` (moto holds them in memory); returns how many."""
    client = standins.s3.client(signed=True)
    deleted = 0
    with _without_s3_latency(standins):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
                deleted += len(keys)
    client.close()
    return deleted
