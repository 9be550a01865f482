"""The genuine MAST light curves in ``tests/fixtures/real_fits/`` and what each one is (see its README)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REAL_FITS_DIR = Path(__file__).parent / "fixtures" / "real_fits"


@dataclass(frozen=True)
class RealFile:
    """One genuine file: its mission (as the catalog spells it), star id, observing unit, rows, and the product
    that made it (its MAST provenance name, a key of ``PRODUCT_FORMATS``)."""

    name: str
    mission: str
    target_id: int
    unit: int
    rows: int
    product: str

    @property
    def path(self) -> Path:
        return REAL_FITS_DIR / self.name


KEPLER_90_Q3 = RealFile("kplr011442793-2009350155506_llc.fits", "Kepler", 11442793, 3, 4370, "Kepler")
KEPLER_90_Q4_PART = RealFile("kplr011442793-2010009091648_llc.fits", "Kepler", 11442793, 4, 1021, "Kepler")
K2_C13 = RealFile("ktwo247887989-c13_llc.fits", "K2", 247887989, 13, 3944, "K2")
K2_C102 = RealFile("ktwo228732031-c102_llc.fits", "K2", 228732031, 102, 3384, "K2")
TESS_S1_WASP_126 = RealFile("tess2018206045859-s0001-0000000025155310-0120-s_lc.fits", "TESS", 25155310, 1, 20076,
                            "SPOC")
TESS_S24 = RealFile("tess2020106103520-s0024-0000000039903405-0180-s_lc.fits", "TESS", 39903405, 24, 19074, "SPOC")
TESS_S41 = RealFile("tess2021204101404-s0041-0000000256364928-0212-s_lc.fits", "TESS", 256364928, 41, 19149, "SPOC")
# TESS-SPOC (an HLSP from full-frame images) has the SPOC layout, at 30-minute cadence.
TESS_SPOC_S24 = RealFile("hlsp_tess-spoc_tess_phot_0000000039903405-s0024_tess_v1_lc.fits", "TESS", 39903405, 24, 1271,
                         "TESS-SPOC")

PIPELINE_FILES = (KEPLER_90_Q3, KEPLER_90_Q4_PART, K2_C13, K2_C102, TESS_S1_WASP_126, TESS_S24, TESS_S41)
SPOC_LAYOUT_FILES = PIPELINE_FILES + (TESS_SPOC_S24,)

# High-level science products of other layouts; neither carries CHECKSUM or DATASUM keywords.
# QLP: MIT's Quick-Look Pipeline, from full-frame images (30-minute cadence in S24).
QLP_S24 = RealFile("hlsp_qlp_tess_ffi_s0024-0000000039903405_tess_v01_llc.fits", "TESS", 39903405, 24, 1226, "QLP")
# K2SFF (Vanderburg & Johnson): C91 is the first part of campaign 9, as its CAMPAIGN keyword says.
K2SFF_C91 = RealFile("hlsp_k2sff_k2_lightcurve_221312395-c91_kepler_v1_llc.fits", "K2", 221312395, 91, 1119, "K2SFF")
HLSP_OTHER_LAYOUT_FILES = (QLP_S24, K2SFF_C91)

# Not pristine: cut short by their projects. dip_llc.fits keeps its original CHECKSUMs, so two HDUs no longer sum
# to -0 and it must be refused.
DAMAGED_DIP = REAL_FITS_DIR / "modified" / "dip_llc.fits"
PIMEN_100_CADENCES = REAL_FITS_DIR / "modified" / "test-lc-tess-pimen-100-cadences.fits"
