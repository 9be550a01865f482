"""Issue 6, crash safety: a worker killed with SIGKILL half-way through copying loses nothing and leaves
nothing corrupt that could later count as cached; the next run completes the destination exactly.

The worker is a child process running the DAG's flow outside Airflow (``tasks.run_flow``: the same task functions)
with clients built from the stand-ins' Airflow connections; the S3 stand-in sends object bodies slowly
so the kill lands in the middle of a file, after other files already reached their final names but
before the batch's catalog commit. The next run is the real DAG under ``dag.test()``.

A kill lands at a moment the test sees: it watches the destination until it shows the state it wants, stops the
worker (SIGSTOP), looks again, and kills the stopped worker only if the state is still there (else lets it go on).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
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
PIECE_DELAY_S = 0.05  # per 8 KiB of object body: some 2.5 s a 400 KB file


def start_worker(code: str, *args: str, output: Path) -> subprocess.Popen:
    """A Python child running ``code``; what it prints goes to the file ``output`` (a pipe nobody reads could fill
    up and block it)."""
    with open(output, "w") as sink:
        return subprocess.Popen([sys.executable, "-c", code, *args], cwd=REPO, env=dict(os.environ),
                                stdout=sink, stderr=subprocess.STDOUT)


def stop(worker: subprocess.Popen, output: Path) -> None:
    """SIGSTOP the worker and wait until it has stopped, every thread of it."""
    os.kill(worker.pid, signal.SIGSTOP)
    _, status = os.waitpid(worker.pid, os.WUNTRACED)
    assert os.WIFSTOPPED(status), f"the worker ended before it could be killed:\n{output.read_text()}"


def kill_when(worker: subprocess.Popen, ready: Callable[[], bool], moment: str, output: Path,
              timeout: float = 120, poll_s: float = 0.01) -> None:
    """SIGKILL ``worker`` at the moment ``ready()`` shows: seen while it runs, then seen again once it is stopped,
    so that the kill lands where the test looked; fails if no such moment comes within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert worker.poll() is None, f"the worker ended before {moment}:\n{output.read_text()}"
        if ready():
            stop(worker, output)
            if ready():
                worker.kill()
                assert worker.wait(timeout=30) == -signal.SIGKILL
                return
            os.kill(worker.pid, signal.SIGCONT)  # it moved on in between: wait for the next such moment
        time.sleep(poll_s)
    raise AssertionError(f"no moment of {moment} came within {timeout:.0f} s:\n{output.read_text()}")


def final_paths(root: Path) -> list[Path]:
    """Files at final names (not hidden), outside the catalog."""
    return [p for p in sorted(root.rglob("*.fits"))
            if p.is_file() and not p.name.startswith(".") and "_catalog" not in p.parts]


def final_files(root: Path) -> dict[str, bytes]:
    """Files at final names, by relative path."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in final_paths(root)}


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

    def mid_copy() -> bool:
        """Two files at their final names, another one's body still arriving (its partial short of the whole
        file: that copy can neither finish nor be renamed), and no catalog commit yet."""
        writing = [p for p in partial_files(dest) if _size(p) < len(expected[_final_key(p, dest)])]
        return len(final_paths(dest)) >= 2 and bool(writing) and not (dest / "_catalog" / "files").exists()

    standins.s3.body_delay_s = PIECE_DELAY_S
    output = tmp_path / "worker.log"
    code = WORKER.format(plugins=str(REPO / "plugins"), repo=str(REPO))
    worker = start_worker(code, json.dumps(params), output=output)
    try:
        kill_when(worker, mid_copy, "two files copied and a third half-way", output)
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
         "copy_method": "download", "ingested_at": datetime.now(UTC), "run_id": "killed", "cadence_s": 1800.0}}
        for i in range({rows})])
"""
COMMIT_ROWS = 20_000  # rows a batch: one data file each


def test_sigkill_mid_catalog_commit_leaves_the_previous_version_whole_and_the_next_commit_works(tmp_path):
    from deltalake import DeltaTable

    from lightcurve_ingest.domain import catalog as cat
    from lightcurve_ingest.domain.catalog import Catalog
    from lightcurve_ingest.storage.backends import open_storage
    from lightcurve_ingest.storage.destination import parse_destination

    table_dir = tmp_path / "_catalog" / "files"
    code = COMMITTER.format(plugins=str(REPO / "plugins"), repo=str(REPO), rows=COMMIT_ROWS)
    output = tmp_path / "writer.log"
    worker = start_worker(code, str(tmp_path), output=output)
    try:  # commits follow one another: the kill waits for one caught between its data file and its log entry
        kill_when(worker, lambda: commit_under_way(table_dir), "a batch's data file written, its log entry not",
                  output, poll_s=0.001)
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
    table = DeltaTable(str(table_dir))
    rows = table.to_pandas()
    # every committed batch whole, nothing of the batch whose commit was killed
    assert len(rows) >= COMMIT_ROWS and rows.groupby("target_id").size().eq(COMMIT_ROWS).all()
    assert len(rows) % COMMIT_ROWS == 0 and rows["destination_uri"].is_unique
    referenced = {str(table_dir / f) for f in table.file_uris()} | {f for f in table.file_uris()}
    assert {str(p) for p in _data_files(table_dir)} - referenced, "the killed commit's data file is there, unread"

    catalog = Catalog(open_storage(parse_destination(str(tmp_path))))
    committed = len(catalog.read(cat.FILES_TABLE))
    row = {**{c: "" for c in cat.FILE_COLUMNS}, "destination_uri": "file:///d/after.fits", "mission": "K2",
           "target_id": 1, "observing_unit": 1, "mast_size": 1, "size": 1, "fits_checksum_verified": True,
           "ingested_at": datetime.now(UTC), "cadence_s": 1800.0}
    assert catalog.upsert(cat.FILES_TABLE, [row]) == 1
    assert len(catalog.read(cat.FILES_TABLE)) == committed + 1


def _data_files(table_dir: Path) -> set[Path]:
    return set(table_dir.glob("mission=*/*.parquet"))


def _versions(table_dir: Path) -> list[Path]:
    return list(table_dir.glob("_delta_log/*.json"))


def commit_under_way(table_dir: Path) -> bool:
    """After the table's first version, a data file that no entry of its log names: a commit between its two
    steps. (Counted first: one data file a commit until the writer's 50th version compacts them.)"""
    entries, data = _versions(table_dir), _data_files(table_dir)
    if not entries or len(data) <= len(entries):
        return False
    logged = "".join(p.read_text() for p in entries)
    return any(p.name not in logged for p in data)
