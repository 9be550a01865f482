"""The records a :class:`~tests.standins.universe.Universe` is made of: hosts, planets, files, MAST rows."""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date
from typing import Any

MISSIONS = ("K2", "Kepler", "TESS")
# The dispositions that mean "a confirmed planet" in each mission's archive table.
CONFIRMED = {"K2": ("CONFIRMED",), "Kepler": ("CONFIRMED",), "TESS": ("CP", "KP")}
MJD_EPOCH = date(1858, 11, 17)
FALSE_POSITIVES = ("FALSE POSITIVE", "FP")  # planted as eclipsing binaries
# An eclipsing binary's shape: even-numbered primary eclipses (the epoch's is number 1) are this fraction of the
# odd ones' depth, and a secondary eclipse at phase 0.5 is this fraction of it.
EB_EVEN_DEPTH_RATIO = 0.6
EB_SECONDARY_DEPTH_RATIO = 0.3


def target_name(mission: str, target_id: int) -> str:
    """MAST's ``target_name``: ``ktwo201367065``, ``kplr011904151``, ``261136679``."""
    if mission == "K2":
        return f"ktwo{target_id}"
    if mission == "Kepler":
        return f"kplr{target_id:09d}"
    return str(target_id)


def mjd(day: date, hours: float = 0.0) -> float:
    """The MJD of ``day`` at ``hours`` UTC."""
    return float((day - MJD_EPOCH).days) + hours / 24.0


@dataclass(frozen=True)
class LightCurveFile:
    """One object of the public bucket."""

    mission: str
    target_id: int
    unit: int  # K2 campaign, Kepler quarter (-1 for a bundle: all quarters), TESS sector
    obsid: str
    key: str
    data_uri: str
    size: int
    rows: int  # LIGHTCURVE rows (a bundle: the sum over its members)
    kind: str = "lc"  # "lc", "fast-lc" (TESS 20 s) or "bundle" (Kepler per-target .tar)
    released: float = 0.0  # its observation's t_obs_release (MJD)

    @property
    def filename(self) -> str:
        return self.key.rsplit("/", 1)[1]


@dataclass(frozen=True)
class Planet:
    """One archive row: a planet (K2), a KOI (Kepler) or a TOI (TESS)."""

    pl_name: str
    disposition: str  # CONFIRMED / CANDIDATE / FALSE POSITIVE; TESS: CP / KP / PC / FP
    rowupdate: date
    releasedate: date
    designation: str = ""  # Kepler kepoi_name "K00072.01", TESS TOI "144.01", K2 ""
    period: float = 0.0  # days (K2 and TESS pl_orbper, Kepler koi_period)
    # The ephemeris the archive lists and the light curves carry: a mid-transit time (BJD_TDB; None: the archive
    # row has no epoch and nothing is planted), the whole transit's length and its depth (an eclipsing binary's:
    # that of its odd primary eclipses).
    epoch_bjd: float | None = None
    duration_hours: float = 0.0
    depth_ppm: float = 0.0
    eclipsing_binary: bool = False  # a false positive: odd and even eclipses differ, a secondary at phase 0.5
    other_solution: bool = False  # K2: k2pandc also has a non-default row (default_flag 0) for it
    default_lacks_epoch: bool = False  # K2: its default row has no pl_tranmid, only the other solution has one

    @property
    def has_ephemeris(self) -> bool:
        return self.epoch_bjd is not None


@dataclass(frozen=True)
class Host:
    mission: str
    target_id: int  # EPIC, KIC or TIC id
    hostname: str
    ra: float
    dec: float
    planets: tuple[Planet, ...]
    units: tuple[int, ...]  # campaigns, quarters or sectors
    # what the bucket holds for it, every kind; empty if unknown to MAST, or if MAST has only HLSPs of it (the
    # FFI-only TOI of a universe with HLSPs: see universe.hlsps_of)
    files: tuple[LightCurveFile, ...]
    known_to_mast: bool = True
    designation: str = ""  # "KOI-72", "TOI-144", K2 ""

    @property
    def target_name(self) -> str:
        return target_name(self.mission, self.target_id)

    @property
    def has_confirmed_planet(self) -> bool:
        return self.has_disposition(*CONFIRMED[self.mission])

    def has_disposition(self, *dispositions: str) -> bool:
        return any(p.disposition in dispositions for p in self.planets)

    def light_curves(self, include_fast: bool = False) -> tuple[LightCurveFile, ...]:
        """The light curves (never bundles); TESS 20-s ones only if asked."""
        kinds = ("lc", "fast-lc") if include_fast else ("lc",)
        return tuple(f for f in self.files if f.kind in kinds)



@dataclass(frozen=True)
class Product:
    """One row of a ``Mast.Caom.Products`` reply."""

    obsid: str
    obs_id: str
    filename: str
    data_uri: str
    subgroup: str  # productSubGroupDescription: LLC, SLC, TPF; TESS LC, TP, FAST-LC, FAST-TP
    description: str
    size: int
    mission: str = "K2"
    provenance: str = ""  # an HLSP's (QLP, TESS-SPOC, K2SFF, EVEREST): obs_collection HLSP; "" the mission's own


@dataclass(frozen=True)
class Observation:
    """One row of a ``Mast.Caom.Filtered`` reply."""

    obsid: str
    obs_id: str
    target_id: int
    unit: int  # Kepler: the first of its quarters
    t_exptime: float
    ra: float
    dec: float
    t_min: float
    t_max: float
    data_url: str
    products: tuple[Product, ...]
    mission: str = "K2"
    t_obs_release: float = 0.0  # MJD
    provenance: str = ""  # an HLSP's (QLP, TESS-SPOC, K2SFF, EVEREST): obs_collection HLSP; "" the mission's own

    @property
    def target_name(self) -> str:
        return target_name(self.mission, self.target_id)


@dataclass(frozen=True)
class HlspFile:
    """One high-level science product light curve (see :mod:`.hlsp`): MAST lists it and its download service serves
    it; the public bucket holds it only if :func:`.hlsp.in_public_bucket` says so."""

    provenance: str  # QLP, TESS-SPOC, K2SFF or EVEREST
    mission: str  # the project it was made from: TESS or K2
    target_id: int  # TIC or EPIC id
    unit: int  # sector or campaign
    obsid: str
    obs_id: str
    data_uri: str  # mast:HLSP/...
    key: str  # where the public bucket keeps it (or would): mast/hlsp/...
    size: int
    rows: int  # rows of its light-curve table (K2SFF: of each aperture's table)
    exptime: float  # seconds
    released: float = 0.0  # its observation's t_obs_release (MJD)
    in_bucket: bool = False  # the public bucket holds it (else only MAST's download service serves it)

    @property
    def filename(self) -> str:
        return self.key.rsplit("/", 1)[1]


HostBuilder = Callable[..., tuple[Host, list[Observation]]]


def light_curve_rows(rng: random.Random, fits_rows: int | None, real: tuple[int, int]) -> int:
    """Rows of one light curve: ``fits_rows`` plus 0-10 % when given, else a count in the mission's ``real`` range
    (fewest, most). Not given, the draw is the one of 200 rows, ``randint(0, 20)``: a universe of real sizes holds
    the same stars, units and ids as a 200-row one, only its files are larger."""
    if fits_rows is not None:
        return fits_rows + rng.randint(0, fits_rows // 10)
    fewest, most = real
    return fewest + (most - fewest) * rng.randint(0, 20) // 20


def drawn_ephemeris(planet: Planet, rng: random.Random, start_bjd: float, period: float | None = None) -> Planet:
    """``planet`` with a drawn ephemeris: ``period`` (default its own), a duration of 1-6 hours but under a tenth of
    the period, a depth of 300-10,000 ppm and an epoch within a period after ``start_bjd``; a false positive is an
    eclipsing binary."""
    period = planet.period if period is None else period
    duration = min(rng.uniform(1.0, 6.0), 0.099 * period * 24.0)
    depth = rng.uniform(300.0, 10000.0)
    epoch = start_bjd + rng.uniform(0.0, period)
    return replace(planet, period=period, epoch_bjd=round(epoch, 6), duration_hours=round(duration, 4),
                   depth_ppm=round(depth, 1), eclipsing_binary=planet.disposition in FALSE_POSITIVES)


def published_ephemeris(planet: Planet, period: float, epoch_bjd: float, duration_hours: float,
                        depth_ppm: float) -> Planet:
    """``planet`` with the archive's ephemeris (a false positive is an eclipsing binary)."""
    return replace(planet, period=period, epoch_bjd=epoch_bjd, duration_hours=duration_hours, depth_ppm=depth_ppm,
                   eclipsing_binary=planet.disposition in FALSE_POSITIVES)


def build_hosts(stars: Sequence[Any], build_host: HostBuilder, rng: random.Random, start: date, days: int,
                fits_rows: int | None, obsids: Iterator[int]) -> tuple[list[Host], list[Observation]]:
    """Every star's host and observations, in order: ``build_host(i, star, rng, start, days, fits_rows, obsids)``."""
    hosts: list[Host] = []
    observations: list[Observation] = []
    for i, star in enumerate(stars):
        host, host_obs = build_host(i, star, rng, start, days, fits_rows, obsids)
        hosts.append(host)
        observations.extend(host_obs)
    return hosts, observations
