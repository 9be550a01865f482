"""Light-curve formats against the genuine MAST files: each mission's format reads its files by their real column
names, in the right time system, with lightkurve's quality masks; files of another mission or another layout are
refused naming what is wrong."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from astropy.time import Time

from lightcurve_ingest.domain.formats import BKJD, BTJD, KEPLER_QUALITY, TESS_QUALITY, QualityMask
from lightcurve_ingest.domain.missions import MISSIONS, get_mission
from lightcurve_ingest.quicklook.lightcurve import BadLightCurveError, read_light_curve
from tests.real_fits import K2_C13, KEPLER_90_Q3, SPOC_LAYOUT_FILES, TESS_S1_WASP_126, RealFile

# When each mission took data (TDB dates, as BJDs are). The BKJD and BTJD references are 2,167 days apart, so a
# wrong reference puts every time outside its mission's years.
MISSION_YEARS = {"Kepler": ("2009-05-01", "2013-05-12"), "K2": ("2014-03-01", "2018-10-01"),
                 "TESS": ("2018-07-25", "2040-01-01")}
EXPECTED_TIME_SYSTEM = {"Kepler": ("BKJD", 2454833.0), "K2": ("BKJD", 2454833.0), "TESS": ("BTJD", 2457000.0)}


def format_of(real: RealFile):  # noqa: ANN201
    return get_mission(real.mission).light_curve_format


def file_columns(real: RealFile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    fmt = format_of(real)
    table = fits.getdata(real.path, fmt.extension)
    return table[fmt.time_column], table[fmt.flux_column], table[fmt.quality_column]


@pytest.mark.parametrize("real", SPOC_LAYOUT_FILES, ids=lambda r: r.name)
def test_every_genuine_file_reads_with_its_missions_format(real: RealFile) -> None:
    fmt = format_of(real)
    time, flux, quality = file_columns(real)

    default = read_light_curve(real.path, fmt)
    hardest = read_light_curve(real.path, fmt, "hardest")

    usable = np.isfinite(time) & np.isfinite(flux)
    assert default.cadences == hardest.cadences == real.rows
    assert len(default.time) == (usable & ((quality & fmt.quality_flags.mask("default").bits) == 0)).sum()
    assert usable.sum() >= len(default.time) >= len(hardest.time) > 0.5 * real.rows
    assert np.isfinite(default.time).all() and np.all(np.diff(default.time) > 0)  # NaN times dropped, in order
    assert (default.quality_mask.name, hardest.quality_mask.name) == ("default", "hardest")
    assert (default.time_system.name, default.time_system.bjd_offset) == EXPECTED_TIME_SYSTEM[real.mission]
    first, last = (Time(d, scale="tdb").jd for d in MISSION_YEARS[real.mission])
    bjd = default.time + default.time_system.bjd_offset
    assert first < bjd.min() and bjd.max() < last


def test_each_mission_has_its_format_and_lightkurves_masks() -> None:
    # lightkurve 2.6.0, lightkurve/utils.py: KeplerQualityFlags.DEFAULT_BITMASK = 1130799, HARD_BITMASK = 1664431,
    # HARDEST_BITMASK = 2096639; TessQualityFlags.DEFAULT_BITMASK = 17087 (AttitudeTweak | SafeMode | CoarsePoint |
    # EarthPoint | Argabrightening | Desat | ManualExclude | ImpulsiveOutlier | BadCalibrationExclude),
    # HARD_BITMASK = 24319, HARDEST_BITMASK = 65535.
    lightkurve = {"Kepler": {"none": 0, "default": 1130799, "hard": 1664431, "hardest": 2096639},
                  "TESS": {"none": 0, "default": 17087, "hard": 24319, "hardest": 65535}}
    formats = {name: m.light_curve_format for name, m in ((m.name, m) for m in MISSIONS.values())}

    assert {name: f.quality_column for name, f in formats.items()} == {
        "K2": "SAP_QUALITY", "Kepler": "SAP_QUALITY", "TESS": "QUALITY"}
    assert {name: f.time_system for name, f in formats.items()} == {"K2": BKJD, "Kepler": BKJD, "TESS": BTJD}
    assert dict(formats["K2"].quality_flags.masks) == dict(formats["Kepler"].quality_flags.masks) == lightkurve[
        "Kepler"]
    assert dict(formats["TESS"].quality_flags.masks) == lightkurve["TESS"]
    assert (TESS_QUALITY.bit("Straylight"), TESS_QUALITY.bit("Straylight2"), TESS_QUALITY.bit("ImpulsiveOutlier")) \
        == (2048, 4096, 512)
    assert (KEPLER_QUALITY.bit("ImpulsiveOutlier"), KEPLER_QUALITY.bit("ThrusterFiring")) == (2048, 1048576)
    assert TESS_QUALITY.names_of(2048 | 32) == ["Desat", "Straylight"]
    for fmt in formats.values():
        assert (fmt.extension, fmt.time_column, fmt.flux_column, fmt.flux_err_column, fmt.raw_flux_column) == (
            "LIGHTCURVE", "TIME", "PDCSAP_FLUX", "PDCSAP_FLUX_ERR", "SAP_FLUX")


def test_a_mask_is_a_name_or_a_number() -> None:
    assert KEPLER_QUALITY.mask(1130799) == QualityMask("default", 1130799)
    assert TESS_QUALITY.mask(np.int64(2048)) == QualityMask("bitmask 2048", 2048)
    with pytest.raises(ValueError, match="'softest' is not one of none, default, hard, hardest"):
        TESS_QUALITY.mask("softest")
    with pytest.raises(ValueError, match="-1"):
        TESS_QUALITY.mask(-1)


def test_an_archive_bjd_in_each_missions_time() -> None:
    # the archive gives epochs as BJD (toi.pl_tranmid) or already in BKJD (cumulative.koi_time0bk)
    assert BKJD.from_bjd(2454964.5) == pytest.approx(131.5)
    assert BTJD.from_bjd(np.array([2458325.3, 2460000.0])) == pytest.approx([1325.3, 3000.0])


def test_stray_light_is_kept_by_default_and_dropped_by_the_hardest_mask(tmp_path: Path) -> None:
    fmt = format_of(TESS_S1_WASP_126)
    time, _, quality = file_columns(TESS_S1_WASP_126)
    straylight = fmt.quality_flags.bit("Straylight")
    assert not (quality & straylight).any()  # the genuine files carry none: make a copy that does
    stretch = slice(6000, 9000)  # 3,000 two-minute cadences: 4.2 days of an orbit
    path = tmp_path / TESS_S1_WASP_126.name
    shutil.copy(TESS_S1_WASP_126.path, path)
    with fits.open(path, mode="update") as hdus:
        hdus[fmt.extension].data[fmt.quality_column][stretch] |= straylight
    flagged = time[stretch][np.isfinite(time[stretch])]

    before = {m: read_light_curve(TESS_S1_WASP_126.path, fmt, m) for m in ("default", "hardest")}
    after = {m: read_light_curve(path, fmt, m) for m in ("default", "hardest")}

    assert np.array_equal(after["default"].time, before["default"].time)
    assert np.isin(flagged, before["hardest"].time).sum() > 2500  # good cadences under every mask until flagged
    assert not np.isin(flagged, after["hardest"].time).any()
    assert len(after["hardest"].time) == len(before["hardest"].time) - np.isin(flagged, before["hardest"].time).sum()


@pytest.mark.parametrize(("real", "mission", "says"), [
    (K2_C13, "Kepler", "PRIMARY header MISSION = 'K2', but a Kepler long-cadence LLC says 'Kepler'"),
    (KEPLER_90_Q3, "K2", "PRIMARY header MISSION = 'Kepler', but a K2 long-cadence LLC says 'K2'"),
    (TESS_S1_WASP_126, "Kepler", "PRIMARY header TELESCOP = 'TESS', but a Kepler long-cadence LLC says 'Kepler'"),
    (KEPLER_90_Q3, "TESS", "PRIMARY header TELESCOP = 'Kepler', but a TESS SPOC light curve says 'TESS'"),
], ids=["K2 as Kepler", "Kepler as K2", "TESS as Kepler", "Kepler as TESS"])
def test_a_file_of_another_mission_is_refused_naming_the_keyword(real: RealFile, mission: str, says: str) -> None:
    with pytest.raises(BadLightCurveError) as refused:
        read_light_curve(real.path, get_mission(mission).light_curve_format)
    assert str(refused.value) == says


def test_a_missing_quality_column_is_refused_naming_it(tmp_path: Path) -> None:
    path = tmp_path / KEPLER_90_Q3.name
    with fits.open(KEPLER_90_Q3.path) as hdus:
        hdus["LIGHTCURVE"].columns.change_name("SAP_QUALITY", "QUALITY")  # TESS's name, in a Kepler file
        hdus.writeto(path)

    with pytest.raises(BadLightCurveError) as refused:
        read_light_curve(path, format_of(KEPLER_90_Q3))
    assert str(refused.value) == "LIGHTCURVE table has no column SAP_QUALITY (Kepler long-cadence LLC)"


def test_a_time_reference_other_than_the_formats_is_refused_naming_the_keyword(tmp_path: Path) -> None:
    shifted, missing = tmp_path / "shifted.fits", tmp_path / "missing.fits"
    for path in (shifted, missing):
        shutil.copy(K2_C13.path, path)
    with fits.open(shifted, mode="update") as hdus:
        hdus["LIGHTCURVE"].header["BJDREFI"] = 2457000  # TESS's reference
    with fits.open(missing, mode="update") as hdus:
        del hdus["LIGHTCURVE"].header["BJDREFF"]
    fmt = format_of(K2_C13)

    with pytest.raises(BadLightCurveError, match=r"^LIGHTCURVE header BJDREFI \+ BJDREFF = 2457000.000000, but a K2 "
                                                 r"long-cadence LLC counts time in BKJD from BJD 2454833$"):
        read_light_curve(shifted, fmt)
    with pytest.raises(BadLightCurveError, match=r"^LIGHTCURVE header has no BJDREFF keyword"):
        read_light_curve(missing, fmt)
