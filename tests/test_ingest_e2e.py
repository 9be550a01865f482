"""End to end, K2: the real DAG under ``dag.test()``, through astroquery, requests and S3Hook, on the stand-ins.

Kepler and TESS have the same tests in test_missions_e2e.py.
"""

from __future__ import annotations

from urllib.parse import unquote

import pytest

from tests.helpers import (
    expected_files,
    local_files,
    read_local_catalog,
    run_dag,
    s3_catalog_table,
    s3_files,
    sha256_hex,
    summary,
    task_states,
)

UNKNOWN_HOST_INDEX = 8  # build_universe(8, unknown_to_mast=1): the 9th host has no MAST observations


def unknown_host(standins) -> str:  # noqa: ANN001
    return standins.universe.hosts_of("K2")[UNKNOWN_HOST_INDEX].hostname


def test_local_destination_gets_every_confirmed_hosts_files_byte_for_byte(ingest_dag, standins, tmp_path):
    dest = tmp_path / "lightcurves"
    run = run_dag(ingest_dag, {"destination": str(dest), "targets_per_batch": 3})

    assert str(run.state) == "success", task_states(run)
    expected = expected_files(standins)
    assert local_files(dest) == expected
    assert kinds_of_etag(standins, expected) == {"whole", "in parts"}
    result = summary(run)
    assert result["copied"] == len(expected) and result["failed"] == 0
    assert result["bytes_copied"] == sum(len(b) for b in expected.values())
    assert result["not_found"] == [unknown_host(standins)]
    assert result["batches"] == 3  # 7 confirmed hosts + 1 unknown, 3 a batch
    catalog = read_local_catalog(dest)
    assert sorted(catalog["source_key"]) == sorted(expected)
    assert not list(dest.rglob(".*.part-*")), "no partial file may be left behind"


def test_second_run_moves_no_bytes(ingest_dag, standins, tmp_path):
    dest = tmp_path / "again"
    first = summary(run_dag(ingest_dag, {"destination": str(dest)}))
    mtimes = {p: p.stat().st_mtime_ns for p in dest.rglob("*.fits")}
    standins.s3.reset_counters()
    standins.mast.reset_counters()

    # dag.test() clears earlier runs' task instances: read each summary before the next run
    rerun = summary(run_dag(ingest_dag, {"destination": str(dest)}))
    refresh = summary(run_dag(ingest_dag, {"destination": str(dest), "full_refresh": True}))

    assert first["copied"] > 0
    for result in (rerun, refresh):
        assert (result["copied"], result["bytes_through_worker"], result["failed"]) == (0, 0, 0), result
    assert refresh["already_present"] == first["copied"]
    assert standins.s3.requests_by_method.get("GET", 0) == 0, standins.s3.requests_by_method
    assert {p: p.stat().st_mtime_ns for p in dest.rglob("*.fits")} == mtimes
    # the plain rerun asks MAST only about the host it did not find; the refresh asks about all
    assert rerun["targets_planned"] == 1
    assert refresh["targets_planned"] == first["targets_planned"]


def s3_catalog(standins, bucket: str, prefix: str):  # noqa: ANN001, ANN201
    return s3_catalog_table(standins, bucket, prefix)


def kinds_of_etag(standins, keys) -> set[str]:  # noqa: ANN001
    """Whether the sources of ``keys`` were put whole (ETag: an MD5) or uploaded in parts (``<md5>-<parts>``)."""
    return {"in parts" if "-" in standins.s3.etag(key) else "whole" for key in keys}


def light_curve_gets(standins) -> list[str]:  # noqa: ANN001
    """Paths of every GET of a light-curve object (source or destination) the S3 stand-in served."""
    return [r["path"] for r in standins.s3.request_log if r["method"] == "GET" and "_llc.fits" in r["path"]]


def test_s3_destination_is_copied_server_side_byte_for_byte(ingest_dag, standins):
    standins.s3.create_bucket("team-bucket")
    standins.s3.request_log.clear()
    conf = {"destination": "s3://team-bucket/k2/lc", "dest_aws_conn_id": "aws_default"}
    run = run_dag(ingest_dag, conf)

    assert str(run.state) == "success", task_states(run)
    assert light_curve_gets(standins) == [], "a server-side copy reads no light-curve byte through the worker"
    expected = expected_files(standins)
    assert s3_files(standins, "team-bucket", "k2/lc") == expected
    assert kinds_of_etag(standins, expected) == {"whole", "in parts"}
    pins = {unquote(r["copy_source"]).lstrip("/").split("/", 1)[1]: r["copy_source_if_match"]
            for r in standins.s3.request_log if r["copy_source"]}
    assert pins == {key: f'"{standins.s3.etag(key)}"' for key in expected}, "each copy is pinned to its source"
    result = summary(run)
    assert result["copied"] == len(expected)
    assert result["bytes_through_worker"] == 0
    catalog = s3_catalog(standins, "team-bucket", "k2/lc").set_index("source_key")
    assert {key: catalog.loc[key, "sha256"] for key in expected} == {k: sha256_hex(b) for k, b in expected.items()}
    assert set(catalog["copy_method"]) == {"server-side"} and not catalog["fits_checksum_verified"].any()

    rerun = summary(run_dag(ingest_dag, {**conf, "full_refresh": True}))
    assert (rerun["copied"], rerun["already_present"], rerun["bytes_through_worker"]) == (0, len(expected), 0)


def test_s3_destination_with_read_back_checks_every_copys_fits_sums(ingest_dag, standins):
    standins.s3.create_bucket("checked-bucket")
    standins.s3.request_log.clear()
    conf = {"destination": "s3://checked-bucket/lc", "read_back_server_side_copies": True}
    run = run_dag(ingest_dag, conf)

    assert str(run.state) == "success", task_states(run)
    read_back = light_curve_gets(standins)
    expected = expected_files(standins)
    assert s3_files(standins, "checked-bucket", "lc") == expected
    assert summary(run)["bytes_through_worker"] == sum(len(b) for b in expected.values())
    assert len(read_back) == len(expected) and all("/checked-bucket/lc/" in p and "/.ktwo" in p for p in read_back)
    catalog = s3_catalog(standins, "checked-bucket", "lc")
    assert set(catalog["copy_method"]) == {"server-side-read-back"} and catalog["fits_checksum_verified"].all()
    keys = standins.s3.client(signed=True).list_objects_v2(Bucket="checked-bucket", Prefix="lc/k2/")["Contents"]
    assert {o["Key"] for o in keys} == {f"lc/{k}" for k in expected}, "no staging object may be left behind"


def test_targets_param_ingests_only_those_without_the_full_list(ingest_dag, standins, tmp_path):
    hosts = [h for h in standins.universe.confirmed_hosts()][:2]
    by_name, by_epic = hosts[0], hosts[1]
    standins.tap.reset_counters()
    conf = {"destination": str(tmp_path), "targets": [by_name.hostname, f"EPIC {by_epic.target_id}", "K2-9999"]}
    run = run_dag(ingest_dag, conf)

    assert str(run.state) == "success", task_states(run)
    assert local_files(tmp_path) == expected_files(standins, [by_name.hostname, by_epic.hostname])
    assert summary(run)["not_found"] == ["K2-9999"]
    queries = standins.tap.queries
    assert queries and all(" in (" in q for q in queries), queries  # never the whole table


def test_target_unknown_to_mast_is_reported_and_the_rest_land(ingest_dag, standins, tmp_path):
    known = standins.universe.confirmed_hosts()[0].hostname
    run = run_dag(ingest_dag, {"destination": str(tmp_path), "targets": [known, unknown_host(standins)]})

    assert str(run.state) == "success", task_states(run)
    assert summary(run)["not_found"] == [unknown_host(standins)]
    assert local_files(tmp_path) == expected_files(standins, [known])


@pytest.mark.parametrize(("conf", "message"), [
    ({"destination": "gs://bucket/k2"}, "destination: unknown scheme 'gs'"),
    ({"destination": "relative/path"}, "destination: 'relative/path' is a relative path"),
    ({"targets": ["EPIC 12345"]}, "targets: 'EPIC 12345' is not an EPIC id"),
    ({"targets": []}, "targets: the target list is empty"),
    ({"targets": ["K2-18'; drop table k2pandc; --"]}, "is not a valid host name"),
])
def test_bad_params_fail_before_copying_with_a_message_naming_the_field(ingest_dag, standins, tmp_path, capfd,
                                                                        conf, message):
    standins.s3.reset_counters()
    run = run_dag(ingest_dag, {"destination": str(tmp_path / "dest"), **conf})

    states = task_states(run)
    assert str(run.state) == "failed"
    assert states["plan_targets"] == "failed", states
    assert message in capfd.readouterr().out
    assert standins.s3.requests_by_method.get("GET", 0) == 0
    assert not (tmp_path / "dest" / "k2").exists()
