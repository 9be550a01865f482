"""Example downstream Airflow DAG: runs whenever new light curves of any mission land, and logs them with labels.

A template for plotting or model-training DAGs: schedule on the catalog Assets, read the Parquet catalog with
pandas (``lightcurve_ingest.wiring.consumer``), and work on the rows of the triggering runs.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from lightcurve_ingest.wiring.assets import any_catalog_asset, catalog_assets

ASSETS = catalog_assets()  # one per registered mission


@dag(
    dag_id="lightcurve_catalog_consumer",
    schedule=any_catalog_asset(),  # any mission's new files
    start_date=datetime(2026, 11, 1),
    catchup=False,
    tags=["example", "consumer"],
    doc_md=__doc__,
)
def lightcurve_catalog_consumer():
    @task
    def log_new_files(triggering_asset_events=None) -> dict:
        from lightcurve_ingest.wiring.consumer import new_files_of_events

        events = [event for asset in ASSETS for event in triggering_asset_events[asset]]
        new = new_files_of_events(events)
        for row in new.itertuples():
            print(f"new: {row.mission} {row.target} ({row.target_id}, {row.disposition or 'no disposition'}) "
                  f"{row.observing_unit} -> {row.destination_uri}")
        return {"new_files": len(new), "targets": sorted(set(new["target"]))}

    log_new_files()


lightcurve_catalog_consumer()
