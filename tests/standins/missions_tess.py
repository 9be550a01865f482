"""TESS hosts (TIC ids, TOIs, sectors), their SPOC light curves and MAST observations.

MAST has one observation per target and sector for each cadence: 2-min (``t_exptime`` 120,
products ``LC`` and ``TP``) and, for some targets, 20-s (``t_exptime`` 20, ``FAST-LC`` and
``FAST-TP``). Only the light curves are in the bucket.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta

from .fits_factory import tess_lc_size
from .records import (
    Host,
    LightCurveFile,
    Observation,
    Planet,
    Product,
    build_hosts,
    drawn_ephemeris,
    light_curve_rows,
    mjd,
    published_ephemeris,
)
from .timeline import MJD_TO_JD, sector_mjd, sector_timestamp

LC_EXPTIME = 120.0
FAST_EXPTIME = 20.0
SECTORS = tuple(range(1, 91))
NEW_SECTORS_FROM = 91  # sectors released during the test days
MAST_PREFIX = "mast:TESS/product/"
BUCKET_PREFIX = "tess/public/tid/"
_FILE_NAME = re.compile(r"tess[0-9]{13}-s(?P<sector>[0-9]{4})-(?P<tic>[0-9]{16})-[0-9]{4}-[a-z_-]+\.fits")
_TOIS_FROM = 5000
REAL_ROWS = (19000, 20100)  # fewest and most LIGHTCURVE rows of real 2-minute files (1.9-2.0 MB)
FAST_ROWS_PER_LC_ROW = 6  # 20-second cadences to a 2-minute one


@dataclass(frozen=True)
class _Star:
    tic: int
    toi: int  # TOI prefix: the host's designation is TOI-<toi>
    hostname: str
    ra: float
    dec: float
    planets: tuple[tuple[str, str, float, str], ...]  # (pl_name, disposition, period, TOI or "" if none)


REAL_STARS = (
    # pi Men b was found by radial velocities: it has no TOI and does not transit, only pi Men c (TOI 144.01) does.
    _Star(261136679, 144, "pi Men", 84.291188, -80.469119,
          (("pi Men c", "CP", 6.267832, "144.01"), ("pi Men b", "CP", 2093.07, ""))),
    _Star(410153553, 136, "LHS 3844", 340.099013, -69.166435, (("LHS 3844 b", "CP", 0.462884405, "136.01"),)),
    # Stand-in values, not the real catalog's: a candidate and a false positive for the tests.
    _Star(150151262, 4455, "TOI-4455", 123.456700, -12.345600, (("TOI-4455.01", "PC", 3.1, "4455.01"),)),
    _Star(142748283, 4452, "TOI-4452", 210.987600, 23.456700, (("TOI-4452.01", "FP", 1.7, "4452.01"),)),
)
# The real TOIs' epoch (BJD), duration (hours) and depth (ppm), and their period above, from the ExoFOP-TESS TOI
# list (the archive's toi table is refreshed from it weekly) as committed in github.com/tess-atlas/exofop_data,
# data/exofop_data.csv at 12f968a75770bf3a6d33b01656da44340eac9861 (2025-10-19); TOIs last updated there 2023-04-04
# (144.01) and 2020-10-27 (136.01).
REAL_EPHEMERIDES: dict[str, tuple[float, float, float]] = {
    "144.01": (2460011.550653, 2.789, 321.0),  # pi Men c
    "136.01": (2459036.323679, 0.5588, 4489.9),  # LHS 3844 b
}
# Only with HLSPs (build_universe(hlsps=True)): a TOI whose star has no SPOC light curve, only light curves made from
# full-frame images (QLP, TESS-SPOC), as most TOIs' stars. Its sectors reach each FFI cadence (30, 10 min, 200 s).
FFI_ONLY_TOI = 4987
FFI_ONLY_SECTORS = (14, 40, 61)
# The one TOI whose toi row has no pl_tranmid (its period, duration and depth are there); nothing is planted for it.
NO_EPHEMERIS = "4455.01"


def key_for_filename(name: str) -> str | None:
    """``tess/public/tid/s0015/0000/0003/7542/2201/<name>`` for a SPOC file name (None if not one)."""
    match = _FILE_NAME.fullmatch(name)
    if match is None:
        return None
    tic = match.group("tic")
    return f"{BUCKET_PREFIX}s{match.group('sector')}/{tic[0:4]}/{tic[4:8]}/{tic[8:12]}/{tic[12:16]}/{name}"


def build_tess(n_hosts: int, seed: int, start: date, days: int,
               fits_rows: int | None) -> tuple[list[Host], list[Observation]]:
    """TESS's part of :func:`~tests.standins.universe.build_universe` (see its docstring)."""
    rng = random.Random(f"tess-{seed}")
    stars = list(REAL_STARS[:n_hosts]) + _generated_stars(max(0, n_hosts - len(REAL_STARS)), rng)
    obsids = iter(range(9800000000 + seed * 100000, 9900000000))
    hosts, observations = build_hosts(stars, _build_host, rng, start, days, fits_rows, obsids)
    return _with_ephemerides(hosts, seed), observations


def _with_ephemerides(hosts: list[Host], seed: int) -> list[Host]:
    """Every TOI's ephemeris: the archive's for the real ones, drawn for the others within a period after the start
    of the host's first sector (from a generator of their own, so the hosts, files and bytes are those without)."""
    rng = random.Random(f"tess-ephemerides-{seed}")
    return [replace(host, planets=tuple(_ephemeris(p, rng, min(host.units)) for p in host.planets))
            for host in hosts]


def _ephemeris(planet: Planet, rng: random.Random, first_sector: int) -> Planet:
    if not planet.designation:  # no TOI (pi Men b): it does not transit
        return planet
    if planet.designation in REAL_EPHEMERIDES:
        return published_ephemeris(planet, planet.period, *REAL_EPHEMERIDES[planet.designation])
    drawn = drawn_ephemeris(planet, rng, sector_mjd(first_sector)[0] + MJD_TO_JD)
    return replace(drawn, epoch_bjd=None) if planet.designation == NO_EPHEMERIS else drawn


def build_ffi_only_host(seed: int, start: date, days: int, taken: set[int]) -> Host:
    """The host of TOI :data:`FFI_ONLY_TOI` (a candidate, ``PC``, with a drawn ephemeris): no SPOC observation and
    no file of its own; a TIC id none of ``taken`` has. From a generator of its own."""
    rng = random.Random(f"tess-ffi-only-{seed}")
    tic = next(t for t in iter(lambda: rng.randrange(10000000, 2000000000), None) if t not in taken)
    toi = f"{FFI_ONLY_TOI}.01"
    star = _Star(tic, FFI_ONLY_TOI, f"TOI-{FFI_ONLY_TOI}", rng.uniform(0.0, 360.0), rng.uniform(-89.0, 89.0),
                 ((f"TOI-{toi}", "PC", _period(rng), toi),))
    planets = tuple(drawn_ephemeris(p, rng, sector_mjd(FFI_ONLY_SECTORS[0])[0] + MJD_TO_JD)
                    for p in _build_planets(0, star, rng, start, days))
    return Host("TESS", tic, star.hostname, round(star.ra, 6), round(star.dec, 6), planets, FFI_ONLY_SECTORS, (),
                True, f"TOI-{FFI_ONLY_TOI}")


def _generated_stars(count: int, rng: random.Random) -> list[_Star]:
    real = {s.tic for s in REAL_STARS}
    tics = [t for t in rng.sample(range(10000000, 2000000000), count + len(real)) if t not in real][:count]
    stars = []
    for g, tic in enumerate(tics):
        i, toi = len(REAL_STARS) + g, _TOIS_FROM + g
        ra, dec = rng.uniform(0.0, 360.0), rng.uniform(-89.0, 89.0)
        if i % 10 in (3, 7):  # like K2: candidate-only and false-positive-only hosts
            disposition = "PC" if i % 10 == 3 else "FP"
            count_tois = 1 if disposition == "FP" else rng.randint(1, 2)
            planets = [(f"TOI-{toi}.{j + 1:02d}", disposition, _period(rng), f"{toi}.{j + 1:02d}")
                       for j in range(count_tois)]
        else:
            disposition = "CP" if i % 2 == 0 else "KP"
            planets = [(f"TOI-{toi} {'bc'[j]}", disposition, _period(rng), f"{toi}.{j + 1:02d}")
                       for j in range(rng.randint(1, 2))]
            if rng.random() < 0.25:
                k = len(planets) + 1
                planets.append((f"TOI-{toi}.{k:02d}", "PC", _period(rng), f"{toi}.{k:02d}"))
        stars.append(_Star(tic, toi, f"TOI-{toi}", ra, dec, tuple(planets)))
    return stars


def _period(rng: random.Random) -> float:
    return round(rng.uniform(0.3, 50.0), 6)


def _build_planets(i: int, star: _Star, rng: random.Random, start: date, days: int) -> tuple[Planet, ...]:
    negative = not any(d in ("CP", "KP") for _, d, _, _ in star.planets)
    planets: list[Planet] = []
    for j, (name, disposition, period, toi) in enumerate(star.planets):
        if not toi and planets:  # not a TOI: dated like the host's first TOI, so windows agree with the toi table
            rowupdate, released = planets[0].rowupdate, planets[0].releasedate
        else:
            rowupdate = start + timedelta(days=(1 + j) % days if negative else (i + j) % days)
            released = rowupdate - timedelta(days=rng.randint(30, 900))
        planets.append(Planet(name, disposition, rowupdate, released, toi, period))
    return tuple(planets)


def _build_host(i: int, star: _Star, rng: random.Random, start: date, days: int, fits_rows: int | None,
                obsids: Iterator[int]) -> tuple[Host, list[Observation]]:
    planets = _build_planets(i, star, rng, start, days)
    sectors = tuple(sorted(rng.sample(SECTORS, rng.randint(2, 4))))
    releases = {s: round(sector_mjd(s)[1] + 30.0, 4) for s in sectors}
    if i % 3 == 0:  # one more sector, made public at 06:00 UTC on one of the test days
        releases[NEW_SECTORS_FROM + i % 5] = mjd(start + timedelta(days=i % days), hours=6.0)
    observations: list[Observation] = []
    files: list[LightCurveFile] = []
    for sector, released in releases.items():
        rows = light_curve_rows(rng, fits_rows, REAL_ROWS)
        fast_rows = (FAST_ROWS_PER_LC_ROW if fits_rows is None else 3) * rows  # a given size: as small as before
        cadences = ((LC_EXPTIME, rows), (FAST_EXPTIME, fast_rows)) if i % 2 == 0 else ((LC_EXPTIME, rows),)
        for exptime, n in cadences:
            obs = _observation(star, sector, exptime, n, released, str(next(obsids)))
            observations.append(obs)
            lc = obs.products[0]
            files.append(LightCurveFile("TESS", star.tic, sector, obs.obsid, key_for_filename(lc.filename),
                                        lc.data_uri, lc.size, n, "lc" if exptime == LC_EXPTIME else "fast-lc",
                                        released))
    host = Host("TESS", star.tic, star.hostname, round(star.ra, 6), round(star.dec, 6), planets,
                tuple(releases), tuple(files), True, f"TOI-{star.toi}")
    return host, observations


def _observation(star: _Star, sector: int, exptime: float, rows: int, released: float, obsid: str) -> Observation:
    tic16 = f"{star.tic:016d}"
    base = f"tess{sector_timestamp(sector)}-s{sector:04d}-{tic16}-{120 + sector // 10:04d}"
    size = tess_lc_size(rows)
    if exptime == LC_EXPTIME:
        obs_id = f"{base}-s"
        kinds = ((f"{obs_id}_lc.fits", "LC", "Light curves", size),
                 (f"{obs_id}_tp.fits", "TP", "Target pixel files", 25 * size))
    else:
        obs_id = f"{base}-a_fast"
        kinds = ((f"{obs_id}-lc.fits", "FAST-LC", "Fast-cadence light curves", size),
                 (f"{obs_id}-tp.fits", "FAST-TP", "Fast-cadence target pixel files", 25 * size))
    products = tuple(Product(obsid, obs_id, name, MAST_PREFIX + name, subgroup, description, product_size, "TESS")
                     for name, subgroup, description, product_size in kinds)
    t_min, t_max = sector_mjd(sector)
    return Observation(obsid, obs_id, star.tic, sector, exptime, star.ra, star.dec, t_min, t_max,
                       products[0].data_uri, products, "TESS", released)
