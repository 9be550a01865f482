"""Unit tests of the plain package: names, keys, destinations, ADQL, batching and the catalog's updates."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from k2ingest import catalog as cat
from k2ingest.archive import adql_string, first_day_on_or_after, parse_csv_table
from k2ingest.catalog import Catalog
from k2ingest.destination import parse_destination
from k2ingest.errors import InvalidInputError, ServiceReplyError
from k2ingest.keys import campaign_of, source_key_from_data_uri, validate_source_key
from k2ingest.pipeline import MAX_BATCHES, make_batches
from k2ingest.targets import Target, parse_epic_id, split_user_targets

KEY = "k2/public/lightcurves/c3/206000000/89000/ktwo206089508-c03_llc.fits"


@pytest.mark.parametrize("text", ["206089508", "EPIC 206089508", "epic_206089508", "ktwo206089508"])
def test_epic_ids_in_their_usual_spellings(text):
    assert parse_epic_id(text) == 206089508
    assert Target(206089508).mast_name == "ktwo206089508"


@pytest.mark.parametrize("text", ["EPIC 12345", "2060895080", "199999999", "EPIC abc", ""])
def test_malformed_epic_ids_are_refused_by_name(text):
    with pytest.raises(InvalidInputError, match="targets"):
        parse_epic_id(text)


def test_user_targets_split_into_epic_ids_and_validated_host_names():
    assert split_user_targets(["K2-18", "EPIC 201367065", "HD 3167"]) == ([201367065], ["K2-18", "HD 3167"])
    for bad in (["K2-18'; --"], ["../etc"], [""], []):
        with pytest.raises(InvalidInputError, match="targets"):
            split_user_targets(bad)


def test_keys_come_from_k2_data_uris_and_nothing_else():
    uri = "mast:K2/url/missions/k2/lightcurves/c3/206000000/89000/ktwo206089508-c03_llc.fits"
    assert source_key_from_data_uri(uri) == KEY
    assert campaign_of(KEY) == 3
    assert campaign_of(KEY.replace("c3/", "c102/").replace("-c03", "-c102")) == 102
    for bad in ("/etc/passwd", KEY.replace("89000", "..", 1), KEY + "/../x", KEY.replace("ktwo", "kt wo"),
                KEY.replace("89000", "12000"), "k2/public/lightcurves/c3/x.fits"):
        with pytest.raises(InvalidInputError):
            validate_source_key(bad)


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
    batches = make_batches(targets, per_batch=5)
    assert len(batches) <= MAX_BATCHES
    assert sum(len(b["targets"]) for b in batches) == 10_000
    assert len({b["label"] for b in batches}) == len(batches)


def _file_row(i: int, run_id: str) -> dict:
    return {"destination_uri": f"file:///d/{i}.fits", "target": "K2-1", "epic_id": 201000001, "campaign": 1,
            "source_key": f"{i}", "data_uri": "", "obs_id": "", "obsid": "", "product_filename": "",
            "mast_size": 1, "size": 1, "sha256": "", "fits_checksum_verified": True, "copy_method": "download",
            "ingested_at": datetime(2026, 11, 25), "run_id": run_id}


def test_concurrent_local_catalog_updates_lose_no_rows(tmp_path):
    catalog = Catalog(parse_destination(str(tmp_path)))

    def writer(run: int) -> None:
        for i in range(10):
            catalog.upsert(cat.FILES_TABLE, [_file_row(run * 100 + i, f"run{run}")])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(writer, range(8)))
    table = catalog.read(cat.FILES_TABLE)
    assert len(table) == 80 and table["destination_uri"].is_unique
    assert catalog.upsert(cat.FILES_TABLE, [_file_row(1, "again")]) == 0  # upsert: no duplicate rows
    assert len(catalog.read(cat.FILES_TABLE)) == 80


def test_concurrent_s3_catalog_updates_lose_no_rows(standins):
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    standins.s3.create_bucket("catalog-bucket")
    catalog = Catalog(parse_destination("s3://catalog-bucket/k2"), S3Hook(aws_conn_id="aws_default"))

    def writer(run: int) -> None:
        for i in range(5):
            catalog.upsert(cat.FILES_TABLE, [_file_row(run * 100 + i, f"run{run}")])

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(writer, range(4)))
    table = catalog.read(cat.FILES_TABLE)
    assert len(table) == 20 and table["destination_uri"].is_unique


@pytest.mark.parametrize(("source", "copy", "encryption", "same"), [
    ("9b2cf535f27731c974343645a3985328", '"9b2cf535f27731c974343645a3985328"', "AES256", True),
    ("9b2cf535f27731c974343645a3985328", '"0b2cf535f27731c974343645a3985328"', "AES256", False),
    ("9b2cf535f27731c974343645a3985328", '"0b2cf535f27731c974343645a3985328"', "", False),
    ("9b2cf535f27731c974343645a3985328-3", '"0b2cf535f27731c974343645a3985328"', "", True),  # multipart source
    ("9b2cf535f27731c974343645a3985328", '"0b2cf535f27731c974343645a3985328"', "aws:kms", True),  # not an MD5
])
def test_a_server_side_copy_is_compared_with_its_source_by_etag_where_both_are_md5s(source, copy, encryption, same):
    from k2ingest.copying import _same_content

    assert _same_content(source, copy, encryption) is same
