"""The catalog's typed API: the status rules as pure functions, the records, and the Catalog methods that read and
record them (filters pushed down to the Delta tables)."""

from __future__ import annotations

import dataclasses
import typing
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lightcurve_ingest.domain import catalog as cat
from lightcurve_ingest.domain import target_status as ts
from lightcurve_ingest.domain.catalog import Catalog
from lightcurve_ingest.domain.catalog_records import CatalogFile, ObjectState, TargetState, TargetStatus
from lightcurve_ingest.domain.copying import ADOPTED, COPIED, FAILED, PRESENT, CopyResult
from lightcurve_ingest.domain.missions import get_mission
from lightcurve_ingest.domain.payloads import LightCurveFile, Target
from lightcurve_ingest.storage.backends import open_storage
from lightcurve_ingest.storage.destination import parse_destination

K2, TESS = get_mission("k2"), get_mission("tess")
AT = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
S = TargetStatus
LEGACY = Path(__file__).parent / "fixtures" / "k2ingest_catalog"


# --- the status rules ----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("found", "files", "failed", "released_only", "status"), [
    (True, 3, False, False, S.COMPLETE),
    (True, 3, True, False, S.INCOMPLETE),  # a file failed: the next run takes it again
    (False, 0, False, False, S.NOT_FOUND),
    (False, 2, False, False, S.NOT_FOUND),  # MAST lists nothing of it now, whatever the catalog holds
    (True, 0, False, True, S.NOT_FOUND),  # asked for a window's releases and has no file at all
    (True, 2, False, True, S.COMPLETE),  # nothing new in the window: keeps what it had
    (True, 0, True, True, S.NOT_FOUND),
])
def test_a_targets_status_after_its_batch(found, files, failed, released_only, status):
    assert ts.status_after_batch(found=found, files=files, failed=failed, released_only=released_only) is status


@pytest.mark.parametrize(("before", "after_complete"), [
    (None, S.MIRRORED),  # new to the catalog: only mirror runs follow it
    (S.MIRRORED, S.MIRRORED),
    (S.COMPLETE, S.COMPLETE),
    (S.NOT_FOUND, S.COMPLETE),  # the bucket has its files after all
    (S.PENDING, S.PENDING),  # a run of targets is on it: that run decides
    (S.INCOMPLETE, S.INCOMPLETE),
])
def test_mirroring_a_star_keeps_the_status_the_other_modes_gave_it(before, after_complete):
    assert ts.status_after_mirror(S.COMPLETE, before) is after_complete
    assert ts.status_after_mirror(S.INCOMPLETE, before) is S.INCOMPLETE  # a failed file, whatever it was


def test_the_status_groups_the_windowed_runs_use():
    assert ts.UNFINISHED == {S.PENDING, S.INCOMPLETE}
    assert ts.WATCHED_FOR_RELEASES == {S.COMPLETE, S.NOT_FOUND}
    assert not (ts.UNFINISHED | ts.WATCHED_FOR_RELEASES) & {S.MIRRORED}


def _file(target_id: int, name: str, unit: int | None = 1) -> LightCurveFile:
    key = f"k2/public/lightcurves/c{unit}/{target_id}/{name}.fits"
    return LightCurveFile(mission="K2", target_id=target_id, target=f"K2-{target_id % 1000}", unit=unit,
                          source_key=key, data_uri=f"mast:K2/{key}", mast_size=2880, obs_id=name, obsid="9",
                          product_filename=f"{name}.fits", product="K2", cadence_s=1800.0)


def _result(file: LightCurveFile, status: str) -> CopyResult:
    return CopyResult(file=file, status=status, destination_uri=f"file:///d/{file.source_key}",
                      size=0 if status == FAILED else 2880, sha256="ab" * 32, fits_checksum=status != FAILED,
                      method={COPIED: "download", ADOPTED: "adopted", PRESENT: "skipped", FAILED: ""}[status],
                      error="HTTP 503" if status == FAILED else "")


def test_a_batchs_states_count_the_files_recorded_before_and_its_own_that_did_not_fail():
    a, b, c = Target(201000001, "K2-1", "CONFIRMED", ("K2-1 b",)), Target(201000002), Target(201000003)
    a_old, a_new, b_bad = _file(a.target_id, "a1"), _file(a.target_id, "a2"), _file(b.target_id, "b1")
    results = [_result(a_old, PRESENT), _result(a_new, COPIED), _result(b_bad, FAILED)]
    recorded = {a.target_id: {f"file:///d/{a_old.source_key}", "file:///d/k2/earlier.fits"}}

    states = ts.batch_states(K2, [a, b, c], results, recorded, "run1", AT, not_found={c.target_id})

    assert [(s.target_id, s.status, s.files) for s in states] == [
        (a.target_id, S.COMPLETE, 3), (b.target_id, S.INCOMPLETE, 0), (c.target_id, S.NOT_FOUND, 0)]
    assert states[0] == TargetState(mission="K2", target_id=a.target_id, target="K2-1", disposition="CONFIRMED",
                                    objects=("K2-1 b",), status=S.COMPLETE, files=3, run_id="run1", updated_at=AT)
    assert states[1].target == "EPIC 201000002", "a target without a host name is labelled by its id"


def test_a_release_window_batch_leaves_a_target_without_files_not_found():
    kept, empty = Target(201000001), Target(201000002)
    states = ts.batch_states(K2, [kept, empty], [], {kept.target_id: {"file:///d/k2/old.fits"}}, "r", AT,
                             released_only=True)
    assert [(s.status, s.files) for s in states] == [(S.COMPLETE, 1), (S.NOT_FOUND, 0)]


def test_a_shards_stars_are_mirrored_unless_another_mode_knows_them():
    stars = [Target(201000000 + i) for i in range(1, 6)]
    results = [_result(_file(s.target_id, f"f{s.target_id}"), COPIED) for s in stars[:4]]
    results.append(_result(_file(stars[4].target_id, "bad"), FAILED))
    before = {stars[1].target_id: S.NOT_FOUND, stars[2].target_id: S.PENDING, stars[3].target_id: S.COMPLETE}

    states = ts.mirror_states(K2, stars, results, {}, before, "m", AT)

    assert [s.status for s in states] == [S.MIRRORED, S.COMPLETE, S.PENDING, S.COMPLETE, S.INCOMPLETE]
    assert [s.files for s in states] == [1, 1, 1, 1, 0]


def test_only_copied_and_adopted_files_are_recorded_with_every_column():
    files = [_file(201000001, n, unit=None if n == "c" else 5) for n in "abcd"]
    results = [_result(files[0], COPIED), _result(files[1], PRESENT), _result(files[2], ADOPTED),
               _result(files[3], FAILED)]
    recorded = ts.recorded_files(results, "run9", AT)
    assert [r.source_key for r in recorded] == [files[0].source_key, files[2].source_key]
    assert recorded[1] == CatalogFile(
        destination_uri=f"file:///d/{files[2].source_key}", mission="K2", target_id=201000001, target="K2-1",
        observing_unit=None, source_key=files[2].source_key, data_uri=files[2].data_uri, obs_id="c", obsid="9",
        product_filename="c.fits", mast_size=2880, size=2880, sha256="ab" * 32, fits_checksum_verified=True,
        copy_method="adopted", ingested_at=AT, run_id="run9", product="K2", cadence_s=1800.0, source="bucket",
        fits_checksum="verified")


# --- the records and the tables ------------------------------------------------------------------------------

ARROW_TYPE = {int: "int64", bool: "bool", datetime: "timestamp[us, tz=UTC]", str: "string", float: "double"}


@pytest.mark.parametrize(("record", "table"), [(CatalogFile, cat.FILES_TABLE), (TargetState, cat.TARGETS_TABLE),
                                               (ObjectState, cat.OBJECTS_TABLE)])
def test_each_record_has_its_tables_columns_in_order_and_their_types(record, table):
    hints = typing.get_type_hints(record)
    assert [f.name for f in dataclasses.fields(record)] == cat.COLUMNS[table]
    stored = {int: int, int | None: int, bool: bool, datetime: datetime, str: str, tuple[str, ...]: str,
              TargetStatus: str, float: float, float | None: float}
    for field in cat.schema(table):
        assert str(field.type) == ARROW_TYPE[stored[hints[field.name]]], field.name


def _catalog(path: Path) -> Catalog:
    return Catalog(open_storage(parse_destination(str(path))))


def file_record(i: int, *, mission: str = "K2", target_id: int = 201000001, unit: int | None = 1,
                run_id: str = "run1", at: datetime = AT) -> CatalogFile:
    key = f"{mission.lower()}/{target_id}/{i}.fits"
    return CatalogFile(destination_uri=f"file:///d/{key}", mission=mission, target_id=target_id,
                       target=f"{mission} {target_id}", observing_unit=unit, source_key=key, data_uri=f"mast:{key}",
                       obs_id=f"obs{i}", obsid=str(i), product_filename=f"{i}.fits", mast_size=2880 + i,
                       size=2880 + i, sha256=f"{i:064x}", fits_checksum_verified=bool(i % 2), copy_method="download",
                       ingested_at=at, run_id=run_id, product=mission, cadence_s=1800.0, source="bucket",
                       fits_checksum="verified" if i % 2 else "absent")


def state_record(target_id: int, status: TargetStatus, *, mission: str = "K2", files: int = 1,
                 objects: tuple[str, ...] = ()) -> TargetState:
    return TargetState(mission=mission, target_id=target_id, target=f"{mission} {target_id}", disposition="",
                       objects=objects, status=status, files=files, run_id="run1", updated_at=AT)


def test_recorded_records_read_back_equal_with_none_kept_as_none(tmp_path):
    catalog = _catalog(tmp_path)
    files = [file_record(1), file_record(2, unit=None), file_record(3, mission="TESS", target_id=261136679)]
    states = [state_record(201000001, S.COMPLETE, files=2, objects=("K2-1 b", "K2-1 c")),
              state_record(261136679, S.MIRRORED, mission="TESS")]

    assert catalog.record(files, states) == 3

    assert sorted(catalog.files(), key=lambda f: f.destination_uri) == sorted(files, key=lambda f: f.destination_uri)
    assert sorted(catalog.target_states(), key=lambda s: s.mission) == states
    unknown = [f for f in catalog.files() if f.source_key == files[1].source_key][0]
    assert unknown.observing_unit is None
    assert all(type(s.status) is TargetStatus for s in catalog.target_states())


def test_recording_a_file_again_updates_it_and_counts_no_new_file(tmp_path):
    catalog = _catalog(tmp_path)
    catalog.record([file_record(1), file_record(2)], [state_record(201000001, S.PENDING, files=0)])
    again = dataclasses.replace(file_record(1, run_id="run2"), copy_method="adopted")

    assert catalog.record([again, file_record(3)], [state_record(201000001, S.COMPLETE, files=3)]) == 1

    assert {f.source_key: f.run_id for f in catalog.files()} == {"k2/201000001/1.fits": "run2",
                                                                 "k2/201000001/2.fits": "run1",
                                                                 "k2/201000001/3.fits": "run1"}
    assert [(s.status, s.files) for s in catalog.target_states("K2")] == [(S.COMPLETE, 3)]


def test_files_are_filtered_by_mission_targets_and_runs(tmp_path):
    catalog = _catalog(tmp_path)
    catalog.record([file_record(i, mission=("K2", "TESS")[i % 2], target_id=201000000 + i % 3,
                                run_id=f"run{i % 4}") for i in range(24)])

    def keys(files: list[CatalogFile]) -> list[int]:
        return sorted(int(Path(f.source_key).stem) for f in files)

    assert keys(catalog.files("TESS")) == [i for i in range(24) if i % 2]
    assert keys(catalog.files(run_ids={"run1", "run2"})) == [i for i in range(24) if i % 4 in (1, 2)]
    assert keys(catalog.files("K2", target_ids=[201000001], run_ids=["run0"])) == [
        i for i in range(24) if i % 2 == 0 and i % 3 == 1 and i % 4 == 0]
    assert catalog.files("Kepler") == [] and catalog.files(target_ids=[]) == []
    assert catalog.recorded_sizes("K2", [201000001, 201000002, 201009999]) == {
        201000000 + t: {f"file:///d/k2/{201000000 + t}/{i}.fits": 2880 + i for i in range(24)
                        if i % 2 == 0 and i % 3 == t} for t in (1, 2)}


def test_filters_read_only_the_partitions_and_files_that_can_hold_their_rows(tmp_path):
    """The proof that filters reach the table: the Parquet files they rule out are unreadable, yet the reads
    that rule them out succeed."""
    catalog = _catalog(tmp_path)
    catalog.record([file_record(i, mission="TESS", target_id=100 + i) for i in range(3)])  # one file of TESS
    catalog.record([file_record(i, target_id=201000001) for i in range(3)])  # K2, one target
    catalog.record([file_record(i, target_id=201000500) for i in range(3, 6)])  # K2, another target range
    catalog.record(states=[state_record(100, S.COMPLETE, mission="TESS"), state_record(201000001, S.COMPLETE)])
    for damaged in [*tmp_path.glob("_catalog/*/mission=TESS/*.parquet"), _data_file_of(tmp_path, 201000001)]:
        damaged.write_bytes(b"not parquet")

    assert len(catalog.files("K2", target_ids=[201000500])) == 3
    assert catalog.recorded_sizes("K2", [201000500]).keys() == {201000500}
    assert [s.target_id for s in catalog.target_states("K2")] == [201000001]
    with pytest.raises(Exception, match="(?i)parquet"):
        catalog.files()  # what an unfiltered read would have met


def _data_file_of(root: Path, target_id: int) -> Path:
    """The K2 data file of the files table that holds the rows of ``target_id``."""
    import pyarrow.parquet as pq

    for path in root.glob("_catalog/files/mission=K2/*.parquet"):
        if target_id in pq.read_table(path, columns=["target_id"])["target_id"].to_pylist():
            return path
    raise AssertionError(f"no data file holds {target_id}")


def test_an_empty_destination_reads_as_no_records(tmp_path):
    catalog = _catalog(tmp_path)
    assert catalog.files() == [] and catalog.target_states("K2") == []
    assert catalog.recorded_sizes("K2", [201000001]) == {}
    assert not (tmp_path / "_catalog").exists()


def test_a_first_release_catalog_reads_as_records_before_its_first_commit(tmp_path):
    import pandas as pd

    (tmp_path / "_catalog").mkdir()
    for table in ("files", "targets"):
        (tmp_path / "_catalog" / f"{table}.parquet").write_bytes((LEGACY / f"{table}.parquet").read_bytes())
    old_files, old_targets = (pd.read_parquet(LEGACY / f"{t}.parquet") for t in ("files", "targets"))
    catalog = _catalog(tmp_path)

    files = catalog.files("K2")
    states = catalog.target_states("K2", old_targets["epic_id"].tolist()[:2])

    assert sorted(f.destination_uri for f in files) == sorted(old_files["destination_uri"])
    first = old_files.iloc[0]
    record = next(f for f in files if f.destination_uri == first["destination_uri"])
    assert (record.target_id, record.observing_unit, record.size) == (first["epic_id"], first["campaign"],
                                                                      first["size"])
    assert [(s.target_id, s.target, s.status, s.disposition, s.objects) for s in states] == [
        (int(r.epic_id), r.hostname, TargetStatus(r.status), "", ()) for r in old_targets.iloc[:2].itertuples()]


def test_of_two_racing_appends_of_one_file_the_newer_is_read(tmp_path):
    from deltalake import write_deltalake

    catalog = _catalog(tmp_path)
    catalog.record([file_record(1, run_id="first")])
    later = file_record(1, run_id="second", at=AT + timedelta(minutes=1))
    write_deltalake(str(tmp_path / "_catalog" / "files"), cat._arrow(cat.frame(cat.FILES_TABLE, [later.row()]),
                                                                     cat.FILES_TABLE), mode="append")
    assert [f.run_id for f in catalog.files()] == ["second"]
    assert catalog.recorded_sizes("K2", [201000001]) == {201000001: {later.destination_uri: later.size}}


def test_a_status_the_enum_does_not_know_is_refused_naming_it(tmp_path):
    catalog = _catalog(tmp_path)
    catalog.upsert(cat.TARGETS_TABLE, [{**state_record(201000001, S.COMPLETE).row(), "status": "done"}])
    with pytest.raises(ValueError, match="status 'done' of K2 201000001"):
        catalog.target_states("K2")


# --- readers ---------------------------------------------------------------------------------------------------

def test_labelled_records_and_frame_join_each_file_with_its_targets_labels(tmp_path):
    from lightcurve_ingest.domain.labelled_files import LABELS, labelled_frame, labelled_records

    catalog = _catalog(tmp_path)
    labelled_state = dataclasses.replace(state_record(201000001, S.COMPLETE, objects=("K2-1 b",)),
                                         disposition="CONFIRMED")
    catalog.record([file_record(1), file_record(2, target_id=201000002, unit=None, run_id="run2")], [labelled_state])

    records = {r.file.target_id: r for r in labelled_records(catalog)}
    assert (records[201000001].disposition, records[201000001].objects) == ("CONFIRMED", ("K2-1 b",))
    assert (records[201000002].disposition, records[201000002].objects) == ("", ())  # no state committed
    assert [r.file.run_id for r in labelled_records(catalog, {"run2"})] == ["run2"]

    frame = labelled_frame(records.values())
    assert list(frame.columns) == [*cat.FILE_COLUMNS, *LABELS]
    frame = frame.set_index("target_id")
    assert frame.loc[201000001, "objects"] == "K2-1 b" and frame.loc[201000002, "disposition"] == ""
    assert frame["observing_unit"].isna().tolist() == [False, True]


def test_missing_plots_are_the_undrawn_files_of_the_requests_runs(tmp_path):
    from lightcurve_ingest.domain.labelled_files import labelled_records
    from lightcurve_ingest.tasks import quicklook as qt

    catalog = _catalog(tmp_path)
    catalog.record([file_record(1), file_record(2, unit=None), file_record(3, run_id="other")],
                   [dataclasses.replace(state_record(201000001, S.COMPLETE), disposition="CANDIDATE")])
    storage = catalog.storage
    drawn = qt.png_key(file_record(1).source_key)
    (tmp_path / drawn).parent.mkdir(parents=True)
    (tmp_path / drawn).write_bytes(b"png")

    jobs = qt.missing_plots(qt.PlotRequest(str(tmp_path), "aws_default", frozenset({"run1"})), storage)

    assert [(j.source_key, j.observing_unit, j.disposition) for j in jobs] == [
        (file_record(2).source_key, None, "CANDIDATE")]
    rows = qt.gallery_rows(labelled_records(catalog), storage.keys(qt.QUICKLOOK_DIR))
    assert [(r.target_label, r.disposition, [p.unit for p in r.plots]) for r in rows] == [
        ("EPIC 201000001", "CANDIDATE", [1])]
