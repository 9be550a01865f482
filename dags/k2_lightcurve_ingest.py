"""Daily copy of K2 long-cadence light curves of confirmed planet hosts: archive -> MAST -> destination.

Thin wiring only: the work is in ``plugins/k2ingest``; heavy libraries are imported inside tasks.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from k2ingest.assets import CATALOG_ASSET
from k2ingest.params import param_specs
from k2ingest.settings import DAG_ID, MAST_POOL, retry_delay

WINDOWED_RUN_TYPES = ("scheduled", "backfill")


def _services():
    from k2ingest.connections import services_from_connections

    return services_from_connections()


def _present(results) -> list[dict]:
    """The results of the mapped instances that succeeded (a single instance's may come unwrapped)."""
    if isinstance(results, dict):
        return [results]
    return [r for r in results or [] if r]


def _run_info():
    """Scheduled and backfill runs work on their data interval; manual runs never do (even with a logical date)."""
    from k2ingest.pipeline import RunInfo

    context = get_current_context()
    run_type = context["dag_run"].run_type
    windowed = str(getattr(run_type, "value", run_type)) in WINDOWED_RUN_TYPES
    return RunInfo(
        run_id=context["run_id"],
        interval_start=context.get("data_interval_start") if windowed else None,
        interval_end=context.get("data_interval_end") if windowed else None,
    )


@dag(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2026, 11, 1),
    catchup=False,
    max_active_tasks=32,
    default_args={
        "retries": 3,
        "retry_delay": retry_delay(),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(minutes=10),
    },
    params={name: Param(**spec) for name, spec in param_specs().items()},
    tags=["k2", "mast", "ingest"],
    doc_md=__doc__,
)
def k2_lightcurve_ingest():
    @task
    def plan_targets(params=None, ti=None):
        """Returns the batches to map over; the rest of the plan goes to the summary as XCom "plan"."""
        from k2ingest.errors import InvalidInputError
        from k2ingest.pipeline import plan

        try:
            planned = plan(params, _run_info(), _services())
        except InvalidInputError as err:  # bad input: retrying cannot help
            raise AirflowFailException(str(err)) from err
        ti.xcom_push(key="plan", value={k: v for k, v in planned.items() if k != "batches"})
        return planned["batches"]

    @task(pool=MAST_POOL, map_index_template="{{ batch_label }}")
    def find_light_curves(batch: dict):
        from k2ingest.pipeline import find

        get_current_context()["batch_label"] = batch["label"]
        return find(batch, _services())

    @task(map_index_template="{{ batch_label }}")
    def copy_light_curves(listing: dict, params=None):
        from k2ingest.pipeline import copy

        get_current_context()["batch_label"] = listing["label"]
        return copy(listing, params, _run_info(), _services())


    @task_group(group_id="batch")
    def ingest_batch(batch: dict):
        return copy_light_curves(find_light_curves(batch))

    @task(outlets=[CATALOG_ASSET], trigger_rule="all_done", retries=0)
    def publish_catalog(batch_results, params=None, outlet_events=None):
        """Emit a catalog Asset event, only when new files landed."""
        results = _present(batch_results)
        new_files = sum(r["new_files"] for r in results)
        if not new_files:
            raise AirflowSkipException("No new files: the catalog Asset is not updated")
        outlet_events[CATALOG_ASSET].extra = {
            "catalog": results[0]["catalog"], "new_files": new_files, "run_id": get_current_context()["run_id"],
            "destination": params["destination"], "dest_aws_conn_id": params["dest_aws_conn_id"],
        }

    @task(trigger_rule="all_done", retries=0)
    def summarize_run(planned_batches, batch_results, ti=None):
        from k2ingest.pipeline import format_summary, summarize

        plan_meta = ti.xcom_pull(task_ids="plan_targets", key="plan")
        if plan_meta is None:
            raise AirflowFailException("plan_targets failed (see its log for why); nothing was copied")
        summary = summarize({**plan_meta, "batches": planned_batches or []}, _present(batch_results))
        print(format_summary(summary))
        if summary["failed_batches"] or summary["failed"]:
            raise AirflowFailException(
                f"{len(summary['failed_batches'])} batch(es) and {summary['failed']} file(s) failed; "
                "the next run picks up what is missing")
        return summary

    planned = plan_targets()
    batch_results = ingest_batch.expand(batch=planned)
    published = publish_catalog(batch_results)
    summary = summarize_run(planned, batch_results)
    published >> summary

k2_lightcurve_ingest()
