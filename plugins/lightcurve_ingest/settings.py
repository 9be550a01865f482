"""Names and defaults shared by the DAG and the package: a contract with deployments."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

DAG_ID = "k2_lightcurve_ingest"

MAST_CONN_ID = "mast_api"
ARCHIVE_CONN_ID = "nasa_exoplanet_archive"
SOURCE_S3_CONN_ID = "mast_public_s3"
DEFAULT_DEST_AWS_CONN_ID = "aws_default"
MAST_POOL = "mast_api"

DEFAULT_MAST_URL = "https://mast.stsci.edu"
DEFAULT_ARCHIVE_URL = "https://exoplanetarchive.ipac.caltech.edu"
SOURCE_BUCKET = "stpubdata"
SOURCE_REGION = "us-east-1"

CATALOG_DIR = "_catalog"

# Well below astroquery's 600 s default: a hung MAST request must fail fast and be retried.
HTTP_TIMEOUT_SECONDS = float(os.environ.get("K2INGEST_HTTP_TIMEOUT", "60"))

# Chosen from the benchmark's figures (benchmarks/README.md): 100 targets a batch is 4 MAST requests a batch
# (0.04 a target) and 15 % faster than 50 at N = 300 and 1000; 8 copy threads stay within botocore's pool of
# 10 connections.
DEFAULT_TARGETS_PER_BATCH = 100
DEFAULT_COPY_THREADS = 8
# Slots airflow-init gives the mast_api pool (docker-compose.yaml: ${MAST_POOL_SLOTS:-4}; keep them equal).
DEFAULT_MAST_POOL_SLOTS = 4
# S3 uploads and downloads by the worker (large objects only): parts in flight (boto3's default: 10 parts of
# 8 MB) and downloaded 256 KB chunks queued for writing (boto3's default: 100). Memory stays flat.
S3_TRANSFER_CONCURRENCY = 4
S3_TRANSFER_IO_QUEUE = 8


def default_destination() -> str:
    """The local folder used when the ``destination`` param is not given."""
    airflow_home = os.environ.get("AIRFLOW_HOME") or str(Path.home() / "airflow")
    return str(Path(airflow_home) / "data" / "k2_lightcurves")


def retry_delay() -> timedelta:
    """First delay before a failed task is retried (doubling each time); tests shorten it."""
    return timedelta(seconds=float(os.environ.get("K2INGEST_RETRY_DELAY_SECONDS", "30")))
