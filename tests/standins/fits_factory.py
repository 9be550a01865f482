"""Synthetic light-curve FITS files: K2 and Kepler long cadence (``*_llc.fits``), TESS SPOC (``*_lc.fits``).

The layout follows the real files: a primary HDU with the target's keywords,
a ``LIGHTCURVE`` binary table and an ``APERTURE`` image. Every HDU carries
``CHECKSUM``/``DATASUM`` (what ``writeto(checksum=True)`` adds), stamped with a
fixed comment instead of the current time so the bytes are deterministic.

Size: the table has the real K2 column set (about 100 bytes a row), so
``rows=200`` gives 37 KB, ``rows=4000`` ~420 KB, ``rows=6000`` ~610 KB and
``rows=8000`` ~820 KB (real files: 0.4-1 MB).
Use :func:`llc_size` (K2), :func:`kepler_llc_size` or :func:`tess_lc_size` to know a file's
size without building it.

With ``planted=True`` the flux also carries a sinusoid of period :func:`planted_period_days` (1 % deep, far
above the noise): the quick-look periodogram must find it. The default (no sinusoid) keeps every file's bytes.
"""

from __future__ import annotations

import io
import math
from functools import cache

import numpy as np
from astropy.io import fits

from .timeline import KEPLER_BJD_OFFSET, MJD_TO_JD, TESS_BJD_OFFSET, quarter_mjd, sector_mjd

LONG_CADENCE_DAYS = 0.0204340  # 29.4 minutes
APERTURE_SHAPE = (12, 11)
_CHECKSUM_COMMENT = "checksum of the synthetic stand-in file"
_FIRST_CADENCE_DAYS = 0.5  # Kepler and TESS light curves start this long after their quarter / sector

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


PLANTED_AMPLITUDE = 0.01  # of the mean flux: as deep as the transits, 100 times the noise


def planted_period_days(target_id: int, unit: int, cadence_days: float) -> float:
    """The period of the sinusoid in a planted file: 20.38 to 49.38 cadences, so that even a 200-row file holds 4
    cycles; not a whole number of cadences, so that the samples do not repeat the same few phases."""
    return cadence_days * (20.382 + (target_id * 7 + unit) % 30)


def make_llc_fits(epic_id: int, campaign: int, rows: int, seed: int, planted: bool = False) -> bytes:
    """Return the bytes of a K2 LLC file; the same inputs give the same bytes."""
    rng = np.random.default_rng([seed, epic_id, campaign])
    primary = _primary_hdu({
        "TELESCOP": ("Kepler", "telescope"),
        "INSTRUME": ("Kepler Photometer", "detector type"),
        "OBJECT": (f"EPIC {epic_id}", "string version of target id"),
        "KEPLERID": (epic_id, "unique Kepler target identifier"),
        "CAMPAIGN": (campaign, "Observing campaign number"),
        "MISSION": ("K2", "Mission name"),
        "OBSMODE": ("long cadence", "observing mode"),
        "DATA_REL": (30, "data release version number"),
        "PROCVER": ("svn+ssh://murzim/repo/soc/tags/release/9.3.54", "SW version"),
    })
    start = 1940.0 + 85.0 * (campaign if campaign < 90 else campaign // 10)
    period = planted_period_days(epic_id, campaign, LONG_CADENCE_DAYS) if planted else None
    data = _lightcurve_data(start, LONG_CADENCE_DAYS, rows, rng, quality_flag=16384, period=period)
    table = _lightcurve_hdu(data, "BJD - 2454833", LONG_CADENCE_DAYS,
                            {"OBJECT": f"EPIC {epic_id}", "KEPLERID": epic_id})
    return _write([primary, table, _aperture_hdu(rng)])


def llc_size(rows: int) -> int:
    """Byte length of any file made by :func:`make_llc_fits` with ``rows`` rows (without building it).

    Headers have a fixed number of cards, so only the table data (padded to 2880-byte
    blocks) depends on ``rows``.
    """
    return _size_without_rows("K2") + _table_bytes(rows)


def make_kepler_llc_fits(kic: int, quarter: int, rows: int, seed: int, planted: bool = False) -> bytes:
    """Return the bytes of a Kepler long-cadence file of one quarter (TIME in BJD - 2454833)."""
    rng = np.random.default_rng([seed, kic, quarter, 1800])
    season = (quarter - 2) % 4  # the spacecraft rolls every quarter; Q2 was season 0
    channel = 1 + (kic + 21 * season) % 84
    primary = _primary_hdu({
        "TELESCOP": ("Kepler", "telescope"),
        "INSTRUME": ("Kepler Photometer", "detector type"),
        "OBJECT": (f"KIC {kic}", "string version of KEPLERID"),
        "KEPLERID": (kic, "unique Kepler target identifier"),
        "QUARTER": (quarter, "Observing quarter"),
        "SEASON": (season, "Observing season"),
        "CHANNEL": (channel, "CCD channel"),
        "MODULE": (2 + (channel - 1) // 4, "CCD module"),
        "OUTPUT": (1 + (channel - 1) % 4, "CCD output"),
        "OBSMODE": ("long cadence", "observing mode"),
        "DATA_REL": (25, "data release version number"),
    })
    start = quarter_mjd(quarter)[0] + _FIRST_CADENCE_DAYS + MJD_TO_JD - KEPLER_BJD_OFFSET
    period = planted_period_days(kic, quarter, LONG_CADENCE_DAYS) if planted else None
    data = _lightcurve_data(start, LONG_CADENCE_DAYS, rows, rng, quality_flag=128, period=period)
    table = _lightcurve_hdu(data, "BJD - 2454833", LONG_CADENCE_DAYS, {"OBJECT": f"KIC {kic}", "KEPLERID": kic})
    return _write([primary, table, _aperture_hdu(rng)])


def kepler_llc_size(rows: int) -> int:
    """Byte length of a :func:`make_kepler_llc_fits` file with ``rows`` rows (without building it)."""
    return _size_without_rows("Kepler") + _table_bytes(rows)


def make_tess_lc_fits(tic: int, sector: int, rows: int, seed: int, cadence_s: int = 120,
                      ra: float = 0.0, dec: float = 0.0, planted: bool = False) -> bytes:
    """Return the bytes of a TESS SPOC light curve (2-min, or 20-s with ``cadence_s=20``; TIME in BTJD)."""
    rng = np.random.default_rng([seed, tic, sector, cadence_s])
    primary = _primary_hdu({
        "TELESCOP": ("TESS", "telescope"),
        "INSTRUME": ("TESS Photometer", "detector type"),
        "OBJECT": (f"TIC {tic}", "string version of target id"),
        "TICID": (tic, "unique tess target identifier"),
        "SECTOR": (sector, "Observing sector"),
        "CAMERA": (1 + (tic + sector) % 4, "Camera number"),
        "CCD": (1 + (tic // 4 + sector) % 4, "CCD chip number"),
        "RA_OBJ": (ra, "[deg] right ascension"),
        "DEC_OBJ": (dec, "[deg] declination"),
        "TESSMAG": (round(6.0 + (tic % 900) / 100.0, 3), "[mag] TESS magnitude"),
        "DATA_REL": (sector, "data release version number"),
    })
    cadence_days = cadence_s / 86400.0
    start = sector_mjd(sector)[0] + _FIRST_CADENCE_DAYS + MJD_TO_JD - TESS_BJD_OFFSET
    period = planted_period_days(tic, sector, cadence_days) if planted else None
    data = _lightcurve_data(start, cadence_days, rows, rng, quality_flag=512, period=period)
    table = _lightcurve_hdu(data, "BJD - 2457000, days", cadence_days, {"OBJECT": f"TIC {tic}", "TICID": tic})
    return _write([primary, table, _aperture_hdu(rng)])


def tess_lc_size(rows: int) -> int:
    """Byte length of a :func:`make_tess_lc_fits` file with ``rows`` rows, either cadence (without building it)."""
    return _size_without_rows("TESS") + _table_bytes(rows)


def _table_bytes(rows: int) -> int:
    return _BLOCK * math.ceil(rows * _ROW_BYTES / _BLOCK)


@cache
def _size_without_rows(mission: str) -> int:
    if mission == "K2":
        return len(make_llc_fits(201000000, 1, 0, 0))
    if mission == "Kepler":
        return len(make_kepler_llc_fits(11904151, 1, 0, 0))
    return len(make_tess_lc_fits(261136679, 1, 0, 0))


def _write(hdus: list[fits.PrimaryHDU | fits.BinTableHDU | fits.ImageHDU]) -> bytes:
    hdulist = fits.HDUList(hdus)
    for hdu in hdulist:
        hdu.add_checksum(when=_CHECKSUM_COMMENT)
    buffer = io.BytesIO()
    hdulist.writeto(buffer)
    return buffer.getvalue()


def _primary_hdu(cards: dict[str, tuple]) -> fits.PrimaryHDU:
    header = fits.Header()
    for keyword, value in cards.items():
        header[keyword] = value
    return fits.PrimaryHDU(header=header)


def _lightcurve_hdu(data: dict[str, np.ndarray], time_unit: str, cadence_days: float,
                    cards: dict[str, object]) -> fits.BinTableHDU:
    columns = [
        fits.Column(name=name, format=fmt, unit=time_unit if name == "TIME" else unit, array=data[name])
        for name, fmt, unit in _COLUMNS
    ]
    hdu = fits.BinTableHDU.from_columns(columns, name="LIGHTCURVE")
    for keyword, value in cards.items():
        hdu.header[keyword] = value
    hdu.header["TIMEREF"] = ("SOLARSYSTEM", "barycentric correction applied to times")
    hdu.header["TIMEDEL"] = (cadence_days, "[d] time elapsed between cadences")
    return hdu


def _lightcurve_data(start: float, cadence_days: float, rows: int, rng: np.random.Generator,
                     quality_flag: int, period: float | None = None) -> dict[str, np.ndarray]:
    time = start + cadence_days * np.arange(rows, dtype=np.float64)
    base = rng.uniform(1e4, 1e5)
    flux = (base + rng.normal(0.0, base * 1e-4, rows)).astype(np.float32)
    in_transit = (time % 3.3) < 0.1
    flux[in_transit] *= np.float32(0.99)
    if period is not None:  # after every draw from rng, so the rest of the file is as without it
        flux *= (1.0 + PLANTED_AMPLITUDE * np.sin(2.0 * np.pi * (time - start) / period)).astype(np.float32)

    def small(scale: float) -> np.ndarray:
        return rng.normal(0.0, scale, rows).astype(np.float32)

    def centre(mid: float) -> np.ndarray:
        return mid + rng.normal(0.0, 0.01, rows)

    return {
        "TIME": time,
        "TIMECORR": np.full(rows, 0.001, dtype=np.float32),
        "CADENCENO": np.arange(rows, dtype=np.int32) + 100000,
        "SAP_FLUX": flux * _sap_trend(time, planted=period is not None),
        "SAP_FLUX_ERR": np.abs(small(10.0)),
        "SAP_BKG": np.abs(small(50.0)),
        "SAP_BKG_ERR": np.abs(small(1.0)),
        "PDCSAP_FLUX": flux,
        "PDCSAP_FLUX_ERR": np.abs(small(10.0)),
        "QUALITY": np.where(rng.random(rows) < 0.02, quality_flag, 0).astype(np.int32),
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


def _sap_trend(time: np.ndarray, planted: bool) -> np.ndarray | np.float32:
    """SAP flux is PDCSAP before the systematics are removed: 0.98 of it, and in planted files also a slow
    drift over the observation, as pointing and focus change (so quick-looks show the two apart)."""
    if not planted:
        return np.float32(0.98)  # the bytes of every unplanted file stay as they were
    span = max(float(time[-1] - time[0]), 1e-9)
    return (0.98 * (1.0 - 0.02 * ((time - time[0]) / span) ** 2)).astype(np.float32)


def _aperture_hdu(rng: np.random.Generator) -> fits.ImageHDU:
    aperture = rng.choice(np.array([1, 3], dtype=np.int32), size=APERTURE_SHAPE)
    return fits.ImageHDU(data=aperture, name="APERTURE")
