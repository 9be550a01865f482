"""Unit tests of the plain package: missions' ids and keys, destinations, ADQL, batching, storage and catalog."""

from __future__ import annotations

from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from lightcurve_ingest.clients.tap import adql_string, parse_csv_table
from lightcurve_ingest.domain import catalog as cat
from lightcurve_ingest.domain.catalog import Catalog
from lightcurve_ingest.domain.missions import get_mission
from lightcurve_ingest.domain.payloads import Target
from lightcurve_ingest.domain.targets import check_dispositions, first_day_on_or_after
from lightcurve_ingest.errors import InvalidInputError, ServiceReplyError
from lightcurve_ingest.settings import MAX_BATCHES
from lightcurve_ingest.storage.backends import check_key, open_storage
from lightcurve_ingest.storage.destination import parse_destination
from lightcurve_ingest.tasks.ingest import make_batches

K2, KEPLER, TESS = get_mission("k2"), get_mission("kepler"), get_mission("tess")
K2_KEY = "k2/public/lightcurves/c3/206000000/89000/ktwo206089508-c03_llc.fits"
KEPLER_KEY = "kepler/public/lightcurves/0119/011904151/kplr011904151-2009166043257_llc.fits"
TESS_NAME = "tess2019226182529-s0015-0000000375422201-0151-s_lc.fits"
TESS_KEY = f"tess/public/tid/s0015/0000/0003/7542/2201/{TESS_NAME}"


@pytest.mark.parametrize(("mission", "texts", "value", "mast_name"), [
    (K2, ["206089508", "EPIC 206089508", "epic_206089508", "ktwo206089508"], 206089508, "ktwo206089508"),
    (KEPLER, ["11904151", "KIC 11904151", "kic11904151", "kplr011904151"], 11904151, "kplr011904151"),
    (TESS, ["261136679", "TIC 261136679", "tic-261136679"], 261136679, "261136679"),
])
def test_ids_in_their_usual_spellings(mission, texts, value, mast_name):
    for text in texts:
        assert mission.parse_id(text) == value
    assert mission.mast_target_name(value) == mast_name
    assert mission.format_id(value) == f"{mission.id_prefix} {value}"


@pytest.mark.parametrize(("mission", "text"), [
    (K2, "EPIC 12345"), (K2, "2060895080"), (K2, "199999999"), (K2, "EPIC abc"), (K2, ""),
    (KEPLER, "KIC 0"), (KEPLER, "KIC 1234567890"), (KEPLER, "KIC ٣"), (TESS, "TIC 12345678901"), (TESS, "TIC x"),
])
def test_malformed_ids_are_refused_by_name(mission, text):
    with pytest.raises(InvalidInputError, match=f"targets: .* is not an? {mission.id_prefix} id"):
        mission.parse_id(text)


@pytest.mark.parametrize(("mission", "values", "ids", "names"), [
    (K2, ["K2-18", "EPIC 201367065", "HD 3167"], [201367065], ["K2-18", "HD 3167"]),
    (KEPLER, ["KIC 11904151", "11904151", "Kepler-10", "KOI-72"], [11904151, 11904151], ["Kepler-10", "KOI-72"]),
    (TESS, ["TIC 261136679", "pi Men", "TOI-144"], [261136679], ["pi Men", "TOI-144"]),
])
def test_user_targets_split_into_ids_and_validated_names(mission, values, ids, names):
    assert mission.split_user_targets(values) == (ids, names)
    for bad in (["K2-18'; --"], ["../etc"], [""], [], [7]):
        with pytest.raises(InvalidInputError, match="targets"):
            mission.split_user_targets(bad)


@pytest.mark.parametrize(("mission", "data_uri", "key", "target_id", "unit"), [
    (K2, "mast:K2/url/missions/k2/lightcurves/c3/206000000/89000/ktwo206089508-c03_llc.fits", K2_KEY, 206089508, 3),
    (KEPLER, "mast:KEPLER/url/missions/kepler/lightcurves/" + KEPLER_KEY.split("lightcurves/")[1], KEPLER_KEY,
     11904151, 1),
    (KEPLER, "mast:Kepler/url/missions/kepler/lightcurves/" + KEPLER_KEY.split("lightcurves/")[1], KEPLER_KEY,
     11904151, 1),
    (TESS, f"mast:TESS/product/{TESS_NAME}", TESS_KEY, 375422201, 15),
    (TESS, f"mast:TESS/product/{TESS_NAME.replace('-s_lc', '-a_fast-lc')}",
     TESS_KEY.replace("-s_lc", "-a_fast-lc"), 375422201, 15),
])
def test_keys_come_from_data_uris_and_say_their_target_and_unit(mission, data_uri, key, target_id, unit):
    assert mission.key_from_data_uri(data_uri) == key
    info = mission.parse_key(key)
    assert (info.target_id, info.unit) == (target_id, unit)


@pytest.mark.parametrize(("mission", "bad_key"), [
    (K2, "/etc/passwd"), (K2, K2_KEY.replace("89000", "..", 1)), (K2, K2_KEY + "/../x"),
    (K2, K2_KEY.replace("ktwo", "kt wo")), (K2, K2_KEY.replace("89000", "12000")), (K2, K2_KEY + "\n"),
    (KEPLER, KEPLER_KEY.replace("-2009166043257_llc.fits", "_lc_Q111111111111111111.tar")),  # the bundle
    (KEPLER, KEPLER_KEY.replace("/0119/", "/0120/")), (KEPLER, KEPLER_KEY.replace("_llc", "_slc")),
    (TESS, TESS_KEY.replace("s0015/", "s0016/")), (TESS, TESS_KEY.replace("/7542/", "/7543/")),
    (TESS, TESS_KEY.replace("-s_lc", "-s_tp")), (TESS, TESS_KEY.replace("tess/public/tid/", "tess/public/")),
    (TESS, K2_KEY), (K2, TESS_KEY),
])
def test_keys_that_are_not_exactly_the_missions_light_curves_are_refused(mission, bad_key):
    with pytest.raises(InvalidInputError):
        mission.validate_key(bad_key)


def test_data_uris_of_other_missions_or_products_are_refused():
    for mission, uri in ((K2, f"mast:TESS/product/{TESS_NAME}"), (TESS, "mast:TESS/product/../../etc/passwd"),
                         (TESS, f"mast:TESS/product/x/{TESS_NAME}"), (KEPLER, "mast:K2/url/missions/k2/x.fits"),
                         (KEPLER, "mast:KEPLER/url/missions/kepler/lightcurves/0119/011904151/"
                                  "kplr011904151_lc_Q111111111111111111.tar")):
        with pytest.raises(InvalidInputError, match="dataURI"):
            mission.key_from_data_uri(uri)


def test_kepler_quarters_come_from_the_file_timestamp():
    assert KEPLER.parse_key(KEPLER_KEY.replace("2009166043257", "2013131215648")).unit == 17
    assert KEPLER.parse_key(KEPLER_KEY.replace("2009166043257", "2010009091648")).unit == 4  # Q4's second
    assert KEPLER.parse_key(KEPLER_KEY.replace("2009166043257", "2014000000000")).unit is None


def test_archive_rows_become_labelled_objects():
    kepler = KEPLER.object_of_row({"kepid": "11904151", "kepoi_name": "K00072.01", "kepler_name": "Kepler-10 b",
                                   "koi_disposition": "CONFIRMED"})
    assert (kepler.target_id, kepler.host, kepler.name) == (11904151, "Kepler-10", "K00072.01 (Kepler-10 b)")
    candidate = KEPLER.object_of_row({"kepid": "8554498", "kepoi_name": "K00005.01", "kepler_name": "",
                                      "koi_disposition": "CANDIDATE"})
    assert (candidate.host, candidate.name) == ("KOI-5", "K00005.01")
    toi = TESS.object_of_row({"tid": "261136679", "toi": "144.01", "toipfx": "144", "tfopwg_disp": "CP"})
    assert (toi.target_id, toi.host, toi.name, toi.disposition) == (261136679, "TOI-144", "TOI-144.01", "CP")
    assert TESS.object_of_row({"tid": "1", "toi": "700.1", "toipfx": "700", "tfopwg_disp": "PC"}).name == "TOI-700.10"


def test_dispositions_are_each_missions_own_and_unknown_ones_name_the_allowed():
    assert check_dispositions(TESS, ["CP", "PC", "CP"]) == ["CP", "PC"]
    with pytest.raises(InvalidInputError, match="dispositions: 'CONFIRMED' is not a TESS disposition; allowed: "
                                                "CP, KP, PC, APC, FP, FA"):
        check_dispositions(TESS, ["CONFIRMED"])
    with pytest.raises(InvalidInputError, match="dispositions: is empty"):
        check_dispositions(K2, [])


@pytest.mark.parametrize(("text", "scheme", "root", "prefix"), [
    ("/data/k2", "file", "/data/k2", ""),
    ("file:///data/k2", "file", "/data/k2", ""),
    ("s3://team-bucket", "s3", "team-bucket", ""),
    ("s3://team-bucket/k2/lc/", "s3", "team-bucket", "k2/lc"),
])
def test_destinations(text, scheme, root, prefix):
    dest = parse_destination(text)
    assert (dest.scheme, dest.root, dest.prefix) == (scheme, root, prefix)


@pytest.mark.parametrize(("text", "message"), [
    ("gs://bucket", "unknown scheme 'gs'"), ("data/k2", "relative path"), ("", "is empty"),
    ("s3://Bad_Bucket/x", "not a valid S3 bucket"), ("s3://bucket/../x", "not allowed"),
    ("file://host/data", "must name a local path"), ("/data/../etc", "contains '..'"),
])
def test_bad_destinations_name_the_param(text, message):
    with pytest.raises(InvalidInputError, match=message) as caught:
        parse_destination(text)
    assert caught.value.field == "destination"


def test_storage_keys_are_relative_and_plain():
    assert check_key(K2_KEY) == K2_KEY and check_key("_catalog/files.parquet")
    for bad in ("/etc/passwd", "a/../b", "./a", "a//b", "a/b/", "a\\b", "a\nb", "", "a b"):
        with pytest.raises(InvalidInputError, match="key"):
            check_key(bad)


def test_adql_literals_cannot_be_closed_by_a_value():
    assert adql_string("O'Brien") == "'O''Brien'"
    assert adql_string("x' or '1'='1") == "'x'' or ''1''=''1'"


def test_a_day_belongs_to_the_window_holding_its_midnight():
    assert first_day_on_or_after(datetime(2026, 11, 24)) == "2026-11-24"
    assert first_day_on_or_after(datetime(2026, 11, 24, 6)) == "2026-11-25"


def test_tap_replies_that_are_not_complete_tables_are_errors():
    assert parse_csv_table("hostname,epic_hostname\nK2-18,EPIC 201912552\n") == [
        {"hostname": "K2-18", "epic_hostname": "EPIC 201912552"}]
    for broken in ("<html><body>Error 500</body></html>", "hostname,epic_hostname\nK2-18,EPIC 2019",
                   "hostname,epic_hostname\nK2-18\n", ""):
        with pytest.raises(ServiceReplyError):
            parse_csv_table(broken, required=("hostname", "epic_hostname"))


def test_batches_stay_far_below_max_map_length():
    targets = [Target(201000000 + i, f"K2-{i}") for i in range(10_000)]
    known = [Target(300000000 + i) for i in range(5_000)]
    batches = make_batches(K2, targets, known, None, per_batch=5)
    assert len(batches) <= MAX_BATCHES
    assert sum(len(b.targets) for b in batches) == 15_000
    assert len({b.label for b in batches}) == len(batches)


def _file_row(i: int, run_id: str) -> dict:
    return {"destination_uri": f"file:///d/{i}.fits", "mission": "K2", "target_id": 201000001, "target": "K2-1",
            "observing_unit": 1, "source_key": f"{i}", "data_uri": "", "obs_id": "", "obsid": "",
            "product_filename": "", "mast_size": 1, "size": 1, "sha256": "", "fits_checksum_verified": True,
            "copy_method": "download", "ingested_at": datetime(2026, 11, 25), "run_id": run_id}


WRITERS, COMMITS = 4, 5


def _commit_batches(destination: str, writer: int) -> int:
    """One writer process: COMMITS batches of two new rows (appends), the last with a row every writer updates
    (a merge that conflicts with the others'); returns how many attempts its commits took."""
    import logging

    attempts = []
    handler = logging.Handler()
    handler.emit = lambda record: attempts.append(record) if "trying again" in record.getMessage() else None
    logging.getLogger("lightcurve_ingest.domain.catalog").addHandler(handler)
    logging.getLogger("lightcurve_ingest.domain.catalog").setLevel(logging.INFO)
    catalog = cat.Catalog(_storage(destination))
    for i in range(COMMITS):
        shared = [_file_row(10_000, f"run{writer}")] if i == COMMITS - 1 else []
        catalog.upsert(cat.FILES_TABLE, [_file_row(writer * 100 + 2 * i, f"run{writer}"),
                                         _file_row(writer * 100 + 2 * i + 1, f"run{writer}"), *shared])
    return COMMITS + len(attempts)


def _storage(destination: str):  # noqa: ANN202
    from lightcurve_ingest.wiring.connections import open_destination_storage

    return open_destination_storage(destination, "aws_default")


def _commit_concurrently(destination: str, pool_type: type = ProcessPoolExecutor) -> None:
    """WRITERS processes (or threads) commit at once: every row lands, once, within the bounded attempts.
    Spawned, not forked: deltalake's runtime panics in a child forked after the parent used it."""
    import multiprocessing

    from lightcurve_ingest.settings import CATALOG_COMMIT_ATTEMPTS

    kwargs = {"mp_context": multiprocessing.get_context("spawn")} if pool_type is ProcessPoolExecutor else {}
    with pool_type(WRITERS, **kwargs) as pool:
        attempts = list(pool.map(_commit_batches, [destination] * WRITERS, range(WRITERS)))
    assert sum(attempts) <= WRITERS * COMMITS * CATALOG_COMMIT_ATTEMPTS, attempts
    catalog = Catalog(_storage(destination))
    table = catalog.read(cat.FILES_TABLE)
    assert len(table) == WRITERS * COMMITS * 2 + 1 and table["destination_uri"].is_unique, attempts
    assert catalog.upsert(cat.FILES_TABLE, [_file_row(1, "again")]) == 0  # upsert: no duplicate rows
    table = catalog.read(cat.FILES_TABLE)
    assert len(table) == WRITERS * COMMITS * 2 + 1
    assert table.set_index("destination_uri").loc["file:///d/1.fits", "run_id"] == "again"


def test_concurrent_local_catalog_commits_lose_no_rows(tmp_path):
    _commit_concurrently(str(tmp_path))
    assert not list(tmp_path.rglob(".*.part-*"))


@pytest.mark.slow
def test_concurrent_s3_catalog_commits_lose_no_rows(standins):
    standins.s3.create_bucket("catalog-bucket")
    # threads, each with its own table handle: they race through S3's conditional writes as processes do, and
    # run in a few seconds where processes take a minute on a loaded machine
    _commit_concurrently("s3://catalog-bucket/k2", ThreadPoolExecutor)


def test_catalog_reads_only_the_rows_its_filters_ask_for(tmp_path):
    catalog = Catalog(open_storage(parse_destination(str(tmp_path))))
    rows = [{**_file_row(i, "r"), "mission": ("K2", "TESS")[i % 2], "observing_unit": i % 3} for i in range(30)]
    assert catalog.upsert(cat.FILES_TABLE, rows) == 30
    both = catalog.read(cat.FILES_TABLE, filters=[("mission", "=", "TESS"), ("observing_unit", "in", [0, 2])])
    assert sorted(both["source_key"].astype(int)) == [i for i in range(30) if i % 2 and i % 3 in (0, 2)]
    assert len(catalog.read(cat.FILES_TABLE, filters=[("mission", "=", "Kepler")])) == 0
    assert list(catalog.read(cat.FILES_TABLE).columns) == cat.FILE_COLUMNS


def test_catalog_tables_checkpoint_every_few_versions(tmp_path):
    """Opening a table reads its newest checkpoint and the log entries after it: with many shards committing, a
    checkpoint every CATALOG_CHECKPOINT_EVERY versions keeps each open to a few reads."""
    from lightcurve_ingest.settings import CATALOG_CHECKPOINT_EVERY

    catalog = Catalog(open_storage(parse_destination(str(tmp_path))))
    for i in range(CATALOG_CHECKPOINT_EVERY + 2):
        catalog.upsert(cat.FILES_TABLE, [_file_row(i, f"run{i}")])
    log = tmp_path / "_catalog" / "files" / "_delta_log"
    checkpoint = f"{CATALOG_CHECKPOINT_EVERY - 1:020d}.checkpoint.parquet"
    assert (log / checkpoint).is_file(), sorted(p.name for p in log.iterdir())
    assert len(catalog.read(cat.FILES_TABLE)) == CATALOG_CHECKPOINT_EVERY + 2


def test_two_racing_appends_of_one_new_key_read_as_its_newer_row(tmp_path):
    from deltalake import write_deltalake

    catalog = Catalog(open_storage(parse_destination(str(tmp_path))))
    catalog.upsert(cat.FILES_TABLE, [_file_row(1, "first")])
    # what two writers that both found the key absent leave: appends do not conflict in Delta Lake
    later = {**_file_row(1, "second"), "ingested_at": datetime(2026, 11, 26)}
    write_deltalake(str(tmp_path / "_catalog" / "files"), cat._arrow(pd.DataFrame([later]), cat.FILES_TABLE),
                    mode="append")
    table = catalog.read(cat.FILES_TABLE)
    assert table["run_id"].tolist() == ["second"]


def test_a_single_file_catalog_moves_into_the_delta_table_on_first_commit(tmp_path):
    legacy = Path(__file__).parent / "fixtures" / "k2ingest_catalog"
    (tmp_path / "_catalog").mkdir()
    (tmp_path / "_catalog" / "files.parquet").write_bytes((legacy / "files.parquet").read_bytes())
    catalog = Catalog(open_storage(parse_destination(str(tmp_path))))
    before = catalog.read(cat.FILES_TABLE)  # read as it is until the first commit
    assert len(before) == len(pd.read_parquet(legacy / "files.parquet")) > 0

    assert catalog.upsert(cat.FILES_TABLE, [_file_row(1, "new")]) == 1

    after = catalog.read(cat.FILES_TABLE)
    assert len(after) == len(before) + 1
    kept = after[after["run_id"] != "new"].reset_index(drop=True)
    assert kept.drop(columns="ingested_at").equals(before.drop(columns="ingested_at"))
    assert (tmp_path / "_catalog" / "files.parquet").read_bytes() == (legacy / "files.parquet").read_bytes()


def test_a_first_release_catalog_reads_as_k2_rows_in_todays_layout():
    legacy = Path(__file__).parent / "fixtures" / "k2ingest_catalog"
    old_files = pd.read_parquet(legacy / "files.parquet")
    files = cat.upgrade(old_files.copy(), cat.FILES_TABLE)
    assert list(files.columns) == cat.FILE_COLUMNS and len(files) == len(old_files) > 0
    assert (files["mission"] == "K2").all()
    assert files["target_id"].tolist() == old_files["epic_id"].tolist()
    assert files["observing_unit"].tolist() == old_files["campaign"].tolist()
    targets = cat.upgrade(pd.read_parquet(legacy / "targets.parquet"), cat.TARGETS_TABLE)
    assert list(targets.columns) == cat.TARGET_COLUMNS and set(targets["mission"]) == {"K2"}
    assert cat.upgrade(files.copy(), cat.FILES_TABLE).equals(files), "today's layout is left as it is"


@pytest.mark.parametrize(("source", "copy", "encryption", "same"), [
    ("9b2cf535f27731c974343645a3985328", '"9b2cf535f27731c974343645a3985328"', "AES256", True),
    ("9b2cf535f27731c974343645a3985328", '"0b2cf535f27731c974343645a3985328"', "AES256", False),
    ("9b2cf535f27731c974343645a3985328", '"0b2cf535f27731c974343645a3985328"', "", False),
    ("9b2cf535f27731c974343645a3985328-3", '"0b2cf535f27731c974343645a3985328"', "", True),  # multipart source
    ("9b2cf535f27731c974343645a3985328", '"0b2cf535f27731c974343645a3985328"', "aws:kms", True),  # not an MD5
])
def test_a_server_side_copy_is_compared_with_its_source_by_etag_where_both_are_md5s(source, copy, encryption, same):
    from lightcurve_ingest.domain.copying import _same_content

    assert _same_content(source, copy, encryption) is same
