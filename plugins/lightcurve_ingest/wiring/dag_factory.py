"""One DAG factory for every mission: ``build_ingest_dag("tess")`` is the whole of a DAG file.

The tasks are defined once, below, each a thin call into ``tasks.ingest`` that takes the mission's slug;
``build_ingest_dag`` states the flow. Payloads cross task boundaries as XCom JSON and are typed again on arrival.
Only light modules are imported at parse time; each task imports what it uses.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, Param, dag, get_current_context, task, task_group
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from lightcurve_ingest.domain.missions import get_mission
from lightcurve_ingest.settings import MAST_DOWNLOAD_POOL, MAST_POOL, task_retry_args
from lightcurve_ingest.tasks.params import param_specs
from lightcurve_ingest.wiring.assets import catalog_asset
from lightcurve_ingest.wiring.task_usage import measured

WINDOWED_RUN_TYPES = ("scheduled", "backfill")
DOC = """Daily copy of {name} light curves ({what}) from MAST's public bucket (or MAST's download service, for
files the bucket lacks or with the `source` param) to a destination.

Targets come from the NASA Exoplanet Archive's `{table}` table (the `dispositions` param chooses which stars), or
from the `targets` param. {schedule} See the project README for params, run modes and the catalog.
"""


def _services() -> Any:
    from lightcurve_ingest.wiring.connections import services_from_connections

    return services_from_connections()


def _present(results: Any) -> list[dict]:
    """The results of the mapped instances that succeeded (a single instance's may come unwrapped)."""
    if isinstance(results, dict):
        return [results]
    return [r for r in results or [] if r]


def _fail_fast(step: Any) -> Any:
    """Run a task's step. Bad input or a full disk fail the task without retries: they would only read the same
    files again, or be refused again."""
    from lightcurve_ingest.errors import RETRY_CANNOT_HELP

    try:
        return step()
    except RETRY_CANNOT_HELP as err:
        raise AirflowFailException(str(err)) from err


def _run_info() -> Any:
    """Scheduled and backfill runs work on their data interval; manual runs never do (even with a logical date)."""
    from lightcurve_ingest.tasks.ingest import RunInfo

    context = get_current_context()
    run_type = context["dag_run"].run_type
    windowed = str(getattr(run_type, "value", run_type)) in WINDOWED_RUN_TYPES
    return RunInfo(
        run_id=context["run_id"],
        interval_start=context.get("data_interval_start") if windowed else None,
        interval_end=context.get("data_interval_end") if windowed else None,
    )


# the tasks ------------------------------------------------------------------------------------------------------

@task
@measured("plan_targets")
def plan_targets(slug: str, params: Any = None, ti: Any = None) -> list[dict]:
    """The batches to map over (none in a mirror run). The plan's figures for the summary (mode, targets already
    complete, names the archive does not know) go with them as XCom "plan": Airflow maps only over a return
    value (3.3 refuses a keyed XCom), so they cannot be a second output."""
    from lightcurve_ingest.tasks import ingest

    plan = _fail_fast(lambda: ingest.plan_targets(get_mission(slug), params, _run_info(), _services())).to_dict()
    ti.xcom_push(key="plan", value={**plan, "batches": []})
    return plan["batches"]


@task
@measured("plan_shards")
def plan_shards(slug: str, params: Any = None) -> list[dict]:
    """A mirror run's shards, from the bucket's folders of its units (none in a run of targets)."""
    from lightcurve_ingest.tasks import ingest

    return [s.to_dict() for s in _fail_fast(lambda: ingest.plan_shards(get_mission(slug), params, _services()))]


@task(pool=MAST_POOL, map_index_template="{{ batch_label }}")
@measured("find_light_curves")
def find_light_curves(slug: str, batch: dict, params: Any = None) -> dict:
    from lightcurve_ingest.domain.payloads import Batch
    from lightcurve_ingest.tasks import ingest

    get_current_context()["batch_label"] = batch["label"]
    return ingest.find_light_curves(get_mission(slug), Batch.from_dict(batch), params, _services()).to_dict()


@task(map_index_template="{{ batch_label }}")
@measured("copy_light_curves")
def copy_light_curves(slug: str, listing: dict, params: Any = None) -> dict:
    from lightcurve_ingest.domain.payloads import Listing
    from lightcurve_ingest.tasks import ingest

    get_current_context()["batch_label"] = listing["batch"]["label"]
    return _fail_fast(lambda: ingest.copy_light_curves(get_mission(slug), Listing.from_dict(listing), params,
                                                       _run_info(), _services())).to_dict()


@task(pool=MAST_DOWNLOAD_POOL, map_index_template="{{ batch_label }}")
@measured("download_light_curves")
def download_light_curves(slug: str, copied: dict, params: Any = None) -> dict:
    """The files the copy task left to MAST's download service, over HTTPS, in a pool of their own; the batch's
    result (the copy task's, when it left none)."""
    from lightcurve_ingest.domain.payloads import PartResult
    from lightcurve_ingest.tasks import ingest

    get_current_context()["batch_label"] = copied["label"]
    return _fail_fast(lambda: ingest.download_light_curves(get_mission(slug), PartResult.from_dict(copied), params,
                                                           _run_info(), _services())).to_dict()


@task_group(group_id="batch")
def ingest_batch(slug: str, batch: dict) -> Any:
    return download_light_curves(slug, copy_light_curves(slug, find_light_curves(slug, batch)))


@task(map_index_template="{{ shard_label }}")
@measured("mirror_shard")
def mirror_shard(slug: str, shard: dict, params: Any = None) -> dict:
    """One folder of a whole campaign or sector: not in the mast_api pool (MAST is not asked)."""
    from lightcurve_ingest.domain.payloads import Shard
    from lightcurve_ingest.tasks import ingest

    get_current_context()["shard_label"] = shard["label"]
    return _fail_fast(lambda: ingest.mirror_shard(get_mission(slug), Shard.from_dict(shard), params, _run_info(),
                                                  _services())).to_dict()


@task(trigger_rule="all_done", retries=0)
@measured("publish_catalog")
def publish_catalog(slug: str, batch_results: Any, shard_results: Any, params: Any = None,
                    outlet_events: Any = None) -> None:
    """Emit the catalog Asset event, only when new files landed."""
    mission = get_mission(slug)
    results = _present(batch_results) + _present(shard_results)
    new_files = sum(r["new_files"] for r in results)
    if not new_files:
        raise AirflowSkipException("No new files: the catalog Asset is not updated")
    outlet_events[catalog_asset(mission)].extra = {
        "catalog": results[0]["catalog"], "new_files": new_files, "mission": mission.name,
        "run_id": get_current_context()["run_id"], "destination": params["destination"],
        "dest_aws_conn_id": params["dest_aws_conn_id"],
    }


@task(trigger_rule="all_done", retries=0)
@measured("summarize_run")
def summarize_run(plan: Any, batches: Any, shards: Any, batch_results: Any, shard_results: Any) -> dict:
    from lightcurve_ingest.domain.payloads import PartResult, Plan
    from lightcurve_ingest.tasks import ingest

    if batches is None or shards is None:
        raise AirflowFailException("planning failed (see the log of plan_targets or plan_shards); nothing was copied")
    results = [PartResult.from_dict(r) for r in _present(batch_results) + _present(shard_results)]
    summary = ingest.summarize_run(Plan.from_dict({**plan, "batches": batches, "shards": shards}), results)
    print(ingest.format_summary(summary))
    if ingest.run_failed(summary):
        failed_parts = len(summary.get("failed_batches") or summary.get("failed_shards") or [])
        raise AirflowFailException(f"{failed_parts} batch(es) or shard(s) and {summary['failed']} file(s) failed; "
                                   "the next run picks up what is missing")
    return summary


# the DAG --------------------------------------------------------------------------------------------------------

def build_ingest_dag(slug: str) -> Any:
    """The daily ingest DAG of one registered mission, by slug (``k2``, or any in ``missions.MISSIONS``)."""
    mission = get_mission(slug)
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
        batches = plan_targets(slug)  # a run of targets: the archive's targets, cut into batches
        shards = plan_shards(slug)  # a mirror run: the bucket's folders of its units
        batch_results = ingest_batch.partial(slug=slug).expand(batch=batches)
        shard_results = mirror_shard.partial(slug=slug).expand(shard=shards)
        published = publish_catalog.override(outlets=[catalog_asset(mission)])(slug, batch_results, shard_results)
        summary = summarize_run(batches["plan"], batches, shards, batch_results, shard_results)
        published >> summary

    return ingest()
