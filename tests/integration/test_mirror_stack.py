"""A mirror run (whole K2 campaigns) on the real stack with two Celery workers (CeleryExecutor, PostgreSQL, Redis):
its shards run in parallel on both workers; one worker is killed (SIGKILL) in the middle of a shard, a new one is
started (compose's ``restart: always``); the run, or a plain rerun, completes the shard, and no object is copied
twice (one ``CopyObject`` per key, counted at the S3 stand-in).

Needs PostgreSQL and Redis on this machine as ``test_production_stack`` does; every process is stopped by its pid.
K2 only, as every real-stack module: ``test_production_stack``'s docstring says why that covers Kepler and TESS.
"""

from __future__ import annotations

import time
from collections import Counter

import psutil
import pytest

from tests.integration.stack import DAG_ID, TERMINAL_RUN_STATES, AirflowStack, Deadline, StackError, TimeLimit

pytestmark = pytest.mark.integration

CAMPAIGNS = (5, 16)
FOLDERS = 3  # first-level folders (shards) a campaign
FILES_PER_FOLDER = 25
BUCKET = "mirror-it"
RUN_TIMEOUT_S = 240
# Quick detection of the killed worker's task (Airflow's defaults: a 300 s heartbeat timeout)
FAULT_ENV = {
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT": "20",
    "AIRFLOW__SCHEDULER__TASK_INSTANCE_HEARTBEAT_TIMEOUT_DETECTION_INTERVAL": "5",
}


def campaign_objects() -> dict[str, bytes]:
    """Key -> bytes of valid K2 LLC files of field stars, ``FOLDERS`` folders a campaign, plus their decoys."""
    from tests.standins.fits_factory import make_llc_fits

    objects = {}
    for campaign in CAMPAIGNS:
        for folder in range(FOLDERS):
            for n in range(FILES_PER_FOLDER):
                epic = 211_300_000 + folder * 100_000 + campaign * 1000 + n
                base = f"k2/public/lightcurves/c{campaign}/{str(epic)[:4]}00000/{str(epic)[4:6]}000/ktwo{epic}"
                objects[f"{base}-c{campaign:02d}_llc.fits"] = make_llc_fits(epic, campaign, 40, 0)
                if n == 0:
                    objects[f"{base}-c{campaign:02d}_slc.fits"] = b"short cadence: not mirrored"
    return objects


def worker_of(stack: AirflowStack, pid: int | None) -> str | None:
    """The name of the stack's worker whose process tree runs ``pid`` (a task instance's)."""
    workers = {p.popen.pid: p.name for p in stack.processes if p.name.startswith("celery-worker")}
    try:
        process = psutil.Process(pid) if pid else None
        ancestors = [process, *process.parents()] if process else []
    except psutil.Error:
        return None
    return next((workers[a.pid] for a in ancestors if a.pid in workers), None)


def wait_end(stack: AirflowStack, run_id: str, seen: dict[str, str]) -> str:
    deadline = Deadline(RUN_TIMEOUT_S)
    while True:
        watch_shards(stack, run_id, seen)
        state = stack.dag_run(DAG_ID, run_id)["state"]
        if state in TERMINAL_RUN_STATES:
            return state
        if deadline.remaining <= 0:
            raise StackError(f"run {run_id} still {state}\n{stack.log_tails()}")
        time.sleep(0.3)


def watch_shards(stack: AirflowStack, run_id: str, seen: dict[str, str]) -> list[dict]:
    """Running mirror_shard instances; records ``"<map index>/<try>" -> worker`` in ``seen``."""
    running = [t for t in stack.task_instances(DAG_ID, run_id)
               if t["task_id"] == "mirror_shard" and t["state"] == "running"]
    for t in running:
        worker = worker_of(stack, t.get("pid"))
        if worker:
            seen[f"{t['map_index']}/{t['try_number']}"] = worker
    return running


def shard_on_first_worker(stack: AirflowStack, run_id: str, seen: dict[str, str], deadline: Deadline) -> dict:
    """The shard (``plan_shards``'s entry) of a ``mirror_shard`` instance running on the first worker."""
    while True:
        on_first = [t for t in watch_shards(stack, run_id, seen) if worker_of(stack, t.get("pid")) == "celery-worker"]
        if on_first:
            return stack.xcom(DAG_ID, run_id, "plan_shards")[on_first[0]["map_index"]]
        assert deadline.remaining > 0, f"no shard ran on the first worker: {seen}\n{stack.log_tails()}"
        time.sleep(0.2)


def wait_partly_copied(standins, prefix: str, mirrored: set[str], deadline: Deadline) -> None:  # noqa: ANN001
    """Until the destination holds some of the shard's light curves but not all: its copies are under way."""
    shard_keys = {k for k in mirrored if k.startswith(prefix)}
    assert shard_keys, f"no light curve below {prefix}"
    client = standins.s3.client(signed=True)
    try:
        while True:
            pages = client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"lc/{prefix}")
            copied = {item["Key"][len("lc/"):] for page in pages for item in page.get("Contents", [])} & shard_keys
            if 0 < len(copied) < len(shard_keys):
                return
            assert len(copied) < len(shard_keys), f"shard {prefix} was copied whole before the kill could land in it"
            assert deadline.remaining > 0, f"no copy of shard {prefix} landed: 0 of {len(shard_keys)} files"
            time.sleep(0.1)
    finally:
        client.close()


def test_shards_run_on_two_workers_and_a_killed_worker_loses_nothing() -> None:
    from tests.standins import Standins, build_universe

    limit = TimeLimit(480, "the mirror stack test").start()
    objects = campaign_objects()
    expected = {k: v for k, v in objects.items() if k.endswith("_llc.fits")}
    with Standins(build_universe(4, kepler_hosts=0, tess_hosts=0, field_stars=False)) as standins:
        standins.s3.load_directly(objects.items())
        standins.s3.create_bucket(BUCKET)
        universe_keys = {f.key for f in standins.universe.files if f.unit in CAMPAIGNS}
        stack = AirflowStack({**standins.airflow_env(), **FAULT_ENV}, worker_concurrency=2, unpause=())
        try:
            stack.start(Deadline(300))
            stack.spawn_worker("celery-worker-b")
            stack.wait_for_dag(DAG_ID, Deadline(120))
            stack.cli("dags", "unpause", DAG_ID)
            standins.s3.latency_s = 0.15  # a shard's 25 copies, one at a time: several seconds
            standins.s3._clear_logs()
            conf = {"campaigns": list(CAMPAIGNS), "destination": f"s3://{BUCKET}/lc", "copy_threads": 1}
            run_id = stack.trigger(DAG_ID, conf)["dag_run_id"]
            seen: dict[str, str] = {}
            shard = shard_on_first_worker(stack, run_id, seen, Deadline(180))
            wait_partly_copied(standins, shard["prefix"], expected.keys() | universe_keys, Deadline(60))
            stack.kill(stack.process("celery-worker"))
            stack.spawn_worker("celery-worker-c")
            standins.s3.latency_s = 0.0
            runs = [wait_end(stack, run_id, seen)]
            while runs[-1] != "success":
                assert len(runs) < 3, f"two reruns did not complete the mirror: {runs}\n{stack.log_tails()}"
                runs.append(wait_end(stack, stack.trigger(DAG_ID, conf)["dag_run_id"], seen))

            assert len(set(seen.values())) >= 2, f"the shards ran on one worker only: {seen}"
            assert "celery-worker" in seen.values()
            retried = [k for k in seen if int(k.split("/")[1]) > 1]
            assert retried or len(runs) > 1, f"the kill interrupted no shard: {seen}"
            copies = Counter(e["path"].split(f"/{BUCKET}/lc/", 1)[1] for e in standins.s3.request_log
                             if e["method"] == "PUT" and e["copy_source"])
            assert set(copies) == set(expected) | universe_keys  # every light curve, no decoy
            assert set(copies.values()) == {1}, {k: n for k, n in copies.items() if n > 1}  # none twice
            client = standins.s3.client(signed=True)
            for key, data in expected.items():
                assert client.get_object(Bucket=BUCKET, Key=f"lc/{key}")["Body"].read() == data
            print(f"\nmirror on two workers: runs {runs}, shards by worker {Counter(seen.values())}, "
                  f"{len(copies)} objects copied once each")
        finally:
            limit.cancel()
            stack.stop()
