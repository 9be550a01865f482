"""The catalog at the destination: one Parquet table of ingested files, one of target states.

``<destination>/_catalog/files.parquet`` and ``<destination>/_catalog/targets.parquet`` are each replaced
whole, atomically, by compare-and-swap: under a file lock for a local folder, and with S3 conditional
writes (``If-Match`` the ETag read, or ``If-None-Match: *`` when new) for a bucket. Concurrent runs
(backfills run several days at once) therefore never lose each other's rows; a crashed run leaves the
previous table intact. Rows are upserted by key, so nothing is recorded twice.
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import random
import time
from pathlib import Path
from typing import Any

from k2ingest.destination import Destination
from k2ingest.settings import CATALOG_DIR

log = logging.getLogger(__name__)

FILES_TABLE = "files"
TARGETS_TABLE = "targets"
KEYS = {FILES_TABLE: "destination_uri", TARGETS_TABLE: "epic_id"}
FILE_COLUMNS = [
    "destination_uri", "target", "epic_id", "campaign", "source_key", "data_uri", "obs_id", "obsid",
    "product_filename", "mast_size", "size", "sha256", "fits_checksum_verified", "copy_method",
    "ingested_at", "run_id",
]
TARGET_COLUMNS = ["epic_id", "hostname", "status", "files", "run_id", "updated_at"]
COLUMNS = {FILES_TABLE: FILE_COLUMNS, TARGETS_TABLE: TARGET_COLUMNS}
PENDING, COMPLETE, INCOMPLETE, NOT_FOUND = "pending", "complete", "incomplete", "not_found"
CAS_ATTEMPTS = 20


class ConcurrentUpdateError(RuntimeError):
    """The table changed under us too many times in a row."""


def table_key(table: str) -> str:
    return f"{CATALOG_DIR}/{table}.parquet"


def _to_parquet(frame: Any) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def _from_parquet(data: bytes | None, table: str) -> Any:
    import pandas as pd

    if data is None:
        return pd.DataFrame(columns=COLUMNS[table])
    return pd.read_parquet(io.BytesIO(data), engine="pyarrow")


def merge_rows(existing: Any, rows: list[dict], table: str) -> Any:
    """Upsert ``rows`` into ``existing`` by the table's key: the newer row wins."""
    import pandas as pd

    new = pd.DataFrame(rows, columns=COLUMNS[table])
    if existing.empty:
        merged = new
    else:
        merged = pd.concat([existing, new], ignore_index=True)
    merged = merged.drop_duplicates(subset=KEYS[table], keep="last")
    return merged.sort_values(KEYS[table], kind="stable").reset_index(drop=True)


class Catalog:
    """Read and upsert the catalog tables of one destination."""

    def __init__(self, destination: Destination, dest_hook: Any = None) -> None:
        self.destination = destination
        self.hook = dest_hook
        if not destination.is_local and dest_hook is None:
            raise ValueError("an S3 destination needs its S3Hook")

    def uri(self, table: str = FILES_TABLE) -> str:
        return self.destination.uri(table_key(table))

    def read(self, table: str) -> Any:
        return _from_parquet(self._read_bytes(table)[0], table)

    def upsert(self, table: str, rows: list[dict]) -> int:
        """Merge rows into the table atomically; returns how many keys are new to it."""
        if not rows:
            return 0
        if self.destination.is_local:
            return self._upsert_local(table, rows)
        return self._upsert_s3(table, rows)

    # local: a lock file serialises writers; os.replace makes the new table appear whole
    def _upsert_local(self, table: str, rows: list[dict]) -> int:
        path = Path(self.destination.key(table_key(table)))
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.parent / ".lock", "a+b") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            existing = _from_parquet(path.read_bytes() if path.exists() else None, table)
            merged = merge_rows(existing, rows, table)
            for stale in path.parent.glob(f".{path.name}.part-*"):  # left by a writer killed mid-write
                stale.unlink(missing_ok=True)
            partial = path.with_name(f".{path.name}.part-{os.getpid()}")
            partial.write_bytes(_to_parquet(merged))
            with open(partial, "rb") as handle:
                os.fsync(handle.fileno())
            os.replace(partial, path)
        return len(merged) - len(existing)

    # S3: conditional writes; a lost race re-reads and merges again
    def _upsert_s3(self, table: str, rows: list[dict]) -> int:
        client = self.hook.get_conn()
        key = self.destination.key(table_key(table))
        for attempt in range(CAS_ATTEMPTS):
            data, etag = self._read_bytes(table)
            existing = _from_parquet(data, table)
            merged = merge_rows(existing, rows, table)
            condition = {"IfMatch": etag} if etag else {"IfNoneMatch": "*"}
            try:
                client.put_object(Bucket=self.destination.root, Key=key, Body=_to_parquet(merged), **condition)
                return len(merged) - len(existing)
            except Exception as err:
                if _error_code(err) not in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                    raise
                log.info("Catalog %s changed while updating it (attempt %d); merging again", table, attempt + 1)
                time.sleep(random.uniform(0.05, 0.5))
        raise ConcurrentUpdateError(f"catalog {table} kept changing; gave up after {CAS_ATTEMPTS} attempts")

    def _read_bytes(self, table: str) -> tuple[bytes | None, str | None]:
        if self.destination.is_local:
            path = Path(self.destination.key(table_key(table)))
            return (path.read_bytes(), None) if path.exists() else (None, None)
        client = self.hook.get_conn()
        try:
            response = client.get_object(Bucket=self.destination.root, Key=self.destination.key(table_key(table)))
        except Exception as err:
            if _error_code(err) in ("NoSuchKey", "404"):
                return None, None
            raise
        return response["Body"].read(), response["ETag"]


def _error_code(err: Exception) -> str:
    return str(getattr(err, "response", {}).get("Error", {}).get("Code", ""))
