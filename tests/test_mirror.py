"""Whole campaigns and sectors mirrored from the bucket's listing (issue 11): params, shards, end-to-end runs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from lightcurve_ingest.domain import catalog as cat
from lightcurve_ingest.domain.mirror import unit_shards
from lightcurve_ingest.domain.missions import get_mission
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.tasks.ingest import RunInfo, plan_shards, plan_targets
from lightcurve_ingest.tasks.params import RunParams
from lightcurve_ingest.wiring.connections import services_from_connections
from tests.helpers import local_files, read_local_catalog, run_dag, run_flow, s3_files, summary, task_states

LISTING_PAGE = 1_000  # keys a ListObjectsV2 reply holds at most


def unit_files(universe, mission: str, unit: int, kinds: tuple[str, ...] = ("lc",)) -> dict:  # noqa: ANN001
    """Key -> file of every light curve the bucket holds for one campaign or sector: hosts' and field stars'."""
    return {f.key: f for f in universe.files + universe.field_files
            if f.mission == mission and f.unit == unit and f.kind in kinds}


def first_field_unit(universe, mission: str) -> int:  # noqa: ANN001
    return next(f.unit for f in universe.field_files if f.mission == mission)


def plan(slug: str, params: dict):  # noqa: ANN201
    """What the DAG's two planning tasks decide, as one plan."""
    mission, services = get_mission(slug), services_from_connections()
    planned = plan_targets(mission, params, RunInfo(run_id="plan"), services)
    return replace(planned, shards=tuple(plan_shards(mission, params, services)))


# --- params and plans -------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("slug", "params", "field", "says"), [
    ("k2", {"campaigns": [25]}, "campaigns", "is not a K2 campaign"),
    ("k2", {"campaigns": ["5"]}, "campaigns", "is not a K2 campaign"),
    ("k2", {"campaigns": []}, "campaigns", "non-empty list"),
    ("k2", {"campaigns": [5], "targets": ["K2-18"]}, "campaigns", "cannot be combined with targets"),
    ("tess", {"sectors": [0]}, "sectors", "is not a TESS sector"),
    ("kepler", {"quarters": [1]}, "quarters", "is not a param"),
])
def test_bad_units_are_refused_naming_the_field(slug, params, field, says):
    with pytest.raises(InvalidInputError) as err:
        RunParams.parse(params, get_mission(slug))
    assert err.value.field == field and says in str(err.value)


def test_a_unit_not_in_the_bucket_is_refused_before_anything_is_listed_or_copied(standins, tmp_path):
    held = first_field_unit(standins.universe, "K2")
    standins.s3.reset_counters()
    for slug, params, says in (("k2", {"campaigns": [held, 9]}, "under c91 and c92"),
                               ("tess", {"sectors": [999]}, "sector 999 is not in the public bucket")):
        with pytest.raises(InvalidInputError) as err:
            plan(slug, {"destination": str(tmp_path), **params})
        assert err.value.field == ("campaigns" if slug == "k2" else "sectors") and says in str(err.value)
    assert standins.s3.requests_by_method["PUT"] == 0 and not local_files(tmp_path)


def test_a_unit_is_cut_into_one_shard_a_folder(standins):
    universe = standins.universe
    for slug, mission, depth in (("k2", "K2", 5), ("tess", "TESS", 6)):
        unit = first_field_unit(universe, mission)
        mission_ = get_mission(slug)
        shards = unit_shards(mission_, mission_.own_product, unit, services_from_connections().source())
        folders = {"/".join(key.split("/")[:depth]) + "/" for key in unit_files(universe, mission, unit)}
        assert sorted(s.prefix for s in shards) == sorted(folders)
        assert len(shards) >= 2 and all(s.unit == unit for s in shards)


def test_a_mirror_plan_carries_shards_not_keys(standins, tmp_path):
    unit = first_field_unit(standins.universe, "K2")
    planned = plan("k2", {"destination": str(tmp_path), "campaigns": [unit]})
    assert not planned.batches and planned.units == [unit] and planned.mode == f"mirror campaigns {unit}"
    assert all(set(s.to_dict()) == {"mission", "unit", "prefix", "label", "product"} for s in planned.shards)
    assert {s.product for s in planned.shards} == {""}  # the mission's own light curves


# --- end to end ----------------------------------------------------------------------------------------------

def test_a_campaign_is_mirrored_with_labels_and_no_decoys_and_a_rerun_copies_nothing(dags, standins, tmp_path):
    universe = standins.universe
    unit = first_field_unit(universe, "K2")
    expected = unit_files(universe, "K2", unit)
    run = run_dag(dags["k2"], {"destination": str(tmp_path), "campaigns": [unit]})
    assert str(run.state) == "success", task_states(run)
    result = summary(run)
    states = task_states(run)
    assert {s for name, s in states.items() if name.startswith("batch.")} == {"skipped"}  # MAST is not asked
    assert sum(name.startswith("mirror_shard[") for name in states) == result["shards"] >= 2

    files = local_files(tmp_path)
    assert files == {key: universe.fits_bytes(f) for key, f in expected.items()}  # no decoy, no other campaign
    assert result["per_unit"] == {str(unit): {
        "shards": result["shards"], "failed_shards": 0, "listed": result["listed"],
        "other_objects": result["listed"] - len(expected), "files_found": len(expected),
        "stars": len({f.target_id for f in expected.values()}), "labelled_stars": result["labelled_stars"],
        "copied": len(expected), "adopted": 0, "already_present": 0, "failed": 0,
        "bytes_copied": sum(len(b) for b in files.values()), "bytes_through_worker": result["bytes_through_worker"],
        "new_files": len(expected)}}

    table = read_local_catalog(tmp_path)
    assert sorted(table["source_key"]) == sorted(expected)
    row = table.iloc[0]
    assert row["data_uri"] == "mast:K2/url/missions/k2/lightcurves/" + row["source_key"].split("lightcurves/")[1]
    assert row["obs_id"] == f"ktwo{row['target_id']}-c{unit:02d}_lc" and row["product_filename"] in row["source_key"]
    targets = read_local_catalog(tmp_path, "targets").set_index("target_id")
    hosts = {f.target_id for f in expected.values()} & {h.target_id for h in universe.hosts_of("K2")}
    assert hosts and result["labelled_stars"] == len(hosts)
    for star in {f.target_id for f in expected.values()}:
        if star in hosts:
            host = universe.host("K2", star)
            assert targets.loc[star, "target"] == host.hostname
            assert targets.loc[star, "disposition"] in {p.disposition for p in host.planets}
        else:
            assert (targets.loc[star, "target"], targets.loc[star, "disposition"]) == (f"EPIC {star}", "")
        assert targets.loc[star, "status"] == cat.MIRRORED  # new to the catalog: the daily runs do not follow it

    again = summary(run_dag(dags["k2"], {"destination": str(tmp_path), "campaigns": [unit]}))
    assert (again["copied"], again["already_present"], again["new_files"]) == (0, len(expected), 0)
    assert local_files(tmp_path) == files


def test_campaigns_mirror_s3_to_s3_server_side_and_a_rerun_copies_nothing_twice(standins):
    universe = standins.universe
    units = sorted({f.unit for f in universe.field_files if f.mission == "K2"})[:2]
    expected = {k: f for u in units for k, f in unit_files(universe, "K2", u).items()}
    standins.s3.create_bucket("mirror-bucket")
    params = {"destination": "s3://mirror-bucket/lc", "campaigns": units}
    standins.s3.reset_counters()
    standins.s3.request_log.clear()
    result = run_flow("k2", params)
    copies = [e for e in standins.s3.request_log if e["method"] == "PUT" and e["copy_source"]]
    source_reads = [e for e in standins.s3.request_log if e["method"] == "GET" and "/stpubdata/" in e["path"]
                    and "list-type" not in e["path"] and e["path"].endswith(".fits")]
    assert (result["copied"], result["failed"], result["bytes_through_worker"]) == (len(expected), 0, 0)
    assert sorted(c["path"].split("/lc/", 1)[1] for c in copies) == sorted(expected)  # one CopyObject a file
    assert not source_reads and standins.s3.requests_by_method["HEAD"] == 0  # the listing gave sizes and ETags
    assert set(result["per_unit"]) == {str(u) for u in units}
    for unit in units:
        assert result["per_unit"][str(unit)]["copied"] == len(unit_files(universe, "K2", unit))
    assert s3_files(standins, "mirror-bucket", "lc") == {k: universe.fits_bytes(f) for k, f in expected.items()}

    standins.s3.request_log.clear()
    again = run_flow("k2", params)
    assert (again["copied"], again["already_present"]) == (0, len(expected))
    assert not [e for e in standins.s3.request_log if e["copy_source"]]


def test_a_shard_folder_longer_than_a_listing_page_is_mirrored_whole_and_listed_whole_at_the_destination(standins):
    """The first field campaign's crowded folder holds over a thousand objects: the light curves sorting after the
    first page of its listing are found, and a destination folder of over a thousand objects is listed whole."""
    universe = standins.universe
    unit = first_field_unit(universe, "K2")
    expected = unit_files(universe, "K2", unit)
    folder = "/".join(next(iter(expected)).split("/")[:5]) + "/"  # k2/public/lightcurves/c<N>/<EPIC[:4]>00000/
    pages = standins.s3.client().get_paginator("list_objects_v2").paginate(Bucket="stpubdata", Prefix=folder)
    listed = [o["Key"] for page in pages for o in page["Contents"]]
    past_first_page = [key for key in listed[LISTING_PAGE:] if key in expected]
    assert past_first_page, "the folder's light curves sort after its first 1,000 keys"
    standins.s3.create_bucket("crowd-bucket")
    params = {"destination": "s3://crowd-bucket/lc", "campaigns": [unit]}
    standins.s3.request_log.clear()

    result = run_flow("k2", params)

    assert (result["copied"], result["failed"]) == (len(expected), 0) and result["listed"] >= len(listed)
    assert any("continuation-token=" in query for query in listings(standins, "stpubdata", folder))
    landed = s3_files(standins, "crowd-bucket", "lc")
    assert landed == {key: universe.fits_bytes(f) for key, f in expected.items()}

    # the whole folder, decoys too, as a sync of it would leave it: the rerun must see the light curves past a page
    others = [(f"lc/{key}", b"another object") for key in listed if key not in expected]
    assert standins.s3.load_directly(others, bucket="crowd-bucket") > LISTING_PAGE
    standins.s3.request_log.clear()
    again = run_flow("k2", params)

    assert (again["copied"], again["already_present"], again["failed"]) == (0, len(expected), 0)
    assert not [r for r in standins.s3.request_log if r["copy_source"]]
    assert any("continuation-token=" in query for query in listings(standins, "crowd-bucket", f"lc/{folder}"))


def listings(standins, bucket: str, prefix: str) -> list[str]:  # noqa: ANN001
    """The query of every ListObjectsV2 request of ``bucket`` below ``prefix`` the S3 stand-in logged."""
    return [r["query"] for r in standins.s3.request_log
            if r["method"] == "GET" and r["path"].rstrip("/") == f"/{bucket}" and f"prefix={prefix}" in r["query"]]


def test_a_sector_mirror_takes_2_minute_light_curves_only_unless_asked(standins, tmp_path):
    universe = standins.universe
    sector = next(f.unit for f in universe.files if f.mission == "TESS" and f.kind == "fast-lc"
                  and f.unit in {g.unit for g in universe.field_files if g.mission == "TESS"})
    result = run_flow("tess", {"destination": str(tmp_path / "lc"), "sectors": [sector]})
    assert local_files(tmp_path / "lc") == {k: universe.fits_bytes(f)
                                            for k, f in unit_files(universe, "TESS", sector).items()}
    assert result["other_objects"] >= 2  # a fast-cadence light curve and a target pixel file at least
    result = run_flow("tess", {"destination": str(tmp_path / "lc"), "sectors": [sector],
                               "include_fast_cadence": True})
    both = unit_files(universe, "TESS", sector, ("lc", "fast-lc"))
    assert result["copied"] == len(both) - len(unit_files(universe, "TESS", sector))
    assert sorted(local_files(tmp_path / "lc")) == sorted(both)


def test_a_shard_logs_its_progress_while_it_works(caplog):
    import logging

    from lightcurve_ingest.tasks.progress import ProgressLog

    caplog.set_level(logging.INFO, logger="lightcurve_ingest.tasks.progress")
    with ProgressLog("campaign 5 2113", total=4, interval=0.05) as progress:
        progress.add(1_000_000)
        # a slow file: lines keep coming while nothing finishes
        wait_for_lines(caplog, "Progress campaign 5 2113: 1/4 files, 1.0 MB, ", count=2)
        progress.add(1_000_000)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) >= 3 and lines[-1].startswith("Done campaign 5 2113: 2/4 files, 2.0 MB, ")
    assert all(" files/s, " in line and " MB/s, " in line for line in lines)


def wait_for_lines(caplog, start: str, count: int, timeout: float = 30.0) -> None:  # noqa: ANN001
    """Wait until ``count`` log lines start with ``start``; fail if ``timeout`` seconds pass first."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        found = [r.getMessage() for r in caplog.records if r.getMessage().startswith(start)]
        if len(found) >= count:
            return
        assert time.monotonic() < deadline, f"{len(found)} of {count} lines {start!r}... in {timeout} s: {found}"
        time.sleep(0.01)


def test_a_mirror_keeps_what_a_targets_run_did(standins, tmp_path):
    universe = standins.universe
    unit = first_field_unit(universe, "K2")
    host = next(h for h in universe.hosts_of("K2") if any(f.unit == unit for f in h.files))
    run_flow("k2", {"destination": str(tmp_path), "targets": [str(host.target_id)]})
    result = run_flow("k2", {"destination": str(tmp_path), "campaigns": [unit]})
    expected = unit_files(universe, "K2", unit)
    assert (result["copied"], result["already_present"]) == (len(expected) - 1, 1)  # the host's file is there
    targets = read_local_catalog(tmp_path, "targets").set_index("target_id")
    assert targets.loc[host.target_id, "status"] == cat.COMPLETE  # the daily runs keep following it
    assert targets.loc[host.target_id, "files"] == len(host.light_curves())  # its other campaigns too
    field = {f.target_id for f in expected.values()} - {host.target_id}
    assert set(targets.loc[sorted(field), "status"]) == {cat.MIRRORED}
