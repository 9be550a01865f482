"""Each product's light curves read through its format: the genuine SPOC, TESS-SPOC, QLP, K2SFF, Kepler and K2 files,
a QLP file of sector 56 on (``DET_FLUX``), and an EVEREST file built here with the layout everest writes. Each read
is checked against an independent astropy read of the columns named here (not taken from the format); a file of
another product, and an unknown product name, are refused naming what is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from lightcurve_ingest.domain.formats import (
    K2_LLC,
    KEPLER_LLC,
    PRODUCT_FORMATS,
    TESS_SPOC,
    product_format,
)
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.quicklook.lightcurve import BadLightCurveError, LightCurve, read_light_curve
from tests.real_fits import (
    K2_C13,
    K2SFF_C91,
    KEPLER_90_Q3,
    QLP_S24,
    TESS_S1_WASP_126,
    TESS_S24,
    TESS_SPOC_S24,
    RealFile,
)

# lightkurve 2.6.0's default bitmasks (lightkurve/utils.py): KeplerQualityFlags and TessQualityFlags; QLP is read
# with TessQualityFlags; K2SFF has no quality column.
KEPLER_DEFAULT, TESS_DEFAULT = 1130799, 17087
QLP_LOW_PRECISION = 4096  # bit 13, sectors 1-55 (lightkurve/io/qlp.py)
QLP_LOW_PRECISION_FROM_S56 = 1 << 30  # bit 31, sectors 56 on


@dataclass(frozen=True)
class Layout:
    """Where a product's file keeps each series, as its documentation and lightkurve's reader say."""

    extension: str
    time: str
    flux: str
    raw: str
    quality: str | None
    default_bits: int
    time_system: tuple[str, float]


BKJD, BTJD = ("BKJD", 2454833.0), ("BTJD", 2457000.0)
LAYOUTS = {
    "Kepler": Layout("LIGHTCURVE", "TIME", "PDCSAP_FLUX", "SAP_FLUX", "SAP_QUALITY", KEPLER_DEFAULT, BKJD),
    "K2": Layout("LIGHTCURVE", "TIME", "PDCSAP_FLUX", "SAP_FLUX", "SAP_QUALITY", KEPLER_DEFAULT, BKJD),
    "SPOC": Layout("LIGHTCURVE", "TIME", "PDCSAP_FLUX", "SAP_FLUX", "QUALITY", TESS_DEFAULT, BTJD),
    "TESS-SPOC": Layout("LIGHTCURVE", "TIME", "PDCSAP_FLUX", "SAP_FLUX", "QUALITY", TESS_DEFAULT, BTJD),
    "QLP": Layout("LIGHTCURVE", "TIME", "KSPSAP_FLUX", "SAP_FLUX", "QUALITY", TESS_DEFAULT, BTJD),
    "K2SFF": Layout("BESTAPER", "T", "FCOR", "FRAW", None, 0, BKJD),
    "EVEREST": Layout("ARRAYS", "TIME", "FLUX", "FRAW", "QUALITY", KEPLER_DEFAULT, BKJD),
}
# When each mission took data (TDB dates, as BJDs are): a wrong time reference puts every time outside them.
MISSION_YEARS = {"Kepler": ("2009-05-01", "2013-05-12"), "K2": ("2014-03-01", "2018-10-01"),
                 "TESS": ("2018-07-25", "2040-01-01")}
GENUINE = (TESS_S1_WASP_126, TESS_S24, TESS_SPOC_S24, QLP_S24, K2SFF_C91, KEPLER_90_Q3, K2_C13)


@dataclass(frozen=True)
class Expected:
    """What a reader must return for one file, computed from the file by astropy alone."""

    time: np.ndarray
    flux: np.ndarray
    raw: np.ndarray
    rows: int


def expected_read(path: Path, layout: Layout, bits: int | None = None) -> Expected:
    """Good cadences (finite time and flux, none of ``bits``), in time order, each flux over its median."""
    table = fits.getdata(path, layout.extension)
    time = np.asarray(table[layout.time], dtype=float)
    flux = np.asarray(table[layout.flux], dtype=float)
    raw = np.asarray(table[layout.raw], dtype=float)
    quality = np.zeros(len(time), dtype=np.int64) if layout.quality is None else np.asarray(table[layout.quality])
    bits = layout.default_bits if bits is None else bits
    good = np.isfinite(time) & np.isfinite(flux) & ((quality & bits) == 0)
    order = np.argsort(time[good], kind="stable")
    time, flux, raw = time[good][order], flux[good][order], raw[good][order]
    return Expected(time, flux / np.median(flux), raw / np.nanmedian(raw), len(table))


def assert_read_as(curve: LightCurve, expected: Expected, layout: Layout, mission: str) -> None:
    assert curve.cadences == expected.rows
    assert len(curve.time) == len(expected.time) > 0.5 * expected.rows
    assert np.array_equal(curve.time, expected.time)
    assert np.isfinite(curve.time).all() and np.all(np.diff(curve.time) > 0)
    assert np.allclose(curve.flux, expected.flux, rtol=1e-12, equal_nan=True)
    assert curve.flux is curve.pdcsap  # the old name still holds the science flux
    assert np.allclose(curve.raw_flux, expected.raw, rtol=1e-12, equal_nan=True)
    assert (curve.time_system.name, curve.time_system.bjd_offset) == layout.time_system
    first, last = (Time(day, scale="tdb").jd for day in MISSION_YEARS[mission])
    bjd = curve.time + curve.time_system.bjd_offset
    assert first < bjd.min() and bjd.max() < last


@pytest.mark.parametrize("real", GENUINE, ids=lambda r: f"{r.product}:{r.name}")
def test_each_genuine_file_reads_through_its_products_format(real: RealFile) -> None:
    layout = LAYOUTS[real.product]

    curve = read_light_curve(real.path, product_format(real.product))

    assert_read_as(curve, expected_read(real.path, layout), layout, real.mission)
    assert curve.flux_column == layout.flux
    assert curve.quality_mask.bits == layout.default_bits


def test_qlp_reads_its_detrended_flux_and_keeps_sap_flux_as_the_raw_one() -> None:
    curve = read_light_curve(QLP_S24.path, product_format("QLP"))
    table = fits.getdata(QLP_S24.path, "LIGHTCURVE")
    good = np.isin(table["TIME"], curve.time)

    assert good.sum() == len(curve.time) == QLP_S24.rows - 2  # two cadences flagged Desat (32)
    kspsap, sap = table["KSPSAP_FLUX"][good], table["SAP_FLUX"][good]
    assert np.allclose(curve.flux, kspsap / np.median(kspsap))
    assert np.allclose(curve.sap, sap / np.median(sap))
    assert not np.allclose(curve.flux, curve.sap, rtol=0, atol=1e-5)  # two different series


def test_qlp_low_precision_cadences_are_kept_by_default_and_dropped_by_the_hard_masks(tmp_path: Path) -> None:
    """As lightkurve/io/qlp.py: QLP's low-precision bit (13 up to sector 55, 31 from 56 on) only under hard/hardest."""
    path = tmp_path / QLP_S24.name
    with fits.open(QLP_S24.path) as hdus:
        quality = hdus["LIGHTCURVE"].data["QUALITY"]
        low = (quality & QLP_LOW_PRECISION) != 0
        assert low.sum() == 73 and not (quality & QLP_LOW_PRECISION_FROM_S56).any()
        quality[:100] |= QLP_LOW_PRECISION_FROM_S56  # as a sector-56 file flags them
        hdus.writeto(path)
    fmt = product_format("QLP")
    layout = LAYOUTS["QLP"]

    default, hard, hardest = (read_light_curve(path, fmt, m) for m in ("default", "hard", "hardest"))

    assert_read_as(default, expected_read(path, layout), layout, "TESS")
    dropped = TESS_DEFAULT | QLP_LOW_PRECISION | QLP_LOW_PRECISION_FROM_S56
    assert len(hard.time) == len(expected_read(path, layout, dropped).time) < len(default.time) - 100
    assert len(hardest.time) == len(hard.time)  # the file carries no other flag
    assert dict(fmt.quality_flags.masks) == {"none": 0, "default": TESS_DEFAULT, "hard": 24319 | (1 << 30),
                                             "hardest": 65535 | (1 << 30)}


def test_a_qlp_file_from_sector_56_on_reads_its_det_flux_the_same(tmp_path: Path) -> None:
    renamed = tmp_path / "hlsp_qlp_tess_ffi_s0056-0000000039903405_tess_v01_llc.fits"
    with fits.open(QLP_S24.path) as hdus:
        for old in ("KSPSAP_FLUX", "KSPSAP_FLUX_ERR", "KSPSAP_FLUX_SML", "KSPSAP_FLUX_LAG"):
            hdus["LIGHTCURVE"].columns.change_name(old, old.replace("KSPSAP_", "DET_"))
        hdus.writeto(renamed)
    assert "KSPSAP_FLUX" not in fits.getdata(renamed, "LIGHTCURVE").columns.names
    fmt = product_format("QLP")

    before, after = read_light_curve(QLP_S24.path, fmt), read_light_curve(renamed, fmt)

    assert (before.flux_column, after.flux_column) == ("KSPSAP_FLUX", "DET_FLUX")
    for series in ("time", "flux", "sap"):
        assert np.array_equal(getattr(after, series), getattr(before, series))
    assert after.cadences == before.cadences and after.time_system == before.time_system


def test_a_qlp_file_with_neither_detrended_column_is_refused_naming_both(tmp_path: Path) -> None:
    path = tmp_path / QLP_S24.name
    with fits.open(QLP_S24.path) as hdus:
        hdus["LIGHTCURVE"].columns.change_name("KSPSAP_FLUX", "KSP_FLUX")
        hdus.writeto(path)

    with pytest.raises(BadLightCurveError) as refused:
        read_light_curve(path, product_format("QLP"))
    assert str(refused.value) == "LIGHTCURVE table has no column KSPSAP_FLUX or DET_FLUX (QLP light curve)"


def test_qlp_time_counts_from_bjdrefi_plus_bjdrefr(tmp_path: Path) -> None:
    path = tmp_path / QLP_S24.name
    with fits.open(QLP_S24.path) as hdus:
        del hdus["LIGHTCURVE"].header["BJDREFR"]
        hdus.writeto(path)

    assert read_light_curve(QLP_S24.path, product_format("QLP")).time_system.bjd_offset == 2457000.0
    with pytest.raises(BadLightCurveError, match=r"^LIGHTCURVE header has no BJDREFR keyword \(the time reference: "
                                                 r"BTJD counts from BJD 2457000\)$"):
        read_light_curve(path, product_format("QLP"))


def test_k2sff_has_no_quality_column_so_no_mask_drops_a_cadence() -> None:
    fmt = product_format("K2SFF")
    table = fits.getdata(K2SFF_C91.path, "BESTAPER")

    curves = [read_light_curve(K2SFF_C91.path, fmt, mask) for mask in ("none", "default", "hardest", (1 << 31) - 1)]

    assert {len(c.time) for c in curves} == {K2SFF_C91.rows}  # every row of the genuine file is usable
    assert np.array_equal(curves[0].time, table["T"])
    assert np.allclose(curves[0].flux, table["FCOR"] / np.median(table["FCOR"]))
    assert table["MOVING"].sum() > 100  # thruster firings, kept as lightkurve keeps them


def everest_file(path: Path, source: RealFile = K2_C13) -> dict[str, np.ndarray]:
    """An EVEREST 2 light curve with the HDUs, headers and columns rodluger/everest's everest/fits.py writes
    (primary: the TPF's TELESCOP/OBJECT/KEPLERID/CAMPAIGN and MISSION = 'k2'; HDU 1 'ARRAYS': CADN, FLUX, FRAW,
    FRAW_ERR, QUALITY, TIME, FCOR, CBV01; then PIXELS, APERTURE MASK, POSTAGE STAMPS, HI RES IMAGE), its series made
    from a genuine K2 file's. Returns the columns written."""
    with fits.open(source.path) as hdus:
        primary, table = hdus[0].header, hdus["LIGHTCURVE"]
        time = np.array(table.data["TIME"], dtype=float)
        fraw = np.array(table.data["SAP_FLUX"], dtype=float)
        quality = np.array(table.data["SAP_QUALITY"], dtype=np.int32)
        timing = {k: table.header[k] for k in ("TIMEREF", "TASSIGN", "TIMESYS", "BJDREFI", "BJDREFF", "TIMEUNIT")}
        stamp = np.nan_to_num(np.asarray(hdus["APERTURE"].data, dtype=float))
    rng = np.random.default_rng(7)
    trend = 1 + 0.02 * np.sin(np.nan_to_num(time) / 3.0)
    flux = fraw / trend + rng.normal(0, 5, len(time))  # the de-trended flux: NaN where the raw flux is
    fcor = flux * (1 + 0.001 * np.cos(np.nan_to_num(time)))  # CBV-corrected: a different series
    quality[np.isnan(fraw)] |= 1 << 23  # EVEREST bit 24: NaN
    clean = np.flatnonzero((quality == 0) & np.isfinite(time) & np.isfinite(flux))
    picked = rng.choice(clean, 70, replace=False)
    quality[picked[:40]] |= 1 << 24  # bit 25: outlier
    quality[picked[40:]] |= 1 << 26  # bit 27: in transit
    cards = [("TELESCOP", primary["TELESCOP"]), ("INSTRUME", primary["INSTRUME"]), ("OBJECT", primary["OBJECT"]),
             ("KEPLERID", primary["KEPLERID"]), ("CAMPAIGN", primary["CAMPAIGN"]), ("COMMENT", "*" * 24),
             ("COMMENT", "*     EVEREST INFO     *"), ("COMMENT", "*" * 24), ("MISSION", "k2"), ("VERSION", "2.0"),
             ("SUBVER", "2.0.8"), ("DATE", "2017-03-01")]
    columns = {"CADN": np.arange(len(time), dtype=float), "FLUX": flux, "FRAW": fraw,
               "FRAW_ERR": np.sqrt(np.abs(fraw)), "QUALITY": quality, "TIME": time, "FCOR": fcor,
               "CBV01": np.linspace(-1, 1, len(time))}
    arrays = fits.BinTableHDU.from_columns(
        [fits.Column(name=name, format="J" if name == "QUALITY" else "D", array=values,
                     unit={"FLUX": "e-/s", "FRAW": "e-/s", "FRAW_ERR": "e-/s", "FCOR": "e-/s",
                           "TIME": "BJD - 2454833"}.get(name)) for name, values in columns.items()],
        header=fits.Header([("TELESCOP", primary["TELESCOP"]), *timing.items(), ("MISSION", "k2"),
                            ("VERSION", "2.0"), ("MODEL", "nPLD")]), name="ARRAYS")
    fits.HDUList([
        fits.PrimaryHDU(header=fits.Header(cards)), arrays,
        fits.BinTableHDU.from_columns([fits.Column(name="FPIX", format="4D", array=np.ones((len(time), 4)))],
                                      name="PIXELS"),
        fits.ImageHDU(data=(stamp > 0).astype(np.int32), name="APERTURE MASK"),
        fits.BinTableHDU.from_columns([fits.Column(name=f"STAMP{i}", format=f"{stamp.size}D",
                                                   array=stamp.reshape(1, -1)) for i in (1, 2, 3)],
                                      name="POSTAGE STAMPS"),
        fits.ImageHDU(data=np.empty((0, 0)), name="HI RES IMAGE"),
    ]).writeto(path)
    return columns


def test_an_everest_file_reads_its_detrended_flux_with_keplers_masks(tmp_path: Path) -> None:
    path = tmp_path / "hlsp_everest_k2_llc_247887989-c13_kepler_v2.0_lc.fits"
    columns = everest_file(path)
    layout = LAYOUTS["EVEREST"]
    everest_bits = (1 << 22) | (1 << 23) | (1 << 24) | (1 << 25) | (1 << 26)

    curve = read_light_curve(path, product_format("EVEREST"))
    every_flag = read_light_curve(path, product_format("EVEREST"), (1 << 31) - 1)

    assert_read_as(curve, expected_read(path, layout), layout, "K2")
    assert curve.flux_column == "FLUX"
    fcor = columns["FCOR"][np.isin(columns["TIME"], curve.time)]
    assert not np.allclose(curve.flux, fcor / np.median(fcor), rtol=0, atol=1e-6)  # FLUX, not FCOR
    # lightkurve's Kepler masks name none of EVEREST's bits 23-27: its outliers and transits stay ...
    kept = np.isin(columns["TIME"], curve.time)
    assert ((columns["QUALITY"][kept] & everest_bits) != 0).sum() == 70
    # ... and a mask of every bit drops them (with the K2 flags)
    assert len(every_flag.time) == len(expected_read(path, layout, (1 << 31) - 1).time) <= len(curve.time) - 70


@pytest.mark.parametrize(("real", "product", "says"), [
    (QLP_S24, "SPOC", "LIGHTCURVE header has no BJDREFF keyword (the time reference: BTJD counts from BJD 2457000)"),
    (TESS_S24, "QLP", "PRIMARY header ORIGIN = 'NASA/Ames', but a QLP light curve says 'MIT/QLP'"),
    (K2SFF_C91, "K2", "no readable LIGHTCURVE extension (missing, or the file is truncated or damaged; a K2 "
                      "long-cadence LLC has one)"),
    (K2_C13, "K2SFF", "no readable BESTAPER extension (missing, or the file is truncated or damaged; a K2SFF light "
                      "curve has one)"),
    (K2_C13, "EVEREST", "no readable ARRAYS extension (missing, or the file is truncated or damaged; a K2 EVEREST "
                        "light curve has one)"),
    (KEPLER_90_Q3, "EVEREST", "PRIMARY header MISSION = 'Kepler', but a K2 EVEREST light curve says 'k2'"),
    (TESS_SPOC_S24, "K2SFF", "PRIMARY header TELESCOP = 'TESS', but a K2SFF light curve says 'Kepler'"),
    (K2SFF_C91, "QLP", "PRIMARY header TELESCOP = 'Kepler', but a QLP light curve says 'TESS'"),
], ids=["QLP as SPOC", "SPOC as QLP", "K2SFF as K2", "K2 as K2SFF", "K2 as EVEREST", "Kepler as EVEREST",
        "TESS-SPOC as K2SFF", "K2SFF as QLP"])
def test_a_file_of_another_product_is_refused_naming_what_is_wrong(real: RealFile, product: str, says: str) -> None:
    with pytest.raises(BadLightCurveError) as refused:
        read_light_curve(real.path, product_format(product))
    assert str(refused.value) == says


def test_an_everest_file_read_as_k2_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "everest.fits"
    everest_file(path)
    with pytest.raises(BadLightCurveError, match=r"^no readable LIGHTCURVE extension"):
        read_light_curve(path, product_format("K2"))


@pytest.mark.parametrize("name", ["TASOC", "qlp", "Kepler LLC", ""])
def test_an_unknown_product_is_refused_naming_the_allowed_ones(name: str) -> None:
    with pytest.raises(InvalidInputError) as refused:
        product_format(name)
    assert refused.value.field == "product"
    assert str(refused.value) == (f"product: {name!r} is not a light-curve product read here: one of Kepler, K2, "
                                  "K2SFF, EVEREST, SPOC, TESS-SPOC, QLP")


def test_the_registry_names_each_product_once_and_keeps_the_missions_formats() -> None:
    assert list(PRODUCT_FORMATS) == ["Kepler", "K2", "K2SFF", "EVEREST", "SPOC", "TESS-SPOC", "QLP"]
    assert (product_format("Kepler"), product_format("K2"), product_format("SPOC")) == (KEPLER_LLC, K2_LLC, TESS_SPOC)
    assert len({fmt.name for fmt in PRODUCT_FORMATS.values()}) == len(PRODUCT_FORMATS)  # messages tell them apart
    tess_spoc = product_format("TESS-SPOC")
    assert tess_spoc.flux_columns == TESS_SPOC.flux_columns and tess_spoc.quality_flags == TESS_SPOC.quality_flags
    assert {name: (f.raw_flux_column, f.quality_column) for name, f in PRODUCT_FORMATS.items()
            if name in ("QLP", "K2SFF", "EVEREST")} == {"QLP": ("SAP_FLUX", "QUALITY"), "K2SFF": ("FRAW", None),
                                                        "EVEREST": ("FRAW", "QUALITY")}
