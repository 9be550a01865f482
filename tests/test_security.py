"""Issue 6, security: replies from MAST and the archive and users' target names are not a way into the
machine; secrets stay in their connections; only the destination's host ever sees its credentials.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lightcurve_ingest.domain.missions import get_mission
from tests.helpers import expected_files, find, local_files, run_dag, s3_files, summary, task_states, xcom
from tests.reliability_figures import count_run, figures

K2 = get_mission("k2")

REAL_KEY = "k2/public/lightcurves/c5/211000000/45000/ktwo211045000-c05_llc.fits"
REAL_URI = "mast:K2/url/missions/k2/lightcurves/c5/211000000/45000/ktwo211045000-c05_llc.fits"
PREFIX = "mast:K2/url/missions/k2/lightcurves/"
# dataURIs a compromised or confused MAST could send, each trying to place a file somewhere else
CRAFTED_DATA_URIS = [
    PREFIX + "../../../../../../../../../tmp/lightcurve-escape.fits",
    PREFIX + "c5/211000000/45000/ktwo211045000-c05_llc.fits/../../../../../../../../lightcurve-escape.fits",
    PREFIX + "/tmp/lightcurve-escape.fits",
    PREFIX + "c5/../../../../../../../../../../../tmp/lightcurve-escape.fits",
    PREFIX + "%2e%2e/%2e%2e/%2e%2e/lightcurve-escape.fits",
    PREFIX + "c5\\..\\..\\..\\lightcurve-escape.fits",
    REAL_URI + "\n",
    REAL_URI + "\x00.sh",
    PREFIX + "c\u0665/\u0662\u0661\u0661\u066000000/\u0664\u0665000/"  # the same key in Arabic-Indic digits
             "ktwo\u0662\u0661\u0661\u0660\u0664\u0665\u0660\u0660\u0660-c\u0660\u0665_llc.fits",
    REAL_URI.replace("_llc.fits", "_llc.fits.sh"),
    "/etc/passwd",
    "file:///etc/passwd",
    "s3://stpubdata/" + REAL_KEY,
    "mast:K2/url/missions/k2/target_pixel_files/c5/211000000/45000/ktwo211045000-c05_lpd-targ.fits.gz",
]




@pytest.fixture(autouse=True)
def _fresh_standins(request):  # noqa: ANN001, ANN202
    if "standins" not in request.fixturenames:
        yield
        return
    running = request.getfixturevalue("standins")
    running.reset()
    yield
    running.mast.clear_products()




def lc_obsids(standins, host) -> list[str]:  # noqa: ANN001
    return [o.obsid for o in standins.universe.observations if o.target_name == K2.mast_target_name(host.target_id)
            and o.t_exptime == 1800.0]


def k2_hosts(standins):  # noqa: ANN001, ANN201
    return standins.universe.hosts_of("K2")


def archive(standins):  # noqa: ANN001, ANN201
    from lightcurve_ingest.clients.tap import TapClient
    from lightcurve_ingest.domain.targets import ArchiveTargets

    return ArchiveTargets(K2, TapClient(standins.tap.base_url))


# --- keys and file names from MAST ----------------------------------------------------------------

@pytest.mark.parametrize("data_uri", CRAFTED_DATA_URIS)
def test_crafted_data_uris_are_refused(data_uri):
    from lightcurve_ingest.errors import InvalidInputError

    with pytest.raises(InvalidInputError) as caught:
        K2.validate_key(K2.key_from_data_uri(data_uri))
    assert caught.value.field == "dataURI"
    with pytest.raises(InvalidInputError):
        K2.validate_key("k2/public/lightcurves/" + data_uri.removeprefix(PREFIX))


@pytest.mark.slow
def test_crafted_products_from_mast_cannot_write_outside_the_destination(ingest_dag, standins, tmp_path, caplog,
                                                                         request):
    caplog.set_level(logging.INFO, logger="lightcurve_ingest")
    host, other = k2_hosts(standins)[1], k2_hosts(standins)[2]
    obsid = lc_obsids(standins, host)[0]
    for uri in CRAFTED_DATA_URIS:
        standins.mast.add_product(obsid, uri, size=1000)
    standins.mast.add_product(obsid, other.files[0].data_uri, size=other.files[0].size)  # another target's file
    dest = tmp_path / "dest"
    outside_before = sorted(p for p in tmp_path.rglob("*"))

    run = run_dag(ingest_dag, {"destination": str(dest), "targets": [host.hostname]})

    result = summary(run) if str(run.state) == "success" else None
    count_run(request.config, run, result)
    printed = caplog.text
    assert str(run.state) == "success", task_states(run)
    assert local_files(dest) == expected_files(standins, [host.hostname])  # the real files, nothing else
    assert (result["copied"], result["failed"]) == (len(host.files), 0)
    assert sorted(p for p in tmp_path.rglob("*") if dest not in p.parents and p != dest) == outside_before
    assert not Path("/tmp/lightcurve-escape.fits").exists() and not (tmp_path / "lightcurve-escape.fits").exists()
    # each crafted product is skipped, said so: not named like a light curve, or not a valid key if it is
    skipped = printed.count("Skipping a product MAST listed with an unusable dataURI") + printed.count(
        "not a single light curve")
    assert skipped == len(CRAFTED_DATA_URIS)
    assert printed.count("MAST listed it for a target not in this batch") == 1
    figures(request.config)["unsafe keys / dataURIs rejected"] += len(CRAFTED_DATA_URIS) + 1
    figures(request.config)["bad inputs tried (listed + fuzzed)"] += len(CRAFTED_DATA_URIS) + 1


def test_a_symlink_inside_the_destination_cannot_redirect_a_copy_outside(standins, tmp_path, request):
    from lightcurve_ingest.domain.copying import FAILED, Copier
    from lightcurve_ingest.errors import InvalidInputError
    from lightcurve_ingest.storage.destination import parse_destination
    from lightcurve_ingest.wiring.connections import services_from_connections

    host = k2_hosts(standins)[0]
    dest, outside = tmp_path / "dest", tmp_path / "outside"
    outside.mkdir()
    (dest / "k2" / "public").mkdir(parents=True)
    (dest / "k2" / "public" / "lightcurves").symlink_to(outside, target_is_directory=True)
    services = services_from_connections()
    storage = services.storage(parse_destination(str(dest)), "aws_default")
    files = find(standins, "k2", [host]).files

    results = Copier(K2, storage, services.source(), cataloged={}).copy_all(files, threads=2)

    assert [r.status for r in results] == [FAILED] * len(files)
    assert all("outside the destination" in r.error for r in results)
    assert not list(outside.rglob("*")), "nothing may land where the symlink points"
    for key in ("../escape.fits", "/etc/passwd", REAL_KEY + "/../../x", REAL_KEY + "\n"):
        with pytest.raises(InvalidInputError):
            storage.path(key)
    figures(request.config)["unsafe keys / dataURIs rejected"] += len(files) + 4
    figures(request.config)["bad inputs tried (listed + fuzzed)"] += len(files) + 4


# --- user-given target names reach ADQL and MAST only validated and quoted -----------------------

INJECTIONS = [
    "K2-18') or 1=1 --",
    "K2-18' or '1'='1",
    "x' union select hostname, epic_hostname from k2pandc --",
    "K2-18\"; drop table k2pandc; --",
    "K2-18;",
    "K2-18\\",
    "K2-18\n) or (1=1",
    "K2\u201018",  # a Unicode hyphen
    "K2-18%",
    "*",
    "",
    "   ",
    "x" * 65,
    "EPIC 201367065 or 1=1",
    "ktwo20136706",
]


def test_injection_attempts_in_target_names_never_reach_the_archive(standins, request):
    from lightcurve_ingest.errors import InvalidInputError

    for attempt in INJECTIONS:
        with pytest.raises(InvalidInputError) as caught:
            archive(standins).resolve([k2_hosts(standins)[0].hostname, attempt])
        assert caught.value.field == "targets"
    assert standins.tap.queries == [], "a refused list must not be half-sent"
    figures(request.config)["bad inputs tried (listed + fuzzed)"] += len(INJECTIONS)
    figures(request.config)["bad inputs refused with the field named"] += len(INJECTIONS)


def test_names_that_pass_validation_are_quoted_literals_and_match_nothing_more(standins):
    real = k2_hosts(standins)[0]
    tricky = ["K2-49 -- comment", "a or 1", "x union select 1", "K2_49", "K2-49 or hostname", "BD+20 594"]
    targets, unresolved = archive(standins).resolve([real.hostname, *tricky])

    assert [t.target_id for t in targets] == [real.target_id]
    assert unresolved == tricky
    names, labels = standins.tap.queries
    assert names.endswith("hostname in ('K2-49', 'K2-49 -- comment', 'a or 1', 'x union select 1', 'K2_49', "
                          "'K2-49 or hostname', 'BD+20 594') and epic_hostname is not null")
    assert labels.endswith(f"where epic_hostname in ('EPIC {real.target_id}')")  # the labels of what was found


@settings(max_examples=40, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40))
def test_adql_string_quoting_holds_on_the_tap_service_for_any_text(standins, text):
    """Even unvalidated text, quoted with adql_string, stays one literal: no error, no extra rows."""
    from lightcurve_ingest.clients.tap import TapClient, adql_string

    tap = TapClient(standins.tap.base_url)
    rows = tap.query(f"select hostname, epic_hostname from k2pandc where hostname = {adql_string(text)}")
    assert all(r["hostname"] == text for r in rows)


def test_mast_only_ever_sees_target_names_built_from_validated_epic_ids(standins):
    from lightcurve_ingest.clients.mast import MastClient
    from lightcurve_ingest.domain.discovery import find_light_curves
    from lightcurve_ingest.domain.payloads import Batch

    hosts = k2_hosts(standins)[:3]
    values = [hosts[0].hostname, f"EPIC {hosts[1].target_id}", f"ktwo{hosts[2].target_id}", "K2-9999 or 1"]
    targets, _ = archive(standins).resolve(values)
    find_light_curves(K2, Batch("resolved", tuple(targets)), MastClient(standins.mast.base_url))

    sent = [v for inv in standins.mast.invocations for f in (inv.get("params") or {}).get("filters", [])
            if f["paramName"] == "target_name" for v in f["values"]]
    assert sorted(sent) == sorted(f"ktwo{h.target_id:09d}" for h in hosts)
    assert all(re.fullmatch(r"ktwo[0-9]{9}", v) for v in sent)


# --- credentials ----------------------------------------------------------------------------------

SECRETS = {
    "dest": "dest-S3CRET-9f41c7e2",
    "source": "source-S3CRET-2b8d55a0",
    "mast": "mast-S3CRET-71c0e9d4",
    "archive": "archive-S3CRET-c3a6f018",
}


@pytest.mark.slow
def test_secrets_stay_out_of_logs_and_only_the_destination_host_sees_its_credentials(
        ingest_dag, standins, monkeypatch, capfd, caplog, request):
    from tests.standins.s3 import REGION

    s3_url = standins.s3.endpoint_url  # http://127.0.0.1:PORT: the "public bucket" host
    dest_url = s3_url.replace("127.0.0.1", "localhost")  # the same server under another host name
    conns = {
        "AWS_DEFAULT": {"conn_type": "aws", "login": "AKIADESTINATION", "password": SECRETS["dest"], "extra": {
            "endpoint_url": dest_url, "region_name": REGION, "config_kwargs": {"s3": {"addressing_style": "path"}}}},
        # a source connection holding keys: they must not be used, the public bucket is read unsigned
        "MAST_PUBLIC_S3": {"conn_type": "aws", "login": "AKIASOURCE", "password": SECRETS["source"], "extra": {
            "endpoint_url": s3_url, "region_name": REGION}},
        "MAST_API": {"conn_type": "http", "host": standins.mast.base_url, "login": "mastuser",
                     "password": SECRETS["mast"]},
        "NASA_EXOPLANET_ARCHIVE": {"conn_type": "http", "host": standins.tap.base_url, "login": "tapuser",
                                   "password": SECRETS["archive"]},
    }
    for name, conn in conns.items():
        monkeypatch.setenv(f"AIRFLOW_CONN_{name}", json.dumps(conn))
    standins.s3.create_bucket("secure-bucket")
    hosts = [h.hostname for h in standins.universe.confirmed_hosts()[:2]]
    conf = {"destination": "s3://secure-bucket/lc", "targets": hosts}
    capfd.readouterr()  # only what the run itself prints and logs is searched
    caplog.clear()

    run = run_dag(ingest_dag, conf)

    log = list(standins.s3.request_log)
    result = summary(run) if str(run.state) == "success" else None
    count_run(request.config, run, result)
    captured = capfd.readouterr()
    assert str(run.state) == "success", task_states(run)
    assert s3_files(standins, "secure-bucket", "lc") == expected_files(standins, hosts)
    assert result["copied"] == len(expected_files(standins, hosts))
    logs = captured.out + captured.err + caplog.text + _task_log_files(run.run_id)
    labels = [batch["label"] for batch in xcom(run, "plan_targets")]  # this run's batches, whatever hosts they hold
    uncaptured = [label for label in labels if f"Batch {label}: " not in logs]
    assert labels and not uncaptured, f"this run's task logs were not captured: no closing line of {uncaptured}"
    for secret in SECRETS.values():
        assert secret not in logs, "a connection's secret reached a log"
    signed = [e for e in log if e["authorization"] or e["presigned"]]
    source_reads = [e for e in log if e["path"].startswith("/stpubdata")]
    assert source_reads and all(e["method"] in ("GET", "HEAD") for e in source_reads)
    assert all(not e["authorization"] and not e["presigned"] for e in source_reads), "public bucket reads are unsigned"
    assert signed and all(e["host"] == dest_url.split("://")[1] for e in signed), "dest credentials, other host"
    assert all("Credential=AKIADESTINATION/" in e["authorization"] for e in signed)
    assert all(e["path"].startswith("/secure-bucket") for e in signed)
    assert not any("AKIASOURCE" in (e["authorization"] or "") for e in log)
    assert standins.mast.authorization_headers == [] and standins.tap.authorization_headers == []


def _task_log_files(run_id: str) -> str:
    """The task log files Airflow wrote for this run (none under ``dag.test``, which logs to the console)."""
    home = Path(os.environ["AIRFLOW_HOME"])
    return "".join(p.read_text(errors="replace") for p in home.rglob("*.log")
                   if p.is_file() and f"run_id={run_id}" in p.parts)


def test_netrc_credentials_are_never_sent_to_mast_or_the_archive(standins, tmp_path, monkeypatch):
    netrc = tmp_path / "netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-S3CRET\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))  # requests would read it (also ~/.netrc) for any matching host

    archive(standins).all(["CONFIRMED"])
    find(standins, "k2", k2_hosts(standins)[:1])

    assert standins.tap.authorization_headers == [] and standins.mast.authorization_headers == []
