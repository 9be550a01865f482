"""Stand-in HLSP light curves of the layouts other than SPOC's: QLP, K2SFF and EVEREST (TESS-SPOC shares SPOC's
layout: :func:`.fits_factory.make_tess_spoc_fits`).

QLP and K2SFF follow their genuine files in ``tests/fixtures/real_fits/`` (the templates): HDUs, columns and every
header card (keyword, order, comment, MWRFITS's own card images), with this star's ids, sector or campaign, detector,
position, span and dates put in. Neither has CHECKSUM or DATASUM, as the genuine files have none.

* QLP (``hlsp_qlp_*_llc.fits``): PRIMARY and LIGHTCURVE only, 13 columns, fluxes normalized to 1, ``BJDREFR``.
  The gap between the sector's two orbits is left out (no NaN rows; ``CADENCENO`` jumps), as in the genuine file.
  From sector 56 the detrended flux column is ``DET_FLUX`` (:data:`.layouts.QLP_DET_LLC`).
* K2SFF (``hlsp_k2sff_*_llc.fits``): 25 HDUs; BESTAPER is a copy of PRF_APER0 (as in the genuine file) and each
  of the 20 apertures' tables holds ``T``, ``FRAW``, ``FCOR``, ``ARCLENGTH``, ``MOVING``, ``CADENCENO``; one cadence
  in :data:`K2SFF_DROP_EVERY` is left out, as K2SFF leaves out cadences.
* EVEREST (``hlsp_everest_*_lc.fits``): no genuine file was at hand. The layout is its writer's,
  ``everest/fits.py`` ``MakeFITS`` of github.com/rodluger/everest at de0ec6bf03e21e6ab33849ee01f42c4f5f379dc4 (the
  v2 writer, unchanged in what it writes since 2017-03), with the K2 target-pixel-file cards it copies
  (``everest/missions/k2/k2.py`` ``HDUCards``) taken from the genuine K2SFF file, which copied the same cards; the
  columns are those lightkurve's reader uses (``src/lightkurve/io/everest.py``: ``flux``, ``quality``, ``cadn``,
  BKJD ``time``) and the EVEREST documentation lists (luger.dev/everest/fitsfiles.html): PRIMARY, ARRAYS, PIXELS,
  APERTURE MASK, POSTAGE STAMPS, HI RES IMAGE. Written by astropy as EVEREST's writer did (no CHECKSUM).

Fluxes carry the star's variability (:func:`.fits_factory.stellar_variability`) and its planets' transits
(:func:`.fits_factory.transit_model`) as the pipeline files do: QLP's ``SAP_FLUX`` both, its detrended flux
(``KSPSAP_FLUX``/``DET_FLUX`` and the small and large apertures') the transits only (QLP's spline takes the
variability out); K2SFF's ``FCOR`` and EVEREST's ``FLUX``/``FCOR`` both (they remove pointing systematics, which
``FRAW`` keeps). With ``planted`` every flux also carries :func:`.fits_factory.planted_period_days`'s sinusoid.

Sizes: :func:`qlp_size`, :func:`k2sff_size` and :func:`everest_size` give a file's length without building it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cache

import numpy as np
from astropy.io import fits

from ..real_fits import K2SFF_C91, QLP_S24
from .fits_factory import (
    _FIRST_CADENCE_DAYS,
    _K2_FLAGS,
    _K2_SPLIT_CAMPAIGN_GAP,
    _KEPLER_CADENCE_EPOCH,
    _MJD_ZERO,
    _TESS_CADENCE_EPOCH,
    LONG_CADENCE_DAYS,
    PLANTED_AMPLITUDE,
    Transit,
    _Every,
    _Flags,
    _kepler_detector,
    _quality,
    _Run,
    _utc_text,
    k2_campaign_start_bkjd,
    planted_period_days,
    stellar_variability,
    transit_model,
)
from .layouts import EVEREST_CBVS, EVEREST_LC, K2SFF_LLC, QLP_DET_LLC, QLP_LLC, Column, Layout
from .timeline import KEPLER_BJD_OFFSET, MJD_TO_JD, TESS_BJD_OFFSET, sector_mjd

DET_FLUX_FROM_SECTOR = 56  # QLP names its detrended flux DET_FLUX from this sector on
K2SFF_DROP_EVERY = 48  # K2SFF leaves out one cadence in this many (the genuine C91 file: 2 %)
EVEREST_PIXELS = 20  # aperture pixels in the PIXELS table's FPIX column
EVEREST_NEIGHBORS = 10  # nPLD's neighboring stars (NEIGHnn cards, X1N columns)
EVEREST_SUBVERSION = "2.0.12"  # everest/__init__.py __version__ at the commit above
EVEREST_EARLIEST_DATE = "2017-03-17"  # files are dated no earlier than that writer
_BLOCK = 2880
QLP_ROW_BYTES = 56  # 13 columns: 1 D, 12 E or J
K2SFF_ROW_BYTES = 38  # 4 D, 1 I, 1 J
K2SFF_TABLES = 21  # BESTAPER and the 20 apertures
_QLP_NOISE = 2e-4  # the genuine S24 file's KSPSAP_FLUX_ERR: 1.8e-4
_QLP_FLAGS = _Flags(  # the genuine S24 file: 4096 on 6 % of the cadences (scattered light), 32 once (a momentum dump)
    runs=(_Run(4096, 0.0, 0.025), _Run(4096, 0.51, 0.025)),
    every=(_Every(32, 3.125, 0.0),),
    scattered=((4096, 0.005),),
    no_flux_bits=0,
    no_pdcsap_bits=0,
)
_K2SFF_ROLL_CADENCES = 12  # a thruster firing every 6 hours: MOVING set, ARCLENGTH starts over
_K2SFF_IMAGE = (10, 11)  # STACKED_IMG rows, columns (the genuine file's)
_CIRCLE_RADII = (1.2, 1.6, 2.5, 3.0, 3.7, 4.5, 5.5, 6.0, 6.5, 7.0)
_EVEREST_BAD, _EVEREST_NAN, _EVEREST_OUTLIER = 1 << 22, 1 << 23, 1 << 24  # everest/config.py QUALITY_BAD/NAN/OUT
_KEPLER_DEFAULT_BITMASK = 1130799  # lightkurve's "default" quality bitmask: what EVEREST calls bad too


def qlp_flux_column(sector: int) -> str:
    """The detrended flux column of a QLP file of ``sector``: KSPSAP_FLUX, DET_FLUX from sector 56."""
    return "DET_FLUX" if sector >= DET_FLUX_FROM_SECTOR else "KSPSAP_FLUX"


def qlp_layout(sector: int) -> Layout:
    """The layout of a QLP file of ``sector`` (:data:`.layouts.QLP_DET_LLC` from sector 56)."""
    return QLP_DET_LLC if sector >= DET_FLUX_FROM_SECTOR else QLP_LLC


# --- the star ----------------------------------------------------------------------------------------------

def _star(seed: int, target_id: int, time: np.ndarray, system: str, transits: tuple[Transit, ...],
          period: float | None) -> tuple[np.ndarray, np.ndarray]:
    """(variability, transits and planted sinusoid) at each ``time``: the factors a flux carries."""
    dips = transit_model(transits, time, system)
    if period is not None:
        first = time[0] if len(time) else 0.0
        dips = dips * (1.0 + PLANTED_AMPLITUDE * np.sin(2.0 * np.pi * (time - first) / period))
    return stellar_variability(seed, target_id, time), dips


# --- writing FITS without astropy's Header (ten times faster for these 25-HDU files) ------------------------------

@dataclass(frozen=True)
class _Cards:
    """A header as its cards' 80-character images, with their keywords and comments."""

    images: tuple[str, ...]
    keywords: tuple[str, ...]
    comments: tuple[str, ...]

    @classmethod
    def of(cls, header: fits.Header) -> _Cards:
        cards = header.cards
        return cls(tuple(c.image for c in cards), tuple(c.keyword for c in cards), tuple(c.comment for c in cards))

    @classmethod
    def new(cls, cards: Iterable[tuple]) -> _Cards:
        """Cards from (keyword, value[, comment]) tuples."""
        return cls.of(fits.Header([fits.Card(*card) for card in cards]))

    def filled(self, values: Mapping[str, object]) -> _Cards:
        """These cards with the values of ``values`` (order and comments kept; every keyword must be there)."""
        images = list(self.images)
        for keyword, value in values.items():
            at = self.keywords.index(keyword)
            images[at] = fits.Card(keyword, value, self.comments[at]).image
        return replace(self, images=tuple(images))

    def picked(self, names: Iterable[str], values: Mapping[str, object]) -> _Cards:
        """The cards named (in that order, those missing left out), with the values of ``values``."""
        at = [self.keywords.index(n) for n in names if n in self.keywords]
        chosen = _Cards(tuple(self.images[i] for i in at), tuple(self.keywords[i] for i in at),
                        tuple(self.comments[i] for i in at))
        return chosen.filled({k: v for k, v in values.items() if k in chosen.keywords})

    def without(self, keyword: str) -> _Cards:
        keep = [i for i, k in enumerate(self.keywords) if k != keyword]
        return _Cards(*(tuple(part[i] for i in keep) for part in (self.images, self.keywords, self.comments)))

    def __add__(self, other: _Cards) -> _Cards:
        return _Cards(self.images + other.images, self.keywords + other.keywords, self.comments + other.comments)

    def hdu(self, data: bytes = b"") -> bytes:
        """The HDU: the cards, END, blanks to a whole block, then ``data`` padded with zeros."""
        text = "".join(self.images) + "END".ljust(80)
        text += " " * (-len(text) % _BLOCK)
        return text.encode("ascii") + data + b"\0" * (-len(data) % _BLOCK)


def _padded(length: int) -> int:
    return _BLOCK * math.ceil(length / _BLOCK)


def _table_array(columns: tuple[Column, ...], rows: int) -> np.ndarray:
    formats = {"D": ">f8", "E": ">f4", "J": ">i4", "I": ">i2"}
    return np.zeros(rows, dtype=[(c.name, formats[c.tform]) for c in columns])


def _check_layout(name: str, hdus: fits.HDUList, table: str, layout: Layout) -> None:
    columns = tuple(Column(c.name, c.format, c.unit) for c in hdus[table].columns)
    if columns != layout.columns or tuple(h.name for h in hdus) != layout.hdus:
        raise ValueError(f"{name}: its HDUs or columns are not the {layout.product} layout's")


def _day(mjd: float, days_later: float) -> str:
    return (_MJD_ZERO + timedelta(days=mjd + days_later)).strftime("%Y-%m-%d")


# --- QLP ---------------------------------------------------------------------------------------------------------

@cache
def _qlp_template() -> tuple[_Cards, _Cards]:
    with fits.open(QLP_S24.path) as hdus:
        _check_layout(QLP_S24.name, hdus, "LIGHTCURVE", QLP_LLC)
        return _Cards.of(hdus[0].header), _Cards.of(hdus[1].header)


def qlp_orbit_gap(rows: int) -> tuple[int, int]:
    """(rows before the gap between the orbits, cadences the gap skips) of a QLP file of ``rows`` rows."""
    return int(rows * 0.49), rows // 24


def make_qlp_fits(tic: int, sector: int, rows: int, seed: int, exptime_s: float = 1800.0, ra: float = 0.0,
                  dec: float = 0.0, planted: bool = False, transits: tuple[Transit, ...] = ()) -> bytes:
    """Return the bytes of a QLP light curve of ``rows`` cadences at ``exptime_s`` (no CHECKSUM); from sector 56 its
    detrended flux column is DET_FLUX."""
    rng = np.random.default_rng([seed, tic, sector, round(exptime_s), 11])
    cadence = exptime_s / 86400.0
    start = sector_mjd(sector)[0] + _FIRST_CADENCE_DAYS + MJD_TO_JD - TESS_BJD_OFFSET
    split, gap = qlp_orbit_gap(rows)
    index = np.arange(rows) + np.where(np.arange(rows) >= split, gap, 0)
    time = start + cadence * index
    period = planted_period_days(tic, sector, cadence) if planted else None
    variability, dips = _star(seed, tic, time, "BTJD", transits, period)
    layout = qlp_layout(sector)
    table = _table_array(layout.columns, rows)

    def noisy(model: np.ndarray, scale: float = 1.0) -> np.ndarray:
        return model * (1.0 + rng.normal(0.0, _QLP_NOISE * scale, rows))

    table["TIME"] = time
    table["CADENCENO"] = round((start - _TESS_CADENCE_EPOCH) / cadence) + index
    table["SAP_FLUX"] = noisy(variability * dips)
    table[qlp_flux_column(sector)] = noisy(dips)
    table["KSPSAP_FLUX_ERR"] = _QLP_NOISE
    table["QUALITY"] = _quality(_QLP_FLAGS, rows, cadence, rng).flags
    table["ORBITID"] = 2 * sector + 7 + (np.arange(rows) >= split)  # sector 24: orbits 55 and 56
    column, row = rng.uniform(50.0, 2000.0), rng.uniform(50.0, 2000.0)
    table["SAP_X"] = column + rng.normal(0.0, 0.005, rows)
    table["SAP_Y"] = row + rng.normal(0.0, 0.005, rows)
    table["SAP_BKG"] = rng.normal(0.0, 80.0, rows)
    table["SAP_BKG_ERR"] = np.abs(rng.normal(330.0, 40.0, rows))
    table["KSPSAP_FLUX_SML"] = noisy(dips, 1.3)
    table["KSPSAP_FLUX_LAG"] = noisy(1.0 - 0.9 * (1.0 - dips), 0.9)  # a large aperture dilutes the transits
    tstart, tstop = (float(time[0]), float(time[-1])) if rows else (start, start)
    camera, ccd = 1 + (tic + sector) % 4, 1 + (tic // 4 + sector) % 4  # as the star's SPOC files
    common = {"OBJECT": f"TIC {tic}", "TICID": tic, "RA_OBJ": ra, "DEC_OBJ": dec}
    primary_template, lightcurve_template = _qlp_template()
    primary = primary_template.filled({**common, "SECTOR": sector, "CAMERA": camera, "CCD": ccd,
                                       "TESSMAG": round(6.0 + (tic % 900) / 100.0, 3)})
    mjd_offset = TESS_BJD_OFFSET - MJD_TO_JD
    lightcurve = lightcurve_template.filled({
        **common, "NAXIS2": rows, "TELAPS": tstop - tstart, "TSTART": tstart, "TSTOP": tstop, "TIMEDEL": cadence,
        "MJD-BEG": tstart + mjd_offset, "MJD-END": tstop + mjd_offset, "TTYPE4": qlp_flux_column(sector)})
    return primary.hdu() + lightcurve.hdu(table.tobytes())


def qlp_size(rows: int) -> int:
    """Byte length of a :func:`make_qlp_fits` file of ``rows`` rows, any sector (without building it)."""
    return _qlp_fixed_bytes() + _padded(rows * QLP_ROW_BYTES)


@cache
def _qlp_fixed_bytes() -> int:
    return len(make_qlp_fits(261136679, 1, 0, 0))


# --- K2SFF -------------------------------------------------------------------------------------------------------

@cache
def _k2sff_template() -> tuple[_Cards, ...]:
    with fits.open(K2SFF_C91.path) as hdus:
        _check_layout(K2SFF_C91.name, hdus, "BESTAPER", K2SFF_LLC)
        return tuple(_Cards.of(hdu.header) for hdu in hdus)


def k2sff_cadences(rows: int) -> np.ndarray:
    """Cadence offsets (from the campaign's first) of a K2SFF file's rows: one in :data:`K2SFF_DROP_EVERY` left
    out."""
    index = np.arange(rows)
    return index + index // (K2SFF_DROP_EVERY - 1)


def _k2sff_masks(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The circular apertures, the PRF-fit apertures (nested, from the stacked image) and the stacked image."""
    rows, columns = _K2SFF_IMAGE
    y, x = np.mgrid[:rows, :columns]
    cy, cx = (rows - 1) / 2 + rng.uniform(-0.5, 0.5), (columns - 1) / 2 + rng.uniform(-0.5, 0.5)
    distance = np.hypot(y - cy, x - cx)
    circles = np.array([distance <= r for r in _CIRCLE_RADII], dtype=">f4")
    image = 30.0 + rng.normal(0.0, 3.0, (rows, columns)) + 60.0 * np.exp(-0.5 * (distance / 1.3) ** 2)
    order = np.argsort(-image, axis=None)
    prf = np.zeros((10, rows, columns), dtype=">f4")
    for n, count in enumerate((4, 9, 16, 22, 28, 34, 40, 46, 52, 58)):
        prf[n].flat[order[:count]] = 1.0
    return circles, prf, image.astype(">f8")


def make_k2sff_fits(epic_id: int, campaign: int, rows: int, seed: int, ra: float = 0.0, dec: float = 0.0,
                    planted: bool = False, transits: tuple[Transit, ...] = ()) -> bytes:
    """Return the bytes of a K2SFF light curve of ``rows`` rows (25 HDUs, no CHECKSUM)."""
    rng = np.random.default_rng([seed, epic_id, campaign, 13])
    start = k2_campaign_start_bkjd(campaign)
    offsets = k2sff_cadences(rows)
    time = start + LONG_CADENCE_DAYS * offsets
    period = planted_period_days(epic_id, campaign, LONG_CADENCE_DAYS) if planted else None
    variability, dips = _star(seed, epic_id, time, "BKJD", transits, period)
    roll = (offsets % _K2SFF_ROLL_CADENCES).astype(np.float64)
    arclength = 0.4 * roll + rng.uniform(0.0, 0.3, rows)
    circles, prf, image = _k2sff_masks(rng)
    tables = []
    for n in range(K2SFF_TABLES - 1):  # CIRC_APER0-9, PRF_APER0-9
        table = _table_array(K2SFF_LLC.columns, rows)
        systematics = 1.0 + 0.002 * (n % 10 + 1) * (arclength - 2.5) ** 2 / 6.0
        corrected = variability * dips * (1.0 + rng.normal(0.0, 1e-4 * (1 + n % 10), rows))
        table["T"], table["ARCLENGTH"], table["CADENCENO"] = time, arclength, _first_k2_cadence(start) + offsets
        table["MOVING"] = roll == 0
        table["FRAW"], table["FCOR"] = corrected * systematics, corrected
        tables.append(table)
    tables.insert(0, tables[10])  # BESTAPER: PRF_APER0's table, as in the genuine file
    masks = [*circles, *prf]
    headers = _k2sff_headers(epic_id, campaign, rows, ra, dec, time, [float(m.sum()) for m in masks])
    data = [b"", *(t.tobytes() for t in tables), circles.tobytes(), prf.tobytes(), image.tobytes()]
    return b"".join(h.hdu(d) for h, d in zip(headers, data, strict=True))


def _first_k2_cadence(start: float) -> int:
    return round((start - _KEPLER_CADENCE_EPOCH) / LONG_CADENCE_DAYS)


def _k2sff_headers(epic_id: int, campaign: int, rows: int, ra: float, dec: float, time: np.ndarray,
                   pixels: list[float]) -> list[_Cards]:
    """The template's 25 headers with this star's values; ``pixels``: each aperture's size (NPIXSAP)."""
    template = _k2sff_template()
    channel = 1 + (epic_id + campaign) % 84
    common = {"OBJECT": f"EPIC {epic_id}", "KEPLERID": epic_id, "RA_OBJ": ra, "DEC_OBJ": dec}
    span = _k2_span(time, rows, k2_campaign_start_bkjd(campaign))
    primary = template[0].filled({**common, **_kepler_detector(channel), "CAMPAIGN": campaign,
                                  "KEPMAG": round(9.0 + (epic_id % 700) / 100.0, 3),
                                  "DATE": _day(span["LC_END"], 130.0)})  # K2SFF's: months after the campaign
    wcs = {f"{axis}CRVL{column}": value for column in range(4, 10) for axis, value in ((1, ra), (2, dec))}
    best = pixels[10]  # PRF_APER0
    tables = [header.filled({**common, **span, **wcs, "NAXIS2": rows, "NPIXSAP": size})
              for header, size in zip(template[1:22], [best, *pixels], strict=True)]
    images = [header.filled({**common, "CRVAL1": ra, "CRVAL2": dec}) for header in template[22:]]
    return [primary, *tables, *images]


def _k2_span(time: np.ndarray, rows: int, start: float) -> dict[str, object]:
    """The timing cards of a K2 light curve whose cadence mid-points are ``time`` (BKJD)."""
    first, last = (float(time[0]), float(time[-1])) if rows else (start, start)
    tstart, tstop = first - LONG_CADENCE_DAYS / 2, last + LONG_CADENCE_DAYS / 2
    elapsed = tstop - tstart
    live = elapsed * 0.92063492  # the genuine file's DEADC
    mjd = KEPLER_BJD_OFFSET - MJD_TO_JD
    return {"TSTART": tstart, "TSTOP": tstop, "TELAPSE": elapsed, "LIVETIME": live, "EXPOSURE": live,
            "LC_START": first + mjd, "LC_END": last + mjd, "DATE-OBS": _utc_text(tstart + KEPLER_BJD_OFFSET, True),
            "DATE-END": _utc_text(tstop + KEPLER_BJD_OFFSET, True)}


def k2sff_size(rows: int) -> int:
    """Byte length of a :func:`make_k2sff_fits` file of ``rows`` rows (without building it)."""
    return _k2sff_fixed_bytes() + K2SFF_TABLES * _padded(rows * K2SFF_ROW_BYTES)


@cache
def _k2sff_fixed_bytes() -> int:
    return len(make_k2sff_fits(201000000, 1, 0, 0))


# --- EVEREST -----------------------------------------------------------------------------------------------------
# K2 target-pixel-file cards EVEREST copies into its HDUs (everest/missions/k2/k2.py HDUCards), in its order.
_TPF_PRIMARY_CARDS = ("TELESCOP", "INSTRUME", "OBJECT", "KEPLERID", "CHANNEL", "MODULE", "OUTPUT", "CAMPAIGN",
                      "DATA_REL", "OBSMODE", "TTABLEID", "RADESYS", "RA_OBJ", "DEC_OBJ", "EQUINOX", "KEPMAG")
_TPF_WCS_CARDS = tuple(
    name.replace("#", str(column)) for column in range(4, 10) for name in (
        "WCSN#P", "WCAX#P", "1CTY#P", "2CTY#P", "1CUN#P", "2CUN#P", "1CRV#P", "2CRV#P", "1CDL#P", "2CDL#P",
        "1CRP#P", "2CRP#P", "WCAX#", "1CTYP#", "2CTYP#", "1CRPX#", "2CRPX#", "1CRVL#", "2CRVL#", "1CUNI#", "2CUNI#",
        "1CDLT#", "2CDLT#", "11PC#", "12PC#", "21PC#", "22PC#"))
_TPF_TABLE_CARDS = (*_TPF_WCS_CARDS, "INHERIT", "EXTNAME", "EXTVER", "TELESCOP", "INSTRUME", "OBJECT", "KEPLERID",
                    "RADESYS", "RA_OBJ", "DEC_OBJ", "EQUINOX", "EXPOSURE", "TIMEREF", "TASSIGN", "TIMESYS", "BJDREFI",
                    "BJDREFF", "TIMEUNIT", "TELAPSE", "LIVETIME", "TSTART", "TSTOP", "LC_START", "LC_END", "DEADC",
                    "TIMEPIXR", "TIERRELA", "INT_TIME", "READTIME", "FRAMETIM", "NUM_FRM", "TIMEDEL", "DATE-OBS",
                    "DATE-END", "BACKAPP", "DEADAPP", "VIGNAPP", "GAIN", "READNOIS", "NREADOUT", "TIMSLICE",
                    "MEANBLCK", "LCFXDOFF", "SCFXDOFF")
_TPF_IMAGE_CARDS = ("TELESCOP", "INSTRUME", "OBJECT", "KEPLERID", "RADESYS", "RA_OBJ", "DEC_OBJ", "EQUINOX", "WCSAXES",
                    "CTYPE1", "CTYPE2", "CRPIX1", "CRPIX2", "CRVAL1", "CRVAL2", "CUNIT1", "CUNIT2", "CDELT1", "CDELT2",
                    "PC1_1", "PC1_2", "PC2_1", "PC2_2", "WCSNAMEP", "WCSAXESP", "CTYPE1P", "CUNIT1P", "CRPIX1P",
                    "CRVAL1P", "CDELT1P", "CTYPE2P", "CUNIT2P", "CRPIX2P", "CRVAL2P", "CDELT2P", "NPIXSAP", "NPIXMISS")
_EVEREST_IMAGE = (10, 11)  # aperture mask and postage stamps: rows, columns


def _section(title: str) -> list[tuple[str, str]]:
    return [("COMMENT", "************************"), ("COMMENT", f"*{title:^22}*"),
            ("COMMENT", "************************")]


def _mission_cards(template: _Cards, names: tuple[str, ...], values: Mapping[str, object]) -> _Cards:
    """HDUCards: the TPF cards ``names`` has, in that order (missing ones skipped, as EVEREST skips them)."""
    return _Cards.new(_section("MISSION INFO")) + template.picked(names, values)


def _everest_info(date: str) -> list[tuple]:
    return [*_section("EVEREST INFO"), ("MISSION", "k2", "Mission name"),
            ("VERSION", "2.0", "EVEREST pipeline version"),
            ("SUBVER", EVEREST_SUBVERSION, "EVEREST pipeline subversion"),
            ("DATE", date, "EVEREST file creation date (YYYY-MM-DD)")]

def _everest_model_cards(epic_id: int, rows: int, rng: np.random.Generator) -> list[tuple]:
    """LightcurveHDU's model cards, with nPLD's defaults (everest/detrender.py) and drawn CDPPs."""
    cdpp = [round(float(v), 3) for v in rng.uniform(20.0, 200.0, 4)]
    cards: list[tuple] = [("MODEL", "nPLD", "Name of EVEREST model used"),
                          ("APNAME", "k2sff_15", "Name of aperture used"), ("BPAD", 100, "Chunk overlap in cadences")]
    breakpoints = (rows // 2, max(rows - 1, 0))
    cards += [(f"BRKPT{c + 1:02d}", b, "Light curve breakpoint") for c, b in enumerate(breakpoints)]
    cards += [("CBVNUM", 1, "Number of CBV signals to recover"), ("CBVNITER", 50, "Number of CBV SysRem iterations"),
              ("CBVWIN", 999, "Window size for smoothing CBVs"), ("CBVORD", 3, "Order when smoothing CBVs"),
              ("CDIVS", 3, "Cross-validation subdivisions"), ("CDPP", cdpp[0], "Average de-trended CDPP"),
              ("CDPPR", cdpp[1], "Raw CDPP"), ("CDPPV", cdpp[2], "Average validation CDPP"),
              ("CDPPG", cdpp[3], "Average GP-de-trended CDPP")]
    for i in range(len(breakpoints)):
        cards += [(f"CDPP{i + 1:02d}", cdpp[0], "Chunk de-trended CDPP"),
                  (f"CDPPR{i + 1:02d}", cdpp[1], "Chunk raw CDPP"),
                  (f"CDPPV{i + 1:02d}", cdpp[2], "Chunk validation CDPP")]
    cards += [("CVMIN", "mad", "Cross-validation objective function"),
              ("GITER", 3, "Number of GP optimiziation iterations"),
              ("GMAXF", 3, "Max number of GP function evaluations"),  # the writer puts GITER's value here
              ("GPFACTOR", 100.0, "GP amplitude initialization factor"), ("KERNEL", "Basic", "GP kernel name"),
              ("GPWHITE", round(float(rng.uniform(5, 50)), 4), "GP white noise amplitude (e-/s)"),
              ("GPRED", round(float(rng.uniform(10, 200)), 4), "GP red noise amplitude (e-/s)"),
              ("GPTAU", round(float(rng.uniform(1, 20)), 4), "GP red noise timescale (days)")]
    cards += [(f"LAMB{c + 1:02d}{o + 1:02d}", float(10.0 ** rng.integers(5, 12)), "Cross-validation parameter")
              for c in range(len(breakpoints)) for o in range(3)]
    cards += [("LEPS", 0.05, "Cross-validation tolerance"), ("MAXPIX", 75, "Maximum size of TPF aperture")]
    cards += [("NRBY01ID", epic_id, "Nearby source ID"), ("NRBY01X", 5.0, "Nearby source X position"),
              ("NRBY01Y", 4.5, "Nearby source Y position"), ("NRBY01M", round(9.0 + (epic_id % 700) / 100.0, 3),
                                                            "Nearby source magnitude"),
              ("NRBY01X0", 0, "Nearby source reference X"), ("NRBY01Y0", 0, "Nearby source reference Y")]
    cards += [(f"NEIGH{i:02d}", epic_id + 7919 * (i + 1), "Neighboring star used to de-trend")
              for i in range(EVEREST_NEIGHBORS)]
    return cards + [("OITER", 10, "Number of outlier search iterations"), ("OPTGP", True, "GP optimization performed?"),
                    ("OSIGMA", 5, "Outlier tolerance (standard deviations)"), ("PLDORDER", 3, "PLD de-trending order"),
                    ("SATUR", False, "Is target saturated?"), ("SATTOL", -0.1, "Fractional saturation tolerance")]


def make_everest_fits(epic_id: int, campaign: int, rows: int, seed: int, ra: float = 0.0, dec: float = 0.0,
                      planted: bool = False, transits: tuple[Transit, ...] = ()) -> bytes:
    """Return the bytes of an EVEREST 2.0 light curve of ``rows`` cadences (6 HDUs, no CHECKSUM)."""
    rng = np.random.default_rng([seed, epic_id, campaign, 17])
    start = k2_campaign_start_bkjd(campaign)
    time = start + LONG_CADENCE_DAYS * np.arange(rows)
    flags = _K2_FLAGS.with_runs(_K2_SPLIT_CAMPAIGN_GAP) if campaign > 90 else _K2_FLAGS
    quality = _quality(flags, rows, LONG_CADENCE_DAYS, rng)
    period = planted_period_days(epic_id, campaign, LONG_CADENCE_DAYS) if planted else None
    variability, dips = _star(seed, epic_id, time, "BKJD", transits, period)
    level = rng.uniform(1e4, 1e5)
    flux = level * variability * dips * (1.0 + rng.normal(0.0, 1e-4, rows))
    cbvs = np.ones((rows, EVEREST_CBVS))
    for n in range(1, EVEREST_CBVS):  # slow systematics shared by the stars of a campaign
        cbvs[:, n] = np.sin(2.0 * np.pi * n * (time - start) / 80.0 + campaign)
    outliers = rng.random(rows) < 0.002
    everest_bits = (np.where(quality.flags & _KEPLER_DEFAULT_BITMASK, _EVEREST_BAD, 0)
                    + np.where(quality.no_flux, _EVEREST_NAN, 0) + np.where(outliers, _EVEREST_OUTLIER, 0))
    roll = 1.0 + 0.01 * ((np.arange(rows) % _K2SFF_ROLL_CADENCES) / _K2SFF_ROLL_CADENCES - 0.5)
    flux[quality.no_flux] = np.nan  # as EVEREST puts them back where the raw flux was NaN
    arrays = {"CADN": _first_k2_cadence(start) + np.arange(rows, dtype=np.float64), "FLUX": flux,
              "FRAW": flux * roll, "FRAW_ERR": np.full(rows, math.sqrt(level) * 2.0),
              "QUALITY": quality.flags | everest_bits, "TIME": time, "FCOR": flux - 0.001 * level * cbvs[:, 1],
              **{f"CBV{n + 1:02d}": cbvs[:, n] for n in range(EVEREST_CBVS)}}
    if campaign < 3:  # EVEREST subtracted the background in campaigns 0-2 only
        arrays["BKG"] = rng.normal(120.0, 5.0, rows)
    end = float(time[-1] if rows else start) + KEPLER_BJD_OFFSET - MJD_TO_JD
    date = max(_day(end, 400.0), EVEREST_EARLIEST_DATE)
    return b"".join(_everest_hdus(epic_id, campaign, rows, ra, dec, time, arrays, date, rng))


def _everest_hdus(epic_id: int, campaign: int, rows: int, ra: float, dec: float, time: np.ndarray,
                  arrays: dict[str, np.ndarray], date: str, rng: np.random.Generator) -> list[bytes]:
    """MakeFITS's six HDUs: the cards astropy writes for the data, then EVEREST's (as astropy puts them)."""
    template = _k2sff_template()  # the K2SFF file's cards are the TPF's cards EVEREST copies
    channel = 1 + (epic_id + campaign) % 84
    common = {"OBJECT": f"EPIC {epic_id}", "KEPLERID": epic_id, "RA_OBJ": ra, "DEC_OBJ": dec}
    info = _Cards.new(_everest_info(date))
    primary = _structure_cards("PRIMARY", ()) + _mission_cards(template[0], _TPF_PRIMARY_CARDS, {
        **common, **_kepler_detector(channel), "CAMPAIGN": campaign,
        "KEPMAG": round(9.0 + (epic_id % 700) / 100.0, 3)}) + info
    wcs = {f"{axis}CRVL{column}": value for column in range(4, 10) for axis, value in ((1, ra), (2, dec))}
    span = _k2_span(time, rows, k2_campaign_start_bkjd(campaign))
    units = {c.name: c.unit for c in EVEREST_LC.columns} | {"BKG": "e-/s"}
    spec = tuple((name, "J" if name == "QUALITY" else "D", units.get(name)) for name in arrays)
    table = np.zeros(rows, dtype=[(name, ">i4" if tform == "J" else ">f8") for name, tform, _ in spec])
    for name, values in arrays.items():
        table[name] = values
    mission = _mission_cards(template[1], _TPF_TABLE_CARDS, {**common, **span, **wcs, "EXTNAME": "ARRAYS"})
    lightcurve = (_structure_cards("ARRAYS", spec).without("EXTNAME").filled({"NAXIS2": rows}) + mission + info
                  + _Cards.new(_everest_model_cards(epic_id, rows, rng)))
    pixels = np.zeros(rows, dtype=[("FPIX", ">f8", EVEREST_PIXELS), ("X1N", ">f8", EVEREST_NEIGHBORS)])
    pixels["FPIX"] = _pixel_fluxes(arrays["FRAW"], rng)
    pixels["X1N"] = rng.normal(0.0, 1e-3, (rows, EVEREST_NEIGHBORS))
    pixel_spec = (("FPIX", f"{EVEREST_PIXELS}D", None), ("X1N", f"{EVEREST_NEIGHBORS}D", None))
    images = _mission_cards(template[24], _TPF_IMAGE_CARDS, {**common, "CRVAL1": ra, "CRVAL2": dec}) + info
    aperture, stamps = _everest_images(rng)
    stamp_table = np.zeros(_EVEREST_IMAGE[0], dtype=[(f"STAMP{n}", ">f8", _EVEREST_IMAGE[1]) for n in (1, 2, 3)])
    for n, stamp in enumerate(stamps, start=1):
        stamp_table[f"STAMP{n}"] = stamp
    stamp_spec = tuple((f"STAMP{n}", f"{_EVEREST_IMAGE[1]}D", None) for n in (1, 2, 3))
    return [primary.hdu(), lightcurve.hdu(table.tobytes()),
            _named(_structure_cards("PIXELS", pixel_spec).filled({"NAXIS2": rows}), info).hdu(pixels.tobytes()),
            _named(_structure_cards("APERTURE MASK", aperture.shape), images).hdu(aperture.astype(">i8").tobytes()),
            _named(_structure_cards("POSTAGE STAMPS", stamp_spec).filled({"NAXIS2": len(stamp_table)}),
                   images).hdu(stamp_table.tobytes()),
            _named(_structure_cards("HI RES IMAGE", (0, 0)), images).hdu()]


def _named(structure: _Cards, cards: _Cards) -> _Cards:
    """Astropy's layout of a named HDU given a header: the structure, the header's cards, then EXTNAME."""
    at = structure.keywords.index("EXTNAME")
    extname = _Cards(structure.images[at:at + 1], ("EXTNAME",), structure.comments[at:at + 1])
    return structure.without("EXTNAME") + cards + extname


@cache
def _structure_cards(name: str, spec: tuple) -> _Cards:
    """The cards astropy writes for an HDU named ``name``: the primary (``name`` PRIMARY), a table of 0 rows with
    columns ``spec`` ((name, format, unit), ...), or an image of shape ``spec``; EXTNAME last."""
    if name == "PRIMARY":
        return _Cards.of(fits.PrimaryHDU().header)
    if spec and isinstance(spec[0], tuple):
        columns = [fits.Column(name=n, format=f, unit=u, array=np.zeros((0, int(f[:-1] or 1)))) for n, f, u in spec]
        return _Cards.of(fits.BinTableHDU.from_columns(columns, name=name).header)
    dtype = np.int64 if name == "APERTURE MASK" else np.float64
    return _Cards.of(fits.ImageHDU(np.zeros(spec, dtype=dtype), name=name).header)


def _pixel_fluxes(fraw: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each aperture pixel's share of the raw flux."""
    shares = rng.dirichlet(np.ones(EVEREST_PIXELS))
    return np.nan_to_num(fraw)[:, None] * shares[None, :]


def _everest_images(rng: np.random.Generator) -> tuple[np.ndarray, list[np.ndarray]]:
    rows, columns = _EVEREST_IMAGE
    y, x = np.mgrid[:rows, :columns]
    star = np.exp(-0.5 * (np.hypot(y - rows / 2, x - columns / 2) / 1.5) ** 2)
    aperture = np.where(star > 0.2, 1, 0).astype(np.int64)
    stamps = [1000.0 * star + rng.normal(0.0, 5.0, (rows, columns)) for _ in range(3)]
    return aperture, stamps


def everest_size(rows: int, campaign: int) -> int:
    """Byte length of a :func:`make_everest_fits` file of ``rows`` rows in ``campaign`` (without building it)."""
    background = campaign < 3
    arrays_row = 8 * (6 + EVEREST_CBVS + background) + 4  # CADN, FLUX, FRAW, FRAW_ERR, TIME, FCOR, CBVs, BKG: D
    pixels_row = 8 * (EVEREST_PIXELS + EVEREST_NEIGHBORS)
    return _everest_fixed_bytes(background) + _padded(rows * arrays_row) + _padded(rows * pixels_row)


@cache
def _everest_fixed_bytes(background: bool) -> int:
    return len(make_everest_fits(201000000, 1 if background else 5, 0, 0))
