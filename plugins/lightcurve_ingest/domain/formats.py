"""Which columns of a light-curve file are what: one format per product, as lightkurve has one reader per product.

The products are named as MAST's provenance names them (``PRODUCT_FORMATS``): the mission pipelines' light curves
(Kepler and K2 long-cadence ``LLC`` files, TESS ``SPOC`` light curves) and the high-level science products
``TESS-SPOC``, ``QLP``, ``K2SFF`` and ``EVEREST``. Whatever differs from one product to another is a field of its
format (the table, the time column and its reference keywords, the science, raw and quality columns, the quality
flags, the header values that say who wrote the file), so one reader reads them all.

A Kepler and a K2 file differ only in the ``MISSION`` keyword of their primary header, so the two share one layout
and differ in that value. The quality flags and their named bitmasks are those of lightkurve 2.6.0
(``lightkurve/utils.py``, ``KeplerQualityFlags`` and ``TessQualityFlags``; ``lightkurve/io/qlp.py`` for QLP's own
bits), so a light curve read here keeps the same cadences as ``lightkurve.read(path, quality_bitmask=...)`` would.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce
from numbers import Integral
from typing import TYPE_CHECKING

from lightcurve_ingest.errors import InvalidInputError

if TYPE_CHECKING:  # numpy is not imported at run time: the missions (and so every DAG file) import this module
    import numpy as np


@dataclass(frozen=True)
class TimeSystem:
    """How a mission writes time: days since a barycentric Julian date (``BJDREFI`` + ``BJDREFF`` in the file)."""

    name: str  # "BKJD", "BTJD"
    bjd_offset: float  # BJD - offset = the mission's time

    @property
    def reference(self) -> str:
        """The offset as written: "2454833" (not 2.45483e+06)."""
        return f"{self.bjd_offset:.12g}"

    @property
    def axis_label(self) -> str:
        return f"time [{self.name} = BJD - {self.reference}]"

    def from_bjd(self, bjd: float | np.ndarray) -> float | np.ndarray:
        """An archive's BJD (e.g. a transit epoch) in this mission's time."""
        return bjd - self.bjd_offset


BKJD = TimeSystem("BKJD", 2454833.0)  # Kepler and K2
BTJD = TimeSystem("BTJD", 2457000.0)  # TESS


@dataclass(frozen=True)
class QualityMask:
    """The quality bits a reader drops cadences for, and what it is called in plots and logs."""

    name: str  # "default", "hard", "hardest", "none", or "bitmask 1234" for a number given by hand
    bits: int


@dataclass(frozen=True)
class QualityFlags:
    """A mission's quality bits by name, and its named bitmasks (``none``, ``default``, ``hard``, ``hardest``)."""

    flags: tuple[tuple[str, int], ...]  # (name, bit value)
    masks: tuple[tuple[str, int], ...]  # (mask name, bits)

    def bit(self, name: str) -> int:
        return dict(self.flags)[name]

    def mask(self, mask: str | int = "default") -> QualityMask:
        """A named bitmask, or a number given as it is (named after the named mask it equals, if any)."""
        masks = dict(self.masks)
        if isinstance(mask, str):
            if mask not in masks:
                raise ValueError(f"quality_bitmask {mask!r} is not one of {', '.join(masks)} (or an integer)")
            return QualityMask(mask, masks[mask])
        if isinstance(mask, bool) or not isinstance(mask, Integral) or mask < 0:
            raise ValueError(f"quality_bitmask {mask!r} is neither a mask name nor a non-negative integer")
        same = [name for name, bits in self.masks if bits == int(mask)]
        return QualityMask(same[0] if same else f"bitmask {int(mask)}", int(mask))

    def names_of(self, quality: int) -> list[str]:
        """The flags set in one cadence's quality value."""
        return [name for name, bit in self.flags if quality & bit]


def _quality_flags(flags: tuple[tuple[str, int], ...], default: tuple[str, ...], hard: tuple[str, ...]
                   ) -> QualityFlags:
    """Masks built from flag names as lightkurve builds them; ``hardest`` is every flag the mission defines."""
    bit = dict(flags)

    def union(names: tuple[str, ...]) -> int:
        return reduce(lambda a, b: a | b, (bit[n] for n in names), 0)

    masks = (("none", 0), ("default", union(default)), ("hard", union(default + hard)),
             ("hardest", union(tuple(bit))))
    return QualityFlags(flags=flags, masks=masks)


# Kepler Archive Manual, table 2.3 (bit 512 is unused by Kepler)
KEPLER_QUALITY = _quality_flags(
    flags=(("AttitudeTweak", 1), ("SafeMode", 2), ("CoarsePoint", 4), ("EarthPoint", 8), ("ZeroCrossing", 16),
           ("Desat", 32), ("Argabrightening", 64), ("ApertureCosmic", 128), ("ManualExclude", 256),
           ("SensitivityDropout", 1024), ("ImpulsiveOutlier", 2048), ("ArgabrighteningOnCCD", 4096),
           ("CollateralCosmic", 8192), ("DetectorAnomaly", 16384), ("NoFinePoint", 32768), ("NoData", 65536),
           ("RollingBandInAperture", 131072), ("RollingBandInMask", 262144), ("PossibleThrusterFiring", 524288),
           ("ThrusterFiring", 1048576)),
    default=("AttitudeTweak", "SafeMode", "CoarsePoint", "EarthPoint", "Desat", "ManualExclude", "DetectorAnomaly",
             "NoData", "ThrusterFiring"),
    hard=("SensitivityDropout", "ApertureCosmic", "CollateralCosmic", "PossibleThrusterFiring"),
)

# TESS Science Data Products Description Document, table 28. Straylight (2048) is set by hand at MIT from visual
# inspection, Straylight2 (4096) by SPOC from background thresholds: the default mask keeps both. lightkurve's
# default is 17087 in 2.6.0; up to 2.5.0 it was 175, without Argabrightening, ImpulsiveOutlier and
# BadCalibrationExclude.
TESS_QUALITY = _quality_flags(
    flags=(("AttitudeTweak", 1), ("SafeMode", 2), ("CoarsePoint", 4), ("EarthPoint", 8), ("Argabrightening", 16),
           ("Desat", 32), ("ApertureCosmic", 64), ("ManualExclude", 128), ("Discontinuity", 256),
           ("ImpulsiveOutlier", 512), ("CollateralCosmic", 1024), ("Straylight", 2048), ("Straylight2", 4096),
           ("PlanetSearchExclude", 8192), ("BadCalibrationExclude", 16384), ("InsufficientTargets", 32768)),
    default=("AttitudeTweak", "SafeMode", "CoarsePoint", "EarthPoint", "Argabrightening", "Desat", "ManualExclude",
             "ImpulsiveOutlier", "BadCalibrationExclude"),
    hard=("ApertureCosmic", "CollateralCosmic", "Straylight", "Straylight2"),
)


# QLP: TESS's flags (lightkurve reads QLP's QUALITY with TessQualityFlags), but QLP's bit 13 (4096) marks its
# "low precision" cadences in sectors 1-55 and bit 31 (2**30) from sector 56 on (lightkurve/io/qlp.py, after the QLP
# data product description); lightkurve drops both under "hard" and "hardest" only. One format serves every sector:
# each bit is only set in the sectors that use it.
QLP_QUALITY = _quality_flags(
    flags=tuple(("LowPrecision", bit) if bit == 4096 else (name, bit) for name, bit in TESS_QUALITY.flags)
    + (("LowPrecisionFromS56", 1 << 30),),
    default=("AttitudeTweak", "SafeMode", "CoarsePoint", "EarthPoint", "Argabrightening", "Desat", "ManualExclude",
             "ImpulsiveOutlier", "BadCalibrationExclude"),
    hard=("ApertureCosmic", "CollateralCosmic", "Straylight", "LowPrecision", "LowPrecisionFromS56"),
)

# A product without a quality column (K2SFF): every mask is empty, and no cadence is dropped for quality.
NO_QUALITY = _quality_flags(flags=(), default=(), hard=())


@dataclass(frozen=True)
class LightCurveFormat:
    """One product's layout of light-curve file: its table, the columns by role, the quality flags and the time
    system, and the primary-header values that say who wrote it."""

    name: str
    telescope: str  # TELESCOP of the primary header
    mission: str  # MISSION of the primary header when the file has one (TESS files have none)
    quality_column: str | None  # None: the product has no quality flags
    quality_flags: QualityFlags
    time_system: TimeSystem
    extension: str = "LIGHTCURVE"
    time_column: str = "TIME"
    flux_column: str = "PDCSAP_FLUX"  # the science flux: systematics removed
    flux_err_column: str | None = "PDCSAP_FLUX_ERR"
    raw_flux_column: str | None = "SAP_FLUX"  # simple aperture photometry, before the systematics are removed
    raw_flux_err_column: str | None = "SAP_FLUX_ERR"
    # Other names of the science flux and its error in files of other versions, tried in order when the file has
    # no ``flux_column`` (QLP's KSPSAP_FLUX is DET_FLUX from sector 56).
    renamed_flux_columns: tuple[tuple[str, str | None], ...] = ()
    # The keywords of the time column's table whose sum is the BJD that time counts from.
    time_reference_keywords: tuple[str, str] = ("BJDREFI", "BJDREFF")
    origin: str | None = None  # ORIGIN of the primary header, checked when set (the HLSPs that write one)

    @property
    def flux_columns(self) -> tuple[str, ...]:
        """The science flux's column names, in the order a reader tries them."""
        return (self.flux_column, *(flux for flux, _ in self.renamed_flux_columns))


KEPLER_LLC = LightCurveFormat(name="Kepler long-cadence LLC", telescope="Kepler", mission="Kepler",
                              quality_column="SAP_QUALITY", quality_flags=KEPLER_QUALITY, time_system=BKJD)
K2_LLC = replace(KEPLER_LLC, name="K2 long-cadence LLC", mission="K2")
TESS_SPOC = LightCurveFormat(name="TESS SPOC light curve", telescope="TESS", mission="TESS",
                             quality_column="QUALITY", quality_flags=TESS_QUALITY, time_system=BTJD)
# The TESS-SPOC HLSP (SPOC's pipeline run on full-frame images) writes SPOC's layout and header (ORIGIN NASA/Ames).
TESS_SPOC_FFI = replace(TESS_SPOC, name="TESS-SPOC light curve")

# lightkurve/io/qlp.py reads QLP as the generic reader does (HDU 1, TIME in BTJD). Its "flux" is SAP_FLUX by default
# (lightkurve issue 1083: the detrended flux is high-pass filtered, so it hides stellar variability) and the
# detrended KSPSAP_FLUX / DET_FLUX stay columns of their own. Here the science flux is the detrended one, the
# counterpart of SPOC's PDCSAP_FLUX that the transit search needs, and SAP_FLUX is the raw flux, as lightkurve's
# sap_flux. Both are already normalised by QLP; QLP writes no SAP_FLUX_ERR. Columns: genuine S24 file (tests'
# fixtures); the sector-56 names: lightkurve/io/qlp.py and lightkurve issue 1389. BJDREFR: genuine file.
QLP = LightCurveFormat(name="QLP light curve", telescope="TESS", mission="TESS", quality_column="QUALITY",
                       quality_flags=QLP_QUALITY, time_system=BTJD, flux_column="KSPSAP_FLUX",
                       flux_err_column="KSPSAP_FLUX_ERR", raw_flux_column="SAP_FLUX", raw_flux_err_column=None,
                       renamed_flux_columns=(("DET_FLUX", "DET_FLUX_ERR"),),
                       time_reference_keywords=("BJDREFI", "BJDREFR"), origin="MIT/QLP")

# lightkurve/io/k2sff.py: read_generic_lightcurve(flux_column="fcor", time_format="bkjd", ext="BESTAPER"); the
# generic reader takes the "T" column for time, and finds no quality column, so no cadence is dropped for quality
# (K2SFF's MOVING column, set on thruster firings, is not a quality flag and lightkurve ignores it: so does this
# format). FRAW is the aperture's flux before the correction (K2SFF's raw flux); neither has an error column.
# BESTAPER's header has BJDREFI, BJDREFF and TELESCOP, the primary MISSION = 'K2' (genuine C91 file).
K2SFF = LightCurveFormat(name="K2SFF light curve", telescope="Kepler", mission="K2", quality_column=None,
                         quality_flags=NO_QUALITY, time_system=BKJD, extension="BESTAPER", time_column="T",
                         flux_column="FCOR", flux_err_column=None, raw_flux_column="FRAW", raw_flux_err_column=None)

# EVEREST 2 (the HLSP's version 2.0 files), from rodluger/everest everest/fits.py (LightcurveHDU, PrimaryHDU) and
# docs/fitsfiles.rst; lightkurve/io/everest.py reads HDU 1 with flux_column="flux", quality_column="quality",
# cadenceno_column="cadn", time in BKJD, and KeplerQualityFlags. Per column:
# - HDU 1 is the table named ARRAYS (EVEREST 1 files named it "EVEREST ARRAYS" and had another layout);
# - TIME: "the original timestamp", BJD - 2454833; its header's BJDREFI/BJDREFF are copied from the K2 target
#   pixel file (everest/missions/k2/k2.py HDUCards);
# - FLUX: the EVEREST de-trended flux, NaN where the raw flux was NaN (lightkurve's flux); FCOR, the CBV-corrected
#   de-trended flux, is left alone as lightkurve leaves it;
# - FRAW / FRAW_ERR: "the original (raw) SAP flux" and its errors; lightkurve finds no flux error for EVEREST;
# - QUALITY: K2's flags plus EVEREST's own bits 23-27 (2**22..2**26: flagged in the TPF, NaN, outlier, unused,
#   in transit), which no Kepler mask names, so lightkurve's named masks keep those cadences (an integer mask with
#   those bits drops them);
# - the primary header: TELESCOP copied from the TPF ('Kepler'), MISSION written by EVEREST as its mission's name,
#   'k2' (everest/detrender.py: mission defaults to 'k2'); MISSION is compared without regard to case.
EVEREST = LightCurveFormat(name="K2 EVEREST light curve", telescope="Kepler", mission="k2", quality_column="QUALITY",
                           quality_flags=KEPLER_QUALITY, time_system=BKJD, extension="ARRAYS", flux_column="FLUX",
                           flux_err_column=None, raw_flux_column="FRAW", raw_flux_err_column="FRAW_ERR")

# Keyed by MAST's provenance names, as the catalog and the archive spell them.
PRODUCT_FORMATS: dict[str, LightCurveFormat] = {
    "Kepler": KEPLER_LLC,
    "K2": K2_LLC,
    "K2SFF": K2SFF,
    "EVEREST": EVEREST,
    "SPOC": TESS_SPOC,
    "TESS-SPOC": TESS_SPOC_FFI,
    "QLP": QLP,
}


def product_format(product: str) -> LightCurveFormat:
    """The format of a product's light curves, by its MAST provenance name (exactly as spelled there)."""
    fmt = PRODUCT_FORMATS.get(product)
    if fmt is None:
        raise InvalidInputError("product", f"{product!r} is not a light-curve product read here: one of "
                                           f"{', '.join(PRODUCT_FORMATS)}")
    return fmt
