"""The DAG folder imports cleanly, quickly, with no network and no heavy imports, and keeps its contract."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.conftest import REPO

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
heavy = sorted({m.split('.')[0] for m in sys.modules} & {"astroquery", "astropy", "pandas", "pyarrow"})
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
    assert result["dags"] == ["k2_catalog_consumer", "k2_lightcurve_ingest"]
    assert result["heavy"] == []


def test_ingest_dag_contract(ingest_dag):
    from airflow.sdk import CronDataIntervalTimetable

    assert ingest_dag.dag_id == "k2_lightcurve_ingest"
    assert isinstance(ingest_dag.timetable, CronDataIntervalTimetable)
    assert set(ingest_dag.params) == {"destination", "dest_aws_conn_id", "targets", "full_refresh",
                                      "targets_per_batch", "copy_threads", "read_back_server_side_copies"}
    for name, param in ingest_dag.params.items():
        assert param.description, f"param {name} has no description for the trigger form"
        assert param.schema.get("type"), f"param {name} has no JSON schema type"
    assert ingest_dag.params.get_param("dest_aws_conn_id").value == "aws_default"
    tasks = {t.task_id: t for t in ingest_dag.tasks}
    assert tasks["batch.find_light_curves"].pool == "mast_api"
    assert tasks["batch.find_light_curves"].map_index_template
    assert tasks["batch.copy_light_curves"].retries >= 1
    assert [o.name for o in tasks["publish_catalog"].outlets] == ["k2_lightcurve_catalog"]
