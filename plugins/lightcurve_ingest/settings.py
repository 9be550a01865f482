"""Names and defaults shared by the DAGs and the package, each defined once: a contract with deployments."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path
from typing import Any

MAST_CONN_ID = "mast_api"
ARCHIVE_CONN_ID = "nasa_exoplanet_archive"
SOURCE_S3_CONN_ID = "mast_public_s3"
DEFAULT_DEST_AWS_CONN_ID = "aws_default"

MAST_POOL = "mast_api"
MAST_POOL_DESCRIPTION = "Concurrent requests to MAST"
# Slots of the mast_api pool; `python -m lightcurve_ingest.wiring.airflow_setup` creates the pool with them
# (docker-compose, scripts and tests all call it). MAST_POOL_SLOTS in the environment overrides it.
DEFAULT_MAST_POOL_SLOTS = 4
# Downloads from MAST's download service over HTTPS (files the public bucket lacks, or every file with the source
# param "mast") run in tasks of their own pool, so that a large run does not flood MAST: at most
# mast_download_pool_slots() tasks at once, each fetching at most MAST_DOWNLOAD_THREADS files at once.
# MAST_DOWNLOAD_POOL_SLOTS in the environment overrides the default slots.
MAST_DOWNLOAD_POOL = "mast_download"
MAST_DOWNLOAD_POOL_DESCRIPTION = "Concurrent download tasks fetching files from MAST's download service over HTTPS"
DEFAULT_MAST_DOWNLOAD_POOL_SLOTS = 4
MAST_DOWNLOAD_THREADS = 4

DEFAULT_MAST_URL = "https://mast.stsci.edu"
DEFAULT_ARCHIVE_URL = "https://exoplanetarchive.ipac.caltech.edu"
SOURCE_BUCKET = "stpubdata"
SOURCE_REGION = "us-east-1"

CATALOG_DIR = "_catalog"
TRAINING_DIR = "_training"  # <destination>/_training/views and /series (Delta tables), /export (.npz snapshots)
# Catalog upkeep (benchmarks/README.md, "Catalog commits"): every CATALOG_COMPACT_EVERY table versions a commit
# also compacts the small files of the batches into larger ones and deletes files that no version newer than
# CATALOG_VACUUM_RETENTION_HOURS still uses (a reader older than that may fail and is retried).
CATALOG_COMPACT_EVERY = 50
CATALOG_VACUUM_RETENTION_HOURS = 1
# Compacted files of about this size (some 80,000 rows of the files table): a merge rewrites only the files
# holding rows it updates, so smaller files bound its cost; fewer, larger ones read faster whole.
CATALOG_FILE_BYTES = 8 * 1024 * 1024
# Opening a table reads its newest checkpoint, then every log entry after it: a checkpoint every 10 versions (Delta's
# default is 100) keeps that to a few reads when many shards commit (benchmarks/README.md, "Mirror whole campaigns").
CATALOG_CHECKPOINT_EVERY = 10
CATALOG_COMMIT_ATTEMPTS = 20
QUICKLOOK_DIR = "_quicklook"  # <destination>/_quicklook/<source key>.png and the gallery, index.html
DEFAULT_PLOTS_PER_BATCH = 50  # one mapped render task each: its start-up is small beside its plots
MAX_PLOTS_PER_BATCH = 500

# Chosen by the benchmark's knob sweeps (benchmarks/README.md, "How the defaults were chosen"): 100 targets a
# batch share a few MAST requests and ran faster than 50; 8 copy threads stay within botocore's pool of
# 10 connections.
DEFAULT_TARGETS_PER_BATCH = 100
DEFAULT_COPY_THREADS = 8
MAX_SHARDS = 1000  # a mirror run's mapped shards: below max_map_length; all of K2 (23 campaigns) is about 200
MAX_BATCHES = 256  # far below Airflow's max_map_length (1024): wide maps slow the scheduler and the UI

# The retry budget (the README's table): how often each layer tries, stated once. One MAST or archive query is sent
# at most HTTP_ATTEMPTS x TASK_TRIES = 8 times in a run; one file is read from S3 at most S3_ATTEMPTS x COPY_ATTEMPTS
# = 6 times in a task, and its task runs again (12) only if the task itself failed, never for the file.
HTTP_ATTEMPTS = 4  # one request to MAST or the archive: urllib3 retries resets, timeouts, 429 and 5xx 3 times
HTTP_BACKOFF_MAX_SECONDS = 30.0  # the longest wait between two of them (and the cap of a Retry-After), at backoff 1
S3_ATTEMPTS = 3  # one S3 request: botocore's "standard" mode (500s, SlowDown, resets before the body), waits <= 20 s
COPY_ATTEMPTS = 2  # one file's copy: once more after what botocore cannot retry (a reset mid-body, a failed check)
TASK_RETRIES = 1  # Airflow's: for what no inner layer retries (a killed worker, a reply it cannot use, an outage)
TASK_TRIES = 1 + TASK_RETRIES

IO_CHUNK_BYTES = 1024 * 1024  # reads and writes of file bodies: memory stays flat whatever a file's size

# S3 uploads and downloads by the worker (large objects only): parts in flight (boto3's default: 10 parts of
# 8 MB) and downloaded 256 KB chunks queued for writing (boto3's default: 100). Memory stays flat.
S3_TRANSFER_CONCURRENCY = 4
S3_TRANSFER_IO_QUEUE = 8

ENV_PREFIX = "LIGHTCURVE_INGEST_"


def _env(name: str, default: str) -> str:
    return os.environ.get(ENV_PREFIX + name, default)


def http_timeout_seconds() -> float:
    """Seconds before a MAST or archive request times out: well below astroquery's 600 s, so a hung request
    fails fast and is retried."""
    return float(_env("HTTP_TIMEOUT", "60"))


def http_backoff() -> float:
    """Backoff factor of HTTP retries (1 s: waits of about 0, 2, 4 s); tests shorten it."""
    return float(_env("HTTP_BACKOFF", "1.0"))


def retry_delay() -> timedelta:
    """Delay before a failed task's retry; tests shorten it."""
    return timedelta(seconds=float(_env("RETRY_DELAY_SECONDS", "30")))


def task_retry_args() -> dict[str, Any]:
    """The ``default_args`` of every DAG's tasks that may be retried: TASK_RETRIES after ``retry_delay()``."""
    return {"retries": TASK_RETRIES, "retry_delay": retry_delay()}


def mast_pool_slots() -> int:
    return int(os.environ.get("MAST_POOL_SLOTS") or DEFAULT_MAST_POOL_SLOTS)


def mast_download_pool_slots() -> int:
    return int(os.environ.get("MAST_DOWNLOAD_POOL_SLOTS") or DEFAULT_MAST_DOWNLOAD_POOL_SLOTS)


def default_destination(mission_slug: str) -> str:
    """The local folder a mission's DAG writes to when its ``destination`` param is not given."""
    airflow_home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return str(Path(airflow_home) / "data" / f"{mission_slug}_lightcurves")
