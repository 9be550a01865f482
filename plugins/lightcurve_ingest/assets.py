"""The Assets downstream DAGs schedule on: a mission's catalog Asset is updated whenever new files of it land."""

from __future__ import annotations

from airflow.sdk import Asset

from lightcurve_ingest.missions import MISSIONS, Mission


def catalog_asset(mission: Mission) -> Asset:
    return Asset(name=mission.asset_name, uri=mission.asset_uri)


CATALOG_ASSETS: dict[str, Asset] = {slug: catalog_asset(mission) for slug, mission in MISSIONS.items()}
