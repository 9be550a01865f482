"""``run_flow`` (the flow outside Airflow, for benchmarks and tests) fails as the DAG fails: a batch that fails is
left out and named, the others go on and commit, and the run as a whole reports the failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import read_local_catalog, run_dag, run_flow, task_states

pytestmark = pytest.mark.slow  # one DAG run and one flow run against the stand-ins


def break_one_batch(standins, host) -> None:  # noqa: ANN001
    """MAST fails every query that names this host, for longer than any retry lasts."""
    standins.mast.clear_faults()
    standins.mast.add_fault("error_status", times=100, service=f"target:ktwo{host.target_id:09d}")


def outcome(destination: Path) -> tuple[list[str], list[tuple[int, str]]]:
    """What a run left: the files in the catalog, and each target's status."""
    files = sorted(read_local_catalog(destination)["source_key"])
    states = read_local_catalog(destination, "targets")
    return files, sorted(zip(states["target_id"], states["status"], strict=True))


def test_run_flow_and_the_dag_isolate_a_failed_batch_alike(standins, ingest_dag, tmp_path):
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.tasks.ingest import run_failed
    from lightcurve_ingest.tasks.params import param_specs

    hosts = [h for h in standins.universe.confirmed_hosts() if h.files]
    broken = hosts[0]
    defaults = {name: spec["default"] for name, spec in param_specs(get_mission("k2")).items()}
    conf = {"targets_per_batch": 2}
    try:
        break_one_batch(standins, broken)
        flow_summary = run_flow("k2", {**defaults, **conf, "destination": str(tmp_path / "flow")})
        break_one_batch(standins, broken)
        run = run_dag(ingest_dag, {**conf, "destination": str(tmp_path / "dag")})
    finally:
        standins.mast.clear_faults()

    states = task_states(run)
    assert str(run.state) == "failed" and states["summarize_run"] == "failed"
    failed_finds = [t for t, s in states.items() if t.startswith("batch.find_light_curves") and s == "failed"]
    assert len(failed_finds) == 1, states  # the DAG: that batch alone failed, the others ran to the end
    assert run_failed(flow_summary)  # the flow: the same run is a failed run
    assert len(flow_summary["failed_batches"]) == 1 and broken.hostname in flow_summary["failed_batches"][0]
    assert flow_summary["batches"] > 1 and flow_summary["copied"] > 0

    flow_files, flow_states = outcome(tmp_path / "flow")
    dag_files, dag_states = outcome(tmp_path / "dag")
    assert flow_files == dag_files and broken.files[0].key not in flow_files
    assert flow_states == dag_states
    assert (broken.target_id, "pending") in flow_states  # planned, never copied: the next run takes it again
