"""The catalog at a destination: one table of ingested files and one of targets, for every mission.

``<destination>/_catalog/files.parquet`` (one row per file, keyed by ``destination_uri``) and
``<destination>/_catalog/targets.parquet`` (one row per target, keyed by ``mission`` and ``target_id``, with
the archive's labels: a labelled training set). Each commit upserts rows and replaces the table whole by the
storage's compare-and-swap write (a file lock for a local folder, S3 conditional writes for a bucket): a lost
race reads and merges again, so concurrent runs never lose each other's rows and a crashed run leaves the
previous table intact.

A catalog written before missions existed (``epic_id``/``campaign`` columns, K2 only) is read as K2 rows and
rewritten in this layout by its first commit, losing no row.
"""

from __future__ import annotations

import io
import logging
import operator
import random
import time
from typing import Any

from lightcurve_ingest.settings import CATALOG_DIR
from lightcurve_ingest.storage import Storage

log = logging.getLogger(__name__)

FILES_TABLE = "files"
TARGETS_TABLE = "targets"
KEYS = {FILES_TABLE: ["destination_uri"], TARGETS_TABLE: ["mission", "target_id"]}
FILE_COLUMNS = [
    "destination_uri", "mission", "target_id", "target", "observing_unit", "source_key", "data_uri", "obs_id",
    "obsid", "product_filename", "mast_size", "size", "sha256", "fits_checksum_verified", "copy_method",
    "ingested_at", "run_id",
]
TARGET_COLUMNS = ["mission", "target_id", "target", "disposition", "objects", "status", "files", "run_id",
                  "updated_at"]
COLUMNS = {FILES_TABLE: FILE_COLUMNS, TARGETS_TABLE: TARGET_COLUMNS}
# pandas dtypes that would otherwise drift with the rows of a commit (a None unit, an empty table)
DTYPES = {
    FILES_TABLE: {"target_id": "int64", "observing_unit": "Int64", "mast_size": "int64", "size": "int64",
                  "fits_checksum_verified": "bool"},
    TARGETS_TABLE: {"target_id": "int64", "files": "int64"},
}
PENDING, COMPLETE, INCOMPLETE, NOT_FOUND = "pending", "complete", "incomplete", "not_found"
MIRRORED = "mirrored"  # a star known only from whole-unit mirror runs: the daily runs do not follow it
CAS_ATTEMPTS = 20
# The first release's tables: K2 only, keyed by epic_id
LEGACY_RENAMES = {FILES_TABLE: {"epic_id": "target_id", "campaign": "observing_unit"},
                  TARGETS_TABLE: {"epic_id": "target_id", "hostname": "target"}}


class ConcurrentUpdateError(RuntimeError):
    """The table changed under us too many times in a row."""


def table_key(table: str) -> str:
    return f"{CATALOG_DIR}/{table}.parquet"


def upgrade(frame: Any, table: str) -> Any:
    """A table in today's layout: a first-release table gets ``mission`` = K2 and the neutral id/unit names."""
    if "epic_id" in frame.columns and "mission" not in frame.columns:
        frame = frame.rename(columns=LEGACY_RENAMES[table]).assign(mission="K2")
    missing = {c: "" if c in ("disposition", "objects") else None for c in COLUMNS[table] if c not in frame.columns}
    return _typed(frame.assign(**missing)[COLUMNS[table]], table)


def merge_rows(existing: Any, rows: list[dict], table: str) -> Any:
    """Upsert ``rows`` into ``existing`` by the table's key: the newer row wins."""
    import pandas as pd

    new = _typed(pd.DataFrame(rows, columns=COLUMNS[table]), table)
    merged = new if existing.empty else pd.concat([existing, new], ignore_index=True)
    merged = merged.drop_duplicates(subset=KEYS[table], keep="last")
    return merged.sort_values(KEYS[table], kind="stable").reset_index(drop=True)


def _typed(frame: Any, table: str) -> Any:
    return frame.astype(DTYPES[table])


FILTER_OPS = {"=": operator.eq, "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
              ">": operator.gt, ">=": operator.ge, "in": lambda column, values: column.isin(list(values)),
              "not in": lambda column, values: ~column.isin(list(values))}


def _filtered(frame: Any, filters: list[tuple[str, str, Any]]) -> Any:
    keep = None
    for column, op, value in filters:
        if op not in FILTER_OPS:
            raise ValueError(f"unknown filter operator {op!r}; known: {', '.join(FILTER_OPS)}")
        match = FILTER_OPS[op](frame[column], value).fillna(False).astype(bool)
        keep = match if keep is None else keep & match
    return frame if keep is None else frame[keep].reset_index(drop=True)


def _to_parquet(frame: Any) -> bytes:
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False, engine="pyarrow")
    return buffer.getvalue()


def _from_parquet(data: bytes | None, table: str) -> Any:
    import pandas as pd

    if data is None:
        return _typed(pd.DataFrame(columns=COLUMNS[table]), table)
    return upgrade(pd.read_parquet(io.BytesIO(data), engine="pyarrow"), table)


class Catalog:
    """Read and upsert the catalog tables of one destination."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def uri(self, table: str = FILES_TABLE) -> str:
        return self.storage.uri(table_key(table))

    def read(self, table: str, filters: list[tuple[str, str, Any]] | None = None) -> Any:
        """The table as a pandas DataFrame, in today's layout (empty when there is none yet); ``filters`` keeps
        only the rows matching every ``(column, op, value)`` (pyarrow style: ``=``, ``!=``, ``<``, ``<=``, ``>``,
        ``>=``, ``in``, ``not in``)."""
        frame = _from_parquet(self.storage.read_versioned(table_key(table)).data, table)
        return _filtered(frame, filters or [])

    def upsert(self, table: str, rows: list[dict]) -> int:
        """Merge rows into the table by compare-and-swap; returns how many keys are new to it."""
        if not rows:
            return 0
        for attempt in range(CAS_ATTEMPTS):
            current = self.storage.read_versioned(table_key(table))
            existing = _from_parquet(current.data, table)
            merged = merge_rows(existing, rows, table)
            if self.storage.write_if_unchanged(table_key(table), _to_parquet(merged), current.version):
                return len(merged) - len(existing)
            log.info("Catalog %s changed while updating it (attempt %d); merging again", table, attempt + 1)
            time.sleep(random.uniform(0.05, 0.5))
        raise ConcurrentUpdateError(f"catalog {table} kept changing; gave up after {CAS_ATTEMPTS} attempts")
