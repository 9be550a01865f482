"""The layouts of MAST's light-curve products, as their documents describe them and the genuine files show them.

Sources: Kepler Archive Manual (KDMC-10008-006, section 2.3.1, light curve files; K2 light curves use the same
format, K2 Handbook section 2.2), TESS Science Data Products Description Document (EXP-TESS-ARC-ICD-0014, light
curve files; TESS-SPOC full-frame-image light curves share it). Each layout is checked against every genuine file
of its product in ``tests/fixtures/real_fits/`` (``tests/test_standins.py``), and the stand-ins are built to it.

A keyword's expected value is either the value itself, a kind (``int``, ``float``, ``str``), a pattern the
string must match whole, or :data:`ABSENT`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass

ABSENT = object()  # the keyword must not be in the header
Expected = object  # a value, a kind (int, float, str), a compiled pattern, or ABSENT


@dataclass(frozen=True)
class Column:
    """A LIGHTCURVE table column: its name (TTYPE), FITS format (TFORM) and unit (TUNIT, None when there is none)."""

    name: str
    tform: str
    unit: str | None


@dataclass(frozen=True)
class Layout:
    """One product: its HDUs in order, its LIGHTCURVE columns in order, and key keywords of two of its HDUs."""

    product: str
    hdus: tuple[str, ...]
    columns: tuple[Column, ...]
    primary: Mapping[str, Expected]
    lightcurve: Mapping[str, Expected]

    @property
    def quality_column(self) -> str:
        return next(c.name for c in self.columns if c.name.endswith("QUALITY"))


def _columns(time_unit: str, quality: str) -> tuple[Column, ...]:
    """The 20 columns Kepler, K2 and TESS SPOC share; they differ in the time unit and the quality column's name.

    The units are spelled as in the files: ``pixels`` for POS_CORR, ``e-/s`` for fluxes, no unit for
    CADENCENO and the quality flags.
    """
    pixel, flux = "pixel", "e-/s"
    return (
        Column("TIME", "D", time_unit),
        Column("TIMECORR", "E", "d"),
        Column("CADENCENO", "J", None),
        Column("SAP_FLUX", "E", flux),
        Column("SAP_FLUX_ERR", "E", flux),
        Column("SAP_BKG", "E", flux),
        Column("SAP_BKG_ERR", "E", flux),
        Column("PDCSAP_FLUX", "E", flux),
        Column("PDCSAP_FLUX_ERR", "E", flux),
        Column(quality, "J", None),
        Column("PSF_CENTR1", "D", pixel),
        Column("PSF_CENTR1_ERR", "E", pixel),
        Column("PSF_CENTR2", "D", pixel),
        Column("PSF_CENTR2_ERR", "E", pixel),
        Column("MOM_CENTR1", "D", pixel),
        Column("MOM_CENTR1_ERR", "E", pixel),
        Column("MOM_CENTR2", "D", pixel),
        Column("MOM_CENTR2_ERR", "E", pixel),
        Column("POS_CORR1", "E", "pixels"),
        Column("POS_CORR2", "E", "pixels"),
    )


HDUS = ("PRIMARY", "LIGHTCURVE", "APERTURE")
KEPLER_LONG_CADENCE_DAYS = 0.02043359821692  # 270 frames of 6.54 s
TESS_TWO_MINUTES_DAYS = 0.001388888888888889

_TIMING = {  # LIGHTCURVE keywords that place TIME: BJD = BJDREFI + BJDREFF + TIME, in days, barycentric (TDB)
    "TIMEREF": "SOLARSYSTEM",
    "TIMESYS": "TDB",
    "BJDREFF": 0.0,
    "TIMEUNIT": "d",
    "TSTART": float,
    "TSTOP": float,
    "TELAPSE": float,
    "LIVETIME": float,
}

_KEPLER_PRIMARY = {
    "TELESCOP": "Kepler",
    "INSTRUME": "Kepler Photometer",
    "KEPLERID": int,
    "OBSMODE": "long cadence",
    "RADESYS": "ICRS",
    "RA_OBJ": float,
    "DEC_OBJ": float,
    "KEPMAG": float,
    "CHANNEL": int,
    "MODULE": int,
    "OUTPUT": int,
    "TICID": ABSENT,
    "SECTOR": ABSENT,
}
_KEPLER_LIGHTCURVE = {
    **_TIMING,
    "EXTNAME": "LIGHTCURVE",
    "TELESCOP": "Kepler",
    "KEPLERID": int,
    "BJDREFI": 2454833,  # TIME is BKJD
    "TIMEDEL": KEPLER_LONG_CADENCE_DAYS,
    "LC_START": float,  # MJD of the first and last cadences' mid-points
    "LC_END": float,
}

KEPLER_LLC = Layout(
    product="Kepler long-cadence light curve (kplr*_llc.fits)",
    hdus=HDUS,
    columns=_columns("BJD - 2454833", "SAP_QUALITY"),
    primary={**_KEPLER_PRIMARY, "MISSION": "Kepler", "OBJECT": re.compile(r"KIC \d+"), "QUARTER": int,
             "SEASON": int, "SKYGROUP": int, "CAMPAIGN": ABSENT},
    lightcurve={**_KEPLER_LIGHTCURVE, "OBJECT": re.compile(r"KIC \d+")},
)

K2_LLC = Layout(
    product="K2 long-cadence light curve (ktwo*_llc.fits)",
    hdus=HDUS,
    columns=_columns("BJD - 2454833", "SAP_QUALITY"),
    # K2 keeps the Kepler keywords: the EPIC id is in KEPLERID, the campaign (102 for C10's second part) in CAMPAIGN
    primary={**_KEPLER_PRIMARY, "MISSION": "K2", "OBJECT": re.compile(r"EPIC \d+"), "CAMPAIGN": int,
             "QUARTER": ABSENT, "SEASON": ABSENT},
    lightcurve={**_KEPLER_LIGHTCURVE, "OBJECT": re.compile(r"EPIC \d+")},
)

TESS_SPOC_LC = Layout(
    product="TESS SPOC 2-minute light curve (tess*-s_lc.fits)",
    hdus=HDUS,
    columns=_columns("BJD - 2457000, days", "QUALITY"),
    primary={
        "TELESCOP": "TESS",
        "INSTRUME": "TESS Photometer",
        "MISSION": ABSENT,  # TESS files name their mission in TELESCOP only
        "OBJECT": re.compile(r"TIC \d+"),
        "TICID": int,
        "SECTOR": int,
        "CAMERA": int,
        "CCD": int,
        "RADESYS": "ICRS",
        "RA_OBJ": float,
        "DEC_OBJ": float,
        "TESSMAG": float,
        "TSTART": float,  # TESS repeats the observation's span in the primary header
        "TSTOP": float,
        "KEPLERID": ABSENT,
        "OBSMODE": ABSENT,
    },
    lightcurve={
        **_TIMING,
        "EXTNAME": "LIGHTCURVE",
        "TELESCOP": "TESS",
        "OBJECT": re.compile(r"TIC \d+"),
        "TICID": int,
        "BJDREFI": 2457000,  # TIME is BTJD
        "TIMEDEL": TESS_TWO_MINUTES_DAYS,
        "LC_START": ABSENT,
    },
)

# 20-second light curves (``-a_fast-lc.fits``, from sector 27) have the 2-minute files' layout at their cadence.
# No genuine one is at hand to fix how TIMEDEL (20 s, more digits than a card's 20 columns hold) is written.
TESS_SPOC_FAST_LC = dataclasses.replace(
    TESS_SPOC_LC, product="TESS SPOC 20-second light curve (tess*-a_fast-lc.fits)",
    lightcurve={**TESS_SPOC_LC.lightcurve, "TIMEDEL": float})

# TESS-SPOC (an HLSP of full-frame-image light curves) shares SPOC's layout; its cadence is the full-frame images'
# (30 minutes up to sector 26, 10 minutes to sector 55, 200 s after).
TESS_SPOC_FFI_LC = dataclasses.replace(
    TESS_SPOC_LC, product="TESS-SPOC full-frame-image light curve (hlsp_tess-spoc_*_lc.fits)",
    lightcurve={**TESS_SPOC_LC.lightcurve, "TIMEDEL": float})


# --- high-level science products (HLSPs) ------------------------------------------------------------------------
# Checked against the genuine QLP and K2SFF files in tests/fixtures/real_fits/; EVEREST against its writer (no
# genuine file is at hand). The "lightcurve" keywords are those of the HDU holding the light curve (QLP LIGHTCURVE,
# K2SFF BESTAPER, EVEREST ARRAYS). None of them carries CHECKSUM or DATASUM.
_NO_SUMS = {"CHECKSUM": ABSENT, "DATASUM": ABSENT}


def _qlp_columns(flux: str) -> tuple[Column, ...]:
    """QLP's 13 columns: normalized fluxes without units; ``flux`` names the detrended flux (KSPSAP_FLUX, DET_FLUX
    from sector 56)."""
    return (
        Column("TIME", "D", "BJD-2457000, days"),
        Column("CADENCENO", "J", None),
        Column("SAP_FLUX", "E", None),
        Column(flux, "E", None),
        Column("KSPSAP_FLUX_ERR", "E", None),
        Column("QUALITY", "J", None),
        Column("ORBITID", "J", None),
        Column("SAP_X", "E", "pixel"),
        Column("SAP_Y", "E", "pixel"),
        Column("SAP_BKG", "E", None),
        Column("SAP_BKG_ERR", "E", None),
        Column("KSPSAP_FLUX_SML", "E", None),
        Column("KSPSAP_FLUX_LAG", "E", None),
    )


QLP_LLC = Layout(
    product="QLP full-frame-image light curve (hlsp_qlp_*_llc.fits)",
    hdus=("PRIMARY", "LIGHTCURVE"),  # no APERTURE
    columns=_qlp_columns("KSPSAP_FLUX"),
    primary={"ORIGIN": "MIT/QLP", "TELESCOP": "TESS", "MISSION": ABSENT, "OBJECT": re.compile(r"TIC \d+"),
             "TICID": int, "SECTOR": int, "CAMERA": int, "CCD": int, "TESSMAG": float, "DATE": ABSENT, **_NO_SUMS},
    lightcurve={"EXTNAME": "LIGHTCURVE", "INHERIT": "T",  # a string, not a logical
                "TIMEREF": "SOLARSYSTEM", "TIMESYS": "TDB", "BJDREFI": 2457000,
                "BJDREFR": 0.0, "BJDREFF": ABSENT,  # QLP names the fraction BJDREFR
                "TIMEUNIT": "d", "TSTART": float, "TSTOP": float, "TIMEDEL": float, "TELAPS": float, **_NO_SUMS},
)
# From sector 56 QLP names its detrended flux DET_FLUX (data-sources.md); the rest of the file is the same here.
QLP_DET_LLC = dataclasses.replace(QLP_LLC, product="QLP light curve, sector 56 on (DET_FLUX)",
                                  columns=_qlp_columns("DET_FLUX"))

K2SFF_APERTURES = tuple(f"{kind}_APER{n}" for kind in ("CIRC", "PRF") for n in range(10))
K2SFF_LLC = Layout(
    product="K2SFF light curve (hlsp_k2sff_*_llc.fits)",
    # BESTAPER (a copy of the best of the 20 apertures' tables), the 20 tables, the apertures, the stacked image
    hdus=("PRIMARY", "BESTAPER", *K2SFF_APERTURES, "CIRC_APER_TBL", "PRF_APER_TBL", "STACKED_IMG"),
    columns=(Column("T", "D", None), Column("FRAW", "D", None), Column("FCOR", "D", None),
             Column("ARCLENGTH", "D", None), Column("MOVING", "I", None), Column("CADENCENO", "J", None)),
    primary={"TELESCOP": "Kepler", "MISSION": "K2", "OBJECT": re.compile(r"EPIC \d+"), "KEPLERID": int,
             "CAMPAIGN": int, "CHANNEL": int, "KEPMAG": float, **_NO_SUMS},
    lightcurve={"EXTNAME": "BESTAPER", "INHERIT": True, "BJDREFI": 2454833, "BJDREFF": 0.0,
                "TIMEDEL": KEPLER_LONG_CADENCE_DAYS, "TSTART": float, "TSTOP": float, "MASKTYPE": str,
                "MASKINDE": int, **_NO_SUMS},
)

EVEREST_CBVS = 6  # a constant and 5 SysRem CBVs (everest/missions/k2/sysrem.py GetCBVs: ncbv=5)
EVEREST_LC = Layout(
    product="EVEREST 2.0 light curve (hlsp_everest_*_lc.fits)",
    hdus=("PRIMARY", "ARRAYS", "PIXELS", "APERTURE MASK", "POSTAGE STAMPS", "HI RES IMAGE"),
    # in campaigns 0-2 a BKG column (e-/s) follows the CBVs (everest/missions/k2/utils.py RemoveBackground)
    columns=(Column("CADN", "D", None), Column("FLUX", "D", "e-/s"), Column("FRAW", "D", "e-/s"),
             Column("FRAW_ERR", "D", "e-/s"), Column("QUALITY", "J", None), Column("TIME", "D", "BJD - 2454833"),
             Column("FCOR", "D", "e-/s"), *(Column(f"CBV{n:02d}", "D", None) for n in range(1, EVEREST_CBVS + 1))),
    primary={"TELESCOP": "Kepler", "MISSION": "k2", "OBJECT": re.compile(r"EPIC \d+"), "KEPLERID": int,
             "CAMPAIGN": int, "KEPMAG": float, "VERSION": "2.0", **_NO_SUMS},
    lightcurve={"EXTNAME": "ARRAYS", "MISSION": "k2", "VERSION": "2.0", "MODEL": str, "BJDREFI": 2454833,
                "TIMEDEL": KEPLER_LONG_CADENCE_DAYS, "TSTART": float, "TSTOP": float, **_NO_SUMS},
)


def keyword_problems(header: Mapping[str, object], expected: Mapping[str, Expected]) -> list[str]:
    """What in ``header`` differs from ``expected``, one line a keyword (empty when all hold)."""
    problems = []
    for keyword, want in expected.items():
        present = keyword in header
        if want is ABSENT:
            if present:
                problems.append(f"{keyword} is present ({header[keyword]!r}), the product has none")
        elif not present:
            problems.append(f"{keyword} is missing")
        elif not _matches(header[keyword], want):
            problems.append(f"{keyword} = {header[keyword]!r}, expected {_describe(want)}")
    return problems


def _matches(value: object, want: Expected) -> bool:
    if isinstance(want, re.Pattern):
        return isinstance(value, str) and want.fullmatch(value) is not None
    if want in (int, float, str):
        return type(value) is want  # bool is not an int here: FITS tells T/F apart from numbers
    return type(value) is type(want) and value == want


def _describe(want: Expected) -> str:
    if isinstance(want, re.Pattern):
        return f"a string matching {want.pattern!r}"
    if isinstance(want, type):
        return f"a value of kind {want.__name__}"
    return repr(want)
