"""Scheduled, backfill and manual runs: incremental windows, the catalog, crash recovery and the Asset."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path

import pendulum
import pytest

from lightcurve_ingest.domain import catalog as cat
from lightcurve_ingest.domain.copying import Copier
from lightcurve_ingest.domain.missions import get_mission
from lightcurve_ingest.storage.destination import parse_destination
from lightcurve_ingest.tasks.ingest import RunInfo, find_light_curves, plan_targets
from lightcurve_ingest.wiring.connections import services_from_connections
from lightcurve_ingest.wiring.consumer import open_catalog
from tests.helpers import (
    expected_files,
    local_files,
    read_local_catalog,
    run_dag,
    run_dag_for_interval,
    s3_catalog_table,
    sha256_hex,
    summary,
    task_states,
)

pytestmark = pytest.mark.slow  # the DAG under dag.test()

FIRST_DAY = date(2026, 11, 20)  # build_universe's default start: rowupdates spread over 5 days from here


def assert_catalog_matches_destination(root: Path) -> None:
    files = local_files(root)
    table = read_local_catalog(root)
    assert table["destination_uri"].is_unique
    assert sorted(table["source_key"]) == sorted(files)
    for row in table.itertuples():
        content = files[row.source_key]
        assert (row.size, row.sha256) == (len(content), sha256_hex(content))


def day_run(dag, day: date, conf: dict, run_type: str = "scheduled"):  # noqa: ANN001, ANN201
    """The run the scheduler (or a backfill) creates for ``day``: logical date ``day``, interval [day, day + 1)."""
    return run_dag_for_interval(dag, conf, datetime(day.year, day.month, day.day), run_type)


def test_scheduled_windows_are_adjacent_daily_intervals(ingest_dag):
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    timetable = coerce_to_core_timetable(ingest_dag.timetable)
    restriction = TimeRestriction(earliest=pendulum.datetime(2026, 11, 20, tz="UTC"), latest=None, catchup=True)
    interval, windows = None, []
    for _ in range(5):
        info = timetable.next_dagrun_info(last_automated_data_interval=interval, restriction=restriction)
        interval = info.data_interval
        windows.append((interval.start, interval.end))
    for (start, end), (next_start, _) in zip(windows, windows[1:], strict=False):
        assert end - start == timedelta(days=1)
        assert next_start == end  # no gap, no overlap


def test_backfill_runs_of_consecutive_days_process_each_days_targets_exactly_once(ingest_dag, standins, tmp_path):
    universe = standins.universe
    done: set[str] = set()
    first_run_of: dict[int, str] = {}
    for offset in range(5):
        day = FIRST_DAY + timedelta(days=offset)
        standins.tap.reset_counters()
        run = day_run(ingest_dag, day, {"destination": str(tmp_path)}, run_type="backfill")
        result = summary(run)
        assert str(run.state) == "success", task_states(run)
        assert (str(run.run_type), run.data_interval_start.date()) == ("backfill", day)

        todays = {h.hostname for h in universe.confirmed_hosts(day) if h.known_to_mast} - done
        assert result["targets_planned"] == len(todays) + len(
            [h for h in universe.confirmed_hosts(day) if not h.known_to_mast])
        assert result["copied"] == sum(len(universe.host_by_name(n).files) for n in todays)
        assert any(f"rowupdate >= '{day.isoformat()}'" in q for q in standins.tap.queries)
        done |= todays
        first_run_of |= {universe.host_by_name(n).target_id: run.run_id for n in todays}
        assert local_files(tmp_path) == expected_files(standins, sorted(done))
        assert_catalog_matches_destination(tmp_path)
    assert local_files(tmp_path) == expected_files(standins)
    table = read_local_catalog(tmp_path)
    assert dict(zip(table["target_id"], table["run_id"], strict=True)) == first_run_of  # each file once, by its day


def test_rerunning_an_interval_changes_nothing(ingest_dag, standins, tmp_path):
    day = FIRST_DAY + timedelta(days=1)
    first = summary(day_run(ingest_dag, day, {"destination": str(tmp_path)}))
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    again = summary(day_run(ingest_dag, day, {"destination": str(tmp_path)}))
    assert first["copied"] > 0 and again["copied"] == 0 and again["bytes_through_worker"] == 0
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*") if p.suffix == ".fits"} == {
        p: m for p, m in before.items() if p.suffix == ".fits"}


def test_manual_run_with_a_logical_date_and_no_targets_takes_every_missing_host(ingest_dag, standins, tmp_path):
    run = run_dag(ingest_dag, {"destination": str(tmp_path)}, logical_date=pendulum.datetime(2026, 11, 22, tz="UTC"))
    assert str(run.state) == "success", task_states(run)
    assert summary(run)["mode"] == "all K2 targets (CONFIRMED)"  # the UI fills a logical date: still everything
    assert local_files(tmp_path) == expected_files(standins)


def test_manual_run_without_logical_date_and_with_targets(ingest_dag, standins, tmp_path):
    host = standins.universe.confirmed_hosts()[2]
    run = run_dag(ingest_dag, {"destination": str(tmp_path), "targets": [host.hostname]})
    assert run.logical_date is None
    assert str(run.state) == "success", task_states(run)
    assert local_files(tmp_path) == expected_files(standins, [host.hostname])


def test_full_refresh_reconciles_a_damaged_destination(ingest_dag, standins, tmp_path):
    summary(run_dag(ingest_dag, {"destination": str(tmp_path)}))
    files = sorted(tmp_path.rglob("*.fits"))
    files[0].unlink()
    files[1].write_bytes(files[1].read_bytes()[:-2880])  # truncated: a different size

    plain = summary(run_dag(ingest_dag, {"destination": str(tmp_path)}))
    assert plain["copied"] == 0  # without full_refresh, complete targets are not asked again
    refresh = summary(run_dag(ingest_dag, {"destination": str(tmp_path), "full_refresh": True}))
    assert refresh["copied"] == 2 and refresh["failed"] == 0
    assert local_files(tmp_path) == expected_files(standins)
    assert_catalog_matches_destination(tmp_path)


def test_run_killed_between_copying_and_recording_is_completed_without_duplicates(ingest_dag, standins, tmp_path):
    params = {"destination": str(tmp_path), "targets_per_batch": 50}
    services, k2 = services_from_connections(), get_mission("k2")
    planned = plan_targets(k2, params, RunInfo(run_id="crashed"), services)  # marks its targets pending
    listing = find_light_curves(k2, planned.batches[0], params, services)
    storage = services.storage(parse_destination(str(tmp_path)), "aws_default")
    copied = Copier(k2, storage, services.source(), cataloged={}).copy_all(listing.files, threads=4)  # then the crash
    assert copied and all(r.status == "copied" for r in copied)
    assert not (tmp_path / "_catalog" / "files").exists()

    result = summary(run_dag(ingest_dag, {"destination": str(tmp_path)}))
    assert result["adopted"] == len(copied) and result["copied"] == 0 and result["bytes_through_worker"] == 0
    assert local_files(tmp_path) == expected_files(standins)
    assert_catalog_matches_destination(tmp_path)
    states = open_catalog(str(tmp_path)).read(cat.TARGETS_TABLE)
    assert set(states["status"]) <= {cat.COMPLETE, cat.NOT_FOUND}


def asset_events_of(run_id: str) -> list:
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        query = select(AssetEvent).join(AssetModel, AssetModel.id == AssetEvent.asset_id).where(
            AssetModel.name == "k2_lightcurve_catalog", AssetEvent.source_run_id == run_id)
        events = session.scalars(query).all()
        session.expunge_all()
        return events


def test_asset_event_only_when_new_files_land_and_the_consumer_reads_them(ingest_dag, standins, tmp_path):
    from lightcurve_ingest.wiring.consumer import new_files_of_events

    first = run_dag(ingest_dag, {"destination": str(tmp_path)})
    first_events = asset_events_of(first.run_id)
    new = new_files_of_events(first_events)
    second = run_dag(ingest_dag, {"destination": str(tmp_path)})

    assert len(first_events) == 1
    assert first_events[0].extra["new_files"] == len(expected_files(standins))
    assert sorted(new["source_key"]) == sorted(expected_files(standins))
    assert asset_events_of(second.run_id) == []
    assert task_states(second)["publish_catalog"] == "skipped"
    assert str(second.state) == "success"


def test_catalog_is_a_delta_table_readable_by_pandas_and_pyarrow(ingest_dag, standins, tmp_path):
    import pyarrow.dataset as ds
    from deltalake import DeltaTable

    summary(run_dag(ingest_dag, {"destination": str(tmp_path)}))
    delta = DeltaTable(str(tmp_path / "_catalog" / "files"))
    table = delta.to_pandas()
    assert list(table.columns) == cat.FILE_COLUMNS and table["destination_uri"].is_unique
    assert table["ingested_at"].notna().all() and (table["run_id"] != "").all()
    assert datetime.now().year >= table["ingested_at"].max().year
    assert delta.metadata().partition_columns == ["mission"]
    k2 = delta.to_pyarrow_dataset().to_table(filter=ds.field("mission") == "K2")  # what DuckDB can scan, too
    assert k2.num_rows == len(table) == len(expected_files(standins))


# --- a catalog written by the first release (k2ingest, K2 only) --------------------------------------------

LEGACY = Path(__file__).parent / "fixtures" / "k2ingest_catalog"  # written by k2ingest at f0b5bcc: see its README


def test_a_k2ingest_catalog_is_read_and_upgraded_on_first_write_losing_no_row(ingest_dag, standins):
    """The fixture is what k2ingest wrote for the stand-ins' 7 confirmed K2 hosts into s3://legacy-bucket/k2."""
    import pandas as pd

    legacy = {table: pd.read_parquet(LEGACY / f"{table}.parquet") for table in ("files", "targets")}
    client = standins.s3.client(signed=True)
    standins.s3.create_bucket("legacy-bucket")
    for key in legacy["files"]["source_key"]:  # the files the old catalog lists, as the old run left them
        client.copy_object(Bucket="legacy-bucket", Key=f"k2/{key}", CopySource={"Bucket": "stpubdata", "Key": key})
    for table in legacy:
        client.put_object(Bucket="legacy-bucket", Key=f"k2/_catalog/{table}.parquet",
                          Body=(LEGACY / f"{table}.parquet").read_bytes())
    conf = {"destination": "s3://legacy-bucket/k2", "full_refresh": True}

    run = run_dag(ingest_dag, conf)

    assert str(run.state) == "success", task_states(run)
    result = summary(run)
    assert (result["copied"], result["adopted"], result["already_present"]) == (0, 0, len(legacy["files"]))
    catalog = open_catalog("s3://legacy-bucket/k2")
    files, targets = catalog.read(cat.FILES_TABLE), catalog.read(cat.TARGETS_TABLE)
    raw = s3_catalog_table(standins, "legacy-bucket", "k2", "targets")
    assert list(raw.columns) == cat.TARGET_COLUMNS, "the first write stores the upgraded layout"
    assert len(raw) == len(legacy["targets"])
    for table in legacy:  # the old single-file tables are left as they were
        old_bytes = client.get_object(Bucket="legacy-bucket", Key=f"k2/_catalog/{table}.parquet")["Body"].read()
        assert old_bytes == (LEGACY / f"{table}.parquet").read_bytes()
    assert list(files.columns) == cat.FILE_COLUMNS and len(files) == len(legacy["files"])
    old = legacy["files"].set_index("destination_uri")
    for row in files.itertuples():  # every old row kept, its values under the neutral names
        before = old.loc[row.destination_uri]
        assert (row.mission, row.target_id, row.observing_unit) == ("K2", before.epic_id, before.campaign)
        assert (row.sha256, row.size, row.run_id) == (before["sha256"], before["size"], before["run_id"])
    before = legacy["targets"].set_index("epic_id")
    assert set(targets["target_id"]) == set(before.index) and set(targets["mission"]) == {"K2"}
    for row in targets.itertuples():
        assert (row.target, row.status, row.files) == tuple(before.loc[row.target_id, ["hostname", "status", "files"]])
    assert (targets["disposition"] == "CONFIRMED").all(), "labels are filled in from the archive"
