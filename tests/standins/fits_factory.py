"""Synthetic K2 long-cadence light-curve FITS files (``*_llc.fits``).

The layout follows real K2 LLC files: a primary HDU with the target's keywords,
a ``LIGHTCURVE`` binary table and an ``APERTURE`` image. Every HDU carries
``CHECKSUM``/``DATASUM`` (what ``writeto(checksum=True)`` adds), stamped with a
fixed comment instead of the current time so the bytes are deterministic.

Size: the table has the real K2 column set (about 100 bytes a row), so
``rows=200`` gives 37 KB, ``rows=4000`` ~420 KB, ``rows=6000`` ~610 KB and
``rows=8000`` ~820 KB (real files: 0.4-1 MB).
Use :func:`llc_size` to know a file's size without building it.
"""

from __future__ import annotations

import io
import math
from functools import cache

import numpy as np
from astropy.io import fits

LONG_CADENCE_DAYS = 0.0204340  # 29.4 minutes
APERTURE_SHAPE = (12, 11)
_CHECKSUM_COMMENT = "checksum of the synthetic stand-in file"

_BLOCK = 2880
# (name, FITS format, unit) in the order real K2 LLC files use.
_COLUMNS = (
    ("TIME", "D", "BJD - 2454833"),
    ("TIMECORR", "E", "d"),
    ("CADENCENO", "J", None),
    ("SAP_FLUX", "E", "e-/s"),
    ("SAP_FLUX_ERR", "E", "e-/s"),
    ("SAP_BKG", "E", "e-/s"),
    ("SAP_BKG_ERR", "E", "e-/s"),
    ("PDCSAP_FLUX", "E", "e-/s"),
    ("PDCSAP_FLUX_ERR", "E", "e-/s"),
    ("QUALITY", "J", None),
    ("PSF_CENTR1", "D", "pixel"),
    ("PSF_CENTR1_ERR", "E", "pixel"),
    ("PSF_CENTR2", "D", "pixel"),
    ("PSF_CENTR2_ERR", "E", "pixel"),
    ("MOM_CENTR1", "D", "pixel"),
    ("MOM_CENTR1_ERR", "E", "pixel"),
    ("MOM_CENTR2", "D", "pixel"),
    ("MOM_CENTR2_ERR", "E", "pixel"),
    ("POS_CORR1", "E", "pixels"),
    ("POS_CORR2", "E", "pixels"),
)


_ROW_BYTES = sum({"D": 8, "E": 4, "J": 4}[fmt] for _, fmt, _ in _COLUMNS)


def make_llc_fits(epic_id: int, campaign: int, rows: int, seed: int) -> bytes:
    """Return the bytes of a K2 LLC file; the same inputs give the same bytes."""
    rng = np.random.default_rng([seed, epic_id, campaign])
    hdus = fits.HDUList([
        _primary_hdu(epic_id, campaign),
        _lightcurve_hdu(epic_id, campaign, rows, rng),
        _aperture_hdu(rng),
    ])
    for hdu in hdus:
        hdu.add_checksum(when=_CHECKSUM_COMMENT)
    buffer = io.BytesIO()
    hdus.writeto(buffer)
    return buffer.getvalue()


def llc_size(rows: int) -> int:
    """Byte length of any file made by :func:`make_llc_fits` with ``rows`` rows (without building it).

    Headers have a fixed number of cards, so only the table data (padded to 2880-byte
    blocks) depends on ``rows``.
    """
    return _size_without_rows() + _BLOCK * math.ceil(rows * _ROW_BYTES / _BLOCK)


@cache
def _size_without_rows() -> int:
    return len(make_llc_fits(201000000, 1, 0, 0))


def _primary_hdu(epic_id: int, campaign: int) -> fits.PrimaryHDU:
    header = fits.Header()
    header["TELESCOP"] = ("Kepler", "telescope")
    header["INSTRUME"] = ("Kepler Photometer", "detector type")
    header["OBJECT"] = (f"EPIC {epic_id}", "string version of target id")
    header["KEPLERID"] = (epic_id, "unique Kepler target identifier")
    header["CAMPAIGN"] = (campaign, "Observing campaign number")
    header["MISSION"] = ("K2", "Mission name")
    header["OBSMODE"] = ("long cadence", "observing mode")
    header["DATA_REL"] = (30, "data release version number")
    header["PROCVER"] = ("svn+ssh://murzim/repo/soc/tags/release/9.3.54", "SW version")
    return fits.PrimaryHDU(header=header)


def _lightcurve_hdu(epic_id: int, campaign: int, rows: int, rng: np.random.Generator) -> fits.BinTableHDU:
    data = _lightcurve_data(campaign, rows, rng)
    columns = [
        fits.Column(name=name, format=fmt, unit=unit, array=data[name])
        for name, fmt, unit in _COLUMNS
    ]
    hdu = fits.BinTableHDU.from_columns(columns, name="LIGHTCURVE")
    hdu.header["OBJECT"] = f"EPIC {epic_id}"
    hdu.header["KEPLERID"] = epic_id
    hdu.header["TIMEREF"] = ("SOLARSYSTEM", "barycentric correction applied to times")
    hdu.header["TIMEDEL"] = (LONG_CADENCE_DAYS, "[d] time elapsed between cadences")
    return hdu


def _lightcurve_data(campaign: int, rows: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    start = 1940.0 + 85.0 * (campaign if campaign < 90 else campaign // 10)
    time = start + LONG_CADENCE_DAYS * np.arange(rows, dtype=np.float64)
    base = rng.uniform(1e4, 1e5)
    flux = (base + rng.normal(0.0, base * 1e-4, rows)).astype(np.float32)
    in_transit = (time % 3.3) < 0.1
    flux[in_transit] *= np.float32(0.99)

    def small(scale: float) -> np.ndarray:
        return rng.normal(0.0, scale, rows).astype(np.float32)

    def centre(mid: float) -> np.ndarray:
        return mid + rng.normal(0.0, 0.01, rows)

    return {
        "TIME": time,
        "TIMECORR": np.full(rows, 0.001, dtype=np.float32),
        "CADENCENO": np.arange(rows, dtype=np.int32) + 100000,
        "SAP_FLUX": flux * np.float32(0.98),
        "SAP_FLUX_ERR": np.abs(small(10.0)),
        "SAP_BKG": np.abs(small(50.0)),
        "SAP_BKG_ERR": np.abs(small(1.0)),
        "PDCSAP_FLUX": flux,
        "PDCSAP_FLUX_ERR": np.abs(small(10.0)),
        "QUALITY": np.where(rng.random(rows) < 0.02, 16384, 0).astype(np.int32),
        "PSF_CENTR1": centre(500.0),
        "PSF_CENTR1_ERR": np.abs(small(0.001)),
        "PSF_CENTR2": centre(600.0),
        "PSF_CENTR2_ERR": np.abs(small(0.001)),
        "MOM_CENTR1": centre(500.0),
        "MOM_CENTR1_ERR": np.abs(small(0.001)),
        "MOM_CENTR2": centre(600.0),
        "MOM_CENTR2_ERR": np.abs(small(0.001)),
        "POS_CORR1": small(0.05),
        "POS_CORR2": small(0.05),
    }


def _aperture_hdu(rng: np.random.Generator) -> fits.ImageHDU:
    aperture = rng.choice(np.array([1, 3], dtype=np.int32), size=APERTURE_SHAPE)
    return fits.ImageHDU(data=aperture, name="APERTURE")
