"""Each task imports only what it uses: the plan no astropy or astroquery, the find no S3 client, the copy no
astroquery nor astropy (issue 14). Each task runs in a fresh interpreter against the stand-ins, as Airflow runs it in a
process of its own, and reports the modules it ended with; its payload feeds the next task."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a fresh interpreter a task: some 15 s

REPO = Path(__file__).resolve().parents[1]  # not from conftest: see test_dag_integrity.py

HEAVY = ("astroquery", "astropy", "pandas", "pyarrow", "boto3", "botocore", "airflow.providers.amazon.aws.hooks.s3")

# What a task must never import: (task, modules).
NOT_NEEDED = {
    "plan": ("astroquery", "astropy"),
    "find": ("boto3", "botocore", "airflow.providers.amazon.aws.hooks.s3", "pyarrow"),
    "copy": ("astroquery", "astropy"),  # astropy only verifies a file that lacks its FITS sums (verify.py)
}

PROBE = """
import json, sys
sys.path[:0] = [{plugins!r}, {repo!r}]
from lightcurve_ingest.tasks import ingest as tasks
from lightcurve_ingest.wiring.connections import services_from_connections
from lightcurve_ingest.domain.missions import get_mission
from lightcurve_ingest.domain.payloads import Batch, Listing

task, params, payload = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3] or "null")
mission, run = get_mission("k2"), tasks.RunInfo(run_id="imports")
if task == "plan":
    out = tasks.plan_targets(mission, params, run, services_from_connections()).to_dict()["batches"][0]
elif task == "find":
    out = tasks.find_light_curves(mission, Batch.from_dict(payload), params, services_from_connections()).to_dict()
else:
    out = tasks.copy_light_curves(mission, Listing.from_dict(payload), params, run, services_from_connections())
    out = out.to_dict()
print(json.dumps({{"payload": out, "modules": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def run_task(task: str, params: dict, payload: dict | None) -> tuple[dict, list[str]]:
    script = PROBE.format(plugins=str(REPO / "plugins"), repo=str(REPO), heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", script, task, json.dumps(params), json.dumps(payload)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    return reply["payload"], reply["modules"]


def test_each_task_imports_only_what_it_uses(standins, tmp_path: Path) -> None:
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.tasks.params import param_specs

    hosts = [h.hostname for h in standins.universe.confirmed_hosts()][:2]
    expected = sum(len(standins.universe.host_by_name(h).light_curves()) for h in hosts)
    params = {**{n: s["default"] for n, s in param_specs(get_mission("k2")).items()},
              "destination": str(tmp_path / "dest"), "targets": hosts}

    batch, plan_modules = run_task("plan", params, None)
    listing, find_modules = run_task("find", params, batch)
    result, copy_modules = run_task("copy", params, listing)

    assert len(batch["targets"]) == 2 and len(listing["files"]) == expected
    assert result["copied"] == expected and not result["failed"]
    assert sorted(p.name for p in (tmp_path / "dest").rglob("*.fits")) == sorted(
        Path(f["source_key"]).name for f in listing["files"])
    for task, modules in (("plan", plan_modules), ("find", find_modules), ("copy", copy_modules)):
        assert not set(NOT_NEEDED[task]) & set(modules), f"{task} imported {modules}"
    # what each one does need, so that the probe is seen to work
    assert {"pandas", "pyarrow"} <= set(plan_modules)
    assert {"astroquery", "astropy"} <= set(find_modules)
    assert {"boto3", "pandas", "pyarrow"} <= set(copy_modules)


WORKER = """
import json, os, sys
sys.path[:0] = [{plugins!r}]
from celery import Celery
from lightcurve_ingest.wiring.celery_worker import CELERY_CONFIG

before = [m for m in {heavy!r} if m in sys.modules]
Celery("worker", config_source=CELERY_CONFIG).loader.import_default_modules()  # what `celery worker` does first
pid = os.fork()
if pid == 0:  # a task process: what it finds already imported
    found = [m for m in {heavy!r} if m in sys.modules]
    print(json.dumps({{"before": before, "in_child": found}}), flush=True)
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_the_celery_workers_import_the_task_libraries_once_and_their_task_processes_inherit_them() -> None:
    script = WORKER.format(plugins=str(REPO / "plugins"), heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    reply = json.loads(done.stdout.strip().splitlines()[-1])
    assert reply["before"] == []  # the config module itself imports none of them (the scheduler reads it too)
    assert set(reply["in_child"]) == set(HEAVY)
