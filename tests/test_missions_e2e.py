"""End to end, Kepler and TESS (and K2 where the test is new): the real DAGs under ``dag.test()`` on the stand-ins.

The stand-ins' universe holds real stars first: Kepler-10 (KIC 11904151), Kepler-22 (KIC 10593626), KOI-5 (a
candidate) and KOI-6 (a false positive); pi Men (TIC 261136679, TOI-144), LHS 3844 (TIC 410153553, TOI-136), a
TESS candidate and a false positive; then generated stars.
"""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, date, datetime, timedelta
from urllib.parse import unquote

import pandas as pd
import pytest
from astropy.io import fits

from lightcurve_ingest.domain import catalog as cat
from lightcurve_ingest.domain.discovery import mjd
from lightcurve_ingest.wiring.consumer import read_labelled_files
from tests.helpers import (
    expected_files,
    find,
    local_files,
    read_local_catalog,
    run_dag,
    run_dag_for_interval,
    s3_catalog_table,
    s3_files,
    sha256_hex,
    summary,
    task_states,
)

MISSIONS = {"kepler": "Kepler", "tess": "TESS"}
FIRST_DAY = date(2026, 11, 20)  # the stand-ins' archive rows and new TESS sectors fall on the 5 days from here


@pytest.fixture(autouse=True)
def _clean_standins(standins):  # noqa: ANN001, ANN202
    standins.reset()
    yield
    standins.reset()


def hosts(standins, slug: str):  # noqa: ANN001, ANN201
    return standins.universe.hosts_of(MISSIONS[slug])


def targets_table(root) -> pd.DataFrame:  # noqa: ANN001
    return read_local_catalog(root, "targets").set_index("target_id")


@pytest.mark.parametrize("slug", ["kepler", "tess"])
def test_local_destination_gets_every_confirmed_stars_light_curves_byte_for_byte(dags, standins, tmp_path, slug):
    dest = tmp_path / slug
    run = run_dag(dags[slug], {"destination": str(dest), "targets_per_batch": 3})

    assert str(run.state) == "success", task_states(run)
    expected = expected_files(standins, mission=MISSIONS[slug])
    assert expected and local_files(dest) == expected  # Kepler's .tar bundles and TESS's fast-lc files stay away
    result = summary(run)
    assert (result["mission"], result["copied"], result["failed"]) == (MISSIONS[slug], len(expected), 0)
    files = read_local_catalog(dest)
    assert sorted(files["source_key"]) == sorted(expected) and set(files["mission"]) == {MISSIONS[slug]}
    assert dict(zip(files["source_key"], files["sha256"], strict=True)) == {
        k: sha256_hex(v) for k, v in expected.items()}
    by_key = {f.key: f for h in hosts(standins, slug) for f in h.files}
    assert [(r.target_id, r.observing_unit) for r in files.itertuples()] == [
        (by_key[k].target_id, by_key[k].unit) for k in files["source_key"]]
    assert files["fits_checksum_verified"].all()
    assert not list(dest.rglob(".*.part-*")) and not list(dest.rglob("*.tar"))


def test_kepler_and_tess_labels_are_the_archives(dags, standins, tmp_path):
    run_dag(dags["kepler"], {"destination": str(tmp_path)})
    run_dag(dags["tess"], {"destination": str(tmp_path)})  # one catalog for both missions

    targets = read_local_catalog(tmp_path, "targets").set_index(["mission", "target_id"])
    assert targets.loc[("Kepler", 11904151), ["target", "disposition", "objects"]].tolist() == [
        "Kepler-10", "CONFIRMED", "K00072.01 (Kepler-10 b), K00072.02 (Kepler-10 c)"]
    assert targets.loc[("Kepler", 10593626), "target"] == "Kepler-22"
    assert targets.loc[("TESS", 261136679), ["target", "disposition", "objects"]].tolist() == [
        "TOI-144", "CP", "TOI-144.01"]
    assert targets.loc[("TESS", 410153553), ["target", "disposition"]].tolist() == ["TOI-136", "CP"]
    labelled = read_labelled_files(str(tmp_path))
    assert set(labelled["mission"]) == {"Kepler", "TESS"} and labelled["disposition"].notna().all()
    assert len(labelled) == len(expected_files(standins, mission="Kepler")) + len(
        expected_files(standins, mission="TESS"))


@pytest.mark.parametrize("slug", ["kepler", "tess"])
def test_s3_destination_is_copied_server_side_byte_for_byte_and_a_rerun_moves_nothing(dags, standins, slug):
    bucket = f"{slug}-bucket"
    standins.s3.create_bucket(bucket)
    standins.s3.request_log.clear()
    conf = {"destination": f"s3://{bucket}/mirror"}

    run = run_dag(dags[slug], conf)

    assert str(run.state) == "success", task_states(run)
    requests = list(standins.s3.request_log)  # the run's, before the test reads the bucket
    light_curve_gets = [r for r in requests if r["method"] == "GET" and r["path"].endswith(".fits")]
    assert light_curve_gets == [], "a server-side copy reads no light-curve byte through the worker"
    assert not any(".tar" in (r["copy_source"] or "") + r["path"] for r in requests), "never a Kepler bundle"
    expected = expected_files(standins, mission=MISSIONS[slug])
    assert s3_files(standins, bucket, "mirror") == expected
    assert summary(run)["bytes_through_worker"] == 0

    standins.s3.reset_counters()
    rerun = summary(run_dag(dags[slug], conf))
    refresh = summary(run_dag(dags[slug], {**conf, "full_refresh": True}))
    assert (rerun["copied"], rerun["targets_planned"]) == (0, 0)
    assert (refresh["copied"], refresh["already_present"], refresh["bytes_through_worker"]) == (0, len(expected), 0)
    moved = [r for r in standins.s3.request_log if r["method"] != "HEAD" and "/_catalog/" not in r["path"]
             and "/_catalog/" not in r["query"]]  # the catalog's Delta log is listed: ?list-type=2&prefix=...
    assert moved == [], "the reruns read, wrote or copied light curves"


@pytest.mark.parametrize(("slug", "given", "stars", "unresolved"), [
    ("kepler", ["Kepler-10", "10593626", "KOI-6", "Kepler-9999"], ["Kepler-10", "Kepler-22", "KOI-6"],
     ["Kepler-9999"]),
    ("kepler", ["KIC 11904151", "K00005.01"], ["Kepler-10", "KOI-5"], []),
    ("tess", ["pi Men", "TIC 410153553", "TOI-4452", "TOI-99999"], ["pi Men", "LHS 3844", "TOI-4452"],
     ["TOI-99999"]),
    ("tess", ["261136679", "TOI-144"], ["pi Men"], []),
])
def test_targets_param_takes_ids_and_names_without_the_full_list(dags, standins, tmp_path, slug, given, stars,
                                                                 unresolved):
    standins.tap.reset_counters()
    run = run_dag(dags[slug], {"destination": str(tmp_path), "targets": given})

    assert str(run.state) == "success", task_states(run)
    assert local_files(tmp_path) == expected_files(standins, stars, mission=MISSIONS[slug])
    assert summary(run)["not_found"] == unresolved
    assert all(" in (" in q or " = " in q or " like " in q for q in standins.tap.queries), standins.tap.queries


@pytest.mark.parametrize(("slug", "unknown", "known"), [
    ("kepler", "KIC 1234567", "Kepler-10"), ("tess", "TIC 99999999", "pi Men")])
def test_an_unknown_id_is_reported_and_the_rest_land(dags, standins, tmp_path, slug, unknown, known):
    run = run_dag(dags[slug], {"destination": str(tmp_path), "targets": [unknown, known]})

    assert str(run.state) == "success", task_states(run)
    assert summary(run)["not_found"] == [unknown]
    assert local_files(tmp_path) == expected_files(standins, [known], mission=MISSIONS[slug])
    assert targets_table(tmp_path).loc[int(unknown.split()[-1]), "status"] == cat.NOT_FOUND


@pytest.mark.parametrize(("slug", "dispositions", "positives"), [
    ("k2", ["CONFIRMED", "CANDIDATE"], ["CONFIRMED"]),
    ("kepler", ["CONFIRMED", "CANDIDATE", "FALSE POSITIVE"], ["CONFIRMED"]),
    ("tess", ["CP", "KP", "PC", "FP"], ["CP", "KP"]),
])
def test_dispositions_add_candidates_and_false_positives_with_their_labels(dags, standins, tmp_path, slug,
                                                                           dispositions, positives):
    mission = {"k2": "K2", **MISSIONS}[slug]
    run = run_dag(dags[slug], {"destination": str(tmp_path), "dispositions": dispositions})

    assert str(run.state) == "success", task_states(run)
    chosen = [h for h in standins.universe.hosts_with(mission, dispositions) if h.known_to_mast]
    assert local_files(tmp_path) == expected_files(standins, [h.hostname for h in chosen], mission=mission)
    labels = targets_table(tmp_path)["disposition"]
    negatives = [h for h in chosen if not h.has_disposition(*positives)]
    assert negatives, "the stand-ins hold candidates and false positives"
    for host in negatives:
        assert labels[host.target_id] in dispositions and labels[host.target_id] not in positives
    for host in chosen:  # a star with a planet is labelled so, whatever else it has
        best = next((d for d in positives if host.has_disposition(d)), None)
        assert best is None or labels[host.target_id] == best


def test_a_kepler_quarter_in_two_files_lands_whole_and_both_are_catalogued_as_quarter_4(dags, standins, tmp_path):
    universe = standins.universe
    host = universe.host_by_name("Kepler-10")
    split = {f.key: f for f in host.light_curves() if f.unit == 4}
    bundle = next(f for f in host.files if f.kind == "bundle")
    with tarfile.open(fileobj=io.BytesIO(universe.fits_bytes(bundle))) as tar:
        assert set(tar.getnames()) >= {f.filename for f in split.values()}  # the .tar holds both
    listed = find(standins, "kepler", [host]).files
    assert len(split) == 2 and sorted(f.source_key for f in listed if f.unit == 4) == sorted(split)

    run = run_dag(dags["kepler"], {"destination": str(tmp_path), "targets": ["Kepler-10"]})

    assert str(run.state) == "success", task_states(run)
    landed = local_files(tmp_path)
    assert {key: landed.get(key) for key in split} == {key: universe.fits_bytes(f) for key, f in split.items()}
    assert [fits.getval(tmp_path / key, "QUARTER") for key in sorted(split)] == [4, 4]
    catalog = read_local_catalog(tmp_path).set_index("source_key")
    assert catalog.loc[sorted(split), "observing_unit"].tolist() == [4, 4]
    assert catalog.loc[sorted(split), "sha256"].tolist() == [sha256_hex(landed[key]) for key in sorted(split)]
    assert not any(key.endswith(".tar") for key in landed)


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_sources_uploaded_in_parts_are_copied_byte_for_byte(dags, standins, tmp_path, kind):
    """pi Men's 2-minute light curves were uploaded in one part (ETag ``<md5>-1``), its 20-second ones (12 MB) in
    three: each lands whole, locally (read in chunks) and in S3 (a server-side copy pinned to that ETag)."""
    expected = expected_files(standins, ["pi Men"], mission="TESS", include_fast=True)
    etags = {key: standins.s3.etag(key) for key in expected}
    assert {etag.rsplit("-", 1)[1] for etag in etags.values()} == {"1", "3"}
    if kind == "s3":
        standins.s3.create_bucket("parts-bucket")
    destination = str(tmp_path) if kind == "local" else "s3://parts-bucket/tess"
    standins.s3.request_log.clear()

    run = run_dag(dags["tess"], {"destination": destination, "targets": ["pi Men"], "include_fast_cadence": True})

    assert str(run.state) == "success", task_states(run)
    landed = local_files(tmp_path) if kind == "local" else s3_files(standins, "parts-bucket", "tess")
    assert landed == expected
    catalog = read_local_catalog(tmp_path) if kind == "local" else s3_catalog_table(standins, "parts-bucket", "tess")
    assert dict(zip(catalog["source_key"], catalog["sha256"], strict=True)) == {
        key: sha256_hex(content) for key, content in expected.items()}
    if kind == "s3":
        pins = {unquote(r["copy_source"]).lstrip("/").split("/", 1)[1]: r["copy_source_if_match"]
                for r in standins.s3.request_log if r["copy_source"]}
        assert pins == {key: f'"{etag}"' for key, etag in etags.items()}


def test_an_unknown_disposition_is_refused_naming_the_allowed_ones(dags, standins, tmp_path):
    from airflow.sdk.definitions.param import ParamValidationError

    with pytest.raises(ParamValidationError, match=r"'CONFIRMED' is not one of \['CP', 'KP', 'PC', 'APC', 'FP'"):
        run_dag(dags["tess"], {"destination": str(tmp_path), "dispositions": ["CONFIRMED"]})
    assert not tmp_path.joinpath("tess").exists()


def test_tess_fast_cadence_is_opt_in(dags, standins, tmp_path):
    run = run_dag(dags["tess"], {"destination": str(tmp_path), "include_fast_cadence": True})

    assert str(run.state) == "success", task_states(run)
    expected = expected_files(standins, mission="TESS", include_fast=True)
    fast = [k for k in expected if k.endswith("-a_fast-lc.fits")]
    assert fast and local_files(tmp_path) == expected
    assert set(read_local_catalog(tmp_path)["source_key"]) == set(expected)


def test_a_tess_backfill_day_picks_up_the_new_sector_of_a_star_that_was_complete(dags, standins, tmp_path):
    """MAST shows nothing before its release: first a full run before the new sectors, then each day's run."""
    confirmed = standins.universe.confirmed_hosts(mission="TESS")
    new_sectors = {f.key: f for h in confirmed for f in h.light_curves() if f.released >= mjd(_midnight(FIRST_DAY))}
    day = min(_day_of(f.released) for f in new_sectors.values())
    released_that_day = {k for k, f in new_sectors.items() if _day_of(f.released) == day}
    standins.mast.release_cutoff_mjd = mjd(_midnight(FIRST_DAY))
    first = summary(run_dag(dags["tess"], {"destination": str(tmp_path)}))
    before = targets_table(tmp_path)
    had = expected_files(standins, mission="TESS")
    assert first["copied"] == len(had) - len(new_sectors) and not set(new_sectors) & set(local_files(tmp_path))
    star = new_sectors[next(iter(released_that_day))].target_id
    assert before.loc[star, "status"] == cat.COMPLETE

    standins.mast.release_cutoff_mjd = mjd(_midnight(day + timedelta(days=1)))  # the day is over
    run = run_dag_for_interval(dags["tess"], {"destination": str(tmp_path)},
                               datetime(day.year, day.month, day.day), run_type="backfill")

    assert str(run.state) == "success", task_states(run)
    result = summary(run)
    assert result["copied"] == len(released_that_day) and result["failed"] == 0
    assert set(local_files(tmp_path)) == (set(had) - set(new_sectors)) | released_that_day
    after = targets_table(tmp_path)
    assert after.loc[star, "status"] == cat.COMPLETE
    assert after.loc[star, "files"] == before.loc[star, "files"] + sum(
        1 for k in released_that_day if new_sectors[k].target_id == star)
    assert set(after["status"]) <= {cat.COMPLETE, cat.NOT_FOUND}, "no target left pending"


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _day_of(released_mjd: float) -> date:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(days=released_mjd - 40587.0)).date()
