"""A light-curve FITS file's time series, checked: what the quick-look needs and nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

REQUIRED_COLUMNS = ("TIME", "SAP_FLUX", "PDCSAP_FLUX", "QUALITY")
MIN_GOOD_CADENCES = 10


class BadLightCurveError(ValueError):
    """A file that is not a usable light curve; the message names the file's bad part."""


@dataclass(frozen=True)
class LightCurve:
    """Good cadences only (finite time and PDCSAP flux, QUALITY == 0), fluxes divided by their median."""

    time: np.ndarray  # days, in the file's own time system
    pdcsap: np.ndarray
    sap: np.ndarray  # NaN where SAP flux is missing
    time_unit: str
    cadences: int  # rows in the file, good or not

    @property
    def baseline_days(self) -> float:
        return float(self.time[-1] - self.time[0])


def read_light_curve(path: Path | str) -> LightCurve:
    """Read the ``LIGHTCURVE`` table (memory-mapped: only the four columns used are read)."""
    from astropy.io import fits

    try:
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdus:
            table = _lightcurve_table(hdus)
            columns = {name.upper() for name in table.columns.names}
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if missing:
                raise BadLightCurveError(f"LIGHTCURVE table has no column {', '.join(missing)}")
            data = table.data
            arrays = {name: np.array(data.field(name), dtype=np.float64) for name in REQUIRED_COLUMNS}
            time_unit = str(table.columns["TIME"].unit or "d")
    except BadLightCurveError:
        raise
    except Exception as err:  # astropy raises OSError, ValueError, TypeError, IndexError... on damaged files
        raise BadLightCurveError(f"not a readable FITS file ({type(err).__name__}: {err})") from err
    return _good_cadences(arrays, time_unit)


def _lightcurve_table(hdus: object) -> object:
    try:
        table = hdus["LIGHTCURVE"]
    except KeyError:
        raise BadLightCurveError("no readable LIGHTCURVE extension (missing, or the file is truncated or damaged)"
                                 ) from None
    if getattr(table, "columns", None) is None:
        raise BadLightCurveError("LIGHTCURVE extension is not a table")
    return table


def _good_cadences(arrays: dict[str, np.ndarray], time_unit: str) -> LightCurve:
    time, pdcsap, sap, quality = arrays["TIME"], arrays["PDCSAP_FLUX"], arrays["SAP_FLUX"], arrays["QUALITY"]
    good = np.isfinite(time) & np.isfinite(pdcsap) & (np.nan_to_num(quality, nan=1.0) == 0)
    if good.sum() < MIN_GOOD_CADENCES:
        raise BadLightCurveError(f"PDCSAP_FLUX: only {int(good.sum())} good cadences of {len(time)} "
                                 f"(at least {MIN_GOOD_CADENCES} needed)")
    order = np.argsort(time[good], kind="stable")
    time, pdcsap, sap = time[good][order], pdcsap[good][order], sap[good][order]
    median = np.median(pdcsap)
    if not median > 0:
        raise BadLightCurveError(f"PDCSAP_FLUX: median {median!r} is not positive")
    sap_median = np.nanmedian(sap) if np.isfinite(sap).any() else np.nan
    return LightCurve(time=time, pdcsap=pdcsap / median, sap=sap / sap_median if sap_median > 0 else sap * np.nan,
                      time_unit=time_unit, cadences=len(quality))
