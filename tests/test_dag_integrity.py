"""The DAG folder imports cleanly, quickly, with no network and no heavy imports, and keeps its contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# Not imported from conftest: importing it as tests.conftest runs it a second time, and the second run points
# AIRFLOW_HOME at another folder than the one the session's Airflow uses.
REPO = Path(__file__).resolve().parents[1]

PARSE_SCRIPT = r"""
import json, socket, sys, time
def refuse(*args, **kwargs):
    raise RuntimeError(f"network call at DAG-parse time: {args}")
socket.socket.connect = refuse
socket.create_connection = refuse
started = time.perf_counter()
from airflow.dag_processing.dagbag import DagBag
bag = DagBag(dag_folder=sys.argv[1])
elapsed = time.perf_counter() - started
heavy = sorted({m.split('.')[0] for m in sys.modules} & {"astroquery", "astropy", "pandas", "pyarrow", "matplotlib"})
print(json.dumps({"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": sorted(bag.dags),
                  "seconds": elapsed, "heavy": heavy}))
"""


def test_dag_folder_parses_without_network_or_heavy_imports():
    env = {**os.environ, "PYTHONPATH": str(REPO / "plugins")}
    proc = subprocess.run([sys.executable, "-c", PARSE_SCRIPT, str(REPO / "dags")], capture_output=True,
                          text=True, env=env, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    print(f"DAG folder parsed in {result['seconds']:.2f} s")
    assert result["errors"] == {}
    assert result["dags"] == ["k2_lightcurve_ingest", "kepler_lightcurve_ingest", "lightcurve_catalog_consumer",
                              "lightcurve_quicklook", "lightcurve_training_set", "tess_lightcurve_ingest"]
    assert result["heavy"] == []


COMMON_PARAMS = {"destination", "dest_aws_conn_id", "targets", "dispositions", "full_refresh", "targets_per_batch",
                 "copy_threads", "read_back_server_side_copies", "products", "source"}


@pytest.mark.parametrize(("slug", "extra_params", "default_dispositions"), [
    ("k2", {"campaigns"}, ["CONFIRMED"]),
    ("kepler", {"object_table"}, ["CONFIRMED"]),
    ("tess", {"include_fast_cadence", "sectors"}, ["CP", "KP"]),
])
def test_ingest_dag_contract(dags, slug, extra_params, default_dispositions):
    from airflow.sdk import CronDataIntervalTimetable

    dag = dags[slug]
    assert dag.dag_id == f"{slug}_lightcurve_ingest"
    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert set(dag.params) == COMMON_PARAMS | extra_params
    for name, param in dag.params.items():
        assert param.description, f"param {name} has no description for the trigger form"
        assert param.schema.get("type"), f"param {name} has no JSON schema type"
    assert dag.params.get_param("dest_aws_conn_id").value == "aws_default"
    assert dag.params.get_param("destination").value.endswith(f"/data/{slug}_lightcurves")
    assert dag.params.get_param("dispositions").value == default_dispositions
    tasks = {t.task_id: t for t in dag.tasks}
    assert tasks["batch.find_light_curves"].pool == "mast_api"
    assert tasks["batch.find_light_curves"].map_index_template
    assert tasks["batch.copy_light_curves"].retries >= 1
    assert [o.name for o in tasks["publish_catalog"].outlets] == [f"{slug}_lightcurve_catalog"]
    assert tasks["mirror_shard"].pool != "mast_api" and tasks["mirror_shard"].map_index_template


def test_the_k2_catalog_asset_keeps_its_first_uri(dags):
    """Consumers of the first release schedule on it."""
    [asset] = {t.task_id: t for t in dags["k2"].tasks}["publish_catalog"].outlets
    assert (asset.name, asset.uri) == ("k2_lightcurve_catalog", "k2ingest://catalog/files")


def test_quicklook_dag_is_scheduled_on_every_missions_catalog_asset(dag_bag):
    dag = dag_bag.dags["lightcurve_quicklook"]
    assert [a.name for a in dag.timetable.asset_condition.objects] == [
        "k2_lightcurve_catalog", "kepler_lightcurve_catalog", "tess_lightcurve_catalog"]  # any of them
    assert set(dag.params) == {"destination", "dest_aws_conn_id", "plots_per_batch"}
    assert dag.params.get_param("destination").value is None
    tasks = {t.task_id: t for t in dag.tasks}
    assert set(tasks) == {"plan_plots", "render_plots", "write_gallery"}
    assert tasks["render_plots"].map_index_template and tasks["write_gallery"].trigger_rule == "all_done"
