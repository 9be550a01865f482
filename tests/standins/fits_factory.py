"""Stand-in light-curve FITS files: Kepler and K2 long cadence (``*_llc.fits``), TESS SPOC (``*_lc.fits``), and
the TESS-SPOC HLSP (``hlsp_tess-spoc_*_lc.fits``, the SPOC layout from full-frame images; the other HLSPs are in
:mod:`.hlsp_fits`).

Each file follows its product's layout (:mod:`.layouts`): the HDUs, the LIGHTCURVE columns (names, order,
formats, units) and every header card (keywords, order, comments) are those of a genuine MAST file of the
product (``tests/fixtures/real_fits/``, the template), with this target's values put in: ids, OBJECT, quarter,
campaign or sector, detector, position, magnitude, the observation's span and dates. The stellar parameters
other than the magnitude, the processing keywords and PDC's goodness figures stay the template's.

As in MAST's files, every HDU carries ``CHECKSUM`` and no ``DATASUM`` (the whole HDU sums to -0; the checksum's
comment carries the file's DATE, so the bytes are deterministic), some rows have a NaN ``TIME`` (data gaps) or NaN
fluxes, and 8-30 % of the cadences carry the mission's usual quality flags (``_KEPLER_FLAGS``, ``_K2_FLAGS``,
``_TESS_FLAGS``). Stray light lights a long stretch of each orbit in camera 1's TESS files.

Size: a row is 100 bytes and the headers are the templates', so 4,000 K2 rows give 0.43 MB and a TESS file of
20,000 rows 2.0 MB, as MAST's do. :func:`llc_size` (K2), :func:`kepler_llc_size` and :func:`tess_lc_size` give a
file's length without building it.

The flux is that of a star: every file has a level of its own (as the segments of real light curves do), a
variability of two sinusoids (0.3-0.6 % in all, periods of 8-30 days; the same star varies alike in all its files:
:func:`stellar_variability`) and the transits of the host's planets (:class:`Transit`) at their archive
ephemerides: trapezoids (ingress and egress 15 % of the duration each, a flat bottom) of the listed depth, where
:func:`transit_times` says; a false positive is an eclipsing binary, its even-numbered eclipses shallower than its
odd ones and a secondary eclipse at phase 0.5 (:func:`planted_depth_ppm`). Variability and transits draw nothing
from a file's own random generator: its flags, noise and other columns are those of a file without them.

With ``planted=True`` the flux also carries a sinusoid of period :func:`planted_period_days` (1 % deep, far
above the noise and the variability) on every cadence: the quick-look periodogram must find it among the good
ones. Nothing else in the file changes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

import numpy as np
from astropy.io import fits

from ..real_fits import K2_C13, KEPLER_90_Q3, TESS_S41, TESS_SPOC_S24, RealFile
from .layouts import K2_LLC, KEPLER_LLC, KEPLER_LONG_CADENCE_DAYS, TESS_SPOC_FFI_LC, TESS_SPOC_LC, Column, Layout
from .records import EB_EVEN_DEPTH_RATIO, EB_SECONDARY_DEPTH_RATIO, Planet
from .timeline import KEPLER_BJD_OFFSET, MJD_TO_JD, TESS_BJD_OFFSET, quarter_mjd, sector_mjd

LONG_CADENCE_DAYS = KEPLER_LONG_CADENCE_DAYS  # 29.4 minutes
APERTURE_SHAPE = (12, 11)  # rows, columns
PLANTED_AMPLITUDE = 0.01  # of the mean flux: as deep as the transits, 100 times the noise

_FIRST_CADENCE_DAYS = 0.5  # Kepler and TESS light curves start this long after their quarter / sector
_BLOCK = 2880
_ROW_BYTES = 100
# Epochs of cadence number 0 (BKJD, BTJD), from the genuine files' first CADENCENO and TIME.
_KEPLER_CADENCE_EPOCH = 108.92
_TESS_CADENCE_EPOCH = 1227.46
_KEPLER_MODULES = (2, 3, 4, *range(6, 21), 22, 23, 24)  # the 21 science modules, 4 outputs (channels) each
_FORMATS = {"D": ">f8", "E": ">f4", "J": ">i4"}
_MJD_ZERO = datetime(1858, 11, 17)
_TIME_OFFSETS = {"BKJD": KEPLER_BJD_OFFSET, "BTJD": TESS_BJD_OFFSET}  # BJD of a file time's zero
_SYSTEMS = {"K2": "BKJD", "Kepler": "BKJD", "TESS": "BTJD"}
INGRESS_FRACTION = 0.15  # of a transit's duration, and as much for the egress
_VARIABILITY_STREAM = 57_885  # seeds a star's variability (with the universe's seed and its id), apart from files


def planted_period_days(target_id: int, unit: int, cadence_days: float) -> float:
    """The period of the sinusoid in a planted file: 20.38 to 49.38 cadences, so that even a 200-row file holds 4
    cycles; not a whole number of cadences, so that the samples do not repeat the same few phases."""
    return cadence_days * (20.382 + (target_id * 7 + unit) % 30)


def k2_campaign_start_bkjd(campaign: int) -> float:
    """TIME of a K2 file's first cadence (BKJD); a split campaign's halves (91, 92) start with their campaign (9)."""
    return 1940.0 + 85.0 * (campaign if campaign < 90 else campaign // 10)


# --- the star: variability and transits ------------------------------------------------------------------------

@dataclass(frozen=True)
class Transit:
    """A periodic dip planted in a host's light curves: a planet's transits, or an eclipsing binary's eclipses."""

    period_days: float
    epoch_bjd: float  # mid-transit of transit number 1 (BJD_TDB)
    duration_hours: float  # first to last contact
    depth_ppm: float  # of the flat bottom (an eclipsing binary: of its odd-numbered primary eclipses)
    eclipsing_binary: bool = False

    @classmethod
    def of(cls, planet: Planet) -> Transit | None:
        """The planet's transits at its archive ephemeris; None if it has none (nothing is planted)."""
        if planet.epoch_bjd is None or planet.period <= 0 or planet.duration_hours <= 0:
            return None
        return cls(planet.period, planet.epoch_bjd, planet.duration_hours, planet.depth_ppm, planet.eclipsing_binary)


def transits_of(planets: tuple[Planet, ...]) -> tuple[Transit, ...]:
    """What a host's light curves carry: the transits of those of its planets that have an ephemeris."""
    return tuple(t for t in (Transit.of(p) for p in planets) if t is not None)


def _as_transit(transit: Transit | Planet) -> Transit:
    found = transit if isinstance(transit, Transit) else Transit.of(transit)
    if found is None:
        raise ValueError(f"{transit.pl_name} has no ephemeris: nothing is planted for it")
    return found


def transit_times(transit: Transit | Planet, start: float, end: float, system: str = "BKJD",
                  secondary: bool = False) -> np.ndarray:
    """Mid-times, in ``system`` ("BKJD" for Kepler and K2, "BTJD" for TESS), of the planted transits (or, with
    ``secondary``, of an eclipsing binary's secondary eclipses; a planet has none) from ``start`` to ``end``."""
    transit = _as_transit(transit)
    if secondary and not transit.eclipsing_binary:
        return np.empty(0)
    epoch = transit.epoch_bjd - _TIME_OFFSETS[system] + (0.5 * transit.period_days if secondary else 0.0)
    first, last = math.ceil((start - epoch) / transit.period_days), math.floor((end - epoch) / transit.period_days)
    return epoch + transit.period_days * np.arange(first, last + 1, dtype=np.float64)


def transit_number(transit: Transit | Planet, time: float, system: str = "BKJD") -> int:
    """The number of the transit nearest ``time``: 1 at the epoch, 2 a period later, 0 a period before."""
    transit = _as_transit(transit)
    return 1 + round((time - (transit.epoch_bjd - _TIME_OFFSETS[system])) / transit.period_days)


def planted_depth_ppm(transit: Transit | Planet, number: int = 1, secondary: bool = False) -> float:
    """The depth planted for transit ``number`` (see :func:`transit_number`): the listed one, but for an eclipsing
    binary ``EB_EVEN_DEPTH_RATIO`` of it on even numbers and ``EB_SECONDARY_DEPTH_RATIO`` of it for a secondary."""
    transit = _as_transit(transit)
    if not transit.eclipsing_binary:
        return 0.0 if secondary else transit.depth_ppm
    if secondary:
        return EB_SECONDARY_DEPTH_RATIO * transit.depth_ppm
    return transit.depth_ppm * (EB_EVEN_DEPTH_RATIO if number % 2 == 0 else 1.0)


def transit_model(transits: tuple[Transit, ...], time: np.ndarray, system: str = "BKJD") -> np.ndarray:
    """The fraction of the star's light left at each ``time`` (1 outside every transit)."""
    model = np.ones_like(time, dtype=np.float64)
    for transit in transits:
        epoch = transit.epoch_bjd - _TIME_OFFSETS[system]
        period, duration = transit.period_days, transit.duration_hours / 24.0
        cycles = (time - epoch) / period
        number = 1 + np.rint(cycles)
        depth = np.where(number % 2 == 0, planted_depth_ppm(transit, 2), planted_depth_ppm(transit, 1))
        model -= 1e-6 * depth * _trapezoid((cycles - np.rint(cycles)) * period, duration)
        if transit.eclipsing_binary:
            half = cycles - 0.5
            model -= 1e-6 * planted_depth_ppm(transit, secondary=True) * _trapezoid(
                (half - np.rint(half)) * period, duration)
    return model


def _trapezoid(offset: np.ndarray, duration: float) -> np.ndarray:
    """1 on the flat bottom, 0 outside the transit, linear in between; ``offset`` from mid-transit (days)."""
    ramp = INGRESS_FRACTION * duration
    return np.clip((duration / 2 - np.abs(offset)) / ramp, 0.0, 1.0)


def stellar_variability(seed: int, target_id: int, time: np.ndarray) -> np.ndarray:
    """The star's own variability at each ``time`` (a factor around 1): two sinusoids of 0.2-0.4 % and 0.1-0.2 %,
    periods of 8-30 days (spots rotating with the star, as the planet hosts' rotation periods go), drawn for the
    star from a generator of its own (the same in all its files). Ten to a hundred times a shallow transit's depth
    and changing within days: a trend fitted without the transits masked, or straight across a long gap, bends
    into the transits."""
    rng = np.random.default_rng([seed, target_id, _VARIABILITY_STREAM])
    amplitudes = (rng.uniform(0.002, 0.004), rng.uniform(0.001, 0.002))
    periods, phases = rng.uniform(8.0, 30.0, 2), rng.uniform(0.0, 2.0 * np.pi, 2)
    return 1.0 + sum(a * np.sin(2.0 * np.pi * time / p + f)
                     for a, p, f in zip(amplitudes, periods, phases, strict=True))


# --- quality flags ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Run:
    """One stretch of flagged cadences, placed as fractions of the file (at least one cadence long)."""

    bits: int
    start: float
    length: float
    no_data: bool = False  # a data gap: NaN TIME and fluxes, only these bits set


@dataclass(frozen=True)
class _Every:
    """Flags set every ``days`` days for ``duration_days`` (at least one cadence): desaturations, thruster firings."""

    bits: int
    days: float
    duration_days: float


@dataclass(frozen=True)
class _Flags:
    """A mission's quality flags, as its genuine files show them, and which of them leave NaN fluxes."""

    runs: tuple[_Run, ...]
    every: tuple[_Every, ...]
    scattered: tuple[tuple[int, float], ...]  # (bits, fraction of the cadences), at random cadences
    no_flux_bits: int  # SAP flux, background and centroids are NaN where any of these is set
    no_pdcsap_bits: int  # PDCSAP flux too (it is NaN wherever SAP flux is)

    def with_runs(self, *runs: _Run) -> _Flags:
        return _Flags(self.runs + runs, self.every, self.scattered, self.no_flux_bits, self.no_pdcsap_bits)


# Kepler bits (Archive Manual table 2-3): 4 coarse point, 8 Earth point, 16 reaction-wheel zero crossing,
# 32 desaturation, 64 Argabrightening, 128 cosmic ray in the aperture, 2048 impulsive outlier, 4096 Argabrightening
# on the CCD, 8192 cosmic ray in the collateral data, 16384 detector anomaly, 32768 no fine point, 65536 no data,
# 262144 rolling band. Kepler-90 Q3: 12 % flagged, 142 NaN times in 3 gaps (98312), a desaturation every 3 days.
_KEPLER_FLAGS = _Flags(
    runs=(_Run(32768 | 4, 0.228, 0.009), _Run(65536 | 32768 | 8, 0.34, 0.01, no_data=True),
          _Run(65536 | 32768 | 8, 0.686, 0.023, no_data=True)),
    every=(_Every(32768 | 32, 2.98, 0.0), _Every(16, 3.1, 0.12)),
    scattered=((8192, 0.035), (128, 0.02), (16384, 0.002), (262144, 0.002), (4096 | 64, 0.001), (2048, 0.0007)),
    no_flux_bits=32768 | 16384,
    no_pdcsap_bits=32768 | 16384,
)
# K2 adds 524288 possible thruster firing (first and last cadence) and 1048576 thruster firing, every 6 hours
# (PDCSAP NaN there). C13: 8 % flagged; C102: 30 %, 691 NaN times (a gap of 685 cadences).
_K2_FLAGS = _Flags(
    runs=(_Run(524288, 0.0, 0.0), _Run(524288, 1.0, 0.0), _Run(65536 | 32768, 0.152, 0.0008, no_data=True)),
    every=(_Every(1048576, 12 * LONG_CADENCE_DAYS, 0.0), _Every(32768 | 32, 96 * LONG_CADENCE_DAYS, 0.0)),
    scattered=((8192, 0.03), (2048, 0.001), (16384, 0.001), (4096, 0.0005)),
    no_flux_bits=32768 | 16384,
    no_pdcsap_bits=32768 | 16384 | 1048576,
)
_K2_SPLIT_CAMPAIGN_GAP = _Run(65536 | 32768, 0.104, 0.17, no_data=True)
# TESS bits (SDPDD table 28): 4 coarse point, 8 Earth point, 32 momentum dump, 128 manual exclude, 512 impulsive
# outlier, 2048 stray light. S1: 10 % flagged, 815 NaN times in one gap between the orbits, a dump every 2.5 days,
# 128 on 5 % of the cadences (PDCSAP NaN on every cadence lightkurve's default mask drops).
_TESS_FLAGS = _Flags(
    runs=(_Run(8, 0.0, 0.0), _Run(8, 0.475, 0.04, no_data=True)),
    every=(_Every(32, 3.125, 0.011), _Every(4, 3.125, 0.002)),  # a momentum dump: coarse pointing, then fine
    scattered=((128, 0.05), (512, 0.0004)),
    no_flux_bits=0,
    no_pdcsap_bits=128 | 32 | 8 | 4,
)
_TESS_STRAY_LIGHT = (_Run(2048, 0.0, 0.07), _Run(2048, 0.515, 0.07))  # the start of each orbit


@dataclass(frozen=True)
class _Quality:
    flags: np.ndarray  # int32, the quality column
    no_data: np.ndarray  # bool: NaN TIME
    no_flux: np.ndarray  # bool: NaN SAP flux, background, centroids
    no_pdcsap: np.ndarray  # bool: NaN PDCSAP flux


def _quality(spec: _Flags, rows: int, cadence_days: float, rng: np.random.Generator) -> _Quality:
    flags = np.zeros(rows, dtype=np.int32)
    no_data = np.zeros(rows, dtype=bool)
    for (bits, fraction), draw in zip(spec.scattered, rng.random((len(spec.scattered), rows)), strict=True):
        flags[draw < fraction] |= bits
    phase = rng.random()  # shared: events of one period coincide (a K2 desaturation is also a thruster firing)
    for every in spec.every:
        step = max(1, round(every.days / cadence_days))
        width = max(1, round(every.duration_days / cadence_days))
        starts = np.arange(int(phase * step), rows, step)
        cadences = (starts[:, None] + np.arange(width)).ravel()
        flags[cadences[cadences < rows]] |= every.bits
    for run in spec.runs if rows else ():
        first = min(rows - 1, int(run.start * rows))
        stop = first + max(1, round(run.length * rows))
        if run.no_data:  # gaps stay inside the file: its first and last cadences have a time, as in MAST's
            first, stop = max(1, first), min(rows - 1, stop)
            flags[first:stop] = run.bits
            no_data[first:stop] = True
        else:
            flags[first:stop] |= run.bits
    no_flux = no_data | (flags & spec.no_flux_bits != 0)
    return _Quality(flags, no_data, no_flux, no_flux | (flags & spec.no_pdcsap_bits != 0))


# --- the three products ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Target:
    """What one file says about its star and observation, besides the table."""

    mission: str
    target_id: int
    ra: float
    dec: float
    start: float  # first cadence, in the file's time system (BKJD or BTJD)
    cadence_days: float
    primary: Mapping[str, object]  # the mission's own primary keywords: unit, detector, magnitude
    seed: int = 0  # the universe's: with the target id, it seeds the star's variability
    transits: tuple[Transit, ...] = ()  # the host's planets' (or eclipsing binary's) transits
    product: str = ""  # the template and layout to follow (a key of _TEMPLATES); "" the mission's own

    @property
    def kind(self) -> str:
        return self.product or self.mission


def make_llc_fits(epic_id: int, campaign: int, rows: int, seed: int, planted: bool = False,
                  ra: float = 0.0, dec: float = 0.0, transits: tuple[Transit, ...] = ()) -> bytes:
    """Return the bytes of a K2 LLC file (TIME in BJD - 2454833) with ``transits``; the same inputs give the same
    bytes."""
    rng = np.random.default_rng([seed, epic_id, campaign])
    channel = 1 + (epic_id + campaign) % 84
    target = _Target("K2", epic_id, ra, dec, k2_campaign_start_bkjd(campaign),
                     LONG_CADENCE_DAYS, {"CAMPAIGN": campaign, **_kepler_detector(channel),
                                         "KEPMAG": round(9.0 + (epic_id % 700) / 100.0, 3)}, seed, transits)
    split = campaign > 90  # C91/C92, C101/C102, C111/C112: the genuine C102 file has a gap of 685 cadences
    flags = _K2_FLAGS.with_runs(_K2_SPLIT_CAMPAIGN_GAP) if split else _K2_FLAGS
    period = planted_period_days(epic_id, campaign, LONG_CADENCE_DAYS) if planted else None
    return _build(target, rows, rng, flags, period)


def llc_size(rows: int) -> int:
    """Byte length of any file made by :func:`make_llc_fits` with ``rows`` rows (without building it)."""
    return _size_without_rows("K2") + _table_bytes(rows)


def make_kepler_llc_fits(kic: int, quarter: int, rows: int, seed: int, planted: bool = False,
                         ra: float = 0.0, dec: float = 0.0, first_cadence: int = 0,
                         transits: tuple[Transit, ...] = ()) -> bytes:
    """Return the bytes of a Kepler long-cadence file of one quarter (TIME in BJD - 2454833) with ``transits``.

    ``first_cadence``: the file starts that many cadences into the quarter (the second file of a quarter cut in
    two, as Q4 was).
    """
    rng = np.random.default_rng([seed, kic, quarter, 1800, first_cadence])
    season = (quarter - 2) % 4  # the spacecraft rolls every quarter; Q2 was season 0
    skygroup = 1 + kic % 84
    channel = 1 + (skygroup - 1 + 21 * season) % 84
    start = (quarter_mjd(quarter)[0] + _FIRST_CADENCE_DAYS + MJD_TO_JD - KEPLER_BJD_OFFSET
             + first_cadence * LONG_CADENCE_DAYS)
    target = _Target("Kepler", kic, ra, dec, start, LONG_CADENCE_DAYS,
                     {"QUARTER": quarter, "SEASON": season, "SKYGROUP": skygroup, **_kepler_detector(channel),
                      "KEPMAG": round(9.0 + (kic % 700) / 100.0, 3)}, seed, transits)
    period = planted_period_days(kic, quarter, LONG_CADENCE_DAYS) if planted else None
    return _build(target, rows, rng, _KEPLER_FLAGS, period)


def kepler_llc_size(rows: int) -> int:
    """Byte length of a :func:`make_kepler_llc_fits` file with ``rows`` rows (without building it)."""
    return _size_without_rows("Kepler") + _table_bytes(rows)


def make_tess_lc_fits(tic: int, sector: int, rows: int, seed: int, cadence_s: int = 120,
                      ra: float = 0.0, dec: float = 0.0, planted: bool = False,
                      transits: tuple[Transit, ...] = ()) -> bytes:
    """Return the bytes of a TESS SPOC light curve (2-min, or 20-s with ``cadence_s=20``; TIME in BTJD) with
    ``transits``."""
    rng = np.random.default_rng([seed, tic, sector, cadence_s])
    camera, ccd = 1 + (tic + sector) % 4, 1 + (tic // 4 + sector) % 4
    cadence_days = cadence_s / 86400.0
    start = sector_mjd(sector)[0] + _FIRST_CADENCE_DAYS + MJD_TO_JD - TESS_BJD_OFFSET
    target = _Target("TESS", tic, ra, dec, start, cadence_days,
                     {"SECTOR": sector, "CAMERA": camera, "CCD": ccd,
                      "TESSMAG": round(6.0 + (tic % 900) / 100.0, 3)}, seed, transits)
    flags = _TESS_FLAGS.with_runs(*_TESS_STRAY_LIGHT) if camera == 1 else _TESS_FLAGS
    period = planted_period_days(tic, sector, cadence_days) if planted else None
    return _build(target, rows, rng, flags, period)


def tess_lc_size(rows: int) -> int:
    """Byte length of a :func:`make_tess_lc_fits` file with ``rows`` rows, either cadence (without building it)."""
    return _size_without_rows("TESS") + _table_bytes(rows)


def make_tess_spoc_fits(tic: int, sector: int, rows: int, seed: int, exptime_s: float = 1800.0,
                        ra: float = 0.0, dec: float = 0.0, planted: bool = False,
                        transits: tuple[Transit, ...] = ()) -> bytes:
    """Return the bytes of a TESS-SPOC light curve (an HLSP from full-frame images, ``exptime_s`` cadence): the
    SPOC layout, headers from the genuine TESS-SPOC file (CHECKSUM, no DATASUM), with ``transits``."""
    rng = np.random.default_rng([seed, tic, sector, round(exptime_s), 7])
    camera, ccd = 1 + (tic + sector) % 4, 1 + (tic // 4 + sector) % 4  # as the star's SPOC files
    cadence_days = exptime_s / 86400.0
    start = sector_mjd(sector)[0] + _FIRST_CADENCE_DAYS + MJD_TO_JD - TESS_BJD_OFFSET
    target = _Target("TESS", tic, ra, dec, start, cadence_days,
                     {"SECTOR": sector, "CAMERA": camera, "CCD": ccd,
                      "TESSMAG": round(6.0 + (tic % 900) / 100.0, 3)}, seed, transits, "TESS-SPOC")
    flags = _TESS_FLAGS.with_runs(*_TESS_STRAY_LIGHT) if camera == 1 else _TESS_FLAGS
    period = planted_period_days(tic, sector, cadence_days) if planted else None
    return _build(target, rows, rng, flags, period)


def tess_spoc_size(rows: int) -> int:
    """Byte length of a :func:`make_tess_spoc_fits` file with ``rows`` rows, any cadence (without building it)."""
    return _size_without_rows("TESS-SPOC") + _table_bytes(rows)


def _kepler_detector(channel: int) -> dict[str, int]:
    return {"CHANNEL": channel, "MODULE": _KEPLER_MODULES[(channel - 1) // 4], "OUTPUT": 1 + (channel - 1) % 4}


def _table_bytes(rows: int) -> int:
    return _BLOCK * math.ceil(rows * _ROW_BYTES / _BLOCK)


@cache
def _size_without_rows(mission: str) -> int:
    if mission == "K2":
        return len(make_llc_fits(201000000, 1, 0, 0))
    if mission == "Kepler":
        return len(make_kepler_llc_fits(11904151, 1, 0, 0))
    if mission == "TESS-SPOC":
        return len(make_tess_spoc_fits(261136679, 1, 0, 0))
    return len(make_tess_lc_fits(261136679, 1, 0, 0))


# --- building a file ----------------------------------------------------------------------------------------

_LAYOUTS: dict[str, Layout] = {"K2": K2_LLC, "Kepler": KEPLER_LLC, "TESS": TESS_SPOC_LC,
                               "TESS-SPOC": TESS_SPOC_FFI_LC}
_TEMPLATES: dict[str, RealFile] = {"K2": K2_C13, "Kepler": KEPLER_90_Q3, "TESS": TESS_S41,
                                   "TESS-SPOC": TESS_SPOC_S24}
_ID_KEYWORD = {"K2": "KEPLERID", "Kepler": "KEPLERID", "TESS": "TICID"}
_OBJECT_PREFIX = {"K2": "EPIC", "Kepler": "KIC", "TESS": "TIC"}


@cache
def _template(kind: str) -> tuple[fits.Header, fits.Header, fits.Header]:
    """The genuine file's three headers (``kind``: a mission, or TESS-SPOC); its columns must be the layout's."""
    real = _TEMPLATES[kind]
    with fits.open(real.path) as hdus:
        columns = tuple(Column(c.name, c.format, c.unit) for c in hdus["LIGHTCURVE"].columns)
        names = tuple(hdu.name for hdu in hdus)
        headers = tuple(hdu.header.copy() for hdu in hdus)
    layout = _LAYOUTS[kind]
    if columns != layout.columns or names != layout.hdus:
        raise ValueError(f"{real.name}: its HDUs or LIGHTCURVE columns are not the {layout.product} layout's")
    return headers


def _build(target: _Target, rows: int, rng: np.random.Generator, spec: _Flags, period: float | None) -> bytes:
    primary, lightcurve, aperture = _template(target.kind)
    quality = _quality(spec, rows, target.cadence_days, rng)
    image, corner = _aperture(target.mission, target.target_id, rng)
    table = _table(target, quality, corner, image.shape, rng, period)
    time = table["TIME"][np.isfinite(table["TIME"])]
    first, last = (float(time[0]), float(time[-1])) if time.size else (target.start, target.start)
    span = _Span(first - target.cadence_days / 2, last + target.cadence_days / 2, first, last)
    date = _file_date(target.mission, span, primary["DATE"])
    common = {"OBJECT": f"{_OBJECT_PREFIX[target.mission]} {target.target_id}",
              _ID_KEYWORD[target.mission]: target.target_id, "RA_OBJ": target.ra, "DEC_OBJ": target.dec}
    primary = _filled(primary, {**common, **target.primary, "DATE": date,
                                **(_span_cards(span, primary) if target.mission == "TESS" else {})})
    lightcurve = _filled(_lightcurve_template(lightcurve, target), {
        **common, "NAXIS2": rows, "TIMEDEL": target.cadence_days, **_span_cards(span, lightcurve),
        **_exposure_cards(span, lightcurve, target)})
    aperture = _filled(aperture, {**common, **_aperture_cards(image, corner, target)})
    return b"".join((_hdu_bytes(primary, b"", date), _hdu_bytes(lightcurve, table.tobytes(), date),
                     _hdu_bytes(aperture, image.astype(">i4").tobytes(), date)))


def _table(target: _Target, quality: _Quality, corner: tuple[int, int], shape: tuple[int, int],
           rng: np.random.Generator, period: float | None) -> np.ndarray:
    rows = len(quality.flags)
    layout = _LAYOUTS[target.kind]
    table = np.zeros(rows, dtype=[(c.name, _FORMATS[c.tform]) for c in layout.columns])
    grid = target.start + target.cadence_days * np.arange(rows, dtype=np.float64)
    base = rng.uniform(1e4, 1e5)
    flux = (base + rng.normal(0.0, base * 1e-4, rows)).astype(np.float32)

    def small(scale: float) -> np.ndarray:
        return rng.normal(0.0, scale, rows).astype(np.float32)

    column, row = corner[0] + shape[1] / 2, corner[1] + shape[0] / 2
    epoch = _TESS_CADENCE_EPOCH if target.mission == "TESS" else _KEPLER_CADENCE_EPOCH
    table["TIME"] = np.where(quality.no_data, np.nan, grid)
    table["TIMECORR"] = 0.003 + 0.002 * np.sin(2 * np.pi * grid / 365.25)
    table["CADENCENO"] = round((target.start - epoch) / target.cadence_days) + np.arange(rows)
    table["SAP_FLUX_ERR"] = np.abs(small(10.0))
    table["SAP_BKG"] = np.abs(small(50.0))
    table["SAP_BKG_ERR"] = np.abs(small(1.0))
    table["PDCSAP_FLUX_ERR"] = np.abs(small(10.0))
    table[layout.quality_column] = quality.flags
    for axis, middle in (("1", column), ("2", row)):
        for kind in ("PSF", "MOM"):
            table[f"{kind}_CENTR{axis}"] = middle + rng.normal(0.0, 0.01, rows)
            table[f"{kind}_CENTR{axis}_ERR"] = np.abs(small(0.001))
        table[f"POS_CORR{axis}"] = small(0.05)
    if period is not None:  # after every draw from rng, so the rest of the file is as without it
        flux *= (1.0 + PLANTED_AMPLITUDE * np.sin(2.0 * np.pi * (grid - target.start) / period)).astype(np.float32)
    star = stellar_variability(target.seed, target.target_id, grid) * transit_model(
        target.transits, grid, _SYSTEMS[target.mission])
    flux = (flux * star).astype(np.float32)
    table["PDCSAP_FLUX"] = flux
    table["SAP_FLUX"] = flux * _sap_trend(grid, planted=period is not None)
    for name in table.dtype.names:
        if name.startswith(("SAP_FLUX", "SAP_BKG", "PSF_", "MOM_", "POS_")):
            table[name][quality.no_flux] = np.nan
        elif name.startswith("PDCSAP_"):
            table[name][quality.no_pdcsap] = np.nan
        if name.startswith("PSF_") and target.mission == "TESS":  # SPOC fits no PSF: NaN throughout
            table[name] = np.nan
    return table


def _sap_trend(time: np.ndarray, planted: bool) -> np.ndarray | np.float32:
    """SAP flux is PDCSAP before the systematics are removed: 0.98 of it, and in planted files also a slow
    drift over the observation, as pointing and focus change (so quick-looks show the two apart)."""
    if not planted or len(time) < 2:
        return np.float32(0.98)
    span = max(float(time[-1] - time[0]), 1e-9)
    return (0.98 * (1.0 - 0.02 * ((time - time[0]) / span) ** 2)).astype(np.float32)


def _aperture(mission: str, target_id: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple[int, int]]:
    """The pixel mask, with the genuine files' bit values, and the CCD column and row of its first pixel.

    Kepler/K2: 9 collected, 13 also used for the centroid, 15 also in the optimal aperture, 0 not collected
    (the corners). TESS: the CCD output's bit (64, 128 or 256 in the genuine files) plus 1 collected, 5 background,
    11 optimal aperture and centroid.
    """
    rows, columns = APERTURE_SHAPE
    y, x = np.mgrid[:rows, :columns]
    distance = np.hypot(y - (rows - 1) / 2 + rng.uniform(-0.5, 0.5), x - (columns - 1) / 2 + rng.uniform(-0.5, 0.5))
    radius = rng.uniform(1.5, 2.5)
    if mission == "TESS":
        output = 64 << (target_id % 3)
        image = output + np.where(distance < radius, 11, np.where(distance < radius + 2, 1, 5))
    else:
        image = np.where(distance < radius, 15, np.where(distance < radius + 1.5, 13, 9))
        image[distance > min(rows, columns) / 2 + 1] = 0
    corner = (int(rng.integers(20, 1000)), int(rng.integers(20, 1000)))
    return image.astype(np.int32), corner


# --- headers ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class _Span:
    tstart: float  # start of the first cadence, end of the last (file time system)
    tstop: float
    first: float  # mid-points of the first and last cadences with a time
    last: float


def _filled(template: fits.Header, values: Mapping[str, object]) -> fits.Header:
    """A copy of ``template`` with these keywords' values replaced (order and comments kept)."""
    header = template.copy()
    for keyword, value in values.items():
        if keyword not in header:
            raise KeyError(f"the template header has no {keyword} card")
        header[keyword] = value
    return header


def _lightcurve_template(template: fits.Header, target: _Target) -> fits.Header:
    """TESS names its readout-delay keyword after the camera and CCD (TMOFST13: camera 1, CCD 3)."""
    if target.mission != "TESS":
        return template
    header = template.copy()
    old = next(k for k in header if k.startswith("TMOFST"))
    camera, ccd = target.primary["CAMERA"], target.primary["CCD"]
    new = f"TMOFST{camera}{ccd}"
    if new != old:
        header.rename_keyword(old, new)
    header.comments[new] = f"(s) readout delay for camera {camera} and ccd {ccd}"
    return header


def _span_cards(span: _Span, template: fits.Header) -> dict[str, object]:
    offset = TESS_BJD_OFFSET if template["TELESCOP"] == "TESS" else KEPLER_BJD_OFFSET
    zulu = str(template["DATE-OBS"]).endswith("Z")  # Kepler writes UTC dates with a Z, TESS without
    cards = {"TSTART": span.tstart, "TSTOP": span.tstop,
             "DATE-OBS": _utc_text(span.tstart + offset, zulu), "DATE-END": _utc_text(span.tstop + offset, zulu)}
    if "LC_START" in template:
        cards |= {"LC_START": span.first + offset - MJD_TO_JD, "LC_END": span.last + offset - MJD_TO_JD}
    return cards


def _exposure_cards(span: _Span, template: fits.Header, target: _Target) -> dict[str, object]:
    elapsed = span.tstop - span.tstart
    cards = {"TELAPSE": elapsed, "LIVETIME": elapsed * template["DEADC"], "EXPOSURE": elapsed * template["DEADC"]}
    if target.mission == "TESS":
        cards["NUM_FRM"] = round(target.cadence_days * 86400 / template["FRAMETIM"])
    return cards


def _aperture_cards(image: np.ndarray, corner: tuple[int, int], target: _Target) -> dict[str, object]:
    rows, columns = image.shape
    return {"NAXIS1": columns, "NAXIS2": rows, "CRPIX1": (columns + 1) / 2, "CRPIX2": (rows + 1) / 2,
            "CRVAL1": target.ra, "CRVAL2": target.dec, "CRVAL1P": corner[0], "CRVAL2P": corner[1],
            "NPIXSAP": int(np.count_nonzero(image & 2))}


def _utc_text(jd: float, zulu: bool) -> str:
    """Calendar date of a Julian date (the small barycentric and TDB-UTC offsets are left out)."""
    moment = _MJD_ZERO + timedelta(milliseconds=round((jd - MJD_TO_JD) * 86_400_000))
    return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}" + ("Z" if zulu else "")


def _file_date(mission: str, span: _Span, template_date: str) -> str:
    """Kepler's files all come from the 2015 reprocessing (DR25); K2's were written about two months after
    their campaign, TESS's three weeks after their sector."""
    if mission == "Kepler":
        return template_date
    offset = TESS_BJD_OFFSET if mission == "TESS" else KEPLER_BJD_OFFSET
    days = 21 if mission == "TESS" else 60
    return (_MJD_ZERO + timedelta(days=span.tstop + offset - MJD_TO_JD + days)).strftime("%Y-%m-%d")


# --- checksum -------------------------------------------------------------------------------------------------

def _hdu_bytes(header: fits.Header, data: bytes, date: str) -> bytes:
    """The HDU, header then data padded to whole blocks, its CHECKSUM making the whole sum to -0 (no DATASUM)."""
    header["CHECKSUM"] = ("0" * 16, f"HDU checksum updated {date}T00:00:00Z")
    text = header.tostring().encode("ascii")
    data += b"\0" * (-len(data) % _BLOCK)
    total = _fold(_ones_sum(text) + _ones_sum(data))
    at = text.index(b"CHECKSUM= '") + len("CHECKSUM= '")
    return text[:at] + _encode(~total & 0xFFFFFFFF) + text[at + 16:] + data


def _ones_sum(data: bytes) -> int:
    return _fold(int(np.frombuffer(data, dtype=">u4").sum(dtype=np.uint64)))


def _fold(total: int) -> int:
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


_NOT_IN_CHECKSUMS = frozenset(b":;<=>?@[\\]^_`")  # punctuation between the digits and letters


def _encode(value: int) -> bytes:
    """The 16 characters whose bytes, put where ``'0000000000000000'`` was, add ``value`` to the HDU's sum
    (FITS checksum convention: each byte split over four characters of '0' + n, then rotated by one because the
    value starts at byte 11 of its card)."""
    characters = [0] * 16
    for i, byte in enumerate(value.to_bytes(4, "big")):
        quotient, remainder = byte // 4 + 0x30, byte % 4
        group = [quotient + remainder, quotient, quotient, quotient]
        changed = True
        while changed:  # move units between pairs until no character is punctuation; pair sums stay the same
            changed = False
            for j in (0, 2):
                if group[j] in _NOT_IN_CHECKSUMS or group[j + 1] in _NOT_IN_CHECKSUMS:
                    group[j] += 1
                    group[j + 1] -= 1
                    changed = True
        for j in range(4):
            characters[4 * j + i] = group[j]
    return bytes(characters[15:] + characters[:15])
