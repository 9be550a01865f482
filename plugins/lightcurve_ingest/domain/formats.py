"""Which columns of a light-curve file are what: per mission, later per product.

Two layouts today: the Kepler/K2 long-cadence ``LLC`` files (quality in ``SAP_QUALITY``, times in BKJD) and the
TESS SPOC light curves (quality in ``QUALITY``, times in BTJD). A Kepler and a K2 file differ only in the
``MISSION`` keyword of their primary header, so the two share one layout and differ in that value.

The quality flags and their named bitmasks are those of lightkurve 2.6.0 (``lightkurve/utils.py``,
``KeplerQualityFlags`` and ``TessQualityFlags``), so a light curve read here keeps the same cadences as
``lightkurve.read(path, quality_bitmask=...)`` would.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import reduce
from numbers import Integral
from typing import TYPE_CHECKING

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


@dataclass(frozen=True)
class LightCurveFormat:
    """One layout of light-curve file: its table, the columns by role, the quality flags and the time system,
    and the header values that say which mission wrote it."""

    name: str
    telescope: str  # TELESCOP of the primary header
    mission: str  # MISSION of the primary header when the file has one (TESS files have none)
    quality_column: str
    quality_flags: QualityFlags
    time_system: TimeSystem
    extension: str = "LIGHTCURVE"
    time_column: str = "TIME"
    flux_column: str = "PDCSAP_FLUX"  # the science flux: systematics removed
    flux_err_column: str = "PDCSAP_FLUX_ERR"
    raw_flux_column: str = "SAP_FLUX"  # simple aperture photometry, before the systematics are removed
    raw_flux_err_column: str = "SAP_FLUX_ERR"


KEPLER_LLC = LightCurveFormat(name="Kepler long-cadence LLC", telescope="Kepler", mission="Kepler",
                              quality_column="SAP_QUALITY", quality_flags=KEPLER_QUALITY, time_system=BKJD)
K2_LLC = replace(KEPLER_LLC, name="K2 long-cadence LLC", mission="K2")
TESS_SPOC = LightCurveFormat(name="TESS SPOC light curve", telescope="TESS", mission="TESS",
                             quality_column="QUALITY", quality_flags=TESS_QUALITY, time_system=BTJD)
