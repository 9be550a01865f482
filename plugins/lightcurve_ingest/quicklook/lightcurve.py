"""A light-curve FITS file's time series, checked: what the quick-look needs and nothing more.

The columns are read by the names the file's format gives them (``SAP_QUALITY`` in Kepler and K2 files,
``QUALITY`` in TESS ones); a file whose header says another mission wrote it, or whose times count from another
reference date, is refused before any column is used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    pdcsap: np.ndarray
    sap: np.ndarray  # NaN where SAP flux is missing
    cadences: int  # rows in the file, good or not
    time_system: TimeSystem
    quality_mask: QualityMask

    @property
    def baseline_days(self) -> float:
        return float(self.time[-1] - self.time[0])


def read_light_curve(path: Path | str, fmt: LightCurveFormat, quality_bitmask: str | int = "default"
                     ) -> LightCurve:
    """Read the format's table (memory-mapped: only the four columns used are read).

    ``quality_bitmask`` is a mask name of the format's quality flags (``none``, ``default``, ``hard``,
    ``hardest``) or an integer; cadences with any of its bits set are left out.
    """
    from astropy.io import fits

    mask = fmt.quality_flags.mask(quality_bitmask)
    try:
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdus:
            _check_mission(hdus[0].header, fmt)
            table = _table(hdus, fmt)
            time_system = _time_system(table.header, fmt)
            arrays = _columns(table, fmt)
    except BadLightCurveError:
        raise
    except Exception as err:  # astropy raises OSError, ValueError, TypeError, IndexError... on damaged files
        raise BadLightCurveError(f"not a readable FITS file, truncated or damaged ({type(err).__name__}: {err})"
                                 ) from err
    return _good_cadences(arrays, fmt, time_system, mask)


def _check_mission(primary: Any, fmt: LightCurveFormat) -> None:
    telescope = primary.get("TELESCOP")
    if telescope is None:
        raise BadLightCurveError(f"PRIMARY header has no TELESCOP keyword (a {fmt.name} says {fmt.telescope!r})")
    if str(telescope).strip() != fmt.telescope:
        raise BadLightCurveError(f"PRIMARY header TELESCOP = {telescope!r}, but a {fmt.name} says "
                                 f"{fmt.telescope!r}")
    mission = primary.get("MISSION")  # TESS files have none
    if mission is not None and str(mission).strip() != fmt.mission:
        raise BadLightCurveError(f"PRIMARY header MISSION = {mission!r}, but a {fmt.name} says {fmt.mission!r}")


def _table(hdus: Any, fmt: LightCurveFormat) -> Any:
    try:
        table = hdus[fmt.extension]
    except KeyError:
        raise BadLightCurveError(f"no readable {fmt.extension} extension (missing, or the file is truncated or "
                                 "damaged)") from None
    if getattr(table, "columns", None) is None:
        raise BadLightCurveError(f"{fmt.extension} extension is not a table")
    return table


def _time_system(header: Any, fmt: LightCurveFormat) -> TimeSystem:
    """The file's own time reference (``BJDREFI`` + ``BJDREFF``), which must be the format's."""
    expected = fmt.time_system
    values = {}
    for keyword in ("BJDREFI", "BJDREFF"):
        value = header.get(keyword)
        if not isinstance(value, int | float) or isinstance(value, bool):
            found = "no" if value is None else f"a non-numeric ({value!r})"
            raise BadLightCurveError(f"{fmt.extension} header has {found} {keyword} keyword (the time reference: "
                                     f"{expected.name} counts from BJD {expected.reference})")
        values[keyword] = float(value)
    reference = values["BJDREFI"] + values["BJDREFF"]
    if abs(reference - expected.bjd_offset) > BJD_REFERENCE_TOLERANCE_DAYS:
        raise BadLightCurveError(f"{fmt.extension} header BJDREFI + BJDREFF = {reference:.6f}, but a {fmt.name} "
                                 f"counts time in {expected.name} from BJD {expected.reference}")
    return TimeSystem(expected.name, reference)


def _columns(table: Any, fmt: LightCurveFormat) -> dict[str, np.ndarray]:
    values = (fmt.time_column, fmt.flux_column, fmt.raw_flux_column)
    present = set(table.columns.names)
    missing = [c for c in (*values, fmt.quality_column) if c not in present]
    if missing:
        raise BadLightCurveError(f"{fmt.extension} table has no column {', '.join(missing)} ({fmt.name})")
    data = table.data
    quality = data.field(fmt.quality_column)
    if quality.dtype.kind not in "iu":
        raise BadLightCurveError(f"{fmt.extension} column {fmt.quality_column} holds {quality.dtype}, not integer "
                                 "flags")
    arrays = {name: np.array(data.field(name), dtype=np.float64) for name in values}
    arrays[fmt.quality_column] = np.array(quality, dtype=np.int64)
    return arrays


def _good_cadences(arrays: dict[str, np.ndarray], fmt: LightCurveFormat, time_system: TimeSystem,
                   mask: QualityMask) -> LightCurve:
    time, pdcsap = arrays[fmt.time_column], arrays[fmt.flux_column]
    sap, quality = arrays[fmt.raw_flux_column], arrays[fmt.quality_column]
    good = np.isfinite(time) & np.isfinite(pdcsap) & ((quality & mask.bits) == 0)
    if good.sum() < MIN_GOOD_CADENCES:
        raise BadLightCurveError(f"{fmt.flux_column}: only {int(good.sum())} good cadences of {len(time)} under the "
                                 f"{mask.name} quality mask (at least {MIN_GOOD_CADENCES} needed)")
    order = np.argsort(time[good], kind="stable")
    time, pdcsap, sap = time[good][order], pdcsap[good][order], sap[good][order]
    median = np.median(pdcsap)
    if not median > 0:
        raise BadLightCurveError(f"{fmt.flux_column}: median {median!r} is not positive")
    sap_median = np.nanmedian(sap) if np.isfinite(sap).any() else np.nan
    return LightCurve(time=time, pdcsap=pdcsap / median, sap=sap / sap_median if sap_median > 0 else sap * np.nan,
                      cadences=len(quality), time_system=time_system, quality_mask=mask)
