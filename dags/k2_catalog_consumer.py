"""Example downstream DAG: runs whenever new light curves land, and logs what is new in the catalog.

A template for plotting or model-training DAGs: schedule on the catalog Asset, read the Parquet
catalog with pandas, and work on the rows of the triggering runs.
"""

from __future__ import annotations

from datetime import datetime

from airflow.sdk import dag, task

from k2ingest.assets import CATALOG_ASSET


@dag(
    dag_id="k2_catalog_consumer",
    schedule=[CATALOG_ASSET],
    start_date=datetime(2026, 11, 1),
    catchup=False,
    tags=["k2", "example", "consumer"],
    doc_md=__doc__,
)
def k2_catalog_consumer():
    @task
    def log_new_files(triggering_asset_events=None) -> dict:
        from k2ingest.consumer import new_files_of_events

        new = new_files_of_events(triggering_asset_events[CATALOG_ASSET])
        for row in new.itertuples():
            print(f"new: {row.target} EPIC {row.epic_id} campaign {row.campaign} -> {row.destination_uri}")
        return {"new_files": len(new), "targets": sorted(set(new["target"]))}

    log_new_files()


k2_catalog_consumer()
