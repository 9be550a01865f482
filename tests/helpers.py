"""Helpers the end-to-end tests share: run the DAG, read its results, compare the destination."""

from __future__ import annotations

import hashlib
import os
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from tests.standins import Standins

CATALOG = "_catalog"


def mission_of(dag: Any) -> Any:
    """The mission an ingest DAG copies (``kepler_lightcurve_ingest`` -> Kepler)."""
    from lightcurve_ingest.domain.missions import get_mission

    return get_mission(dag.dag_id.split("_", 1)[0])


def run_dag(dag: Any, conf: dict, logical_date: datetime | None = None) -> Any:
    """One in-process run of the DAG (``dag.test``), as a manual trigger with ``conf`` does.

    Every param is passed: ``dag.test`` keeps an earlier run's conf in the DAG object's params.
    """
    from lightcurve_ingest.tasks.params import param_specs

    defaults = {name: spec["default"] for name, spec in param_specs(mission_of(dag)).items()}
    return dag.test(logical_date=logical_date, run_conf={**defaults, **conf})


def run_flow(slug: str, params: dict, run_id: str = "flow") -> dict:
    """The DAG's flow outside Airflow (``tasks.run_flow``) with clients from the stand-ins' connections."""
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.tasks.ingest import RunInfo
    from lightcurve_ingest.tasks.ingest import run_flow as flow
    from lightcurve_ingest.wiring.connections import services_from_connections

    return flow(get_mission(slug), params, RunInfo(run_id=run_id), services_from_connections)


def find(standins: Standins, slug: str, hosts: list[Any], *, timeout: float | None = None,
         include_fast_cadence: bool = False) -> Any:
    """What MAST lists for these stand-in hosts: one batch through astroquery, as ``find_light_curves`` asks."""
    from lightcurve_ingest.clients.mast import MastClient
    from lightcurve_ingest.domain.discovery import find_light_curves
    from lightcurve_ingest.domain.missions import get_mission
    from lightcurve_ingest.domain.payloads import Batch, Target

    batch = Batch(label="test", targets=tuple(Target(h.target_id, h.hostname) for h in hosts))
    return find_light_curves(get_mission(slug), batch, MastClient(standins.mast.base_url, timeout=timeout),
                             include_fast_cadence)


def timetable_run(dag: Any, day: datetime) -> Any:
    """The run the DAG's own timetable gives ``day`` (a ``DagRunInfo``), as the scheduler and ``airflow backfill
    create`` ask it: for the daily timetable, logical date ``day``, data interval [day, day + 1 day), run after
    its end."""
    import pendulum
    from airflow.serialization.encoders import coerce_to_core_timetable
    from airflow.timetables.base import TimeRestriction

    start = pendulum.instance(day, tz="UTC")
    timetable = coerce_to_core_timetable(dag.timetable)
    info = timetable.next_dagrun_info(last_automated_data_interval=None,
                                      restriction=TimeRestriction(earliest=start, latest=start, catchup=True))
    assert info is not None and info.logical_date == start, f"{dag.dag_id}'s timetable has no run on {day}: {info}"
    return info


def run_dag_for_interval(dag: Any, conf: dict, day: datetime, run_type: str = "scheduled") -> Any:
    """A run of type ``scheduled`` or ``backfill`` for ``day``, with the logical date, data interval and run-after
    the DAG's timetable gives the day (``timetable_run``), run in-process by ``dag.test``.

    ``dag.test`` (Airflow 3.3) takes no run type: it always makes a manual run, through the ``create_dagrun``
    that every maker of runs (scheduler, backfill, REST trigger) calls. Only that call's run type, run id, logical
    date, data interval and run-after are changed to the timetable's; the rest (replacing an earlier run of the
    same logical date, running the tasks) is ``dag.test``'s own.
    """
    from unittest import mock

    from airflow.models.dagrun import DagRun
    from airflow.serialization.definitions.dag import SerializedDAG
    from airflow.utils.types import DagRunType

    info = timetable_run(dag, day)
    kind = DagRunType(run_type)
    run_id = DagRun.generate_run_id(run_type=kind, logical_date=info.logical_date, run_after=info.run_after)
    create_dagrun = SerializedDAG.create_dagrun

    def create_run_of_the_timetable(self: SerializedDAG, **kwargs: Any) -> DagRun:
        kwargs.update(run_type=kind, run_id=run_id, logical_date=info.logical_date,
                      data_interval=info.data_interval, run_after=info.run_after)
        return create_dagrun(self, **kwargs)

    with mock.patch.object(SerializedDAG, "create_dagrun", create_run_of_the_timetable):
        return run_dag(dag, conf, logical_date=info.logical_date)


def task_states(dag_run: Any) -> dict[str, str]:
    states = {}
    for ti in dag_run.get_task_instances():
        name = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
        states[name] = str(getattr(ti.state, "value", ti.state))
    return states


def xcom(dag_run: Any, task_id: str, key: str = "return_value") -> Any:
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = session.scalars(XComModel.get_many(run_id=dag_run.run_id, key=key, task_ids=task_id,
                                                 dag_ids=dag_run.dag_id)).first()
        return None if row is None else XComModel.deserialize_value(row)


def summary(dag_run: Any) -> dict:
    value = xcom(dag_run, "summarize_run")
    assert value is not None, f"no summary; task states: {task_states(dag_run)}"
    return value


def expected_files(standins: Standins, hostnames: list[str] | None = None, *, mission: str = "K2",
                   include_fast: bool = False) -> dict[str, bytes]:
    """Bucket key -> bytes of every light curve an ingest copies of the given hosts (default: all the mission's
    confirmed hosts)."""
    universe = standins.universe
    hosts = (universe.confirmed_hosts(mission=mission) if hostnames is None
             else [universe.host_by_name(n) for n in hostnames])
    return {f.key: universe.fits_bytes(f) for h in hosts for f in h.light_curves(include_fast)}


def local_files(root: Path) -> dict[str, bytes]:
    """Relative path -> bytes of every file under ``root`` but the catalog."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and CATALOG not in p.relative_to(root).parts}


def s3_files(standins: Standins, bucket: str, prefix: str) -> dict[str, bytes]:
    client = standins.s3.client(signed=True)
    found = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix + "/"):
        for item in page.get("Contents", []):
            key = item["Key"][len(prefix) + 1:]
            if not key.startswith(CATALOG + "/"):
                found[key] = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return found


def read_local_catalog(root: Path, table: str = "files") -> pd.DataFrame:
    """A catalog table as any reader gets it: the Delta table's current version, with deltalake, sorted by key."""
    from deltalake import DeltaTable

    keys = ["destination_uri"] if table == "files" else ["mission", "target_id"]
    frame = DeltaTable(str(root / CATALOG / table)).to_pandas()
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)


def s3_catalog_table(standins: Standins, bucket: str, prefix: str, table: str = "files") -> pd.DataFrame:
    """A catalog table at ``s3://bucket/prefix``, read with deltalake straight from the S3 stand-in."""
    from deltalake import DeltaTable

    options = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1",
               "AWS_ENDPOINT_URL": standins.s3.endpoint_url, "AWS_ALLOW_HTTP": "true"}
    return DeltaTable(f"s3://{bucket}/{prefix}/{CATALOG}/{table}", storage_options=options).to_pandas()


def sha256_hex(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def mount_tmpfs(path: Path, size: int, *, remount: bool = False) -> None:
    """Mount a tmpfs of ``size`` bytes on ``path`` (or change the size of the one there); fails, never skips,
    with the reason when it cannot (it needs root)."""
    options = f"{'remount,' if remount else ''}size={max(size, 4096)},mode=0755"
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(path)],
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, (f"cannot mount a {size}-byte tmpfs on {path} (uid {os.getuid()}): "
                                    f"{result.stderr.strip()}; the disk-full tests need root and mount")


def unmount(path: Path) -> None:
    subprocess.run(["umount", str(path)], capture_output=True, check=False)
