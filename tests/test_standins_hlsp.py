"""The stand-ins' high-level science products (QLP, TESS-SPOC, K2SFF, EVEREST), proven with the real clients:
astroquery finds them, astropy reads them in their genuine layouts, boto3 sees the bucket's share, and MAST's
download service serves them all, counted, and can be made to break off."""

from __future__ import annotations

import io
from collections import Counter

import boto3
import numpy as np
import pytest
import requests
from astropy.io import fits
from astroquery.mast import ObservationsClass
from botocore import UNSIGNED
from botocore.config import Config

from tests.real_fits import K2SFF_C91, QLP_S24, TESS_SPOC_S24
from tests.standins import Standins, build_universe, hlsp, missions_tess
from tests.standins.__main__ import parse_args
from tests.standins.fits_factory import (
    Transit,
    make_tess_spoc_fits,
    stellar_variability,
    tess_spoc_size,
    transit_model,
    transit_times,
    transits_of,
)
from tests.standins.hlsp_fits import (
    everest_size,
    k2sff_size,
    make_everest_fits,
    make_k2sff_fits,
    make_qlp_fits,
    qlp_flux_column,
    qlp_size,
)
from tests.standins.layouts import (
    EVEREST_LC,
    K2SFF_LLC,
    QLP_DET_LLC,
    QLP_LLC,
    TESS_SPOC_FFI_LC,
    Column,
    Layout,
    keyword_problems,
)
from tests.standins.mast_portal import DOWNLOAD_PATH
from tests.test_standins import K2_DIGESTS, _dip_ppm, _hdus_sum_to_minus_zero, _k2_digest

PUBLIC = "stpubdata"


@pytest.fixture(scope="module")
def standins():
    with Standins(n_hosts=4, kepler_hosts=0, tess_hosts=4, fits_rows=200, unknown_to_mast=1, real_k2=True,
                  hlsps=True) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh(standins):
    standins.reset()
    yield


def _observations(standins) -> ObservationsClass:
    obs = ObservationsClass()
    portal = obs._portal_api_connection
    portal.MAST_REQUEST_URL = standins.mast.base_url + "/api/v0/invoke"
    portal.COLUMNS_CONFIG_URL = standins.mast.base_url + "/portal/Mashup/Mashup.asmx/columnsconfig"
    return obs


def _s3(standins):
    return boto3.client("s3", endpoint_url=standins.s3.endpoint_url, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED))


def _download(standins, uri: str, **kwargs) -> requests.Response:
    return requests.get(standins.mast.base_url + DOWNLOAD_PATH, params={"uri": uri}, timeout=30, **kwargs)


def _one(universe, provenance: str, **where) -> hlsp.HlspFile:
    return next(f for f in universe.hlsp_files if f.provenance == provenance
                and all(getattr(f, k) == v if not callable(v) else v(getattr(f, k)) for k, v in where.items()))


# --- names, places and the bucket rule -------------------------------------------------------------------------

def test_names_and_uris_are_mast_s():
    assert hlsp.obs_id("QLP", 39903405, 24) == "hlsp_qlp_tess_ffi_s0024-0000000039903405_tess_v01_llc"
    assert hlsp.data_uri("QLP", 39903405, 24) == (
        "mast:HLSP/qlp/s0024/0000/0000/3990/3405/hlsp_qlp_tess_ffi_s0024-0000000039903405_tess_v01_llc.fits")
    assert hlsp.obs_id("TESS-SPOC", 39903405, 24) == "hlsp_tess-spoc_tess_phot_0000000039903405-s0024_tess_v1_tp"
    assert hlsp.data_uri("TESS-SPOC", 39903405, 24) == (
        "mast:HLSP/tess-spoc/s0024/target/0000/0000/3990/3405/"
        "hlsp_tess-spoc_tess_phot_0000000039903405-s0024_tess_v1_lc.fits")
    assert hlsp.obs_id("K2SFF", 221312395, 91) == "hlsp_k2sff_k2_lightcurve_221312395-c91_kepler_v1_llc"
    assert hlsp.data_uri("K2SFF", 221312395, 91) == (
        "mast:HLSP/k2sff/c91/221300000/12395/hlsp_k2sff_k2_lightcurve_221312395-c91_kepler_v1_llc.fits")
    assert hlsp.obs_id("EVEREST", 201367065, 1) == "hlsp_everest_k2_llc_201367065-c01_kepler_v2.0_lc"
    assert hlsp.data_uri("EVEREST", 201367065, 1) == (
        "mast:HLSP/everest/v2/c01/201300000/67065/hlsp_everest_k2_llc_201367065-c01_kepler_v2.0_lc.fits")
    assert hlsp.bucket_key(hlsp.data_uri("QLP", 39903405, 24)) == (
        "mast/hlsp/qlp/s0024/0000/0000/3990/3405/hlsp_qlp_tess_ffi_s0024-0000000039903405_tess_v01_llc.fits")
    # the genuine files carry those names
    assert hlsp.file_name("QLP", 39903405, 24) == QLP_S24.name
    assert hlsp.file_name("TESS-SPOC", 39903405, 24) == TESS_SPOC_S24.name
    assert hlsp.file_name("K2SFF", 221312395, 91) == K2SFF_C91.name
    assert [hlsp.ffi_exptime(s) for s in (1, 26, 27, 55, 56, 90)] == [1800, 1800, 600, 600, 200, 200]
    assert [qlp_flux_column(s) for s in (24, 55, 56, 61)] == ["KSPSAP_FLUX"] * 2 + ["DET_FLUX"] * 2


def test_the_bucket_rule():
    held = {(p, u) for p in hlsp.PROVENANCES for u in (1, 26, 27, 56, 91) if hlsp.in_public_bucket(p, u)}
    assert held == {("QLP", 1), ("QLP", 26)} | {("K2SFF", u) for u in (1, 26, 27, 56, 91)}


def test_universes_without_hlsps_are_unchanged():
    plain = build_universe(6, unknown_to_mast=1)
    full = build_universe(6, unknown_to_mast=1, hlsps=True)
    assert plain.hlsp_files == plain.hlsp_observations == ()
    assert full.hosts[:-1] == plain.hosts and full.observations == plain.observations
    assert full.files == plain.files and full.field_files == plain.field_files and full.decoys == plain.decoys
    assert full.hosts[-1].designation == f"TOI-{missions_tess.FFI_ONLY_TOI}"
    recorded = build_universe(8, unknown_to_mast=1, hlsps=True)
    assert _k2_digest(recorded) == K2_DIGESTS[(8, 1)]  # K2's hosts, rows and bytes as recorded
    assert parse_args(["--hlsps"]).hlsps and not parse_args([]).hlsps


def test_which_stars_have_which_hlsps(standins):
    universe = standins.universe
    for host in universe.hosts_of("TESS"):
        qlp = universe.hlsps_of(host, "QLP")
        assert [f.unit for f in qlp] == list(host.units)
        assert [f.unit for f in universe.hlsps_of(host, "TESS-SPOC")] == list(hlsp.tess_spoc_sectors(host.units))
        assert all(f.exptime == hlsp.ffi_exptime(f.unit) for f in universe.hlsps_of(host))
    ffi_only = universe.host_by_name(f"TOI-{missions_tess.FFI_ONLY_TOI}")
    assert ffi_only.files == () and ffi_only.units == missions_tess.FFI_ONLY_SECTORS
    assert not [o for o in universe.observations if o.target_id == ffi_only.target_id]
    assert {p.disposition for p in ffi_only.planets} == {"PC"} and ffi_only.planets[0].has_ephemeris
    toi = requests.get(standins.tap.base_url + "/TAP/sync", timeout=10, params={
        "query": f"select tid, tfopwg_disp from toi where toi = {missions_tess.FFI_ONLY_TOI}.01", "format": "json"})
    assert toi.json() == [{"tid": ffi_only.target_id, "tfopwg_disp": "PC"}]
    for host in universe.hosts_of("K2"):
        campaigns = [f.unit for f in host.light_curves()]  # none for the star unknown to MAST
        for provenance in ("K2SFF", "EVEREST"):
            files = universe.hlsps_of(host, provenance)
            assert [f.unit for f in files] == campaigns and all(f.exptime == 1800 for f in files)
    assert any(not h.known_to_mast for h in universe.hosts_of("K2"))
    k2_3 = universe.hlsps_of(universe.host_by_name("K2-3"), "EVEREST")[0]
    assert k2_3.data_uri == hlsp.data_uri("EVEREST", 201367065, 1)
    assert len({f.obsid for f in universe.hlsp_files} | {o.obsid for o in universe.observations}) == len(
        universe.hlsp_files) + len(universe.observations)


# --- MAST's rows, through astroquery ---------------------------------------------------------------------------

@pytest.mark.parametrize("provenance", hlsp.PROVENANCES)
def test_astroquery_finds_each_hlsp_and_its_products(standins, provenance):
    universe = standins.universe
    project = hlsp.PROJECTS[provenance]
    hosts = universe.hosts_of(project)
    table = _observations(standins).query_criteria(obs_collection="HLSP", project=project,
                                                   provenance_name=provenance,
                                                   target_name=[h.target_name for h in hosts])
    expected = [f for f in universe.hlsp_files if f.provenance == provenance]
    assert sorted(table["obs_id"]) == sorted(f.obs_id for f in expected) and expected
    for row in table:
        file = next(f for f in expected if f.obs_id == row["obs_id"])
        host = universe.host(project, file.target_id)
        assert (row["obs_collection"], row["project"], row["provenance_name"]) == ("HLSP", project, provenance)
        assert (row["target_name"], row["t_exptime"], row["sequence_number"]) == (
            host.target_name, file.exptime, file.unit)
    products = _observations(standins).get_product_list([str(o) for o in table["obsid"]])
    light_curves = [p for p in products if p["dataURI"] in {f.data_uri for f in expected}]
    assert sorted(p["dataURI"] for p in light_curves) == sorted(f.data_uri for f in expected)
    assert {(p["productSubGroupDescription"] or "", p["productType"], p["obs_collection"]) for p in products} == {
        ("", "SCIENCE", "HLSP")}
    for product in light_curves:
        assert product["size"] == universe.file_by_uri(product["dataURI"]).size
        assert product["productFilename"] == product["dataURI"].rsplit("/", 1)[1]
    others = [p["productFilename"] for p in products if p not in light_curves]
    assert others == ([f.filename.replace("_lc.fits", "_tp.fits") for f in expected]
                      if provenance == "TESS-SPOC" else [])


def test_a_sector_is_found_by_its_sequence_number(standins):
    file = _one(standins.universe, "QLP", target_id=standins.universe.hosts_of("TESS")[0].target_id)
    table = _observations(standins).query_criteria(obs_collection="HLSP", provenance_name="QLP",
                                                   sequence_number=[file.unit, file.unit])
    assert file.obs_id in list(table["obs_id"])
    assert {int(s) for s in table["sequence_number"]} == {file.unit}


@pytest.mark.parametrize("mission", ["TESS", "K2"])
def test_the_missions_own_queries_see_no_hlsp(standins, mission):
    universe = standins.universe
    names = [h.target_name for h in universe.hosts_of(mission)]
    table = _observations(standins).query_criteria(obs_collection=mission, target_name=names)
    assert set(table["obs_collection"]) == {mission}
    assert sorted(table["obs_id"]) == sorted(o.obs_id for o in universe.observations if o.mission == mission)
    assert len(universe.hlsp_observations) > 0


# --- the files ---------------------------------------------------------------------------------------------------

def _columns(hdu) -> tuple[Column, ...]:
    return tuple(Column(c.name, c.format, c.unit) for c in hdu.columns)


def _open(content: bytes) -> fits.HDUList:
    hdus = fits.open(io.BytesIO(content))
    hdus.verify("exception")
    for hdu in hdus:
        _ = hdu.data
    return hdus


def _keywords(header: fits.Header) -> list[str]:
    """The header's keywords in order, TESS's readout-delay keyword (named after camera and CCD) as one."""
    return ["TMOFST" if k.startswith("TMOFST") else k for k in header]


def _stand_in(universe, provenance: str, **where) -> tuple[hlsp.HlspFile, fits.HDUList]:
    file = _one(universe, provenance, **where)
    return file, _open(universe.fits_bytes(file))


@pytest.mark.parametrize(("provenance", "where", "genuine", "table"), [
    ("QLP", {"unit": lambda u: u < 56}, QLP_S24, "LIGHTCURVE"),
    ("TESS-SPOC", {}, TESS_SPOC_S24, "LIGHTCURVE"),
    ("K2SFF", {}, K2SFF_C91, "BESTAPER"),
])
def test_hlsp_files_have_their_genuine_layout(standins, provenance, where, genuine, table):
    file, hdus = _stand_in(standins.universe, provenance, **where)
    with fits.open(genuine.path) as real:
        assert [h.name for h in hdus] == [h.name for h in real]
        assert _columns(hdus[table]) == _columns(real[table])
        for ours, theirs in zip(hdus, real, strict=True):
            assert _keywords(ours.header) == _keywords(theirs.header), ours.name
            if isinstance(theirs, fits.BinTableHDU):
                assert _columns(ours) == _columns(theirs)
    identity = "TICID" if provenance != "K2SFF" else "KEPLERID"
    unit = "SECTOR" if provenance != "K2SFF" else "CAMPAIGN"
    assert (hdus[0].header[identity], hdus[0].header[unit], len(hdus[table].data)) == (
        file.target_id, file.unit, file.rows)


@pytest.mark.parametrize(("genuine", "layout", "table"), [
    (QLP_S24, QLP_LLC, "LIGHTCURVE"), (K2SFF_C91, K2SFF_LLC, "BESTAPER"),
    (TESS_SPOC_S24, TESS_SPOC_FFI_LC, "LIGHTCURVE"),
])
def test_the_hlsp_layouts_are_the_genuine_files(genuine, layout: Layout, table):
    with fits.open(genuine.path) as hdus:
        assert tuple(h.name for h in hdus) == layout.hdus and _columns(hdus[table]) == layout.columns
        assert keyword_problems(hdus[0].header, layout.primary) == []
        assert keyword_problems(hdus[table].header, layout.lightcurve) == []


@pytest.mark.parametrize(("provenance", "where", "layout", "table"), [
    ("QLP", {"unit": lambda u: u < 56}, QLP_LLC, "LIGHTCURVE"),
    ("QLP", {"unit": lambda u: u >= 56}, QLP_DET_LLC, "LIGHTCURVE"),
    ("TESS-SPOC", {}, TESS_SPOC_FFI_LC, "LIGHTCURVE"),
    ("K2SFF", {}, K2SFF_LLC, "BESTAPER"),
    ("EVEREST", {}, EVEREST_LC, "ARRAYS"),
    ("EVEREST", {"unit": lambda u: u < 3}, EVEREST_LC, "ARRAYS"),
])
def test_hlsp_files_follow_their_layouts(standins, provenance, where, layout: Layout, table):
    file, hdus = _stand_in(standins.universe, provenance, **where)
    assert tuple(h.name for h in hdus) == layout.hdus
    columns = _columns(hdus[table])
    extra = (Column("BKG", "D", "e-/s"),) if provenance == "EVEREST" and file.unit < 3 else ()  # campaigns 0-2
    assert columns == layout.columns + extra
    assert keyword_problems(hdus[0].header, layout.primary) == []
    assert keyword_problems(hdus[table].header, layout.lightcurve) == []
    if file.mission == "TESS":  # the full-frame images' cadence (K2's: the layout's long cadence, 29.4 min)
        assert hdus[table].header["TIMEDEL"] == pytest.approx(file.exptime / 86400)


def test_the_det_flux_variant_differs_only_in_that_column():
    old, new = (_open(make_qlp_fits(150151262, sector, 300, 0, 200.0)) for sector in (55, 56))
    assert [c.name for c in new[1].columns] == [
        "DET_FLUX" if c.name == "KSPSAP_FLUX" else c.name for c in old[1].columns]
    assert _keywords(new[1].header) == _keywords(old[1].header) and len(new[1].data) == len(old[1].data)


@pytest.mark.parametrize("provenance", hlsp.PROVENANCES)
def test_checksums_as_the_genuine_files_have_them(standins, provenance):
    file = _one(standins.universe, provenance)
    content = standins.universe.fits_bytes(file)
    hdus = _open(content)
    assert all("DATASUM" not in h.header for h in hdus)
    if provenance == "TESS-SPOC":  # SPOC's way: CHECKSUM in every HDU, no DATASUM, each HDU sums to -0
        assert all("CHECKSUM" in h.header for h in hdus) and all(_hdus_sum_to_minus_zero(content))
    else:
        assert all("CHECKSUM" not in h.header for h in hdus)


@pytest.mark.parametrize("rows", [0, 1, 145, 1271])
def test_sizes_predict_the_file_length_and_bytes_repeat(rows):
    assert qlp_size(rows) == len(make_qlp_fits(10000000 + rows, 1 + rows % 90, rows, rows, 600.0))
    assert tess_spoc_size(rows) == len(make_tess_spoc_fits(10000000 + rows, 1 + rows % 90, rows, rows, 200.0))
    assert k2sff_size(rows) == len(make_k2sff_fits(201000000 + rows, 102, rows, rows, 1.5, -2.5))
    for campaign in (1, 12):  # EVEREST has a BKG column in campaigns 0-2
        assert everest_size(rows, campaign) == len(make_everest_fits(201000000 + rows, campaign, rows, rows))
    assert make_k2sff_fits(201367065, 1, rows, 3) == make_k2sff_fits(201367065, 1, rows, 3)
    assert make_everest_fits(201367065, 1, rows, 3) == make_everest_fits(201367065, 1, rows, 3)


_PLANET = Transit(period_days=2.5, epoch_bjd=2458955.7, duration_hours=3.0, depth_ppm=5000.0)


@pytest.mark.parametrize(("make", "unit", "system", "table", "detrended", "raw"), [
    (lambda t: make_qlp_fits(39903405, 24, 1226, 0, 1800.0, transits=t), 24, "BTJD", 1, "KSPSAP_FLUX", "SAP_FLUX"),
    (lambda t: make_qlp_fits(39903405, 61, 3000, 0, 200.0, transits=t), 61, "BTJD", 1, "DET_FLUX", "SAP_FLUX"),
    (lambda t: make_tess_spoc_fits(39903405, 24, 1271, 0, 1800.0, transits=t), 24, "BTJD", 1, None, "PDCSAP_FLUX"),
    (lambda t: make_k2sff_fits(201367065, 1, 3400, 0, transits=t), 1, "BKJD", 1, None, "FCOR"),
    (lambda t: make_everest_fits(201367065, 1, 3400, 0, transits=t), 1, "BKJD", 1, None, "FLUX"),
])
def test_fluxes_carry_the_transits_and_the_stars_variability(make, unit, system, table, detrended, raw):
    start = {"BTJD": 2457000.0, "BKJD": 2454833.0}[system]
    hdus = _open(make((_PLANET,)))
    time_column = "T" if "T" in hdus[table].columns.names else "TIME"
    time = hdus[table].data[time_column].astype(float)
    planet = Transit(_PLANET.period_days, start + time[len(time) // 3], 3.0, 5000.0)  # a transit inside the file
    data = _open(make((planet,)))[table].data
    flux = data[raw].astype(float)
    good = np.isfinite(time) & np.isfinite(flux)
    centres = transit_times(planet, time[good][0], time[good][-1], system)
    assert _dip_ppm(time[good], flux[good], centres, 3.0 / 24) == pytest.approx(5000.0, rel=0.15)
    star = stellar_variability(0, 39903405 if system == "BTJD" else 201367065, time) * transit_model(
        (planet,), time, system)
    rest = flux[good] / star[good]
    noise = np.std(rest / np.median(rest))
    assert noise < 1e-3  # what is left is noise (and K2SFF's, EVEREST's systematics)
    assert np.std(flux[good] / np.median(flux[good])) > 3 * noise  # the variability, far above the noise
    if detrended:  # QLP's detrended flux: the transits without the variability
        kept = data[detrended].astype(float) / transit_model((planet,), time, system)
        assert np.std(kept) < 5e-4 and _dip_ppm(time, data[detrended].astype(float), centres, 3.0 / 24) == (
            pytest.approx(5000.0, rel=0.15))


def test_the_universe_plants_each_hosts_transits_in_its_hlsps(standins):
    universe = standins.universe
    for provenance, make in (("QLP", make_qlp_fits), ("K2SFF", make_k2sff_fits), ("EVEREST", make_everest_fits),
                             ("TESS-SPOC", make_tess_spoc_fits)):
        dipped = 0
        for file in (f for f in universe.hlsp_files if f.provenance == provenance):
            host = universe.host(file.mission, file.target_id)
            cadence = (file.exptime,) if hlsp.PROJECTS[provenance] == "TESS" else ()
            star = (file.target_id, file.unit, file.rows, universe.seed, *cadence, host.ra, host.dec)
            assert universe.fits_bytes(file) == make(*star, False, transits_of(host.planets))
            dipped += universe.fits_bytes(file) != make(*star)  # a transit falls in this file
        assert dipped, provenance


# --- the bucket and the download service ------------------------------------------------------------------------

def test_the_bucket_holds_exactly_the_rules_share(standins):
    universe = standins.universe
    listed = _s3(standins).get_paginator("list_objects_v2").paginate(Bucket=PUBLIC, Prefix="mast/hlsp/")
    keys = {o["Key"]: o["Size"] for page in listed for o in page.get("Contents", [])}
    expected = {f.key: f.size for f in universe.hlsp_files if hlsp.in_public_bucket(f.provenance, f.unit)}
    assert keys == expected
    assert {f.provenance for f in universe.bucket_hlsp_files} == {"QLP", "K2SFF"}
    assert {f.provenance for f in universe.hlsp_files if not f.in_bucket} == set(hlsp.PROVENANCES) - {"K2SFF"}
    assert any(f.provenance == "QLP" and f.unit > 26 for f in universe.hlsp_files)
    for file in universe.bucket_hlsp_files[:6]:
        assert _s3(standins).get_object(Bucket=PUBLIC, Key=file.key)["Body"].read() == universe.fits_bytes(file)
    lookup = requests.get(standins.mast.base_url + "/api/v0.1/path_lookup/", timeout=10,
                          params={"uri": [f.data_uri for f in universe.hlsp_files[:3]]}).json()
    assert {v["status_code"] for v in lookup.values()} == {404}  # MAST's path_lookup knows no HLSP


def test_download_serves_every_hlsp_and_counts_by_source(standins):
    universe = standins.universe
    for file in universe.hlsp_files:
        reply = _download(standins, file.data_uri)
        assert reply.status_code == 200 and int(reply.headers["Content-Length"]) == file.size
        assert reply.content == universe.fits_bytes(file), file.data_uri
    tp = next(p for o in universe.hlsp_observations for p in o.products if p.filename.endswith("_tp.fits"))
    assert _download(standins, tp.data_uri).status_code == 404  # target pixel files are not served
    assert standins.mast.downloads == Counter({f.data_uri: 1 for f in universe.hlsp_files} | {tp.data_uri: 1})
    assert standins.mast.requests_by_service["download"] == len(universe.hlsp_files) + 1
    assert standins.fetch_counts() == {"https": len(universe.hlsp_files) + 1, "bucket": 0}
    first, second = universe.bucket_hlsp_files[:2]
    _s3(standins).get_object(Bucket=PUBLIC, Key=first.key)["Body"].read()
    _s3(standins).list_objects_v2(Bucket=PUBLIC, Prefix="mast/hlsp/")  # a listing is no read
    standins.s3.create_bucket("team-hlsp")
    standins.s3.client(signed=True).copy_object(Bucket="team-hlsp", Key="copy.fits",
                                                CopySource={"Bucket": PUBLIC, "Key": second.key})
    assert standins.s3.public_reads() == Counter({first.key: 1, second.key: 1})
    assert standins.fetch_counts() == {"https": len(universe.hlsp_files) + 1, "bucket": 2}
    standins.reset()
    assert standins.fetch_counts() == {"https": 0, "bucket": 0}


def test_a_download_can_break_off_or_come_short(standins):
    universe = standins.universe
    file, other = [f for f in universe.hlsp_files if not f.in_bucket and f.provenance == "EVEREST"][:2]
    content = universe.fits_bytes(file)
    standins.mast.add_fault("truncated", service=f"uri:{file.filename}")
    assert _download(standins, other.data_uri).content == universe.fits_bytes(other)  # another file: untouched
    with requests.get(standins.mast.base_url + DOWNLOAD_PATH, params={"uri": file.data_uri}, stream=True,
                      timeout=30) as cut:
        assert cut.status_code == 200 and int(cut.headers["Content-Length"]) == file.size
        with pytest.raises(requests.exceptions.ChunkedEncodingError):
            cut.content  # noqa: B018 - reading the body is the point
    standins.mast.add_fault("short")
    short = _download(standins, file.data_uri)
    assert short.status_code == 200 and short.content == content[: file.size // 2]
    assert int(short.headers["Content-Length"]) == file.size // 2 < file.size
    assert _download(standins, file.data_uri).content == content  # the faults are spent
    assert standins.mast.faults_fired == Counter({"truncated": 1, "short": 1})
    assert standins.mast.downloads[file.data_uri] == 3
