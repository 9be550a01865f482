"""Create what the DAGs need in Airflow's metadata database: the ``mast_api`` pool, with its slots from settings.

    python -m lightcurve_ingest.wiring.airflow_setup      # MAST_POOL_SLOTS in the environment overrides the default

docker-compose's init, ``scripts/`` and the integration test all call this, so the pool is defined once.
"""

from __future__ import annotations

import sys

from lightcurve_ingest.settings import MAST_POOL, MAST_POOL_DESCRIPTION, mast_pool_slots


def create_pool() -> int:
    from airflow.models.pool import Pool

    slots = mast_pool_slots()
    Pool.create_or_update_pool(MAST_POOL, slots, MAST_POOL_DESCRIPTION, include_deferred=False)
    return slots


def main() -> int:
    print(f"Pool {MAST_POOL}: {create_pool()} slots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
