"""A light-curve FITS file's time series, checked: what the quick-look and the training set need and nothing more.

Any product's file is read through its format (``lightcurve_ingest.domain.formats``): the table, the time column
and its reference keywords, the science flux (``PDCSAP_FLUX`` in the pipelines' files, ``KSPSAP_FLUX`` or
``DET_FLUX`` in QLP's, ``FCOR`` in K2SFF's, ``FLUX`` in EVEREST's), the raw flux and the quality column all come from
the format, never from an ``if`` here. A file whose header says another mission or product wrote it, or whose times
count from another reference date, is refused before any column is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from lightcurve_ingest.domain.formats import LightCurveFormat, QualityMask, TimeSystem

MIN_GOOD_CADENCES = 10
# BJDREFI + BJDREFF must give the format's offset to within this (the pipelines write BJDREFF = 0.0 exactly)
BJD_REFERENCE_TOLERANCE_DAYS = 1e-6


class BadLightCurveError(ValueError):
    """A file that is not a usable light curve; the message names the file's bad part."""


@dataclass(frozen=True)
class LightCurve:
    """Good cadences only (finite time and science flux, no flag of ``quality_mask`` set), fluxes divided by their
    median."""

    time: np.ndarray  # days, in ``time_system``
    pdcsap: np.ndarray  # the science flux (systematics removed), whatever its product calls it: see ``flux``
    sap: np.ndarray  # the raw flux; NaN where it is missing, everywhere when the product has none
    cadences: int  # rows in the file, good or not
    time_system: TimeSystem
    quality_mask: QualityMask
    flux_column: str | None = None  # the file's column the science flux was read from

    @property
    def flux(self) -> np.ndarray:
        """The science flux (the same array as ``pdcsap``, by a name that fits every product)."""
        return self.pdcsap

    @property
    def raw_flux(self) -> np.ndarray:
        """The raw flux (the same array as ``sap``)."""
        return self.sap

    @property
    def baseline_days(self) -> float:
        return float(self.time[-1] - self.time[0])


class _Columns(NamedTuple):
    time: np.ndarray
    flux: np.ndarray
    raw: np.ndarray  # NaN when the product has no raw flux
    quality: np.ndarray  # zeros when the product has no quality column
    flux_column: str


def read_light_curve(path: Path | str, fmt: LightCurveFormat, quality_bitmask: str | int = "default"
                     ) -> LightCurve:
    """Read the format's table (memory-mapped: only the columns used are read).

    ``quality_bitmask`` is a mask name of the format's quality flags (``none``, ``default``, ``hard``,
    ``hardest``) or an integer; cadences with any of its bits set are left out. A product without a quality column
    drops no cadence for quality, whatever the mask.
    """
    from astropy.io import fits

    mask = fmt.quality_flags.mask(quality_bitmask)
    try:
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdus:
            _check_identity(hdus[0].header, fmt)
            table = _table(hdus, fmt)
            time_system = _time_system(table.header, fmt)
            columns = _columns(table, fmt)
    except BadLightCurveError:
        raise
    except Exception as err:  # astropy raises OSError, ValueError, TypeError, IndexError... on damaged files
        raise BadLightCurveError(f"not a readable FITS file, truncated or damaged ({type(err).__name__}: {err})"
                                 ) from err
    return _good_cadences(columns, time_system, mask)


def _same(value: Any, expected: str) -> bool:
    """Header values are compared trimmed and without regard to case (EVEREST writes MISSION = 'k2')."""
    return str(value).strip().casefold() == expected.casefold()


def _check_identity(primary: Any, fmt: LightCurveFormat) -> None:
    """The primary header's TELESCOP, MISSION (where the file has one) and ORIGIN (where the format sets one)."""
    telescope = primary.get("TELESCOP")
    if telescope is None:
        raise BadLightCurveError(f"PRIMARY header has no TELESCOP keyword (a {fmt.name} says {fmt.telescope!r})")
    if not _same(telescope, fmt.telescope):
        raise BadLightCurveError(f"PRIMARY header TELESCOP = {telescope!r}, but a {fmt.name} says "
                                 f"{fmt.telescope!r}")
    mission = primary.get("MISSION")  # TESS files have none
    if mission is not None and not _same(mission, fmt.mission):
        raise BadLightCurveError(f"PRIMARY header MISSION = {mission!r}, but a {fmt.name} says {fmt.mission!r}")
    if fmt.origin is None:
        return
    origin = primary.get("ORIGIN")
    if origin is None:
        raise BadLightCurveError(f"PRIMARY header has no ORIGIN keyword (a {fmt.name} says {fmt.origin!r})")
    if not _same(origin, fmt.origin):
        raise BadLightCurveError(f"PRIMARY header ORIGIN = {origin!r}, but a {fmt.name} says {fmt.origin!r}")


def _table(hdus: Any, fmt: LightCurveFormat) -> Any:
    try:
        table = hdus[fmt.extension]
    except KeyError:
        raise BadLightCurveError(f"no readable {fmt.extension} extension (missing, or the file is truncated or "
                                 f"damaged; a {fmt.name} has one)") from None
    if getattr(table, "columns", None) is None:
        raise BadLightCurveError(f"{fmt.extension} extension is not a table")
    return table


def _time_system(header: Any, fmt: LightCurveFormat) -> TimeSystem:
    """The file's own time reference (``BJDREFI`` + ``BJDREFF``, or the format's keywords), which must be the
    format's."""
    expected = fmt.time_system
    values = []
    for keyword in fmt.time_reference_keywords:
        value = header.get(keyword)
        if not isinstance(value, int | float) or isinstance(value, bool):
            found = "no" if value is None else f"a non-numeric ({value!r})"
            raise BadLightCurveError(f"{fmt.extension} header has {found} {keyword} keyword (the time reference: "
                                     f"{expected.name} counts from BJD {expected.reference})")
        values.append(float(value))
    reference = sum(values)
    if abs(reference - expected.bjd_offset) > BJD_REFERENCE_TOLERANCE_DAYS:
        raise BadLightCurveError(f"{fmt.extension} header {' + '.join(fmt.time_reference_keywords)} = "
                                 f"{reference:.6f}, but a {fmt.name} counts time in {expected.name} from BJD "
                                 f"{expected.reference}")
    return TimeSystem(expected.name, reference)


def _columns(table: Any, fmt: LightCurveFormat) -> _Columns:
    present = set(table.columns.names)
    wanted = [(fmt.time_column,), fmt.flux_columns, (fmt.raw_flux_column,), (fmt.quality_column,)]
    missing = [" or ".join(names) for names in wanted if names[0] is not None and not present.intersection(names)]
    if missing:
        raise BadLightCurveError(f"{fmt.extension} table has no column {', '.join(missing)} ({fmt.name})")
    data = table.data
    flux_column = next(name for name in fmt.flux_columns if name in present)
    time = np.array(data.field(fmt.time_column), dtype=np.float64)
    raw = (np.full(len(time), np.nan) if fmt.raw_flux_column is None
           else np.array(data.field(fmt.raw_flux_column), dtype=np.float64))
    return _Columns(time=time, flux=np.array(data.field(flux_column), dtype=np.float64), raw=raw,
                    quality=_quality(data, fmt, len(time)), flux_column=flux_column)


def _quality(data: Any, fmt: LightCurveFormat, rows: int) -> np.ndarray:
    if fmt.quality_column is None:
        return np.zeros(rows, dtype=np.int64)
    quality = data.field(fmt.quality_column)
    if quality.dtype.kind not in "iu":
        raise BadLightCurveError(f"{fmt.extension} column {fmt.quality_column} holds {quality.dtype}, not integer "
                                 "flags")
    return np.array(quality, dtype=np.int64)


def _good_cadences(columns: _Columns, time_system: TimeSystem, mask: QualityMask) -> LightCurve:
    time, flux, raw, quality = columns.time, columns.flux, columns.raw, columns.quality
    good = np.isfinite(time) & np.isfinite(flux) & ((quality & mask.bits) == 0)
    if good.sum() < MIN_GOOD_CADENCES:
        raise BadLightCurveError(f"{columns.flux_column}: only {int(good.sum())} good cadences of {len(time)} under "
                                 f"the {mask.name} quality mask (at least {MIN_GOOD_CADENCES} needed)")
    order = np.argsort(time[good], kind="stable")
    time, flux, raw = time[good][order], flux[good][order], raw[good][order]
    median = np.median(flux)
    if not median > 0:
        raise BadLightCurveError(f"{columns.flux_column}: median {median!r} is not positive")
    raw_median = np.nanmedian(raw) if np.isfinite(raw).any() else np.nan
    return LightCurve(time=time, pdcsap=flux / median, sap=raw / raw_median if raw_median > 0 else raw * np.nan,
                      cadences=len(quality), time_system=time_system, quality_mask=mask,
                      flux_column=columns.flux_column)
