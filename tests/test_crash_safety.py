"""Issue 6, crash safety: a worker killed with SIGKILL half-way through copying loses nothing and leaves
nothing corrupt that could later count as cached; the next run completes the destination exactly.

The worker is a child process running the DAG's flow outside Airflow (``tasks.run_flow``: the same task functions)
with clients built from the stand-ins' Airflow connections; the S3 stand-in sends object bodies slowly
so the kill lands in the middle of a file, after other files already reached their final names but
before the batch's catalog commit. The next run is the real DAG under ``dag.test()``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import expected_files, read_local_catalog, run_dag, summary, task_states
from tests.reliability_figures import figures

pytestmark = pytest.mark.slow  # workers killed mid-copy and mid-commit, then the DAG under dag.test()

REPO = Path(__file__).resolve().parents[1]
WORKER = """
import json, sys
sys.path[:0] = [{plugins!r}, {repo!r}]
from lightcurve_ingest.wiring.connections import services_from_connections
from lightcurve_ingest.domain.missions import get_mission
from lightcurve_ingest.tasks.ingest import RunInfo, run_flow

params = json.loads(sys.argv[1])
run_flow(get_mission("k2"), params, RunInfo(run_id="killed-worker"), services_from_connections, slots=1)
print("the worker finished: it should have been killed", flush=True)
"""
PIECE_DELAY_S = 0.05  # per 8 KiB of object body: ~0.25 s a file




def final_files(root: Path) -> dict[str, bytes]:
    """Files at final names (not hidden), by relative path, outside the catalog."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*.fits"))
            if p.is_file() and not p.name.startswith(".") and "_catalog" not in p.parts}


def partial_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob(".*.part-*") if "_catalog" not in p.parts)




def _size(path: Path) -> float:
    """The file's size; infinite once it is gone (the worker renamed it to its final name after it was listed)."""
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return float("inf")


def _final_key(partial: Path, dest: Path) -> str:
    """The destination key a hidden ``.<name>.part-<id>`` file is being written for."""
    return (partial.parent / partial.name[1:].split(".part-")[0]).relative_to(dest).as_posix()


def test_sigkill_mid_copy_then_next_run_completes_byte_identical_nothing_recorded_twice(
        ingest_dag, standins, tmp_path, request):
    dest = tmp_path / "dest"
    expected = expected_files(standins)
    params = {"destination": str(dest), "copy_threads": 1}
    standins.s3.body_delay_s = PIECE_DELAY_S
    worker = subprocess.Popen(
        [sys.executable, "-c", WORKER.format(plugins=str(REPO / "plugins"), repo=str(REPO)), json.dumps(params)],
        cwd=REPO, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and worker.poll() is None:
            # a partial not yet whole (its body still arriving, slowed by the stand-in): the kill lands before
            # that copy can finish and rename; one already whole might be renamed before the kill
            writing = [p for p in partial_files(dest) if _size(p) < len(expected[_final_key(p, dest)])]
            if len(final_files(dest)) >= 2 and writing:
                break
            time.sleep(0.01)
        assert worker.poll() is None, f"the worker ended before it could be killed:\n{worker.stdout.read()}"
        os.kill(worker.pid, signal.SIGKILL)
        assert worker.wait(timeout=30) == -signal.SIGKILL
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        standins.s3.body_delay_s = 0.0

    # what the kill left: whole, verified files at final names; a partial file under a hidden name only
    done_before = final_files(dest)
    partials = partial_files(dest)
    assert done_before and all(expected[k] == v for k, v in done_before.items())
    assert partials, "the kill should land in the middle of a copy"
    for partial in partials:  # a prefix of its file (or all of it, not yet verified and renamed)
        final = _final_key(partial, dest)
        assert expected[final].startswith(partial.read_bytes()) and final not in done_before
    assert not (dest / "_catalog" / "files").exists(), "the batch was killed before its catalog commit"

    run = run_dag(ingest_dag, {"destination": str(dest)})

    assert str(run.state) == "success", task_states(run)
    result = summary(run)
    assert (result["adopted"], result["copied"], result["failed"]) == (
        len(done_before), len(expected) - len(done_before), 0)
    assert final_files(dest) == expected  # byte-identical to the source, every file at its final name
    catalog = read_local_catalog(dest)
    assert catalog["destination_uri"].is_unique and len(catalog) == len(expected)
    assert sorted(catalog["source_key"]) == sorted(expected)
    tally = figures(request.config)
    tally["worker processes killed mid-copy (SIGKILL)"] += 1
    tally["DAG runs"] += 1
    tally["DAG runs succeeded"] += 1
    tally["files verified and recorded (copied or adopted)"] += result["copied"] + result["adopted"]
    assert [p.relative_to(dest).as_posix() for p in partial_files(dest)] == []  # the killed copy's .part is gone


COMMITTER = """
import sys
from datetime import UTC, datetime
sys.path[:0] = [{plugins!r}, {repo!r}]
from lightcurve_ingest.domain import catalog as cat
from lightcurve_ingest.domain.catalog import Catalog
from lightcurve_ingest.storage.destination import parse_destination
from lightcurve_ingest.storage.backends import open_storage

catalog = Catalog(open_storage(parse_destination(sys.argv[1])))
for batch in range(1000):
    catalog.upsert(cat.FILES_TABLE, [
        {{"destination_uri": f"file:///d/{{batch}}/{{i}}.fits", "mission": "K2", "target_id": batch, "target": "",
         "observing_unit": 1, "source_key": f"{{batch}}/{{i}}", "data_uri": "", "obs_id": "", "obsid": "",
         "product_filename": "", "mast_size": 1, "size": 1, "sha256": "", "fits_checksum_verified": True,
         "copy_method": "download", "ingested_at": datetime.now(UTC), "run_id": "killed"}}
        for i in range({rows})])
"""
COMMIT_ROWS = 20_000  # a batch's Parquet file takes some 50 ms to write: a kill can land before its log entry


def test_sigkill_mid_catalog_commit_leaves_the_previous_version_whole_and_the_next_commit_works(tmp_path):
    from deltalake import DeltaTable

    from lightcurve_ingest.domain import catalog as cat
    from lightcurve_ingest.domain.catalog import Catalog
    from lightcurve_ingest.storage.backends import open_storage
    from lightcurve_ingest.storage.destination import parse_destination

    table_dir = tmp_path / "_catalog" / "files"
    code = COMMITTER.format(plugins=str(REPO / "plugins"), repo=str(REPO), rows=COMMIT_ROWS)
    mid_commit = 0
    for _ in range(8):  # each kill lands wherever the writer is; at least one must land inside a commit
        worker = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=REPO, env=dict(os.environ),
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and worker.poll() is None and not _versions(table_dir):
                time.sleep(0.002)  # the table's first version, then a commit after it
            before = _data_files(table_dir)
            while time.monotonic() < deadline and worker.poll() is None and _data_files(table_dir) <= before:
                time.sleep(0.002)
            assert worker.poll() is None, f"the writer ended before it could be killed:\n{worker.stdout.read()}"
            os.kill(worker.pid, signal.SIGKILL)  # a new data file is written: its log entry may not be
            assert worker.wait(timeout=30) == -signal.SIGKILL
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        table = DeltaTable(str(table_dir))
        rows = table.to_pandas()
        # every committed batch whole, nothing of a batch whose commit was killed
        assert len(rows) % COMMIT_ROWS == 0 and rows.groupby("target_id").size().eq(COMMIT_ROWS).all()
        assert rows["destination_uri"].is_unique
        referenced = {str(table_dir / f) for f in table.file_uris()} | {f for f in table.file_uris()}
        mid_commit += bool({str(p) for p in _data_files(table_dir)} - referenced)
        if mid_commit:
            break
    assert mid_commit, "no kill landed between a batch's data file and its log entry"

    catalog = Catalog(open_storage(parse_destination(str(tmp_path))))
    committed = len(catalog.read(cat.FILES_TABLE))
    row = {**{c: "" for c in cat.FILE_COLUMNS}, "destination_uri": "file:///d/after.fits", "mission": "K2",
           "target_id": 1, "observing_unit": 1, "mast_size": 1, "size": 1, "fits_checksum_verified": True,
           "ingested_at": datetime.now(UTC)}
    assert catalog.upsert(cat.FILES_TABLE, [row]) == 1
    assert len(catalog.read(cat.FILES_TABLE)) == committed + 1


def _data_files(table_dir: Path) -> set[Path]:
    return set(table_dir.glob("mission=*/*.parquet"))


def _versions(table_dir: Path) -> list[Path]:
    return list(table_dir.glob("_delta_log/*.json"))
