"""The ``lightcurve_training_set`` DAG: labelled, phase-folded views of every object, and series of every light curve.

Scheduled on every registered mission's catalog Asset and daily: an Asset event names the destination an ingest
run wrote to; a daily run takes every mission's default destination that exists; a manual run takes its
``destination``. Each run builds only the rows whose inputs changed (``tasks.training``); heavy imports happen
inside the tasks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from lightcurve_ingest.settings import DEFAULT_DEST_AWS_CONN_ID, task_retry_args
from lightcurve_ingest.wiring.assets import any_catalog_asset, catalog_assets

DAG_ID = "lightcurve_training_set"
DOC = """A training set for transit classifiers, kept up to date: for every planet, KOI and TOI in the catalog, the
star's light curves stitched and detrended with the object's transits masked, AstroNet's global (2001 bins) and
local (201 bins) views, odd, even and secondary-eclipse views, a label (1 planet, 0 false positive, empty for
candidates) and a split by star, in the Delta table `<destination>/_training/views`; and one detrended series of
`series_points` per light curve in `<destination>/_training/series`. `export_npz` writes
`<destination>/_training/export/v<version>/{train,validation,test}.npz`. See docs/training.md.
"""


def param_specs() -> dict[str, dict[str, Any]]:
    return {
        "destination": dict(
            default=None, type=["null", "string"], title="Destination",
            description="Manual runs: the destination (local path, file:// URL or s3://bucket/prefix) whose "
                        "catalog the training set is built from. Leave empty in scheduled runs.",
        ),
        "dest_aws_conn_id": dict(
            default=DEFAULT_DEST_AWS_CONN_ID, type="string", minLength=1, pattern=r"^[A-Za-z0-9_.\-]+$",
            title="Destination AWS connection", description="Airflow connection (AWS) of an s3:// destination.",
        ),
        "global_bins": dict(default=2001, type="integer", minimum=2, title="Global view bins",
                            description="Bins of the global view over the whole phase (AstroNet: 2001)."),
        "local_bins": dict(default=201, type="integer", minimum=2, title="Local view bins",
                           description="Bins of the local views over +-4 transit durations (AstroNet: 201)."),
        "series_points": dict(default=3197, type="integer", minimum=2, title="Series points",
                              description="Points of each light curve's resampled series (Kaggle's set: 3197)."),
        "stars_per_batch": dict(default=20, type="integer", minimum=1, maximum=1000, title="Stars per batch",
                                description="Stars one mapped build task reads and commits."),
        "export_npz": dict(default=False, type="boolean", title="Export .npz",
                           description="Also write train/validation/test .npz files of the views table's version."),
    }


def _destinations_of_events(triggering_asset_events: Any) -> list[tuple[str, str]]:
    from lightcurve_ingest.tasks.quicklook import requests_of_events

    events = []
    for asset in catalog_assets():
        try:
            events.extend(triggering_asset_events[asset])
        except (KeyError, TypeError):  # a manual or daily run has no triggering events
            continue
    return [(r.destination, r.dest_aws_conn_id) for r in requests_of_events(events)]


def _parsed(params: Any, triggering_asset_events: Any = None) -> Any:
    from lightcurve_ingest.errors import InvalidInputError
    from lightcurve_ingest.tasks.training import TrainingParams

    try:
        return TrainingParams.parse(dict(params), _destinations_of_events(triggering_asset_events))
    except InvalidInputError as err:
        raise AirflowFailException(str(err)) from err


# the tasks ------------------------------------------------------------------------------------------------------

@task
def plan_training(params: Any = None, triggering_asset_events: Any = None, ti: Any = None) -> list[dict]:
    """The batches of stars with rows to build. The run's destinations go with them as XCom "destinations"."""
    from lightcurve_ingest.errors import InvalidInputError
    from lightcurve_ingest.tasks import training as tt
    from lightcurve_ingest.wiring.connections import dest_s3_hook

    parsed = _parsed(params, triggering_asset_events)
    try:
        batches = tt.plan_training(parsed, dest_s3_hook)
    except InvalidInputError as err:  # e.g. a destination's connection that does not exist
        raise AirflowFailException(str(err)) from err
    ti.xcom_push(key="destinations", value=[list(d) for d in parsed.destinations])
    return [b.to_dict() for b in batches]


@task(map_index_template="{{ batch_label }}")
def build_training_rows(batch: dict, params: Any = None) -> dict:
    from lightcurve_ingest.tasks import training as tt
    from lightcurve_ingest.wiring.connections import dest_s3_hook

    get_current_context()["batch_label"] = batch["label"]
    return tt.build_batch(tt.TrainingBatch.from_dict(batch), _parsed(params), dest_s3_hook)


@task(trigger_rule="all_done", retries=0)
def export_and_summarize(destinations: Any, planned: Any, outcomes: Any, params: Any = None) -> dict:
    """After every build (even a failed one): export the snapshot if asked, and say what was built."""
    from lightcurve_ingest.tasks import training as tt
    from lightcurve_ingest.wiring.connections import dest_s3_hook

    if destinations is None:
        raise AirflowFailException("plan_training failed (see its log for why); nothing was built")
    present = [outcomes] if isinstance(outcomes, dict) else [o for o in outcomes or [] if o]
    exports = [tt.export_snapshot(d, c, dest_s3_hook) for d, c in destinations] if params["export_npz"] else []
    summary = tt.summarize([tt.TrainingBatch.from_dict(b) for b in planned or []], present, exports)
    print(summary)
    if summary["failed_batches"]:
        raise AirflowFailException(f"{len(summary['failed_batches'])} build batch(es) failed; the next run builds "
                                   "what is missing")
    return summary


# the DAG --------------------------------------------------------------------------------------------------------

def build_training_dag() -> Any:
    @dag(
        dag_id=DAG_ID,
        schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("@daily", timezone="UTC"),
                                     assets=any_catalog_asset()),
        start_date=datetime(2026, 11, 1),
        catchup=False,
        max_active_runs=1,  # one writer of the tables at a time: two runs never interleave their commits
        max_active_tasks=4,
        default_args=task_retry_args(),
        params={name: Param(**spec) for name, spec in param_specs().items()},
        tags=["training", "consumer"],
        doc_md=DOC,
    )
    def lightcurve_training_set() -> None:
        planned = plan_training()
        export_and_summarize(planned["destinations"], planned, build_training_rows.expand(batch=planned))

    return lightcurve_training_set()
