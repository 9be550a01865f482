"""The ``lightcurve_quicklook`` DAG: a PNG of every newly ingested light curve, and the gallery of them all.

Scheduled on every registered mission's catalog Asset: each event's ``extra`` names the destination and the
ingest run, so a run draws exactly the files those runs added. Triggered by hand with a ``destination``, it draws
every light curve of that destination that has no PNG yet. The work is in ``tasks.quicklook``; heavy imports
(astropy, matplotlib, pandas) happen inside the tasks.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task
from airflow.sdk.exceptions import AirflowFailException

from lightcurve_ingest.settings import (
    DEFAULT_DEST_AWS_CONN_ID,
    DEFAULT_PLOTS_PER_BATCH,
    MAX_PLOTS_PER_BATCH,
    task_retry_args,
)
from lightcurve_ingest.wiring.assets import any_catalog_asset, catalog_assets

DAG_ID = "lightcurve_quicklook"
DOC = """Quick-look plots of light curves: normalised PDCSAP flux (the cadences the default quality mask
keeps; SAP faintly behind) over time, a Lomb-Scargle periodogram and a Box Least Squares transit search with
their strongest periods marked, and the local view of each of the star's known planets, KOIs and TOIs folded at
its archive period, one PNG per light curve at `<destination>/_quicklook/<source key>.png`; and a gallery of
them all with the objects' names and labels, `<destination>/_quicklook/index.html`.

Runs whenever an ingest DAG publishes new files (its catalog Asset). Trigger it by hand with `destination` to
draw every light curve there that has no PNG yet. See the project README.
"""


def param_specs() -> dict[str, dict[str, Any]]:
    return {
        "destination": dict(
            default=None, type=["null", "string"], title="Destination",
            description="Manual runs: the destination (local path, file:// URL or s3://bucket/prefix) whose light "
                        "curves without a PNG are drawn, all of them. Leave empty in Asset-triggered runs: the "
                        "events name their destinations.",
        ),
        "dest_aws_conn_id": dict(
            default=DEFAULT_DEST_AWS_CONN_ID, type="string", minLength=1, pattern=r"^[A-Za-z0-9_.\-]+$",
            title="Destination AWS connection", description="Airflow connection (AWS) of an s3:// destination.",
        ),
        "plots_per_batch": dict(
            default=DEFAULT_PLOTS_PER_BATCH, type="integer", minimum=1, maximum=MAX_PLOTS_PER_BATCH,
            title="Plots per batch", description="Light curves one mapped render task draws.",
        ),
    }


def _events(triggering_asset_events: Any) -> list[Any]:
    events = []
    for asset in catalog_assets():
        try:
            events.extend(triggering_asset_events[asset])
        except (KeyError, TypeError):  # a manual run has no triggering events
            continue
    return events


# the tasks ------------------------------------------------------------------------------------------------------

@task
def plan_plots(params: Any = None, triggering_asset_events: Any = None, ti: Any = None) -> list[dict]:
    """The batches to draw. The destinations whose galleries are written afterwards go with them as XCom
    "destinations" (Airflow maps only over a return value)."""
    from lightcurve_ingest.errors import InvalidInputError
    from lightcurve_ingest.tasks import quicklook as qt
    from lightcurve_ingest.wiring.connections import dest_s3_hook

    try:
        requests = qt.requests_of_events(_events(triggering_asset_events))
        if params.get("destination"):
            requests.append(qt.PlotRequest(params["destination"], params["dest_aws_conn_id"]))
        if not requests:
            raise InvalidInputError("destination", "give one: a manual run draws a destination's plots")
        batches = qt.plan_plots(requests, int(params["plots_per_batch"]), dest_s3_hook)
    except InvalidInputError as err:
        raise AirflowFailException(str(err)) from err
    ti.xcom_push(key="destinations", value=sorted({(r.destination, r.dest_aws_conn_id) for r in requests}))
    return [b.to_dict() for b in batches]


@task(map_index_template="{{ batch_label }}")
def render_plots(batch: dict) -> dict:
    from lightcurve_ingest.domain.payloads import PlotBatch
    from lightcurve_ingest.tasks import quicklook as qt
    from lightcurve_ingest.wiring.connections import dest_s3_hook

    get_current_context()["batch_label"] = batch["label"]
    return qt.render_batch(PlotBatch.from_dict(batch), dest_s3_hook).to_dict()


@task(trigger_rule="all_done", retries=0)
def write_gallery(destinations: Any, planned: Any, results: Any) -> dict:
    """After every render (even a failed one): the gallery shows what is there."""
    from lightcurve_ingest.domain.payloads import PlotBatch, PlotBatchResult
    from lightcurve_ingest.tasks import quicklook as qt
    from lightcurve_ingest.wiring.connections import dest_s3_hook

    if destinations is None:
        raise AirflowFailException("plan_plots failed (see its log for why); nothing was drawn")
    galleries = [qt.write_gallery(dest, conn, dest_s3_hook) for dest, conn in destinations]
    present = [results] if isinstance(results, dict) else [r for r in results or [] if r]
    summary = qt.summarize([PlotBatch.from_dict(b) for b in planned or []],
                           [PlotBatchResult.from_dict(r) for r in present], galleries)
    print(summary)
    if summary["failed_batches"]:
        raise AirflowFailException(f"{len(summary['failed_batches'])} render batch(es) failed; "
                                   "the next manual run draws what is missing")
    return summary


# the DAG --------------------------------------------------------------------------------------------------------

def build_quicklook_dag() -> Any:
    @dag(
        dag_id=DAG_ID,
        schedule=any_catalog_asset(),  # new files of any mission
        start_date=datetime(2026, 11, 1),
        catchup=False,
        max_active_runs=1,  # one gallery writer at a time: each run's page lists what every earlier run drew
        max_active_tasks=8,
        default_args=task_retry_args(),
        params={name: Param(**spec) for name, spec in param_specs().items()},
        tags=["quicklook", "consumer"],
        doc_md=DOC,
    )
    def lightcurve_quicklook() -> None:
        planned = plan_plots()
        write_gallery(planned["destinations"], planned, render_plots.expand(batch=planned))

    return lightcurve_quicklook()
