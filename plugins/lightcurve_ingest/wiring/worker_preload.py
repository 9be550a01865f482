"""Imported once by each Celery worker before it forks (``celery_worker``): the libraries the tasks use.

Only imports, no clients or sessions: nothing that holds a socket or a thread may cross a fork.
"""

from __future__ import annotations

import importlib

MODULES = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "pyarrow.dataset",
    "deltalake",
    "astropy.io.fits",
    "astroquery.mast",
    "boto3",
    "airflow.providers.amazon.aws.hooks.s3",
    "lightcurve_ingest.wiring.dag_factory",
    "lightcurve_ingest.tasks.ingest",
    "lightcurve_ingest.wiring.connections",
    "lightcurve_ingest.domain.copying",
    "lightcurve_ingest.domain.catalog",
)

for _name in MODULES:
    importlib.import_module(_name)
