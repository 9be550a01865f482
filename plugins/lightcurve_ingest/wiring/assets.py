"""The Assets downstream DAGs schedule on: a mission's catalog Asset is updated whenever new files of it land.

The lists are read from the mission registry when called (at DAG-parse time), so a mission added to
``lightcurve_ingest.domain.missions.MISSIONS`` is scheduled on with no other change.
"""

from __future__ import annotations

import functools
import operator

from airflow.sdk import Asset, AssetAny

from lightcurve_ingest.domain.missions import MISSIONS, Mission


def catalog_asset(mission: Mission) -> Asset:
    return Asset(name=mission.asset_name, uri=mission.asset_uri)


def catalog_assets() -> list[Asset]:
    """Every registered mission's catalog Asset, in the registry's order."""
    return [catalog_asset(mission) for mission in MISSIONS.values()]


def any_catalog_asset() -> Asset | AssetAny:
    """A schedule that fires when new files of any registered mission land."""
    return functools.reduce(operator.or_, catalog_assets())
