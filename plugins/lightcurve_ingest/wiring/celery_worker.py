"""Celery configuration for the workers: Airflow's own, plus this package's libraries imported once per worker.

Airflow 3's Celery worker forks its pool processes from its main process, and each task's supervisor forks
the task's own process (a bare ``os.fork`` on Linux, ``airflow.sdk.execution_time.supervisor``), so what the
worker imports before its pool starts is inherited by every task process instead of imported again by each
(pandas, astropy, astroquery and botocore: seconds of CPU a task; benchmarks/README.md). Celery imports the
modules of ``imports`` in the main process before it forks the pool (``loader.import_default_modules``).

Set ``AIRFLOW__CELERY__CELERY_CONFIG_OPTIONS=lightcurve_ingest.wiring.celery_worker.CELERY_CONFIG`` (docker-compose.yaml
does). The scheduler reads this dict too, but only workers import ``imports``.
"""

from __future__ import annotations

from airflow.providers.celery.executors.default_celery import DEFAULT_CELERY_CONFIG

PRELOAD_MODULE = "lightcurve_ingest.wiring.worker_preload"

CELERY_CONFIG = {**DEFAULT_CELERY_CONFIG,
                 "imports": (*DEFAULT_CELERY_CONFIG.get("imports", ()), PRELOAD_MODULE)}
