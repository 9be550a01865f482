"""The stand-ins, proven with the real clients: astroquery, requests + pandas, boto3, S3Hook."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import shlex
import socket
import subprocess
import sys
import tarfile
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pytest
import requests
from astropy.io import fits
from astroquery.exceptions import NoResultsWarning, RemoteServiceError
from astroquery.mast import ObservationsClass
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError, ResponseStreamingError

from tests.real_fits import (
    K2_C13,
    K2_C102,
    KEPLER_90_Q3,
    KEPLER_90_Q4_PART,
    PIPELINE_FILES,
    TESS_S1_WASP_126,
    TESS_S24,
    TESS_S41,
    TESS_SPOC_S24,
    RealFile,
)
from tests.standins import MastPortalStandin, Standins, build_universe, missions_k2, missions_kepler, missions_tess
from tests.standins.__main__ import parse_args
from tests.standins.fits_factory import (
    APERTURE_SHAPE,
    LONG_CADENCE_DAYS,
    Transit,
    kepler_llc_size,
    llc_size,
    make_kepler_llc_fits,
    make_llc_fits,
    make_tess_lc_fits,
    planted_depth_ppm,
    planted_period_days,
    stellar_variability,
    tess_lc_size,
    transit_model,
    transit_number,
    transit_times,
    transits_of,
)
from tests.standins.layouts import (
    K2_LLC,
    KEPLER_LLC,
    TESS_SPOC_FAST_LC,
    TESS_SPOC_FFI_LC,
    TESS_SPOC_LC,
    Column,
    Layout,
    keyword_problems,
)
from tests.standins.mast_query import observation_row, product_row
from tests.standins.records import mjd
from tests.standins.tap import K2PANDC_COLUMNS, k2pandc_rows
from tests.standins.timeline import quarter_mjd, sector_mjd, sector_timestamp
from tests.standins.universe import K2_CAMPAIGNS, MISSIONS, Host, Universe

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIRMED_ON_21ST = ("select distinct hostname, epic_hostname from k2pandc where disposition = 'CONFIRMED' "
                     "and rowupdate >= '2026-11-21' and rowupdate < '2026-11-22'")


@pytest.fixture(scope="module")
def standins():
    with Standins(n_hosts=20, unknown_to_mast=1) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_knobs(request):
    """Tests sharing the module's stand-ins start with no faults, no latency, no release cutoff, zeroed counters."""
    if "standins" in request.fixturenames:
        request.getfixturevalue("standins").reset()
    yield


@pytest.fixture
def observations(standins):
    return _observations_client(standins.mast.base_url)


def _observations_client(base_url: str) -> ObservationsClass:
    obs = ObservationsClass()
    portal = obs._portal_api_connection
    portal.MAST_REQUEST_URL = base_url + "/api/v0/invoke"
    portal.COLUMNS_CONFIG_URL = base_url + "/portal/Mashup/Mashup.asmx/columnsconfig"
    portal.MAST_DOWNLOAD_URL = base_url + "/api/v0.1/Download/file"
    return obs


@pytest.fixture
def s3_client(standins):
    return _anonymous_s3(standins.s3.endpoint_url)


def _anonymous_s3(endpoint: str, **config):
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1",
                        config=Config(signature_version=UNSIGNED, **config))


def _lc_query(observations, standins, **kwargs):
    names = [h.target_name for h in standins.universe.hosts_of("K2")]
    return observations.query_criteria(obs_collection="K2", target_name=names, t_exptime=[1799, 1801], **kwargs)


def _k2_observations(universe: Universe, exptime: float) -> list:
    return [o for o in universe.observations if o.mission == "K2" and o.t_exptime == exptime]


def _files(universe: Universe, mission: str) -> list:
    return [f for f in universe.files if f.mission == mission]


def _tap(standins, query: str, fmt: str = "csv") -> requests.Response:
    return requests.get(standins.tap.base_url + "/TAP/sync", params={"query": query, "format": fmt}, timeout=10)


def _ones_sum(data: bytes) -> int:
    total = int(np.frombuffer(data, dtype=">u4").astype(np.uint64).sum())
    while total >> 32:
        total = (total & 0xFFFFFFFF) + (total >> 32)
    return total


def _hdus_sum_to_minus_zero(content: bytes) -> list[bool]:
    """For each HDU: does the whole HDU, header and data, sum to -0 (the FITS checksum rule)?

    The raw check, not ``fits.open(checksum=True)``: astropy takes a missing DATASUM for 0 and so calls every
    genuine MAST file (CHECKSUM in each HDU, no DATASUM) corrupt.
    """
    sums = []
    with fits.open(io.BytesIO(content)) as hdus:
        for index in range(len(hdus)):
            info = hdus.fileinfo(index)
            header, data, span = info["hdrLoc"], info["datLoc"], info["datSpan"]
            total = _ones_sum(content[header:data]) + _ones_sum(content[data:data + span])
            while total >> 32:
                total = (total & 0xFFFFFFFF) + (total >> 32)
            sums.append(total == 0xFFFFFFFF)
    return sums


def _assert_valid_fits(content: bytes) -> fits.HDUList:
    """As MAST's light curves are: a standard FITS file, CHECKSUM and no DATASUM in every HDU, each summing to -0."""
    hdus = fits.open(io.BytesIO(content))
    hdus.verify("exception")
    for hdu in hdus:
        _ = hdu.data
        assert "CHECKSUM" in hdu.header and "DATASUM" not in hdu.header, hdu.name
    assert all(_hdus_sum_to_minus_zero(content))
    return hdus


# --- universe and FITS ------------------------------------------------------------------------

def test_universe_is_deterministic_and_well_formed():
    universe = build_universe(20, seed=3, unknown_to_mast=2)
    again = build_universe(20, seed=3, unknown_to_mast=2)
    assert universe.hosts == again.hosts and universe.observations == again.observations
    k2 = universe.hosts_of("K2")
    assert len(k2) == 22
    assert sum(not h.known_to_mast for h in universe.hosts) == 2
    assert all(not h.files for h in universe.hosts if not h.known_to_mast)
    assert {p.disposition for h in k2 for p in h.planets} == {"CONFIRMED", "CANDIDATE", "FALSE POSITIVE"}
    assert any(not h.has_confirmed_planet for h in k2)
    for host in k2:
        assert 2 <= len(host.units) <= 4 and set(host.units) <= set(K2_CAMPAIGNS)
        assert 201000000 <= host.target_id <= 251999999
        assert universe.host("K2", host.target_id) is universe.host_by_name(host.hostname) is host
        assert [f.unit for f in host.files] == (list(host.units) if host.known_to_mast else [])
    for host in universe.hosts:
        assert all(date(2026, 11, 20) <= p.rowupdate <= date(2026, 11, 24) for p in host.planets)
    k2_files = _files(universe, "K2")
    assert len({f.obsid for f in k2_files}) == len(k2_files)
    for file in k2_files[:10]:
        assert file.size == len(universe.fits_bytes(file))


def test_keys_and_uris_follow_the_archive_layout():
    universe = build_universe(40)
    by_campaign = {f.unit: f for f in _files(universe, "K2")}
    file = next(f for c, f in by_campaign.items() if c < 10)
    epic = str(file.target_id)
    assert file.key == (f"k2/public/lightcurves/c{file.unit}/{epic[:4]}00000/{epic[4:6]}000/"
                        f"ktwo{epic}-c{file.unit:02d}_llc.fits")
    assert file.data_uri == "mast:K2/url/missions/k2/lightcurves/" + file.key.removeprefix("k2/public/lightcurves/")
    assert file.filename == f"ktwo{epic}-c{file.unit:02d}_llc.fits"
    split = next(f for c, f in by_campaign.items() if c > 90)
    assert f"/c{split.unit}/" in split.key and split.key.endswith(f"-c{split.unit}_llc.fits")


def test_fits_file_is_valid_deterministic_and_sized():
    content = make_llc_fits(201367065, 102, 300, seed=1)
    assert content == make_llc_fits(201367065, 102, 300, seed=1)
    assert content != make_llc_fits(201367065, 102, 300, seed=2)
    assert len(content) == llc_size(300)
    hdus = _assert_valid_fits(content)
    primary = hdus[0].header
    assert (primary["KEPLERID"], primary["CAMPAIGN"], primary["OBJECT"]) == (201367065, 102, "EPIC 201367065")
    assert (primary["TELESCOP"], primary["MISSION"], primary["OBSMODE"]) == ("Kepler", "K2", "long cadence")
    table = hdus["LIGHTCURVE"].data
    assert len(table) == 300 and table.columns.names == [c.name for c in K2_LLC.columns]
    assert hdus["APERTURE"].data.shape == APERTURE_SHAPE
    data_start = hdus.fileinfo(1)["datLoc"]
    corrupt = bytearray(content)
    corrupt[data_start + 100] ^= 0xFF  # a byte of the light-curve table
    assert _hdus_sum_to_minus_zero(bytes(corrupt)) == [True, False, True]


@pytest.mark.parametrize("rows", [0, 1, 144, 145, 3901])
def test_llc_size_predicts_the_file_length(rows):
    assert llc_size(rows) == len(make_llc_fits(205000000 + rows, 5, rows, seed=rows))


def test_real_size_setting_gives_real_size_files():
    assert 400_000 <= llc_size(4000) and llc_size(8000) <= 1_000_000


# --- MAST through astroquery ------------------------------------------------------------------

def test_query_criteria_returns_exactly_the_long_cadence_observations(standins, observations):
    table = _lc_query(observations, standins)
    expected = {o.obs_id for o in _k2_observations(standins.universe, 1800)}
    assert set(table["obs_id"]) == expected and len(table) == len(expected)
    assert set(table["t_exptime"]) == {1800.0}
    assert set(table["obs_collection"]) == {"K2"} and set(table["dataproduct_type"]) == {"timeseries"}
    assert all(name.startswith("ktwo") for name in table["target_name"])
    # what astroquery actually sent: a list target_name, a separator for obs_collection, a min/max range
    filters = {f["paramName"]: f for f in standins.mast.invocations[-1]["params"]["filters"]}
    assert filters["obs_collection"] == {"paramName": "obs_collection", "separator": ";", "values": ["K2"]}
    assert filters["target_name"]["values"] == [h.target_name for h in standins.universe.hosts_of("K2")]
    assert filters["t_exptime"] == {"paramName": "t_exptime", "values": [{"min": 1799, "max": 1801}]}


def test_short_cadence_and_other_filters(standins, observations):
    table = observations.query_criteria(obs_collection="K2", t_exptime=[59, 61], provenance_name="K2",
                                        instrument_name="Kepler", project="K2", dataproduct_type="timeseries")
    assert set(table["obs_id"]) == {o.obs_id for o in _k2_observations(standins.universe, 60)}
    assert all(obs_id.endswith("_sc") for obs_id in table["obs_id"])
    one = standins.universe.observations[0]
    assert list(observations.query_criteria(obs_id=one.obs_id)["obsid"]) == [one.obsid]
    with pytest.warns(NoResultsWarning):
        assert len(observations.query_criteria(obs_collection="HST")) == 0


def test_products_give_exactly_the_llc_files_with_their_sizes(standins, observations):
    products = observations.get_product_list(_lc_query(observations, standins))
    llc = observations.filter_products(products, productSubGroupDescription="LLC")
    files = {f.data_uri: f for f in _files(standins.universe, "K2")}
    assert sorted(llc["dataURI"]) == sorted(files)
    assert all(int(row["size"]) == files[row["dataURI"]].size for row in llc)
    assert set(products["productSubGroupDescription"]) == {"LLC", "TPF"}
    assert set(llc["productType"]) == {"SCIENCE"}
    assert set(llc["description"]) == {"Lightcurve Long Cadence (CLC) - K2"}
    assert standins.mast.requests_by_service["Mast.Caom.Products"] == 1  # all obsids in one request


def test_download_file_serves_the_fits_bytes(standins, observations, tmp_path):
    file = standins.universe.files[0]
    status, msg, _ = observations.download_file(file.data_uri, local_path=str(tmp_path / file.filename))
    assert (status, msg) == ("COMPLETE", None)
    content = (tmp_path / file.filename).read_bytes()
    assert content == standins.universe.fits_bytes(file)
    _assert_valid_fits(content)
    missing = requests.get(standins.mast.base_url + "/api/v0.1/Download/file",
                           params={"uri": "mast:K2/url/missions/k2/lightcurves/nope.fits"}, timeout=10)
    assert missing.status_code == 404


def test_paging_with_a_small_pagesize(standins, observations):
    full = _lc_query(observations, standins)
    standins.mast.reset_counters()
    paged = _lc_query(observations, standins, pagesize=7)
    assert sorted(paged["obs_id"]) == sorted(full["obs_id"])
    assert standins.mast.requests_by_service["Mast.Caom.Filtered"] == math.ceil(len(full) / 7)
    assert [i["page"] for i in standins.mast.invocations] == list(range(1, math.ceil(len(full) / 7) + 1))


def test_path_lookup_like_mast(standins):
    file = standins.universe.files[0]
    unknown = "mast:K2/url/missions/k2/lightcurves/does_not_exist.fits"
    reply = requests.get(standins.mast.base_url + "/api/v0.1/path_lookup/",
                         params={"uri": [file.data_uri, unknown]}, timeout=10).json()
    assert reply == {file.data_uri: {"status_code": 200, "path": "/" + file.key},
                     unknown: {"status_code": 404, "path": None}}


def test_columns_config_marks_time_columns_numeric(standins):
    reply = requests.post(standins.mast.base_url + "/portal/Mashup/Mashup.asmx/columnsconfig",
                          data="colConfigId=Mast.Caom.Cone", timeout=10,
                          headers={"Content-type": "application/x-www-form-urlencoded"}).json()
    assert {reply[c]["vot.datatype"] for c in ("t_exptime", "t_min", "t_max")} == {"double"}
    assert "provenance_name" in reply and "target_name" in reply


def test_executing_replies_are_polled_until_complete(standins, observations):
    standins.mast.add_fault("executing", times=2, service="Mast.Caom.Filtered")
    table = _lc_query(observations, standins)
    assert len(table) == len(_k2_observations(standins.universe, 1800))
    assert standins.mast.requests_by_service["Mast.Caom.Filtered"] == 3
    assert standins.mast.faults_fired["executing"] == 2


def test_error_status_raises_remote_service_error(standins, observations):
    standins.mast.add_fault("error_status", service="Mast.Caom.Filtered")
    with pytest.raises(RemoteServiceError, match="Injected error"):
        _lc_query(observations, standins)
    assert len(_lc_query(observations, standins)) > 0  # normal replies resume


def test_unknown_filter_column_is_a_remote_error(standins, observations):
    with pytest.raises(RemoteServiceError, match="nope"):
        observations._portal_api_connection.service_request(
            "Mast.Caom.Filtered", {"columns": "*", "filters": [{"paramName": "nope", "values": ["x"]}]})


def test_http_503_and_500_raise_http_errors(standins, observations):
    standins.mast.add_fault("http503", service="Mast.Caom.Filtered")
    with pytest.raises(requests.HTTPError, match="503"):
        _lc_query(observations, standins)
    standins.mast.add_fault("http500", service="download")
    reply = requests.get(standins.mast.base_url + "/api/v0.1/Download/file",
                         params={"uri": standins.universe.files[0].data_uri}, timeout=10)
    assert reply.status_code == 500
    assert dict(standins.mast.faults_fired) == {"http503": 1, "http500": 1}


def test_malformed_json_fails_to_parse(standins, observations):
    standins.mast.add_fault("malformed_json", service="Mast.Caom.Filtered")
    with pytest.raises(requests.exceptions.JSONDecodeError):
        _lc_query(observations, standins)


def test_latency_is_applied(standins):
    standins.mast.latency_s = 0.3
    started = time.monotonic()
    requests.get(standins.mast.base_url + "/api/v0.1/path_lookup/", params={"uri": "x"}, timeout=10)
    assert time.monotonic() - started >= 0.3
    assert standins.mast.request_count == 1


def test_hang_times_out_the_client_and_does_not_block_shutdown():
    universe = build_universe(2)
    mast = MastPortalStandin(universe, hang_s=30)
    mast.add_fault("hang")
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(mast.base_url + "/api/v0.1/path_lookup/", params={"uri": "x"}, timeout=0.3)
    started = time.monotonic()
    mast.stop()
    assert time.monotonic() - started < 3


# --- the exoplanet archive's TAP --------------------------------------------------------------

def test_tap_filters_by_the_adql_query(standins):
    reply = _tap(standins, CONFIRMED_ON_21ST)
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith("text/csv")
    assert reply.text.splitlines()[0] == "hostname,epic_hostname"
    table = pd.read_csv(io.StringIO(reply.text))
    day = date(2026, 11, 21)
    expected = {(h.hostname, f"EPIC {h.target_id}") for h in standins.universe.confirmed_hosts(day)}
    assert set(zip(table["hostname"], table["epic_hostname"], strict=True)) == expected and len(table) == len(expected)
    assert any(not h.known_to_mast for h in standins.universe.confirmed_hosts(day))
    # rows the filter must drop do exist on that day
    dropped = [p for h in standins.universe.hosts_of("K2") for p in h.planets
               if p.rowupdate == day and p.disposition != "CONFIRMED"]
    assert dropped


def test_tap_formats_and_columns(standins):
    rows = _tap(standins, "select * from k2pandc order by pl_name", "json").json()
    planets = [p for h in standins.universe.hosts_of("K2") for p in h.planets]
    assert len(rows) == len(planets) + sum(p.other_solution for p in planets)
    assert sum(r["default_flag"] for r in rows) == len(planets)
    assert set(rows[0]) == {"pl_name", "hostname", "k2_name", "epic_hostname", "tic_id", "default_flag",
                            "disposition", "disc_facility", "ra", "dec", "k2_campaigns", "k2_campaigns_num",
                            "rowupdate", "pl_pubdate", "releasedate", "pl_orbper", "pl_tranmid", "pl_trandur",
                            "pl_trandep", "pl_tsystemref"}
    host = standins.universe.hosts[0]
    row = next(r for r in rows if r["hostname"] == host.hostname)
    assert row["k2_campaigns"] == ",".join(map(str, host.units))
    assert row["epic_hostname"] == f"EPIC {host.target_id}"
    tsv = _tap(standins, "select top 3 pl_name, rowupdate from k2pandc", "tsv").text.splitlines()
    assert tsv[0] == "pl_name\trowupdate" and len(tsv) == 4
    posted = requests.post(standins.tap.base_url + "/TAP/sync", timeout=10,
                           data={"query": "select count(*) as n from k2pandc", "format": "csv"})
    assert posted.text == f"n\n{len(rows)}\n"


def test_tap_rejects_bad_queries_with_400(standins):
    reply = _tap(standins, "select nope from k2pandc")
    assert reply.status_code == 400 and "nope" in reply.text
    assert _tap(standins, "delete from k2pandc").status_code == 400
    assert len(_tap(standins, "select * from k2pandc", "json").json()) > 0


def test_tap_faults(standins):
    tap = standins.tap
    tap.add_fault("html_error")
    tap.add_fault("http503")
    tap.add_fault("truncated_csv")
    first, second = _tap(standins, CONFIRMED_ON_21ST), _tap(standins, CONFIRMED_ON_21ST)
    assert first.status_code == 500 and "<html>" in first.text
    assert second.status_code == 503
    truncated = _tap(standins, CONFIRMED_ON_21ST)
    full = _tap(standins, CONFIRMED_ON_21ST)
    assert truncated.status_code == 200 and truncated.text.startswith("hostname,epic_hostname\n")
    assert full.text.startswith(truncated.text) and len(truncated.text) < len(full.text)
    assert not truncated.text.endswith("\n")
    assert dict(tap.faults_fired) == {"html_error": 1, "http503": 1, "truncated_csv": 1}
    assert tap.request_count == 4 and tap.queries[-1] == CONFIRMED_ON_21ST


# --- S3 -----------------------------------------------------------------------------------------

def test_s3_serves_every_file_anonymously(standins, s3_client, tmp_path):
    universe = standins.universe
    listed = s3_client.get_paginator("list_objects_v2").paginate(Bucket="stpubdata", Prefix="k2/public/")
    keys = {o["Key"]: o["Size"] for page in listed for o in page.get("Contents", [])}
    field = [f for f in universe.field_files if f.mission == "K2"]
    decoys = {key: len(data) for key, data in universe.decoys if key.startswith("k2/")}
    assert field and decoys and keys == {f.key: f.size for f in _files(universe, "K2") + field} | decoys
    file = _files(universe, "K2")[-1]
    body = s3_client.get_object(Bucket="stpubdata", Key=file.key)["Body"].read()
    assert body == universe.fits_bytes(file)
    s3_client.download_file("stpubdata", file.key, str(tmp_path / file.filename))
    assert _assert_valid_fits((tmp_path / file.filename).read_bytes())[0].header["KEPLERID"] == file.target_id
    assert standins.s3.requests_by_method["GET"] >= 2


def test_s3_crafted_object(standins, s3_client):
    file = standins.universe.files[0]
    short_key = file.key.replace("_llc.fits", "_short_llc.fits")
    standins.s3.put_object(short_key, standins.universe.fits_bytes(file)[:1000])
    assert s3_client.head_object(Bucket="stpubdata", Key=short_key)["ContentLength"] == 1000
    with pytest.raises(ClientError) as missing:
        s3_client.head_object(Bucket="stpubdata", Key="k2/public/nothing.fits")
    assert missing.value.response["Error"]["Code"] == "404"
    signed = standins.s3.client(signed=True)
    for client in (s3_client, signed):  # nobody but the stand-in writes to the public bucket
        with pytest.raises(ClientError, match="AccessDenied"):
            client.put_object(Bucket="stpubdata", Key="k2/written.fits", Body=b"x")
    signed.create_bucket(Bucket="team-crafted")
    signed.put_object(Bucket="team-crafted", Key="a.fits", Body=b"x")
    with pytest.raises(ClientError, match="AccessDenied"):
        s3_client.put_object(Bucket="team-crafted", Key="b.fits", Body=b"x")
    with pytest.raises(ClientError, match="403"):
        s3_client.head_object(Bucket="team-crafted", Key="a.fits")


def test_s3_error_faults(standins):
    no_retries = _anonymous_s3(standins.s3.endpoint_url, retries={"total_max_attempts": 1, "mode": "standard"})
    key = standins.universe.files[0].key
    standins.s3.add_fault("http500", key_substring=key)
    with pytest.raises(ClientError) as internal:
        no_retries.get_object(Bucket="stpubdata", Key=key)
    assert internal.value.response["Error"]["Code"] == "InternalError"
    standins.s3.add_fault("slowdown")
    with pytest.raises(ClientError) as slow:
        no_retries.get_object(Bucket="stpubdata", Key=key)
    assert slow.value.response["Error"]["Code"] == "SlowDown"
    assert slow.value.response["ResponseMetadata"]["HTTPStatusCode"] == 503
    standins.s3.add_fault("slowdown", times=2)
    retried = standins.s3.client(retries={"max_attempts": 5, "mode": "standard"})
    assert retried.get_object(Bucket="stpubdata", Key=key)["Body"].read() == standins.universe.fits_bytes(
        standins.universe.files[0])
    assert dict(standins.s3.faults_fired) == {"http500": 1, "slowdown": 3}


def test_s3_reset_cuts_the_body(standins, s3_client, tmp_path):
    file = standins.universe.files[1]
    standins.s3.add_fault("reset", key_substring=file.filename)
    response = s3_client.get_object(Bucket="stpubdata", Key=file.key)
    assert response["ContentLength"] == file.size
    with pytest.raises(ResponseStreamingError):
        response["Body"].read()
    standins.s3.add_fault("reset", key_substring=file.filename)
    s3_client.download_file("stpubdata", file.key, str(tmp_path / "retried.fits"))  # s3transfer retries
    assert (tmp_path / "retried.fits").read_bytes() == standins.universe.fits_bytes(file)
    assert standins.s3.faults_fired["reset"] == 2


def test_s3_hook_with_the_airflow_connections(standins, monkeypatch):
    for name, value in standins.airflow_env().items():
        monkeypatch.setenv(name, value)
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    file = standins.universe.files[2]
    public = S3Hook(aws_conn_id="mast_public_s3")
    content = public.get_key(file.key, "stpubdata").get()["Body"].read()
    assert content == standins.universe.fits_bytes(file)
    team = S3Hook(aws_conn_id="aws_default")
    team.create_bucket("team-hook-bucket")
    team.load_bytes(content, "k2/copy.fits", "team-hook-bucket")
    assert team.get_key("k2/copy.fits", "team-hook-bucket").content_length == file.size


# --- K2 stays as it was -------------------------------------------------------------------------

# Digests of the K2 part of build_universe: hosts, planets, observations, products, MAST rows, k2pandc rows and
# every file's bytes. Recorded when the light curves took stellar variability and the planets' transits at their
# ephemerides, and k2pandc the ephemeris columns and second solutions (hosts, files, sizes and observations as
# when the files took the genuine layout); a deliberate change to K2's stand-ins records new ones, anything else
# must leave them.
K2_DIGESTS = {
    (8, 1): "a025a00d54d7583c49c108b138aa14c9b2408b5daed6b35b47e838ce1080d32b",
    (20, 0): "26a7a530e9dab128f35e6d3fcfd9c0d6f94f33c27eefa08020c4b357433eb2cb",
}


def _k2_digest(universe: Universe) -> str:
    digest = hashlib.sha256()
    for host in universe.hosts_of("K2"):
        digest.update(repr((host.hostname, host.target_id, host.ra, host.dec,
                            [(p.pl_name, p.disposition, p.rowupdate, p.releasedate) for p in host.planets],
                            host.units, host.known_to_mast,
                            [(f.target_id, f.unit, f.obsid, f.key, f.data_uri, f.size, f.rows) for f in host.files],
                            )).encode())
    for obs in (o for o in universe.observations if o.mission == "K2"):
        digest.update(repr((obs.obsid, obs.obs_id, obs.target_id, obs.unit, obs.t_exptime, obs.ra, obs.dec,
                            obs.t_min, obs.t_max, obs.data_url,
                            [(p.obsid, p.obs_id, p.filename, p.data_uri, p.subgroup, p.description, p.size)
                             for p in obs.products])).encode())
        digest.update(json.dumps(observation_row(obs), sort_keys=True).encode())
        for product in obs.products:
            digest.update(json.dumps(product_row(product), sort_keys=True).encode())
    digest.update(repr(k2pandc_rows(universe)).encode())
    for file in _files(universe, "K2"):
        digest.update(hashlib.sha256(universe.fits_bytes(file)).digest())
    return digest.hexdigest()


@pytest.mark.parametrize(("n_hosts", "unknown"), sorted(K2_DIGESTS))
def test_k2_is_bit_identical_to_its_recorded_digest(n_hosts, unknown):
    assert _k2_digest(build_universe(n_hosts, unknown_to_mast=unknown)) == K2_DIGESTS[(n_hosts, unknown)]


def test_k2_does_not_depend_on_the_other_missions():
    alone = build_universe(8, seed=4, kepler_hosts=0, tess_hosts=0)
    mixed = build_universe(8, seed=4, kepler_hosts=3, tess_hosts=11)
    assert {h.mission for h in alone.hosts} == {"K2"}
    assert alone.hosts == tuple(mixed.hosts_of("K2"))
    assert alone.observations == tuple(o for o in mixed.observations if o.mission == "K2")
    assert (len(mixed.hosts_of("Kepler")), len(mixed.hosts_of("TESS"))) == (3, 11)


# --- Kepler and TESS: the universe ----------------------------------------------------------------

def test_every_mission_is_built_with_unique_names_and_ids():
    universe = build_universe(12)
    assert MISSIONS == ("K2", "Kepler", "TESS")
    assert [h.mission for h in universe.hosts] == ["K2"] * 12 + ["Kepler"] * 12 + ["TESS"] * 12
    assert len({h.hostname for h in universe.hosts}) == len(universe.hosts)
    assert len({f.key for f in universe.files}) == len(universe.files)
    obsids = [int(o.obsid) for o in universe.observations]
    assert len(set(obsids)) == len(obsids)
    assert {o.obsid[:3] for o in universe.observations} == {"950", "970", "980"}
    for host in universe.hosts:
        assert universe.host(host.mission, host.target_id) is universe.host_by_name(host.hostname) is host
        assert all(universe.file_by_uri(f.data_uri) is f for f in host.files)


def test_kepler_hosts_quarters_and_kois():
    universe = build_universe(12)
    kepler = universe.hosts_of("Kepler")
    real = {h.hostname: h for h in kepler[:4]}
    assert [(h.target_id, h.designation) for h in real.values()] == [
        (11904151, "KOI-72"), (10593626, "KOI-87"), (8554498, "KOI-5"), (3248033, "KOI-6")]
    assert [(p.designation, p.pl_name, p.disposition) for p in real["Kepler-10"].planets] == [
        ("K00072.01", "Kepler-10 b", "CONFIRMED"), ("K00072.02", "Kepler-10 c", "CONFIRMED")]
    assert [(p.designation, p.disposition) for p in real["KOI-5"].planets] == [("K00005.01", "CANDIDATE")]
    assert [(p.designation, p.disposition) for p in real["KOI-6"].planets] == [("K00006.01", "FALSE POSITIVE")]
    generated = kepler[4:]
    assert generated[0].hostname == "Kepler-1700" and generated[0].designation == "KOI-7000"
    assert all(1000000 <= h.target_id <= 12999999 for h in generated)
    assert not universe.host_by_name("KOI-7003").has_confirmed_planet  # index 7: false positive only
    for host in kepler:
        assert 2 <= len(host.units) <= 4 and set(host.units) <= set(range(18))
        files_per_quarter = [q for q in host.units for _ in _quarter_timestamps(q)]  # Q4 was cut in two
        assert [f.unit for f in host.light_curves()] == files_per_quarter
        assert [f.kind for f in host.files] == ["lc"] * len(files_per_quarter) + ["bundle"]
        assert host.light_curves(include_fast=True) == host.light_curves()
    assert universe.confirmed_hosts(mission="Kepler") == [h for h in kepler if h.has_disposition("CONFIRMED")]
    assert real["KOI-5"] in universe.hosts_with("Kepler", ["CANDIDATE"], date(2026, 11, 21))


# Long-cadence file timestamps of quarters 0-17 (the real ones).
QUARTER_TIMESTAMPS = ("2009131105131", "2009166043257", "2009259160929", "2009350155506", "2010078095331",
                      "2010174085026", "2010265121752", "2010355172524", "2011073133259", "2011177032512",
                      "2011271113734", "2012004120508", "2012088054726", "2012179063303", "2012277125453",
                      "2013011073258", "2013098041711", "2013131215648")


def _quarter_timestamps(quarter: int) -> list[str]:
    """The timestamps of a quarter's long-cadence files: Q4 has two, the first that of the genuine Kepler-90 file
    of its first 20.9 days."""
    return ["2010009091648", QUARTER_TIMESTAMPS[4]] if quarter == 4 else [QUARTER_TIMESTAMPS[quarter]]


def test_kepler_keys_uris_and_bundles():
    universe = build_universe(12)
    prefixes = set()
    for host in universe.hosts_of("Kepler"):
        kic9 = f"{host.target_id:09d}"
        folder = f"kepler/public/lightcurves/{kic9[:4]}/{kic9}/"
        flags = "".join("1" if q in host.units else "0" for q in range(18))
        names = [f"kplr{kic9}-{stamp}_llc.fits" for q in host.units for stamp in _quarter_timestamps(q)]
        assert [f.filename for f in host.files] == names + [f"kplr{kic9}_lc_Q{flags}.tar"]
        for file in host.files:
            assert file.key == folder + file.filename
            prefix, relative = file.data_uri.split("/url/missions/kepler/lightcurves/")
            assert relative == file.key.removeprefix("kepler/public/lightcurves/")
            prefixes.add(prefix)
        bundle = host.files[-1]
        content = universe.fits_bytes(bundle)
        assert len(content) == bundle.size and bundle.rows == sum(f.rows for f in host.light_curves())
        with tarfile.open(fileobj=io.BytesIO(content)) as tar:
            assert tar.getnames() == [f.filename for f in host.light_curves()]
            assert all(m.mtime == tar.getmembers()[0].mtime and m.uid == 0 for m in tar.getmembers())
            for file in host.light_curves():
                assert tar.extractfile(file.filename).read() == universe.fits_bytes(file)
    assert prefixes == {"mast:KEPLER", "mast:Kepler"}
    assert universe.host_by_name("Kepler-10").files[0].data_uri.startswith("mast:KEPLER/")


def test_tess_hosts_sectors_and_tois():
    universe = build_universe(12, days=5)
    tess = universe.hosts_of("TESS")
    assert [(h.hostname, h.target_id, h.designation) for h in tess[:4]] == [
        ("pi Men", 261136679, "TOI-144"), ("LHS 3844", 410153553, "TOI-136"),
        ("TOI-4455", 150151262, "TOI-4455"), ("TOI-4452", 142748283, "TOI-4452")]
    assert [(p.pl_name, p.designation, p.disposition) for p in tess[0].planets] == [
        ("pi Men c", "144.01", "CP"), ("pi Men b", "", "CP")]
    assert [(p.designation, p.disposition) for p in tess[2].planets + tess[3].planets] == [
        ("4455.01", "PC"), ("4452.01", "FP")]
    assert tess[4].hostname == "TOI-5000" and tess[4].planets[0].designation == "5000.01"
    assert all(10000000 <= h.target_id < 2000000000 for h in tess[4:])
    start = date(2026, 11, 20)
    for i, host in enumerate(tess):
        assert host.designation == f"TOI-{host.planets[0].designation.split('.')[0]}"
        old = [s for s in host.units if s <= 90]
        assert 2 <= len(old) <= 4
        assert [s for s in host.units if s > 90] == ([91 + i % 5] if i % 3 == 0 else [])
        assert {f.kind for f in host.files} == ({"lc", "fast-lc"} if i % 2 == 0 else {"lc"})
        assert [f.unit for f in host.light_curves()] == list(host.units)
        assert len(host.light_curves(include_fast=True)) == len(host.units) * (2 if i % 2 == 0 else 1)
        for file in host.files:
            if file.unit > 90:  # the new sector: public at 06:00 UTC on one of the test days
                assert file.released == mjd(start + timedelta(days=i % 5), hours=6)
            else:
                assert file.released < mjd(date(2026, 1, 1))
    assert universe.confirmed_hosts(mission="TESS") == [h for h in tess if h.has_disposition("CP", "KP")]
    assert {"CP", "KP", "PC", "FP"} <= {p.disposition for h in tess for p in h.planets}
    assert tess[2] in universe.hosts_with("TESS", ["PC"]) and tess[3] in universe.hosts_with("TESS", "FP")


def test_tess_keys_and_uris():
    universe = build_universe(12)
    for file in _files(universe, "TESS"):
        tic16 = f"{file.target_id:016d}"
        ending = "-s_lc.fits" if file.kind == "lc" else "-a_fast-lc.fits"
        scid = f"{120 + file.unit // 10:04d}"
        assert file.filename == f"tess{sector_timestamp(file.unit)}-s{file.unit:04d}-{tic16}-{scid}{ending}"
        assert file.key == (f"tess/public/tid/s{file.unit:04d}/{tic16[0:4]}/{tic16[4:8]}/{tic16[8:12]}/"
                            f"{tic16[12:16]}/{file.filename}")
        assert file.data_uri == "mast:TESS/product/" + file.filename
    assert sector_timestamp(1) == "2018206045859"  # the real sector 1 files' timestamp
    assert [int(sector_timestamp(s)[:7]) for s in (1, 2, 91)] == [2018206, 2018233, 2025115]  # every ~27.4 days


# --- Kepler and TESS: FITS ----------------------------------------------------------------------

@pytest.mark.parametrize("rows", [0, 1, 145, 3901])
def test_kepler_and_tess_sizes_predict_the_file_length(rows):
    assert kepler_llc_size(rows) == len(make_kepler_llc_fits(1000000 + rows, rows % 18, rows, seed=rows))
    assert tess_lc_size(rows) == len(make_tess_lc_fits(10000000 + rows, 1 + rows % 90, rows, rows, 120))
    assert tess_lc_size(rows) == len(make_tess_lc_fits(10000000 + rows, 1 + rows % 90, rows, rows, 20, 1.5, -2.5))


def test_kepler_fits_headers_and_times():
    content = make_kepler_llc_fits(11904151, 5, 300, seed=1)
    assert content == make_kepler_llc_fits(11904151, 5, 300, seed=1) != make_kepler_llc_fits(11904151, 5, 300, 2)
    hdus = _assert_valid_fits(content)
    primary = hdus[0].header
    assert (primary["TELESCOP"], primary["INSTRUME"], primary["OBJECT"]) == ("Kepler", "Kepler Photometer",
                                                                           "KIC 11904151")
    assert (primary["KEPLERID"], primary["QUARTER"], primary["MISSION"]) == (11904151, 5, "Kepler")
    assert (primary["MODULE"], primary["OUTPUT"]) == _KEPLER_MODULE_OUTPUT[primary["CHANNEL"]]
    table = hdus["LIGHTCURVE"]
    assert len(table.data) == 300 and table.header["OBJECT"] == "KIC 11904151"
    start, end = quarter_mjd(5)
    times = table.data["TIME"]
    assert start - 54832.5 <= np.nanmin(times) < np.nanmax(times) <= end - 54832.5
    assert (table.data["SAP_QUALITY"] != 0).any()


def test_the_second_file_of_a_split_quarter_follows_the_first():
    first = fits.getdata(io.BytesIO(make_kepler_llc_fits(11442793, 4, 1021, 0)), "LIGHTCURVE")
    second = fits.getdata(io.BytesIO(make_kepler_llc_fits(11442793, 4, 3000, 0, first_cadence=1021)), "LIGHTCURVE")
    assert second["CADENCENO"][0] == first["CADENCENO"][-1] + 1
    assert second["TIME"][0] == pytest.approx(first["TIME"][-1] + LONG_CADENCE_DAYS)


# Kepler's channels: 4 outputs on each of the 21 science modules (2-4, 6-20, 22-24), numbered in that order.
_KEPLER_MODULE_OUTPUT = {4 * i + output: (module, output)
                         for i, module in enumerate((2, 3, 4, *range(6, 21), 22, 23, 24)) for output in (1, 2, 3, 4)}


@pytest.mark.parametrize(("cadence", "timedel", "frames"), [(120, 2 / 1440, 60), (20, 20 / 86400, 10)])
def test_tess_fits_headers_and_times(cadence, timedel, frames):
    content = make_tess_lc_fits(261136679, 13, 300, 1, cadence, 84.291188, -80.469119)
    hdus = _assert_valid_fits(content)
    primary = hdus[0].header
    assert (primary["TELESCOP"], primary["INSTRUME"], primary["OBJECT"]) == ("TESS", "TESS Photometer",
                                                                           "TIC 261136679")
    assert (primary["TICID"], primary["SECTOR"], primary["RA_OBJ"], primary["DEC_OBJ"]) == (
        261136679, 13, 84.291188, -80.469119)
    table = hdus["LIGHTCURVE"]
    assert table.header["TIMEDEL"] == pytest.approx(timedel) and table.header["NUM_FRM"] == frames
    assert f"TMOFST{primary['CAMERA']}{primary['CCD']}" in table.header  # the readout delay of this camera's CCD
    assert (primary["TSTART"], primary["TSTOP"]) == (table.header["TSTART"], table.header["TSTOP"])
    assert hdus["APERTURE"].header["CRVAL1"] == 84.291188
    start, end = sector_mjd(13)
    times = table.data["TIME"]
    assert start - 56999.5 <= np.nanmin(times) < np.nanmax(times) <= end - 56999.5
    assert np.nanmedian(np.diff(times)) == pytest.approx(timedel)
    assert (table.data["QUALITY"] != 0).any()


# --- the stand-ins against the genuine files ----------------------------------------------------------

# Each genuine file and the layout of its product.
GENUINE_LAYOUTS = [
    (KEPLER_90_Q3, KEPLER_LLC), (KEPLER_90_Q4_PART, KEPLER_LLC), (K2_C13, K2_LLC), (K2_C102, K2_LLC),
    (TESS_S1_WASP_126, TESS_SPOC_LC), (TESS_S24, TESS_SPOC_LC), (TESS_S41, TESS_SPOC_LC),
    (TESS_SPOC_S24, TESS_SPOC_FFI_LC),
]
@dataclass(frozen=True)
class StandinProduct:
    """One stand-in product to check: a file of it, the layout it must follow, the genuine files like it."""

    target_id: int
    unit: int
    cadence_days: float
    layout: Layout
    genuine: tuple[RealFile, ...]
    real_rows: int  # a file of MAST's size

    def make(self, rows: int, planted: bool = False) -> bytes:
        if self.layout is K2_LLC:
            return make_llc_fits(self.target_id, self.unit, rows, 0, planted)
        if self.layout is KEPLER_LLC:
            return make_kepler_llc_fits(self.target_id, self.unit, rows, 0, planted)
        cadence_s = round(self.cadence_days * 86400)
        return make_tess_lc_fits(self.target_id, self.unit, rows, 0, cadence_s, 84.291188, -80.469119, planted)


_K2, _KEPLER, _SPOC = (K2_C13, K2_C102), (KEPLER_90_Q3, KEPLER_90_Q4_PART), (TESS_S1_WASP_126, TESS_S24, TESS_S41)
STANDIN_PRODUCTS = {
    "K2": StandinProduct(211900000, 13, LONG_CADENCE_DAYS, K2_LLC, _K2, 3900),
    "K2 split campaign": StandinProduct(228732031, 102, LONG_CADENCE_DAYS, K2_LLC, _K2, 3400),
    "Kepler": StandinProduct(11904151, 3, LONG_CADENCE_DAYS, KEPLER_LLC, _KEPLER, 4400),
    "TESS": StandinProduct(261136679, 2, 120 / 86400, TESS_SPOC_LC, _SPOC, 20000),
    "TESS camera 1": StandinProduct(261136679, 41, 120 / 86400, TESS_SPOC_LC, _SPOC, 20000),
    "TESS 20-s": StandinProduct(261136679, 41, 20 / 86400, TESS_SPOC_FAST_LC, _SPOC, 20000),
}


def _layout_problems(content: bytes, layout: Layout) -> list[str]:
    """Where a file departs from its product's layout: HDUs, columns, key keywords, time keywords, sums."""
    with fits.open(io.BytesIO(content)) as hdus:
        names = tuple(hdu.name for hdu in hdus)
        columns = tuple(Column(c.name, c.format, c.unit) for c in hdus["LIGHTCURVE"].columns)
        problems = [] if names == layout.hdus else [f"HDUs {names}"]
        problems += [] if columns == layout.columns else [f"columns {columns}"]
        problems += keyword_problems(hdus[0].header, layout.primary)
        problems += keyword_problems(hdus["LIGHTCURVE"].header, layout.lightcurve)
        problems += _time_keyword_problems(hdus["LIGHTCURVE"].header, hdus["LIGHTCURVE"].data["TIME"])
        problems += [f"{hdu.name}: no CHECKSUM" for hdu in hdus if "CHECKSUM" not in hdu.header]
        problems += [f"{hdu.name}: DATASUM" for hdu in hdus if "DATASUM" in hdu.header]
    sums = _hdus_sum_to_minus_zero(content)
    return problems + [f"{name} does not sum to -0" for name, ok in zip(names, sums, strict=True) if not ok]


def _time_keyword_problems(header: fits.Header, time: np.ndarray) -> list[str]:
    """TSTART and TSTOP bracket the cadences with a time (SPOC's TSTART may fall a few cadences later), TELAPSE is
    their difference and LIVETIME that times the dead-time correction."""
    half, first, last = header["TIMEDEL"] / 2, np.nanmin(time), np.nanmax(time)
    checks = {
        "TSTART": abs(header["TSTART"] - (first - half)) <= 5 * header["TIMEDEL"],
        "TSTOP": abs(header["TSTOP"] - (last + half)) < 1e-5,
        "TELAPSE": abs(header["TELAPSE"] - (header["TSTOP"] - header["TSTART"])) < 1e-5,
        "LIVETIME": abs(header["LIVETIME"] - header["TELAPSE"] * header["DEADC"]) < 1e-5,
    }
    return [f"{keyword} = {header[keyword]} does not fit the times" for keyword, ok in checks.items() if not ok]


def _keyword_sequences(content: bytes) -> list[list[str]]:
    """Each HDU's keywords in order, less those that come and go between sectors and PDC runs: the readout delay
    (TMOFSTxy, for camera x and CCD y) and PDC's second and third bands (FITTYPEn, PR_GOODn, PR_WGHTn)."""
    with fits.open(io.BytesIO(content)) as hdus:
        return [[k[:6] if k.startswith("TMOFST") else k for k in hdu.header
                 if not (k.startswith(("FITTYPE", "PR_GOOD", "PR_WGHT")) and not k.endswith("1"))] for hdu in hdus]


@pytest.mark.parametrize(("real", "layout"), GENUINE_LAYOUTS, ids=[r.name for r, _ in GENUINE_LAYOUTS])
def test_the_layout_table_holds_for_every_genuine_file(real, layout):
    assert _layout_problems(real.path.read_bytes(), layout) == []


@pytest.mark.parametrize("product", list(STANDIN_PRODUCTS))
def test_standins_follow_the_layout_table(product):
    standin = STANDIN_PRODUCTS[product]
    for rows in (1, 300, standin.real_rows):
        assert _layout_problems(standin.make(rows), standin.layout) == [], rows


@pytest.mark.parametrize("product", list(STANDIN_PRODUCTS))
def test_standin_headers_have_the_genuine_keywords_in_the_genuine_order(product):
    standin = STANDIN_PRODUCTS[product]
    keywords = _keyword_sequences(standin.make(300))
    for real in standin.genuine:
        assert keywords == _keyword_sequences(real.path.read_bytes()), real.name


@pytest.mark.parametrize("real", PIPELINE_FILES, ids=[r.name for r in PIPELINE_FILES])
def test_a_standin_of_a_genuine_files_rows_has_its_exact_length(real):
    size = {"K2": llc_size, "Kepler": kepler_llc_size, "TESS": tess_lc_size}[real.mission]
    assert size(real.rows) == real.path.stat().st_size


def test_a_damaged_standin_no_longer_sums_to_minus_zero():
    content = make_tess_lc_fits(261136679, 2, 300, 0)
    with fits.open(io.BytesIO(content)) as hdus:
        places = [hdus.fileinfo(0)["hdrLoc"] + 400, hdus.fileinfo(1)["datLoc"] + 100, hdus.fileinfo(2)["datLoc"] + 8]
    for hdu, at in enumerate(places):  # a primary header card, a table byte, an aperture pixel
        damaged = bytearray(content)
        damaged[at] ^= 0x01
        assert _hdus_sum_to_minus_zero(bytes(damaged)) == [i != hdu for i in range(3)], at


def _quality_column(hdus: fits.HDUList) -> np.ndarray:
    table = hdus["LIGHTCURVE"].data
    return table[next(name for name in table.columns.names if name.endswith("QUALITY"))]


def _row_fractions(content: bytes) -> dict[str, float]:
    with fits.open(io.BytesIO(content)) as hdus:
        table = hdus["LIGHTCURVE"].data
        return {"flagged": float(np.mean(_quality_column(hdus) != 0)),
                "NaN TIME": float(np.mean(np.isnan(table["TIME"]))),
                "NaN PDCSAP_FLUX": float(np.mean(np.isnan(table["PDCSAP_FLUX"])))}


@cache
def _genuine_range(what: str) -> tuple[float, float]:
    fractions = [_row_fractions(real.path.read_bytes())[what] for real in PIPELINE_FILES]
    return min(fractions), max(fractions)


@pytest.mark.parametrize("product", list(STANDIN_PRODUCTS))
def test_nan_and_flagged_proportions_are_within_the_genuine_files_range(product):
    standin = STANDIN_PRODUCTS[product]
    fractions = _row_fractions(standin.make(standin.real_rows))
    for what, fraction in fractions.items():
        low, high = _genuine_range(what)
        assert low <= fraction <= high and fraction > 0, (what, fraction, (low, high))


@pytest.mark.parametrize("product", list(STANDIN_PRODUCTS))
def test_gaps_and_flags_are_the_genuine_kinds(product):
    """A NaN TIME is a flagged data gap with NaN fluxes, as in every genuine file; the flags' bits are those the
    genuine files of the mission carry (and TESS's stray light, 2048, which the genuine sectors here lack)."""
    standin = STANDIN_PRODUCTS[product]
    made = standin.make(standin.real_rows)
    for content in [made] + [real.path.read_bytes() for real in standin.genuine]:
        with fits.open(io.BytesIO(content)) as hdus:
            table, quality = hdus["LIGHTCURVE"].data, _quality_column(hdus)
            gap = np.isnan(table["TIME"])
            assert (quality[gap] != 0).all()
            assert np.isnan(table["SAP_FLUX"][gap]).all() and np.isnan(table["PDCSAP_FLUX"][gap]).all()
            assert not np.isnan(table["TIMECORR"]).any() and np.all(np.diff(table["CADENCENO"]) == 1)
    genuine_bits = set().union(*(_bits(real.path.read_bytes()) for real in standin.genuine))
    stray_light = {2048} if standin.layout.primary["TELESCOP"] == "TESS" else set()
    assert _bits(made) <= genuine_bits | stray_light


def _bits(content: bytes) -> set[int]:
    with fits.open(io.BytesIO(content)) as hdus:
        flags = np.bitwise_or.reduce(_quality_column(hdus))
    return {1 << bit for bit in range(32) if flags >> bit & 1}


@pytest.mark.parametrize("sector", [40, 41, 42, 43])
def test_tess_files_of_camera_1_have_stray_light_over_a_long_stretch(sector):
    content = make_tess_lc_fits(261136679, sector, 20000, 0)
    with fits.open(io.BytesIO(content)) as hdus:
        stray = (_quality_column(hdus) & 2048) != 0
        camera = hdus[0].header["CAMERA"]
    edges = np.flatnonzero(np.diff(np.concatenate([[0], stray.astype(int), [0]])))
    longest = int(max(np.diff(edges)[::2], default=0))
    assert (longest > 720) == (camera == 1), (camera, longest)  # a day of 2-minute cadences


# lightkurve's default quality masks: the cadences it drops as useless (KeplerQualityFlags, TessQualityFlags).
DEFAULT_BITMASK = {"SAP_QUALITY": 1 | 2 | 4 | 8 | 32 | 256 | 16384 | 65536 | 1048576,
                   "QUALITY": 1 | 2 | 4 | 8 | 32 | 128}


@pytest.mark.parametrize("product", list(STANDIN_PRODUCTS))
def test_the_planted_period_is_the_strongest_on_the_good_cadences(product):
    from astropy.timeseries import LombScargle

    standin = STANDIN_PRODUCTS[product]
    content = standin.make(standin.real_rows, planted=True)
    with fits.open(io.BytesIO(content)) as hdus:
        table = hdus["LIGHTCURVE"].data
        mask = DEFAULT_BITMASK[standin.layout.quality_column]
        time, flux = table["TIME"].astype(float), table["PDCSAP_FLUX"].astype(float)
        good = np.isfinite(time) & np.isfinite(flux) & (_quality_column(hdus) & mask == 0)
    time, flux = time[good], flux[good]
    baseline, cadence = time[-1] - time[0], standin.cadence_days
    frequency = np.linspace(2 / baseline, 1 / (3 * cadence), int(5 * baseline / (3 * cadence)))
    power = LombScargle(time, flux).power(frequency, method="fast")
    planted = planted_period_days(standin.target_id, standin.unit, standin.cadence_days)
    assert 1 / frequency[np.argmax(power)] == pytest.approx(planted, rel=0.01)
    with fits.open(io.BytesIO(standin.make(standin.real_rows))) as plain, fits.open(io.BytesIO(content)) as hdus:
        same = [n for n in plain["LIGHTCURVE"].columns.names if not n.endswith("SAP_FLUX")]
        for name in same:  # only the fluxes carry the signal
            assert np.array_equal(plain["LIGHTCURVE"].data[name], hdus["LIGHTCURVE"].data[name], equal_nan=True)


def test_universe_files_of_every_mission_are_valid_fits():
    universe = build_universe(6)
    for file in universe.files:
        content = universe.fits_bytes(file)
        assert len(content) == file.size
        if file.kind == "bundle":
            continue
        primary = _assert_valid_fits(content)[0].header
        if file.mission == "TESS":
            host = universe.host("TESS", file.target_id)
            assert (primary["TICID"], primary["SECTOR"], primary["RA_OBJ"]) == (file.target_id, file.unit, host.ra)
        elif file.mission == "Kepler":
            assert (primary["KEPLERID"], primary["QUARTER"]) == (file.target_id, file.unit)


# --- Kepler and TESS: MAST through astroquery ---------------------------------------------------

def test_kepler_long_cadence_observations_and_their_products(standins, observations):
    universe = standins.universe
    kepler = universe.hosts_of("Kepler")
    table = observations.query_criteria(obs_collection="Kepler", target_name=[h.target_name for h in kepler],
                                        t_exptime=[1799, 1801])
    assert len(table) == len(kepler)  # one long-cadence observation per target, all quarters
    assert set(table["target_name"]) == {f"kplr{h.target_id:09d}" for h in kepler}
    assert set(table["obs_collection"]) == {"Kepler"} and set(table["provenance_name"]) == {"Kepler"}
    assert set(table["instrument_name"]) == {"Kepler"} and set(table["filters"]) == {"KEPLER"}
    assert all(obs_id.startswith("kplr") and "_lc_Q" in obs_id and len(obs_id.split("_Q")[1]) == 18
               for obs_id in table["obs_id"])
    products = observations.get_product_list(table)
    llc = observations.filter_products(products, productSubGroupDescription="LLC")
    files = {f.data_uri: f for f in _files(universe, "Kepler")}
    assert sorted(llc["dataURI"]) == sorted(files)  # the .tar bundles are LLC too
    bundles = [row for row in llc if row["productFilename"].endswith(".tar")]
    assert len(bundles) == len(kepler)
    assert all(row["description"] == "Lightcurve Long Cadence (CLC) - all quarters (tar)" for row in bundles)
    assert all(int(row["size"]) == files[row["dataURI"]].size for row in llc)
    assert set(products["productSubGroupDescription"]) == {"LLC"}
    short = observations.query_criteria(obs_collection="Kepler", t_exptime=[59, 61])
    assert len(short) == len(kepler[::3]) and all("_sc_Q" in obs_id for obs_id in short["obs_id"])
    slc = observations.get_product_list(short)
    assert set(slc["productSubGroupDescription"]) == {"SLC"}
    assert not set(slc["dataURI"]) & {f.data_uri for f in universe.files}  # not in the bucket


def test_tess_two_minute_and_twenty_second_observations(standins, observations):
    universe = standins.universe
    tess = universe.hosts_of("TESS")
    names = [h.target_name for h in tess]
    assert names[0] == "261136679"
    two_min = observations.query_criteria(obs_collection="TESS", target_name=names, t_exptime=[119, 121])
    assert len(two_min) == sum(len(h.units) for h in tess)
    assert set(two_min["provenance_name"]) == {"SPOC"} and set(two_min["instrument_name"]) == {"Photometer"}
    assert set(two_min["proposal_pi"]) == {"Ricker, George"}
    assert all(obs_id.endswith("-s") for obs_id in two_min["obs_id"])
    products = observations.get_product_list(two_min)
    assert set(products["productSubGroupDescription"]) == {"LC", "TP"}
    lc = observations.filter_products(products, productSubGroupDescription="LC")
    assert sorted(lc["dataURI"]) == sorted(f.data_uri for h in tess for f in h.light_curves())
    fast = observations.query_criteria(obs_collection="TESS", target_name=names, t_exptime=[19, 21])
    assert len(fast) == sum(len(h.units) for h in tess[::2]) and all(o.endswith("-a_fast") for o in fast["obs_id"])
    fast_products = observations.get_product_list(fast)
    assert set(fast_products["productSubGroupDescription"]) == {"FAST-LC", "FAST-TP"}
    fast_lc = observations.filter_products(fast_products, productSubGroupDescription="FAST-LC")
    assert sorted(fast_lc["dataURI"]) == sorted(f.data_uri for f in universe.files if f.kind == "fast-lc")
    one = observations.query_criteria(obs_collection="TESS", target_name="261136679", t_exptime=[119, 121])
    assert len(one) == len(universe.host_by_name("pi Men").units)


def test_t_obs_release_ranges_find_the_new_sectors(standins, observations):
    start = date(2026, 11, 20)
    table = observations.query_criteria(obs_collection="TESS", t_obs_release=[mjd(start), mjd(start, 24 * 5)])
    new = [o for o in standins.universe.observations if o.mission == "TESS" and o.unit > 90]
    assert new and sorted(table["obs_id"]) == sorted(o.obs_id for o in new)
    sent = {f["paramName"]: f for f in standins.mast.invocations[-1]["params"]["filters"]}
    assert sent["t_obs_release"]["values"] == [{"min": mjd(start), "max": mjd(start, 24 * 5)}]
    second_day = observations.query_criteria(obs_collection="TESS", t_exptime=[119, 121],
                                             t_obs_release=[mjd(start, 24), mjd(start, 48) - 1e-6])
    hosts = [h for i, h in enumerate(standins.universe.hosts_of("TESS")) if i % 3 == 0 and i % 5 == 1]
    assert sorted(second_day["target_name"]) == sorted(h.target_name for h in hosts)


def test_release_cutoff_hides_what_is_not_yet_public(standins, observations):
    universe = standins.universe
    new = [o for o in universe.observations if o.unit > 90 and o.mission == "TESS"]
    everything = observations.query_criteria(obs_collection="TESS", t_exptime=[119, 121])
    standins.mast.release_cutoff_mjd = mjd(date(2026, 11, 20))
    hidden = observations.query_criteria(obs_collection="TESS", t_exptime=[119, 121])
    assert set(everything["obs_id"]) - set(hidden["obs_id"]) == {o.obs_id for o in new if o.t_exptime == 120}
    with pytest.warns(NoResultsWarning):
        reply = observations._portal_api_connection.service_request(
            "Mast.Caom.Products", {"obsid": ",".join(o.obsid for o in new)})
    assert len(reply) == 0
    standins.mast.release_cutoff_mjd = mjd(date(2026, 11, 21))  # the first day's sectors are out
    first_day = set(observations.query_criteria(obs_collection="TESS", t_exptime=[119, 121])["obs_id"])
    assert first_day - set(hidden["obs_id"]) == {o.obs_id for o in new if o.t_exptime == 120
                                                 and o.t_obs_release < mjd(date(2026, 11, 21))}
    standins.reset()
    assert standins.mast.release_cutoff_mjd is None
    assert len(observations.query_criteria(obs_collection="TESS", t_exptime=[119, 121])) == len(everything)


def test_path_lookup_and_download_for_every_mission(standins, observations, tmp_path):
    universe = standins.universe
    files = [_files(universe, "Kepler")[0], _files(universe, "Kepler")[-1],
             next(f for f in universe.files if f.data_uri.startswith("mast:Kepler/")),
             _files(universe, "TESS")[0], next(f for f in universe.files if f.kind == "fast-lc")]
    reply = requests.get(standins.mast.base_url + "/api/v0.1/path_lookup/",
                         params={"uri": [f.data_uri for f in files]}, timeout=10).json()
    assert reply == {f.data_uri: {"status_code": 200, "path": "/" + f.key} for f in files}
    for file in files:
        status, _, _ = observations.download_file(file.data_uri, local_path=str(tmp_path / file.filename))
        assert status == "COMPLETE"
        assert (tmp_path / file.filename).read_bytes() == universe.fits_bytes(file)
    tp = next(p for o in universe.observations for p in o.products if p.subgroup == "TP")
    missing = requests.get(standins.mast.base_url + "/api/v0.1/Download/file", params={"uri": tp.data_uri},
                           timeout=10)
    assert missing.status_code == 404


# --- Kepler and TESS: the archive's TAP -----------------------------------------------------------

def test_tap_cumulative_is_the_koi_table(standins):
    universe = standins.universe
    rows = _tap(standins, "select * from cumulative order by rowid", "json").json()
    assert len(rows) == sum(len(h.planets) for h in universe.hosts_of("Kepler"))
    assert list(rows[0]) == ["rowid", "kepid", "kepoi_name", "kepler_name", "koi_disposition", "koi_pdisposition",
                             "koi_score", "koi_period", "koi_time0bk", "koi_duration", "koi_depth", "ra", "dec",
                             "koi_vet_stat", "koi_vet_date"]
    kepler10 = _tap(standins, "select kepid, kepoi_name, kepler_name, koi_disposition from cumulative "
                              "where kepoi_name like 'K00072%' order by kepoi_name").text.splitlines()
    assert kepler10 == ["kepid,kepoi_name,kepler_name,koi_disposition", "11904151,K00072.01,Kepler-10 b,CONFIRMED",
                        "11904151,K00072.02,Kepler-10 c,CONFIRMED"]
    koi5 = _tap(standins, "select kepler_name, koi_disposition, koi_vet_stat from cumulative where kepid = 8554498",
                "json").json()
    assert koi5 == [{"kepler_name": None, "koi_disposition": "CANDIDATE", "koi_vet_stat": "Done"}]
    day = date(2026, 11, 21)
    confirmed = pd.read_csv(io.StringIO(_tap(
        standins, "select distinct kepid from cumulative where koi_disposition in ('CONFIRMED') "
                  f"and koi_vet_date = '{day}'").text))
    assert set(confirmed["kepid"]) == {h.target_id for h in universe.confirmed_hosts(day, "Kepler")}


def test_tap_toi_table(standins):
    universe = standins.universe
    rows = _tap(standins, "select * from toi", "json").json()
    assert len(rows) == sum(1 for h in universe.hosts_of("TESS") for p in h.planets if p.designation)
    assert list(rows[0]) == ["rowid", "toi", "toipfx", "tid", "ctoi_alias", "pl_pnum", "tfopwg_disp", "ra", "dec",
                             "pl_orbper", "pl_tranmid", "pl_trandurh", "pl_trandep", "toi_created", "rowupdate",
                             "release_date"]
    pi_men = _tap(standins, "select toi, toipfx, tid, ctoi_alias, tfopwg_disp, rowupdate from toi where toipfx = 144",
                  "json").json()
    assert pi_men == [{"toi": 144.01, "toipfx": 144, "tid": 261136679, "ctoi_alias": 261136679.01,
                       "tfopwg_disp": "CP", "rowupdate": "2026-11-20 12:00:00"}]
    assert _tap(standins, "select tfopwg_disp from toi where toi = 4455.01", "json").json() == [{"tfopwg_disp": "PC"}]
    day = date(2026, 11, 22)
    reply = _tap(standins, "select distinct tid from toi where tfopwg_disp in ('CP', 'KP') "
                           f"and rowupdate >= '{day}' and rowupdate < '{day + timedelta(days=1)}'", "json").json()
    assert {r["tid"] for r in reply} == {h.target_id for h in universe.hosts_with("TESS", ("CP", "KP"), day)}
    assert {r["tid"] for r in reply} == {h.target_id for h in universe.confirmed_hosts(day, "TESS")}


def test_tap_pscomppars_has_every_confirmed_planet(standins):
    universe = standins.universe
    rows = _tap(standins, "select * from pscomppars", "json").json()
    assert list(rows[0]) == ["pl_name", "hostname", "tic_id", "disc_facility", "ra", "dec", "rowupdate"]
    confirmed = {(p.pl_name, h.hostname) for h in universe.hosts for p in h.planets
                 if p.disposition in ("CONFIRMED", "CP", "KP")}
    assert {(r["pl_name"], r["hostname"]) for r in rows} == confirmed and len(rows) == len(confirmed)
    pi_men = _tap(standins, "select pl_name, tic_id from pscomppars where hostname in ('pi Men') order by pl_name",
                  "json").json()
    assert pi_men == [{"pl_name": "pi Men b", "tic_id": "TIC 261136679"},
                      {"pl_name": "pi Men c", "tic_id": "TIC 261136679"}]
    assert all(r["tic_id"].startswith("TIC ") for r in rows)
    assert {r["disc_facility"] for r in rows if r["hostname"].startswith("Kepler-")} == {"Kepler"}


# --- ephemerides: the archive's rows, and transits planted where they say ----------------------------------------

BKJD, BTJD = 2454833.0, 2457000.0  # BJD of Kepler's and TESS's time zeros


def _good_pdcsap(content: bytes) -> tuple[np.ndarray, np.ndarray]:
    """TIME and PDCSAP_FLUX of the cadences that have both."""
    with fits.open(io.BytesIO(content)) as hdus:
        table = hdus["LIGHTCURVE"].data
        time, flux = table["TIME"].astype(float), table["PDCSAP_FLUX"].astype(float)
    good = np.isfinite(time) & np.isfinite(flux)
    return time[good], flux[good]


def _dip_ppm(time: np.ndarray, flux: np.ndarray, centres: np.ndarray, duration_days: float) -> float:
    """The median depth (ppm) of the flat bottoms around ``centres``, each against a quadratic through the cadences
    just outside it (0.6 to 2.5 durations away): the file's level and the star's variability divided out."""
    ratios: list[float] = []
    for centre in centres:
        offset = time - centre
        outside = (np.abs(offset) > 0.6 * duration_days) & (np.abs(offset) < 2.5 * duration_days)
        bottom = np.abs(offset) < 0.35 * duration_days
        if outside.sum() >= 4 and bottom.any():
            fit = np.polyfit(offset[outside], flux[outside], 2)
            ratios += list(flux[bottom] / np.polyval(fit, offset[bottom]))
    assert ratios, "no transit with cadences around it"
    return 1e6 * (1.0 - float(np.median(ratios)))


def test_real_planets_carry_the_archives_ephemerides():
    universe = build_universe(1, kepler_hosts=4, tess_hosts=4)
    ten_b, ten_c = universe.host_by_name("Kepler-10").planets
    assert (ten_b.period, ten_b.epoch_bjd - BKJD, ten_b.duration_hours, ten_b.depth_ppm) == pytest.approx(
        (0.837491225, 131.574858, 1.796, 190.4))
    assert (ten_c.period, ten_c.epoch_bjd - BKJD, ten_c.duration_hours, ten_c.depth_ppm) == pytest.approx(
        (45.29422297, 138.678725, 6.83, 477.1))
    kepler_22_b, koi_6 = universe.host_by_name("Kepler-22").planets[0], universe.host_by_name("KOI-6").planets[0]
    assert (kepler_22_b.period, kepler_22_b.epoch_bjd - BKJD) == pytest.approx((289.864067, 133.69719))
    assert koi_6.eclipsing_binary and not kepler_22_b.eclipsing_binary
    pi_men_c, pi_men_b = universe.host_by_name("pi Men").planets
    assert (pi_men_c.period, pi_men_c.epoch_bjd, pi_men_c.duration_hours, pi_men_c.depth_ppm) == (
        6.267832, 2460011.550653, 2.789, 321.0)
    assert not pi_men_b.has_ephemeris and Transit.of(pi_men_b) is None  # found by radial velocities: no transit
    lhs_3844_b = universe.host_by_name("LHS 3844").planets[0]
    assert (lhs_3844_b.epoch_bjd, lhs_3844_b.duration_hours, lhs_3844_b.depth_ppm) == (2459036.323679, 0.5588, 4489.9)
    assert all(p.eclipsing_binary == (p.disposition in ("FALSE POSITIVE", "FP")) for h in universe.hosts
               for p in h.planets)


def test_drawn_ephemerides_are_plausible_and_exactly_one_object_per_mission_lacks_one():
    universe = build_universe(20)
    real = {*missions_kepler.REAL_EPHEMERIDES, *missions_tess.REAL_EPHEMERIDES}
    for host in universe.hosts:
        for planet in (p for p in host.planets if p.designation not in real and p.duration_hours):
            assert 300 <= planet.depth_ppm <= 10000 and planet.duration_hours <= 6, planet
            assert planet.duration_hours / 24 < 0.1 * planet.period, planet
    assert universe.hosts[0].planets == build_universe(20).hosts[0].planets  # deterministic
    lacking = {m: [p for h in universe.hosts_of(m) for p in h.planets if not p.has_ephemeris and p.duration_hours]
               for m in MISSIONS}
    assert lacking == {"K2": [universe.hosts_of("K2")[missions_k2.NO_EPHEMERIS_HOST].planets[0]],
                       "Kepler": [universe.host_by_name("Kepler-1700").planets[0]],
                       "TESS": [universe.host_by_name("TOI-4455").planets[0]]}
    assert (lacking["Kepler"][0].designation, lacking["TESS"][0].designation) == (
        missions_kepler.NO_EPHEMERIS, missions_tess.NO_EPHEMERIS)
    k2 = universe.hosts_of("K2")
    assert k2[missions_k2.EPOCH_ONLY_IN_OTHER_SOLUTION_HOST].planets[0].default_lacks_epoch
    assert [h.planets[0].other_solution for h in k2[:5]] == [True, False, True, False, True]


def test_kepler_10_shows_its_transits_at_the_archive_ephemeris_with_the_archive_depth():
    universe = build_universe(1, kepler_hosts=1, tess_hosts=0, field_stars=False)  # files of real size
    host = universe.host_by_name("Kepler-10")
    quarter_3 = next(f for f in host.light_curves() if f.unit == 3)
    time, flux = _good_pdcsap(universe.fits_bytes(quarter_3))
    for planet, count in zip(host.planets, (100, 2), strict=True):
        centres = transit_times(planet, time[0], time[-1], "BKJD")
        assert len(centres) >= count and transit_times(planet, time[0], time[-1], "BKJD", secondary=True).size == 0
        assert _dip_ppm(time, flux, centres, planet.duration_hours / 24) == pytest.approx(planet.depth_ppm, rel=0.1)
    b = host.planets[0]
    half_way = transit_times(b, time[0], time[-1] - b.period, "BKJD") + b.period / 2
    assert abs(_dip_ppm(time, flux, half_way, b.duration_hours / 24)) < 0.2 * b.depth_ppm  # no dip between


def test_tess_and_k2_light_curves_show_their_planets_transits():
    universe = build_universe(1, kepler_hosts=0, tess_hosts=2, field_stars=False)
    lhs = universe.host_by_name("LHS 3844")
    planet = lhs.planets[0]
    for file in lhs.light_curves():
        time, flux = _good_pdcsap(universe.fits_bytes(file))
        centres = transit_times(planet, time[0], time[-1], "BTJD")
        assert _dip_ppm(time, flux, centres, planet.duration_hours / 24) == pytest.approx(planet.depth_ppm, rel=0.1)
    k2_host = universe.hosts_of("K2")[0]
    checked = 0
    for file in k2_host.light_curves():
        time, flux = _good_pdcsap(universe.fits_bytes(file))
        for planet in k2_host.planets:
            centres = transit_times(planet, time[0], time[-1], "BKJD")
            if planet.depth_ppm >= 1000 and len(centres) >= 3:
                assert _dip_ppm(time, flux, centres, planet.duration_hours / 24) == pytest.approx(
                    planet.depth_ppm, rel=0.1), planet
                checked += 1
    assert checked


def test_real_k2_stars_follow_the_generated_hosts_only_when_asked_for():
    plain = build_universe(8, unknown_to_mast=1, kepler_hosts=0, tess_hosts=0)
    real = build_universe(8, unknown_to_mast=1, kepler_hosts=0, tess_hosts=0, real_k2=True)
    generated = len(plain.hosts)
    assert real.hosts[:generated] == plain.hosts  # ids, names, files, draws: as without them
    assert real.observations[:len(plain.observations)] == plain.observations
    assert [h.hostname for h in real.hosts[generated:]] == [s.hostname for s in missions_k2.REAL_STARS]
    k2_18, k2_3 = real.host_by_name("K2-18"), real.host_by_name("K2-3")
    assert (k2_18.target_id, k2_3.target_id, k2_18.units, k2_3.units) == (201912552, 201367065, (1,), (1,))
    assert k2_18.files[0].key == "k2/public/lightcurves/c1/201900000/12000/ktwo201912552-c01_llc.fits"
    assert real.file_by_uri(k2_18.files[0].data_uri) is k2_18.files[0]
    assert [p.pl_name for p in k2_3.planets] == ["K2-3 b", "K2-3 c", "K2-3 d"]
    obsids = [o.obsid for o in real.observations]
    assert len(set(obsids)) == len(obsids)
    columns = [name for name, _ in K2PANDC_COLUMNS]
    rows = {r["pl_name"]: r for r in (dict(zip(columns, row, strict=True)) for row in k2pandc_rows(real))}
    for planet in (*k2_18.planets, *k2_3.planets):
        row = rows[planet.pl_name]
        assert (row["default_flag"], row["disposition"], row["k2_campaigns"], row["pl_tsystemref"]) == (
            1, "CONFIRMED", "1", "BJD_TDB")
        assert (row["pl_orbper"], row["pl_tranmid"], row["pl_trandur"]) == (
            planet.period, planet.epoch_bjd, planet.duration_hours)
        assert row["pl_trandep"] == pytest.approx(planet.depth_ppm / 1e4)  # percent
    assert rows["K2-18 b"]["epic_hostname"] == "EPIC 201912552"
    assert Standins(n_hosts=1, kepler_hosts=0, tess_hosts=0, real_k2=True).universe.host_by_name("K2-3").planets


def test_real_k2_stars_refuse_a_universe_whose_generated_hosts_took_their_names():
    def k2_names(seed: int) -> set[str]:
        return {h.hostname for h in build_universe(20, seed=seed, kepler_hosts=0, tess_hosts=0).hosts}

    seed = next(s for s in range(1, 100) if k2_names(s) & {"K2-3", "K2-18"})
    with pytest.raises(ValueError, match="K2-"):
        build_universe(20, seed=seed, kepler_hosts=0, tess_hosts=0, real_k2=True)


def test_k2_18_shows_k2_18_b_at_the_archive_ephemeris_with_the_archive_depth():
    universe = build_universe(0, kepler_hosts=0, tess_hosts=0, field_stars=False, real_k2=True)  # files of real size
    host = universe.host_by_name("K2-18")
    planet = host.planets[0]
    assert (planet.pl_name, planet.period, planet.epoch_bjd, planet.duration_hours, planet.depth_ppm) == (
        "K2-18 b", 32.9418, 2456836.1719, 2.306, 2672.9)  # missions_k2.REAL_STARS: the archive's values
    time, flux = _good_pdcsap(universe.fits_bytes(host.light_curves()[0]))
    centres = transit_times(planet, time[0], time[-1], "BKJD")
    assert len(centres) >= 2
    assert _dip_ppm(time, flux, centres, planet.duration_hours / 24) == pytest.approx(planet.depth_ppm, rel=0.1)
    half_way = transit_times(planet, time[0], time[-1] - planet.period, "BKJD") + planet.period / 2
    assert abs(_dip_ppm(time, flux, half_way, planet.duration_hours / 24)) < 0.2 * planet.depth_ppm  # none between
    k2_3 = universe.host_by_name("K2-3")
    b = k2_3.planets[0]
    time, flux = _good_pdcsap(universe.fits_bytes(k2_3.light_curves()[0]))
    centres = transit_times(b, time[0], time[-1], "BKJD")
    assert len(centres) >= 5
    assert _dip_ppm(time, flux, centres, b.duration_hours / 24) == pytest.approx(b.depth_ppm, rel=0.1)


def test_a_false_positive_is_an_eclipsing_binary_with_odd_even_depths_and_a_secondary():
    binary = Transit(period_days=2.7, epoch_bjd=BKJD + 172.3, duration_hours=3.0, depth_ppm=6000.0,
                     eclipsing_binary=True)
    time, flux = _good_pdcsap(make_kepler_llc_fits(3248033, 3, 4370, 0, transits=(binary,)))
    centres = transit_times(binary, time[0], time[-1], "BKJD")
    numbers = np.array([transit_number(binary, c, "BKJD") for c in centres])
    assert transit_number(binary, 172.3, "BKJD") == 1 and transit_number(binary, 175.0, "BKJD") == 2
    odd = _dip_ppm(time, flux, centres[numbers % 2 == 1], 3.0 / 24)
    even = _dip_ppm(time, flux, centres[numbers % 2 == 0], 3.0 / 24)
    secondary = _dip_ppm(time, flux, transit_times(binary, time[0], time[-1], "BKJD", secondary=True), 3.0 / 24)
    assert odd == pytest.approx(planted_depth_ppm(binary, 1), rel=0.1) and planted_depth_ppm(binary, 1) == 6000
    assert even == pytest.approx(planted_depth_ppm(binary, 2), rel=0.1) and even < 0.7 * odd
    assert secondary == pytest.approx(planted_depth_ppm(binary, secondary=True), rel=0.1) and secondary > 1000
    planet = Transit(2.7, BKJD + 172.3, 3.0, 6000.0)
    time, flux = _good_pdcsap(make_kepler_llc_fits(3248033, 3, 4370, 0, transits=(planet,)))
    assert abs(_dip_ppm(time, flux, centres + 2.7 / 2, 3.0 / 24)) < 100  # a planet: no secondary


def test_every_file_carries_its_stars_variability_on_a_level_of_its_own():
    universe = build_universe(1, kepler_hosts=1, tess_hosts=0, field_stars=False)
    host = universe.host_by_name("Kepler-10")
    levels = set()
    for file in host.light_curves():
        time, flux = _good_pdcsap(universe.fits_bytes(file))
        star = stellar_variability(universe.seed, host.target_id, time) * transit_model(
            transits_of(host.planets), time, "BKJD")
        assert np.std(flux / np.median(flux)) > 1e-3  # the variability, far above the noise
        rest = flux / star
        assert np.std(rest / np.median(rest)) < 1.5e-4  # what is left is the noise (1e-4)
        levels.add(round(float(np.median(rest))))
    assert len(levels) == len(host.light_curves())


def test_tap_serves_the_ephemerides_in_each_tables_columns_and_units(standins):
    universe = standins.universe
    kepler_10 = _tap(standins, "select kepoi_name, koi_period, koi_time0bk, koi_duration, koi_depth from cumulative "
                               "where kepid = 11904151 order by kepoi_name", "json").json()
    assert kepler_10[0] == {"kepoi_name": "K00072.01", "koi_period": 0.837491225, "koi_time0bk": 131.574858,
                            "koi_duration": 1.796, "koi_depth": 190.4}  # BKJD, hours, ppm
    pi_men_c = _tap(standins, "select pl_orbper, pl_tranmid, pl_trandurh, pl_trandep from toi where toi = 144.01",
                    "json").json()
    assert pi_men_c == [{"pl_orbper": 6.267832, "pl_tranmid": 2460011.550653, "pl_trandurh": 2.789,
                         "pl_trandep": 321.0}]  # BJD, hours, ppm
    rows = _tap(standins, "select * from k2pandc", "json").json()
    for planet in (p for h in universe.hosts_of("K2") for p in h.planets if not p.default_lacks_epoch):
        default = next(r for r in rows if r["pl_name"] == planet.pl_name and r["default_flag"] == 1)
        assert (default["pl_orbper"], default["pl_tranmid"], default["pl_trandur"]) == (
            planet.period, planet.epoch_bjd, planet.duration_hours)
        assert default["pl_trandep"] == pytest.approx(planet.depth_ppm / 1e4)  # percent
        assert default["pl_tsystemref"] == ("BJD_TDB" if planet.has_ephemeris else None)
    assert all(2.456e6 < r["pl_tranmid"] < 2.459e6 for r in rows if r["pl_tranmid"] is not None)  # K2's years
    koi, toi = missions_kepler.NO_EPHEMERIS, missions_tess.NO_EPHEMERIS
    missing = [_tap(standins, query).text.splitlines()[1] for query in (
        f"select kepoi_name, koi_time0bk, koi_period from cumulative where kepoi_name = '{koi}'",
        f"select toi, pl_tranmid, pl_orbper from toi where toi = {toi}")]
    assert [line.split(",")[:2] for line in missing] == [[koi, ""], [toi, ""]]  # an empty cell


def test_k2pandc_has_second_solutions_one_holding_the_only_epoch(standins):
    k2 = standins.universe.hosts_of("K2")

    def solutions(planet) -> list[dict]:  # noqa: ANN001
        return _tap(standins, "select default_flag, pl_orbper, pl_tranmid, pl_trandur, pl_trandep from k2pandc "
                              f"where pl_name = '{planet.pl_name}' order by default_flag desc", "json").json()

    lacking = k2[missions_k2.NO_EPHEMERIS_HOST].planets[0]
    assert [(r["default_flag"], r["pl_tranmid"]) for r in solutions(lacking)] == [(1, None)]
    only_other = k2[missions_k2.EPOCH_ONLY_IN_OTHER_SOLUTION_HOST].planets[0]
    default, other = solutions(only_other)
    assert (default["default_flag"], default["pl_tranmid"]) == (1, None)
    assert (other["default_flag"], other["pl_tranmid"], other["pl_orbper"], other["pl_trandur"]) == (
        0, only_other.epoch_bjd, only_other.period, only_other.duration_hours)  # what its light curves carry
    two = k2[0].planets[0]
    default, other = solutions(two)
    assert (default["default_flag"], other["default_flag"], default["pl_tranmid"]) == (1, 0, two.epoch_bjd)
    assert 0 < abs(other["pl_tranmid"] - default["pl_tranmid"]) < 0.01
    assert other["pl_orbper"] == pytest.approx(default["pl_orbper"], rel=1e-4)
    assert other["pl_orbper"] != default["pl_orbper"]
    assert len(solutions(k2[1].planets[-1])) == 1


def test_tap_dr24_tce_table_labels_every_koi_and_the_extra_tces(standins):
    universe = standins.universe
    rows = _tap(standins, "select * from q1_q17_dr24_tce", "json").json()
    assert list(rows[0]) == ["kepid", "tce_plnt_num", "tce_period", "tce_time0bk", "tce_duration", "tce_depth",
                             "av_training_set"]
    labels = {"CONFIRMED": "PC", "CANDIDATE": "PC", "FALSE POSITIVE": "AFP"}
    expected = [(h.target_id, n, p.period, None if p.epoch_bjd is None else round(p.epoch_bjd - BKJD, 7),
                 labels[p.disposition]) for h in universe.hosts_of("Kepler") for n, p in enumerate(h.planets, 1)]
    kois = [(r["kepid"], r["tce_plnt_num"], r["tce_period"], r["tce_time0bk"], r["av_training_set"]) for r in rows
            if r["av_training_set"] in ("PC", "AFP")]
    assert sorted(kois, key=str) == sorted(expected, key=str)
    extras = {(r["kepid"], r["tce_plnt_num"], r["av_training_set"]) for r in rows if r["av_training_set"] in (
        "NTP", "UNK")}
    assert extras == {(11904151, 3, "NTP"), (10593626, 2, "UNK")}
    assert {t.av_training_set for t in missions_kepler.EXTRA_TCES} == {"NTP", "UNK"}
    assert {r["av_training_set"] for r in rows} == {"PC", "AFP", "NTP", "UNK"}
    label_of = _tap(standins, "select av_training_set from q1_q17_dr24_tce where kepid = 3248033").text
    assert label_of.splitlines() == ["av_training_set", "AFP"]  # KOI-6.01, a false positive


# --- Kepler and TESS: S3 and the CLI -----------------------------------------------------------

def test_bucket_holds_every_file_byte_for_byte(standins, s3_client):
    universe = standins.universe
    listed = s3_client.get_paginator("list_objects_v2").paginate(Bucket="stpubdata")
    keys = {o["Key"]: o["Size"] for page in listed for o in page.get("Contents", [])}
    expected = {f.key: f.size for f in universe.files + universe.field_files}
    assert {key: size for key, size in keys.items() if key in expected} == expected
    decoys = {key for key, _ in universe.decoys}
    assert all("_short_" in key for key in set(keys) - set(expected) - decoys)  # test_s3_crafted_object's
    assert {f.kind for f in universe.files} == {"lc", "fast-lc", "bundle"}
    for file in universe.files + universe.field_files:
        body = s3_client.get_object(Bucket="stpubdata", Key=file.key)["Body"].read()
        assert body == universe.fits_bytes(file), file.key


def test_cli_options_for_kepler_and_tess():
    defaults = parse_args(["--hosts", "3"])
    assert (defaults.kepler_hosts, defaults.tess_hosts) == (None, None)
    chosen = parse_args(["--kepler-hosts", "0", "--tess-hosts", "5"])
    assert (chosen.kepler_hosts, chosen.tess_hosts) == (0, 5)
    universe = Standins(n_hosts=2, kepler_hosts=0, tess_hosts=5).universe
    assert [len(universe.hosts_of(m)) for m in MISSIONS] == [2, 0, 5]
    assert isinstance(universe.hosts[0], Host)


# --- the bundle and the CLI ---------------------------------------------------------------------

def test_airflow_env_points_at_the_standins(standins):
    env = {k: json.loads(v) for k, v in standins.airflow_env().items()}
    assert env["AIRFLOW_CONN_MAST_API"] == {"conn_type": "http", "host": standins.mast.base_url}
    assert env["AIRFLOW_CONN_NASA_EXOPLANET_ARCHIVE"] == {"conn_type": "http", "host": standins.tap.base_url}
    assert env["AIRFLOW_CONN_MAST_PUBLIC_S3"]["extra"] == {
        "endpoint_url": standins.s3.endpoint_url, "region_name": "us-east-1",
        "config_kwargs": {"signature_version": "unsigned"}}
    default = env["AIRFLOW_CONN_AWS_DEFAULT"]
    assert (default["login"], default["password"]) == ("testing", "testing")
    assert default["extra"]["endpoint_url"] == standins.s3.endpoint_url


def test_standins_leave_no_threads_or_ports():
    before = set(threading.enumerate())
    with Standins(n_hosts=2) as running:
        ports = [running.mast._server.port, running.tap._server.port, int(running.s3.endpoint_url.rsplit(":", 1)[1])]
        session = requests.Session()  # an idle keep-alive connection must not keep a thread alive
        session.get(running.mast.base_url + "/api/v0.1/path_lookup/", params={"uri": "x"}, timeout=10)
        _anonymous_s3(running.s3.endpoint_url).list_objects_v2(Bucket="stpubdata")
    assert set(threading.enumerate()) - before == set()
    for port in ports:
        with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", port), timeout=1):
            pass
    session.close()


def test_cli_prints_exports_and_serves(tmp_path):
    env_file = tmp_path / "standins.env"
    process = subprocess.Popen([sys.executable, "-m", "tests.standins", "--hosts", "3", "--env-file", str(env_file)],
                               cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                               env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    try:
        lines = [process.stdout.readline().strip() for _ in range(4)]
        exports = dict(shlex.split(line.removeprefix("export "))[0].split("=", 1) for line in lines)
        assert set(exports) == {"AIRFLOW_CONN_MAST_API", "AIRFLOW_CONN_NASA_EXOPLANET_ARCHIVE",
                                "AIRFLOW_CONN_MAST_PUBLIC_S3", "AIRFLOW_CONN_AWS_DEFAULT"}
        assert env_file.read_text().splitlines() == lines
        mast = json.loads(exports["AIRFLOW_CONN_MAST_API"])["host"]
        assert requests.get(mast + "/api/v0.1/path_lookup/", params={"uri": "x"}, timeout=10).status_code == 200
        endpoint = json.loads(exports["AIRFLOW_CONN_AWS_DEFAULT"])["extra"]["endpoint_url"]
        buckets = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                               aws_secret_access_key="testing").list_buckets()["Buckets"]
        assert {b["Name"] for b in buckets} == {"stpubdata", "team-bucket"}
    finally:
        process.terminate()
        assert process.wait(timeout=10) == 0
