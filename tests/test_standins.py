"""The stand-ins, proven with the real clients: astroquery, requests + pandas, boto3, S3Hook."""

from __future__ import annotations

import io
import json
import math
import os
import shlex
import socket
import subprocess
import sys
import threading
import time
import warnings
from datetime import date
from pathlib import Path

import boto3
import pandas as pd
import pytest
import requests
from astropy.io import fits
from astroquery.exceptions import NoResultsWarning, RemoteServiceError
from astroquery.mast import ObservationsClass
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError, ResponseStreamingError

from tests.standins import MastPortalStandin, Standins, build_universe
from tests.standins.fits_factory import llc_size, make_llc_fits
from tests.standins.universe import K2_CAMPAIGNS

REPO_ROOT = Path(__file__).resolve().parents[1]
CONFIRMED_ON_21ST = ("select distinct hostname, epic_hostname from k2pandc where disposition = 'CONFIRMED' "
                     "and rowupdate >= '2026-11-21' and rowupdate < '2026-11-22'")


@pytest.fixture(scope="module")
def standins():
    with Standins(n_hosts=20, unknown_to_mast=1) as running:
        yield running


@pytest.fixture(autouse=True)
def _fresh_knobs(request):
    """Tests sharing the module's stand-ins start with no faults, no latency, zeroed counters."""
    if "standins" in request.fixturenames:
        running = request.getfixturevalue("standins")
        for standin in (running.mast, running.tap, running.s3):
            standin.clear_faults()
            standin.latency_s = 0.0
            standin.reset_counters()
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
    names = [h.target_name for h in standins.universe.hosts]
    return observations.query_criteria(obs_collection="K2", target_name=names, t_exptime=[1799, 1801], **kwargs)


def _tap(standins, query: str, fmt: str = "csv") -> requests.Response:
    return requests.get(standins.tap.base_url + "/TAP/sync", params={"query": query, "format": fmt}, timeout=10)


def _assert_valid_fits(content: bytes) -> fits.HDUList:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # astropy reports checksum mismatches as warnings
        hdus = fits.open(io.BytesIO(content), checksum=True)
        for hdu in hdus:
            _ = hdu.data
    return hdus


# --- universe and FITS ------------------------------------------------------------------------

def test_universe_is_deterministic_and_well_formed():
    universe = build_universe(20, seed=3, unknown_to_mast=2)
    again = build_universe(20, seed=3, unknown_to_mast=2)
    assert universe.hosts == again.hosts and universe.observations == again.observations
    assert len(universe.hosts) == 22
    assert sum(not h.known_to_mast for h in universe.hosts) == 2
    assert all(not h.files for h in universe.hosts if not h.known_to_mast)
    assert {p.disposition for h in universe.hosts for p in h.planets} == {"CONFIRMED", "CANDIDATE", "FALSE POSITIVE"}
    assert any(not h.has_confirmed_planet for h in universe.hosts)
    for host in universe.hosts:
        assert 2 <= len(host.campaigns) <= 4 and set(host.campaigns) <= set(K2_CAMPAIGNS)
        assert 201000000 <= host.epic_id <= 251999999
        assert universe.host_by_epic(host.epic_id) is universe.host_by_name(host.hostname) is host
        assert [f.campaign for f in host.files] == (list(host.campaigns) if host.known_to_mast else [])
        assert all(date(2026, 11, 20) <= p.rowupdate <= date(2026, 11, 24) for p in host.planets)
    assert len({f.obsid for f in universe.files}) == len(universe.files)
    for file in universe.files[:10]:
        assert file.size == len(universe.fits_bytes(file))


def test_keys_and_uris_follow_the_archive_layout():
    universe = build_universe(40)
    by_campaign = {f.campaign: f for f in universe.files}
    file = next(f for c, f in by_campaign.items() if c < 10)
    epic = str(file.epic_id)
    assert file.key == (f"k2/public/lightcurves/c{file.campaign}/{epic[:4]}00000/{epic[4:6]}000/"
                        f"ktwo{epic}-c{file.campaign:02d}_llc.fits")
    assert file.data_uri == "mast:K2/url/missions/k2/lightcurves/" + file.key.removeprefix("k2/public/lightcurves/")
    assert file.filename == f"ktwo{epic}-c{file.campaign:02d}_llc.fits"
    split = next(f for c, f in by_campaign.items() if c > 90)
    assert f"/c{split.campaign}/" in split.key and split.key.endswith(f"-c{split.campaign}_llc.fits")


def test_fits_file_is_valid_deterministic_and_sized():
    content = make_llc_fits(201367065, 102, 300, seed=1)
    assert content == make_llc_fits(201367065, 102, 300, seed=1)
    assert content != make_llc_fits(201367065, 102, 300, seed=2)
    assert len(content) == llc_size(300)
    hdus = _assert_valid_fits(content)
    primary = hdus[0].header
    assert (primary["KEPLERID"], primary["CAMPAIGN"], primary["OBJECT"]) == (201367065, 102, "EPIC 201367065")
    assert (primary["TELESCOP"], primary["MISSION"], primary["OBSMODE"]) == ("Kepler", "K2", "long cadence")
    assert "CHECKSUM" in primary and "DATASUM" in hdus["LIGHTCURVE"].header
    table = hdus["LIGHTCURVE"].data
    assert len(table) == 300
    assert {"TIME", "SAP_FLUX", "PDCSAP_FLUX", "QUALITY"} <= set(table.columns.names)
    assert hdus["APERTURE"].data.ndim == 2
    corrupt = bytearray(content)
    corrupt[hdus["LIGHTCURVE"].fileinfo()["datLoc"] + 100] ^= 0xFF  # a byte of the light-curve table
    with pytest.raises(Warning, match="[Cc]hecksum"):
        _assert_valid_fits(bytes(corrupt))


@pytest.mark.parametrize("rows", [0, 1, 144, 145, 3901])
def test_llc_size_predicts_the_file_length(rows):
    assert llc_size(rows) == len(make_llc_fits(205000000 + rows, 5, rows, seed=rows))


def test_real_size_setting_gives_real_size_files():
    assert 400_000 <= llc_size(4000) and llc_size(8000) <= 1_000_000


# --- MAST through astroquery ------------------------------------------------------------------

def test_query_criteria_returns_exactly_the_long_cadence_observations(standins, observations):
    table = _lc_query(observations, standins)
    expected = {o.obs_id for o in standins.universe.observations if o.t_exptime == 1800}
    assert set(table["obs_id"]) == expected and len(table) == len(expected)
    assert set(table["t_exptime"]) == {1800.0}
    assert set(table["obs_collection"]) == {"K2"} and set(table["dataproduct_type"]) == {"timeseries"}
    assert all(name.startswith("ktwo") for name in table["target_name"])
    # what astroquery actually sent: a list target_name, a separator for obs_collection, a min/max range
    filters = {f["paramName"]: f for f in standins.mast.invocations[-1]["params"]["filters"]}
    assert filters["obs_collection"] == {"paramName": "obs_collection", "separator": ";", "values": ["K2"]}
    assert filters["target_name"]["values"] == [h.target_name for h in standins.universe.hosts]
    assert filters["t_exptime"] == {"paramName": "t_exptime", "values": [{"min": 1799, "max": 1801}]}


def test_short_cadence_and_other_filters(standins, observations):
    table = observations.query_criteria(obs_collection="K2", t_exptime=[59, 61], provenance_name="K2",
                                        instrument_name="Kepler", project="K2", dataproduct_type="timeseries")
    assert set(table["obs_id"]) == {o.obs_id for o in standins.universe.observations if o.t_exptime == 60}
    assert all(obs_id.endswith("_sc") for obs_id in table["obs_id"])
    one = standins.universe.observations[0]
    assert list(observations.query_criteria(obs_id=one.obs_id)["obsid"]) == [one.obsid]
    with pytest.warns(NoResultsWarning):
        assert len(observations.query_criteria(obs_collection="TESS")) == 0


def test_products_give_exactly_the_llc_files_with_their_sizes(standins, observations):
    products = observations.get_product_list(_lc_query(observations, standins))
    llc = observations.filter_products(products, productSubGroupDescription="LLC")
    files = {f.data_uri: f for f in standins.universe.files}
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
    assert len(table) == sum(o.t_exptime == 1800 for o in standins.universe.observations)
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
    expected = {(h.hostname, f"EPIC {h.epic_id}") for h in standins.universe.confirmed_hosts(day)}
    assert set(zip(table["hostname"], table["epic_hostname"], strict=True)) == expected and len(table) == len(expected)
    assert any(not h.known_to_mast for h in standins.universe.confirmed_hosts(day))
    # rows the filter must drop do exist on that day
    dropped = [p for h in standins.universe.hosts for p in h.planets
               if p.rowupdate == day and p.disposition != "CONFIRMED"]
    assert dropped


def test_tap_formats_and_columns(standins):
    rows = _tap(standins, "select * from k2pandc order by pl_name", "json").json()
    assert len(rows) == sum(len(h.planets) for h in standins.universe.hosts)
    assert set(rows[0]) == {"pl_name", "hostname", "k2_name", "epic_hostname", "tic_id", "default_flag",
                            "disposition", "disc_facility", "ra", "dec", "k2_campaigns", "k2_campaigns_num",
                            "rowupdate", "pl_pubdate", "releasedate"}
    host = standins.universe.hosts[0]
    row = next(r for r in rows if r["hostname"] == host.hostname)
    assert row["k2_campaigns"] == ",".join(map(str, host.campaigns))
    assert row["epic_hostname"] == f"EPIC {host.epic_id}"
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
    assert keys == {f.key: f.size for f in universe.files}
    file = universe.files[-1]
    body = s3_client.get_object(Bucket="stpubdata", Key=file.key)["Body"].read()
    assert body == universe.fits_bytes(file)
    s3_client.download_file("stpubdata", file.key, str(tmp_path / file.filename))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with fits.open(tmp_path / file.filename, checksum=True) as hdus:
            assert hdus[0].header["KEPLERID"] == file.epic_id
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
