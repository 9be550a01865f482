"""Kepler hosts (KIC ids, KOIs, quarters), their LLC files and .tar bundles, and MAST observations.

MAST has one long-cadence observation per target covering all its quarters; its products are one
``LLC`` FITS per quarter (two for Q4, see :func:`quarter_files`) plus a per-target ``.tar`` bundle whose
subgroup is also ``LLC``.
"""

from __future__ import annotations

import io
import math
import random
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta

from .fits_factory import LONG_CADENCE_DAYS, kepler_llc_size
from .records import (
    Host,
    LightCurveFile,
    Observation,
    Planet,
    Product,
    build_hosts,
    drawn_ephemeris,
    light_curve_rows,
    published_ephemeris,
)
from .timeline import KEPLER_BJD_OFFSET, quarter_mjd, quarter_timestamp

LC_EXPTIME = 1800.0
SC_EXPTIME = 60.0
QUARTERS = tuple(range(18))
BUCKET_PREFIX = "kepler/public/lightcurves/"
# Real MAST replies spell the collection both ways in dataURIs; hosts alternate between the two.
MAST_PREFIXES = ("mast:KEPLER/url/missions/kepler/lightcurves/", "mast:Kepler/url/missions/kepler/lightcurves/")
_BUNDLE_MTIME = 1356998400  # 2013-01-01: fixed, so bundles are byte-for-byte reproducible
_KEPLER_NAMES_FROM = 1700
_KOIS_FROM = 7000
# Q4 was cut in two in January 2010: a target observed then has two Q4 files, both QUARTER = 4. The first has a
# timestamp of its own and covers the quarter's first 20.9 days (1,021 cadences, as Kepler-90's genuine file).
SPLIT_QUARTER = 4
_FIRST_PART_OF_SPLIT = ("2010009091648", 1021)


@dataclass(frozen=True)
class _Star:
    kic: int
    koi: int
    hostname: str
    ra: float
    dec: float
    planets: tuple[tuple[str, str, float], ...]  # (pl_name, disposition, period) of KOIs .01, .02...
    quarters: tuple[int, ...] = ()  # its quarters; empty: drawn


# Real targets; coordinates rounded (KOI-5 and KOI-6 coordinates approximate), periods the archive's (below).
REAL_STARS = (
    # Kepler-10 in the quarters of the genuine Kepler-90 files (tests/fixtures/real_fits): Q4 in two files
    _Star(11904151, 72, "Kepler-10", 285.679380, 50.241310,
          (("Kepler-10 b", "CONFIRMED", 0.837491225), ("Kepler-10 c", "CONFIRMED", 45.29422297)), (3, 4, 5)),
    _Star(10593626, 87, "Kepler-22", 289.217500, 47.884460, (("Kepler-22 b", "CONFIRMED", 289.864067),)),
    _Star(8554498, 5, "KOI-5", 289.739720, 44.647510, (("KOI-5.01", "CANDIDATE", 4.780327581),)),
    _Star(3248033, 6, "KOI-6", 291.034000, 38.372700, (("KOI-6.01", "FALSE POSITIVE", 1.334101467),)),
)
# The real KOIs' koi_time0bk (BKJD), koi_duration (hours) and koi_depth (ppm), and their koi_period above, as the
# NASA Exoplanet Archive's cumulative KOI table gave them in an export of 2019-01-20 (DR25 values; the export is
# committed as cumulative.csv in github.com/antkak/edakoi at 22141feb402d87636e2d33e9b59a061906fb4c54).
REAL_EPHEMERIDES: dict[str, tuple[float, float, float]] = {
    "K00072.01": (131.574858, 1.796, 190.4),  # Kepler-10 b
    "K00072.02": (138.678725, 6.83, 477.1),  # Kepler-10 c
    "K00087.01": (133.69719, 7.565, 529.1),  # Kepler-22 b
    "K00005.01": (132.974086, 2.0253, 960.8),
    "K00006.01": (133.703081, 2.1033, 120.8),  # a false positive: planted as an eclipsing binary
}
# The one KOI whose cumulative row (and DR24 TCE) has no koi_time0bk: the first KOI of the first generated host
# (Kepler-1700 b, whatever the seed; in any universe of 5 Kepler hosts or more). Nothing is planted for it.
NO_EPHEMERIS = "K07000.01"
_GENERATED_EPOCHS_FROM_BKJD = 120.0  # drawn epochs fall within a period after this (real koi_time0bk: 120-140)


@dataclass(frozen=True)
class ExtraTce:
    """A DR24 TCE that is no KOI: its events are not planted in the light curves."""

    kic: int
    av_training_set: str  # NTP (not a transiting planet) or UNK (unknown)
    period: float  # days
    time0bk: float  # BKJD
    duration_hours: float
    depth_ppm: float


# q1_q17_dr24_tce rows beside those of the KOIs (stand-in values): an NTP TCE on Kepler-10, an UNK one on Kepler-22.
EXTRA_TCES = (ExtraTce(11904151, "NTP", 12.345678, 140.2468, 3.21, 85.0),
              ExtraTce(10593626, "UNK", 7.654321, 135.1357, 2.47, 150.0))


def kepler_relative_path(kic: int, filename: str) -> str:
    """``0119/011904151/<filename>``."""
    kic9 = f"{kic:09d}"
    return f"{kic9[:4]}/{kic9}/{filename}"


def llc_filename(kic: int, timestamp: str, suffix: str = "llc") -> str:
    return f"kplr{kic:09d}-{timestamp}_{suffix}.fits"


@dataclass(frozen=True)
class _Part:
    """One long-cadence file: a whole quarter, or one part of the split one."""

    quarter: int
    timestamp: str
    rows: int


def quarter_files(quarter: int) -> list[tuple[str, int]]:
    """The long-cadence files of a quarter, as (timestamp, real LIGHTCURVE rows): one, two for Q4."""
    start, end = quarter_mjd(quarter)
    cadences = round((end - start) / LONG_CADENCE_DAYS)
    if quarter != SPLIT_QUARTER:
        return [(quarter_timestamp(quarter), cadences)]
    timestamp, first_rows = _FIRST_PART_OF_SPLIT
    return [(timestamp, first_rows), (quarter_timestamp(quarter), cadences - first_rows)]


def quarter_flags(quarters: tuple[int, ...]) -> str:
    """``Q`` flags of an obs_id or bundle name: one digit per quarter 0-17, 1 if observed."""
    return "".join("1" if q in quarters else "0" for q in QUARTERS)


def make_bundle(members: list[tuple[str, bytes]]) -> bytes:
    """A tar of ``(name, content)`` members with fixed metadata (same members, same bytes)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, content in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(content), _BUNDLE_MTIME, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(content))
    return buffer.getvalue()


def bundle_size(member_sizes: list[int]) -> int:
    """Length of :func:`make_bundle`'s tar: a 512-byte header and padded content per member, two
    zero blocks, all padded to tarfile's 10240-byte record."""
    blocks = sum(1 + math.ceil(size / tarfile.BLOCKSIZE) for size in member_sizes) + 2
    return math.ceil(blocks * tarfile.BLOCKSIZE / tarfile.RECORDSIZE) * tarfile.RECORDSIZE


def build_kepler(n_hosts: int, seed: int, start: date, days: int,
                 fits_rows: int | None) -> tuple[list[Host], list[Observation]]:
    """Kepler's part of :func:`~tests.standins.universe.build_universe` (see its docstring)."""
    rng = random.Random(f"kepler-{seed}")
    stars = list(REAL_STARS[:n_hosts]) + _generated_stars(max(0, n_hosts - len(REAL_STARS)), rng)
    obsids = iter(range(9700000000 + seed * 100000, 9800000000))
    hosts, observations = build_hosts(stars, _build_host, rng, start, days, fits_rows, obsids)
    return _with_ephemerides(hosts, seed), observations


def _with_ephemerides(hosts: list[Host], seed: int) -> list[Host]:
    """Every KOI's ephemeris: the archive's for the real ones, drawn for the others (from a generator of their own,
    so the hosts, files and bytes are those without)."""
    rng = random.Random(f"kepler-ephemerides-{seed}")
    return [replace(host, planets=tuple(_ephemeris(p, rng) for p in host.planets)) for host in hosts]


def _ephemeris(planet: Planet, rng: random.Random) -> Planet:
    if planet.designation in REAL_EPHEMERIDES:
        time0bk, duration, depth = REAL_EPHEMERIDES[planet.designation]
        return published_ephemeris(planet, planet.period, round(time0bk + KEPLER_BJD_OFFSET, 6), duration, depth)
    drawn = drawn_ephemeris(planet, rng, KEPLER_BJD_OFFSET + _GENERATED_EPOCHS_FROM_BKJD)
    return replace(drawn, epoch_bjd=None) if planet.designation == NO_EPHEMERIS else drawn


def _generated_stars(count: int, rng: random.Random) -> list[_Star]:
    real = {s.kic for s in REAL_STARS}
    kics = [k for k in rng.sample(range(1000000, 13000000), count + len(real)) if k not in real][:count]
    stars = []
    kepler_number = _KEPLER_NAMES_FROM
    for g, kic in enumerate(kics):
        i, koi = len(REAL_STARS) + g, _KOIS_FROM + g
        ra, dec = rng.uniform(280.0, 301.0), rng.uniform(36.5, 52.5)  # the Kepler field
        if i % 10 in (3, 7):  # like K2: candidate-only and false-positive-only hosts
            disposition = "CANDIDATE" if i % 10 == 3 else "FALSE POSITIVE"
            count_kois = 1 if disposition == "FALSE POSITIVE" else rng.randint(1, 2)
            planets = [(f"KOI-{koi}.{j + 1:02d}", disposition, _period(rng)) for j in range(count_kois)]
            stars.append(_Star(kic, koi, f"KOI-{koi}", ra, dec, tuple(planets)))
            continue
        hostname = f"Kepler-{kepler_number}"
        kepler_number += 1
        planets = [(f"{hostname} {'bcd'[j]}", "CONFIRMED", _period(rng)) for j in range(rng.randint(1, 3))]
        if rng.random() < 0.25:
            planets.append((f"KOI-{koi}.{len(planets) + 1:02d}", "CANDIDATE", _period(rng)))
        stars.append(_Star(kic, koi, hostname, ra, dec, tuple(planets)))
    return stars


def _period(rng: random.Random) -> float:
    return round(rng.uniform(0.5, 400.0), 6)


def _build_host(i: int, star: _Star, rng: random.Random, start: date, days: int, fits_rows: int | None,
                obsids: Iterator[int]) -> tuple[Host, list[Observation]]:
    negative = not any(d == "CONFIRMED" for _, d, _ in star.planets)
    planets = []
    for j, (name, disposition, period) in enumerate(star.planets):
        rowupdate = start + timedelta(days=(1 + j) % days if negative else (i + j) % days)
        released = rowupdate - timedelta(days=rng.randint(30, 900))
        planets.append(Planet(name, disposition, rowupdate, released, f"K{star.koi:05d}.{j + 1:02d}", period))
    quarters = star.quarters or tuple(sorted(rng.sample(QUARTERS, rng.randint(2, 4))))
    parts = [_Part(quarter, timestamp, light_curve_rows(rng, fits_rows, (cadences, cadences)))
             for quarter in quarters for timestamp, cadences in quarter_files(quarter)]
    prefix = MAST_PREFIXES[i % 2]
    lc = _lc_observation(star, quarters, parts, prefix, str(next(obsids)))
    observations = [lc]
    if i % 3 == 0:
        observations.append(_sc_observation(star, quarters[0], parts[0].rows, prefix, str(next(obsids))))
    *llcs, bundle = lc.products
    files = tuple(LightCurveFile("Kepler", star.kic, part.quarter, lc.obsid, _key(p.data_uri), p.data_uri, p.size,
                                 part.rows, "lc", lc.t_obs_release)
                  for part, p in zip(parts, llcs, strict=True))
    files += (LightCurveFile("Kepler", star.kic, -1, lc.obsid, _key(bundle.data_uri), bundle.data_uri,
                             bundle.size, sum(part.rows for part in parts), "bundle", lc.t_obs_release),)
    host = Host("Kepler", star.kic, star.hostname, round(star.ra, 6), round(star.dec, 6), tuple(planets),
                quarters, files, True, f"KOI-{star.koi}")
    return host, observations


def _key(data_uri: str) -> str:
    return BUCKET_PREFIX + data_uri.split("/lightcurves/", 1)[1]


def _lc_observation(star: _Star, quarters: tuple[int, ...], parts: list[_Part], prefix: str,
                    obsid: str) -> Observation:
    kic9 = f"{star.kic:09d}"
    obs_id = f"kplr{kic9}_lc_Q{quarter_flags(quarters)}"
    products = []
    for part in parts:
        name = llc_filename(star.kic, part.timestamp)
        products.append(Product(obsid, obs_id, name, prefix + kepler_relative_path(star.kic, name), "LLC",
                                f"Lightcurve Long Cadence (CLC) - Q{part.quarter}", kepler_llc_size(part.rows),
                                "Kepler"))
    tar_name = f"{obs_id}.tar"
    # Its subgroup is LLC too: only its name tells it from a light curve.
    products.append(Product(obsid, obs_id, tar_name, prefix + kepler_relative_path(star.kic, tar_name), "LLC",
                            "Lightcurve Long Cadence (CLC) - all quarters (tar)",
                            bundle_size([p.size for p in products]), "Kepler"))
    t_min, t_max = quarter_mjd(quarters[0])[0], quarter_mjd(quarters[-1])[1]
    return Observation(obsid, obs_id, star.kic, quarters[0], LC_EXPTIME, star.ra, star.dec, t_min, t_max,
                       products[-1].data_uri, tuple(products), "Kepler", t_max + 120.0)


def _sc_observation(star: _Star, quarter: int, rows: int, prefix: str, obsid: str) -> Observation:
    """Short cadence in the host's first quarter; its files are not in the bucket."""
    obs_id = f"kplr{star.kic:09d}_sc_Q{quarter_flags((quarter,))}"
    name = llc_filename(star.kic, quarter_timestamp(quarter), "slc")
    uri = prefix + kepler_relative_path(star.kic, name)
    product = Product(obsid, obs_id, name, uri, "SLC", f"Lightcurve Short Cadence (CSC) - Q{quarter}",
                      30 * kepler_llc_size(rows), "Kepler")
    t_min, t_max = quarter_mjd(quarter)
    return Observation(obsid, obs_id, star.kic, quarter, SC_EXPTIME, star.ra, star.dec, t_min, t_max, uri,
                       (product,), "Kepler", t_max + 120.0)
