"""One DAG factory for every mission: ``build_ingest_dag("tess")`` is the whole of a DAG file.

The DAG renders the flow of ``tasks`` as Airflow tasks; payloads cross task boundaries as XCom JSON and are
typed again on arrival. Only light modules are imported at parse time; each task imports what it uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from lightcurve_ingest.assets import catalog_asset
from lightcurve_ingest.missions import get_mission
from lightcurve_ingest.params import param_specs
from lightcurve_ingest.settings import MAST_POOL, task_retry_args
from lightcurve_ingest.task_usage import measured

WINDOWED_RUN_TYPES = ("scheduled", "backfill")
DOC = """Daily copy of {name} light curves ({what}) from MAST's public bucket to a destination.

Targets come from the NASA Exoplanet Archive's `{table}` table (the `dispositions` param chooses which stars), or
from the `targets` param. {schedule} See the project README for params, run modes and the catalog.
"""


def _services() -> Any:
    from lightcurve_ingest.connections import services_from_connections

    return services_from_connections()


def _present(results: Any) -> list[dict]:
    """The results of the mapped instances that succeeded (a single instance's may come unwrapped)."""
    if isinstance(results, dict):
        return [results]
    return [r for r in results or [] if r]


def _run_info() -> Any:
    """Scheduled and backfill runs work on their data interval; manual runs never do (even with a logical date)."""
    from lightcurve_ingest.tasks import RunInfo

    context = get_current_context()
    run_type = context["dag_run"].run_type
    windowed = str(getattr(run_type, "value", run_type)) in WINDOWED_RUN_TYPES
    return RunInfo(
        run_id=context["run_id"],
        interval_start=context.get("data_interval_start") if windowed else None,
        interval_end=context.get("data_interval_end") if windowed else None,
    )


def build_ingest_dag(slug: str) -> Any:
    """The daily ingest DAG of one registered mission, by slug (``k2``, or any in ``missions.MISSIONS``)."""
    mission = get_mission(slug)
    asset = catalog_asset(mission)
    schedule_doc = ("A scheduled run also copies what MAST released in its interval for every target already at "
                    "the destination." if mission.keeps_observing else "")

    @dag(
        dag_id=mission.dag_id,
        schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
        start_date=datetime(2026, 11, 1),
        catchup=False,
        max_active_tasks=32,
        default_args=task_retry_args(),  # one retry: HTTP requests and file copies are retried inside the tasks
        params={name: Param(**spec) for name, spec in param_specs(mission).items()},
        tags=[mission.slug, "mast", "ingest"],
        doc_md=DOC.format(name=mission.name, what=mission.light_curves, table=mission.table.name,
                          schedule=schedule_doc),
    )
    def ingest() -> None:
        @task
        @measured("plan_targets")
        def plan_targets(params: Any = None, ti: Any = None) -> list[dict]:
            """Returns the batches to map over (none in a mirror run); the rest of the plan, a mirror run's shards
            included, goes to the summary as XCom "plan"."""
            from lightcurve_ingest import tasks
            from lightcurve_ingest.errors import RETRY_CANNOT_HELP

            try:
                planned = tasks.plan_targets(mission, params, _run_info(), _services()).to_dict()
            except RETRY_CANNOT_HELP as err:  # bad input, a full disk
                raise AirflowFailException(str(err)) from err
            ti.xcom_push(key="plan", value={**planned, "batches": []})
            return planned["batches"]

        @task
        def plan_shards(ti: Any = None) -> list[dict]:
            """The shards of a mirror run (none otherwise) as a return value: Airflow maps over nothing else."""
            return ti.xcom_pull(task_ids="plan_targets", key="plan")["shards"]

        @task(pool=MAST_POOL, map_index_template="{{ batch_label }}")
        @measured("find_light_curves")
        def find_light_curves(batch: dict, params: Any = None) -> dict:
            from lightcurve_ingest import tasks
            from lightcurve_ingest.payloads import Batch

            get_current_context()["batch_label"] = batch["label"]
            return tasks.find_light_curves(mission, Batch.from_dict(batch), params, _services()).to_dict()

        @task(map_index_template="{{ batch_label }}")
        @measured("copy_light_curves")
        def copy_light_curves(listing: dict, params: Any = None) -> dict:
            from lightcurve_ingest import tasks
            from lightcurve_ingest.errors import RETRY_CANNOT_HELP
            from lightcurve_ingest.payloads import Listing

            get_current_context()["batch_label"] = listing["batch"]["label"]
            try:
                result = tasks.copy_light_curves(mission, Listing.from_dict(listing), params, _run_info(), _services())
            except RETRY_CANNOT_HELP as err:  # a full disk: retries would only read the same files again
                raise AirflowFailException(str(err)) from err
            return result.to_dict()

        @task(map_index_template="{{ shard_label }}")
        @measured("mirror_shard")
        def mirror_shard(shard: dict, params: Any = None) -> dict:
            """One folder of a whole campaign or sector: not in the mast_api pool (MAST is not asked)."""
            from lightcurve_ingest import tasks
            from lightcurve_ingest.errors import RETRY_CANNOT_HELP
            from lightcurve_ingest.payloads import Shard

            get_current_context()["shard_label"] = shard["label"]
            try:
                result = tasks.mirror_shard(mission, Shard.from_dict(shard), params, _run_info(), _services())
            except RETRY_CANNOT_HELP as err:
                raise AirflowFailException(str(err)) from err
            return result.to_dict()

        @task_group(group_id="batch")
        def ingest_batch(batch: dict) -> Any:
            return copy_light_curves(find_light_curves(batch))

        @task(outlets=[asset], trigger_rule="all_done", retries=0)
        @measured("publish_catalog")
        def publish_catalog(batch_results: Any, shard_results: Any, params: Any = None,
                            outlet_events: Any = None) -> None:
            """Emit the catalog Asset event, only when new files landed."""
            results = _present(batch_results) + _present(shard_results)
            new_files = sum(r["new_files"] for r in results)
            if not new_files:
                raise AirflowSkipException("No new files: the catalog Asset is not updated")
            outlet_events[asset].extra = {
                "catalog": results[0]["catalog"], "new_files": new_files, "mission": mission.name,
                "run_id": get_current_context()["run_id"], "destination": params["destination"],
                "dest_aws_conn_id": params["dest_aws_conn_id"],
            }

        @task(trigger_rule="all_done", retries=0)
        @measured("summarize_run")
        def summarize_run(planned_batches: Any, batch_results: Any, shard_results: Any, ti: Any = None) -> dict:
            from lightcurve_ingest import tasks
            from lightcurve_ingest.payloads import BatchResult, Plan, ShardResult

            plan_meta = ti.xcom_pull(task_ids="plan_targets", key="plan")
            if plan_meta is None:
                raise AirflowFailException("plan_targets failed (see its log for why); nothing was copied")
            plan = Plan.from_dict({**plan_meta, "batches": planned_batches or []})
            summary = tasks.summarize_run(plan, [BatchResult.from_dict(r) for r in _present(batch_results)],
                                          [ShardResult.from_dict(r) for r in _present(shard_results)])
            print(tasks.format_summary(summary))
            if tasks.run_failed(summary):
                failed_parts = len(summary.get("failed_batches") or summary.get("failed_shards") or [])
                raise AirflowFailException(
                    f"{failed_parts} batch(es) or shard(s) and {summary['failed']} file(s) failed; "
                    "the next run picks up what is missing")
            return summary

        planned = plan_targets()
        shards = plan_shards()
        planned >> shards
        batch_results = ingest_batch.expand(batch=planned)
        shard_results = mirror_shard.expand(shard=shards)
        published = publish_catalog(batch_results, shard_results)
        summary = summarize_run(planned, batch_results, shard_results)
        published >> summary

    return ingest()
