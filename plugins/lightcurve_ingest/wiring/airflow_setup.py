"""Create what the DAGs need in Airflow's metadata database: the ``mast_api`` and ``mast_download`` pools, with
their slots from settings.

    python -m lightcurve_ingest.wiring.airflow_setup      # MAST_POOL_SLOTS and MAST_DOWNLOAD_POOL_SLOTS in the
                                                          # environment override the defaults

docker-compose's init, ``scripts/`` and the integration test all call this, so the pools are defined once.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from lightcurve_ingest.settings import (
    MAST_DOWNLOAD_POOL,
    MAST_DOWNLOAD_POOL_DESCRIPTION,
    MAST_POOL,
    MAST_POOL_DESCRIPTION,
    mast_download_pool_slots,
    mast_pool_slots,
)

# pool -> (its slots, its description)
POOLS: dict[str, tuple[Callable[[], int], str]] = {
    MAST_POOL: (mast_pool_slots, MAST_POOL_DESCRIPTION),
    MAST_DOWNLOAD_POOL: (mast_download_pool_slots, MAST_DOWNLOAD_POOL_DESCRIPTION),
}


def create_pools() -> dict[str, int]:
    """Create or update every pool; each one's slots."""
    from airflow.models.pool import Pool

    created = {}
    for name, (slots, description) in POOLS.items():
        created[name] = slots()
        Pool.create_or_update_pool(name, created[name], description, include_deferred=False)
    return created


def main() -> int:
    for name, slots in create_pools().items():
        print(f"Pool {name}: {slots} slots")
    return 0


if __name__ == "__main__":
    sys.exit(main())
