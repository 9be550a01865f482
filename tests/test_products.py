"""Products (issue 22): each mission's products and their keys, the params that choose them, and an older catalog
that gains the columns saying what each file is, with no row lost."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest
from deltalake import DeltaTable, write_deltalake

from lightcurve_ingest.domain import catalog as cat
from lightcurve_ingest.domain.catalog import Catalog
from lightcurve_ingest.domain.missions import MISSIONS, get_mission
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.storage.backends import open_storage
from lightcurve_ingest.storage.destination import parse_destination
from lightcurve_ingest.tasks.params import RunParams, param_specs

TESS, K2 = get_mission("tess"), get_mission("k2")
# dataURIs as MAST gives them, the keys the bucket and the destination keep them under, and what they say
HLSP_URIS = [
    (TESS, "mast:HLSP/qlp/s0024/0000/0000/3990/3405/hlsp_qlp_tess_ffi_s0024-0000000039903405_tess_v01_llc.fits",
     "QLP", 39903405, 24, 1800.0),
    (TESS, "mast:HLSP/qlp/s0060/0000/0002/7755/4109/hlsp_qlp_tess_ffi_s0060-0000000277554109_tess_v01_llc.fits",
     "QLP", 277554109, 60, 200.0),
    (TESS, "mast:HLSP/tess-spoc/s0030/target/0000/0000/3990/3405/"
           "hlsp_tess-spoc_tess_phot_0000000039903405-s0030_tess_v1_lc.fits", "TESS-SPOC", 39903405, 30, 600.0),
    (K2, "mast:HLSP/k2sff/c91/221300000/12395/hlsp_k2sff_k2_lightcurve_221312395-c91_kepler_v1_llc.fits",
     "K2SFF", 221312395, 91, 1800.0),
    (K2, "mast:HLSP/everest/v2/c01/201300000/67065/hlsp_everest_k2_llc_201367065-c01_kepler_v2.0_lc.fits",
     "EVEREST", 201367065, 1, 1800.0),
]


def test_each_mission_offers_its_own_pipeline_first_and_its_hlsps():
    assert {slug: m.product_names for slug, m in MISSIONS.items()} == {
        "k2": ("K2", "K2SFF", "EVEREST"), "tess": ("SPOC", "TESS-SPOC", "QLP"), "kepler": ("Kepler",)}
    for mission in MISSIONS.values():
        spec = param_specs(mission)["products"]
        assert spec["default"] == [mission.own_product] and spec["items"]["enum"] == list(mission.product_names)


@pytest.mark.parametrize(("mission", "uri", "product", "target_id", "unit", "cadence"), HLSP_URIS)
def test_an_hlsps_key_mirrors_its_bucket_key_and_says_what_it_is(mission, uri, product, target_id, unit, cadence):
    key = mission.key_from_data_uri(uri)
    assert key == "mast/hlsp/" + uri.removeprefix("mast:HLSP/")
    info = mission.parse_key(key)
    assert (info.product, info.target_id, info.unit) == (product, target_id, unit)
    assert mission.cadence_of_key(key) == cadence and mission.data_uri_of_key(key) == uri
    assert mission.format_of(product).name  # read with its own format


@pytest.mark.parametrize("uri", [
    "mast:HLSP/qlp/s0024/0000/0000/3990/3406/hlsp_qlp_tess_ffi_s0024-0000000039903405_tess_v01_llc.fits",  # folder
    "mast:HLSP/qlp/s0025/0000/0000/3990/3405/hlsp_qlp_tess_ffi_s0024-0000000039903405_tess_v01_llc.fits",  # sector
    "mast:HLSP/qlp/s0024/0000/0000/3990/3405/../../../../../../etc/passwd",
    "mast:HLSP/tglc/s0024/0000/0000/3990/3405/hlsp_tglc_tess_ffi_gaiaid-1-s0024-cam1-ccd1_tess_v1_llc.fits",
    "mast:HLSP/k2sff/c91/221300000/12395/hlsp_k2sff_k2_lightcurve_221312395-c91_kepler_v1_llc.fits.gz",
])
def test_an_hlsp_dataURI_off_its_pattern_is_refused_by_name(uri):
    mission = K2 if "k2sff" in uri else TESS
    with pytest.raises(InvalidInputError) as refused:
        mission.key_from_data_uri(uri)
    assert refused.value.field == "dataURI"


@pytest.mark.parametrize(("slug", "params", "field", "words"), [
    ("tess", {"products": ["K2SFF"]}, "products", "allowed: SPOC, TESS-SPOC, QLP"),
    ("k2", {"products": ["QLP"]}, "products", "allowed: K2, K2SFF, EVEREST"),
    ("kepler", {"products": ["EVEREST"]}, "products", "allowed: Kepler"),
    ("tess", {"products": []}, "products", "choose from"),
    ("tess", {"products": "QLP"}, "products", "not a list"),
    ("tess", {"source": "s3"}, "source", "auto, bucket, mast"),
    ("tess", {"products": ["QLP"], "include_fast_cadence": True}, "include_fast_cadence", "add SPOC"),
])
def test_unknown_products_and_mixes_that_make_no_sense_are_refused_naming_the_field(slug, params, field, words):
    with pytest.raises(InvalidInputError) as refused:
        RunParams.parse(params, get_mission(slug))
    assert refused.value.field == field and words in str(refused.value)


def test_the_default_run_asks_for_the_missions_own_pipeline_from_the_bucket_first():
    for mission in MISSIONS.values():
        parsed = RunParams.parse({}, mission)
        assert (parsed.products, parsed.source) == ((mission.own_product,), "auto")
    assert RunParams.parse({"products": ["QLP", "SPOC", "QLP"]}, TESS).products == ("QLP", "SPOC")


OLD_FILE_COLUMNS = cat.FILE_COLUMNS[:cat.FILE_COLUMNS.index("product")]


def _old_row(i: int, key: str, mission: str) -> dict:
    return {"destination_uri": f"file:///d/{key}", "mission": mission, "target_id": i, "target": "",
            "observing_unit": 1, "source_key": key, "data_uri": "", "obs_id": "", "obsid": "", "product_filename": "",
            "mast_size": 1, "size": 1, "sha256": "", "fits_checksum_verified": True, "copy_method": "download",
            "ingested_at": datetime(2026, 11, 1, tzinfo=UTC), "run_id": "old"}


def test_an_older_catalog_gains_the_product_columns_with_todays_values_and_loses_no_row(tmp_path):
    old = [_old_row(1, "tess/public/tid/s0001/0000/0002/6113/6679/"
                       "tess2018206045859-s0001-0000000261136679-0120-s_lc.fits", "TESS"),
           _old_row(2, "tess/public/tid/s0027/0000/0002/6113/6679/"
                       "tess2020186164531-s0027-0000000261136679-0189-a_fast-lc.fits", "TESS"),
           _old_row(3, "k2/public/lightcurves/c5/211000000/45000/ktwo211045000-c05_llc.fits", "K2")]
    schema = pa.schema([f for f in cat.schema(cat.FILES_TABLE) if f.name in OLD_FILE_COLUMNS])
    write_deltalake(str(tmp_path / "_catalog" / "files"), pa.Table.from_pylist(old, schema=schema),
                    partition_by=["mission"])
    catalog = Catalog(open_storage(parse_destination(str(tmp_path))))
    assert {f.product for f in catalog.files()} == {"SPOC", "K2"}  # read in today's layout before any commit

    new = {**_old_row(4, "k2/public/lightcurves/c5/211000000/46000/ktwo211046000-c05_llc.fits", "K2"),
           "product": "K2", "cadence_s": 1800.0, "source": "mast", "run_id": "new"}
    assert catalog.upsert(cat.FILES_TABLE, [new]) == 1

    stored = DeltaTable(str(tmp_path / "_catalog" / "files")).to_pandas().sort_values("target_id")
    assert stored[["target_id", "product", "cadence_s", "source"]].values.tolist() == [
        [1, "SPOC", 120.0, "bucket"], [2, "SPOC", 20.0, "bucket"], [3, "K2", 1800.0, "bucket"],
        [4, "K2", 1800.0, "mast"]]
    assert stored["run_id"].tolist() == ["old", "old", "old", "new"]
