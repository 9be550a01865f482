"""The catalog at a destination: tables of ingested files, of targets and of their objects, for every mission.

Three Delta Lake tables (folders of Parquet files and a transaction log, written with ``deltalake``):
``<destination>/_catalog/files`` (one row per file, keyed by ``destination_uri``),
``<destination>/_catalog/targets`` (one row per target, keyed by ``mission`` and ``target_id``, with the
archive's labels) and ``<destination>/_catalog/objects`` (one row per planet, KOI or TOI, keyed by ``mission``,
``target_id`` and ``object``, with its verdict and ephemeris), all partitioned by ``mission``.

Callers ask in records (``catalog_records``): :meth:`Catalog.files`, :meth:`Catalog.target_states`,
:meth:`Catalog.objects` and :meth:`Catalog.recorded_sizes` read, with their filters pushed down to the tables;
:meth:`Catalog.record` commits a batch's outcome. :meth:`Catalog.read` and :meth:`Catalog.upsert` are the same
tables as pandas DataFrames and rows of column values, for notebooks, tools and tests.

The training set's tables (``_training/views`` and ``_training/series``, records in ``training.records``) are
committed and read the same way, through :meth:`Catalog.upsert`, :meth:`Catalog.rows` and
:meth:`Catalog.snapshot`.

A commit costs in proportion to its batch, not to the table: a batch whose keys are all new is appended (one new
Parquet file and one log entry); one that updates rows is merged (the newer row wins), reading only its missions'
partitions. Each commit is atomic: a new table version appears whole or not at all, by a put-if-absent of the
log entry (a file created exclusively for a local folder, an S3 conditional write for a bucket). A writer that
loses the race to another writer's conflicting commit tries again, after a jittered pause, so concurrent runs
never lose each other's rows and a crashed run leaves the previous version intact. Every CATALOG_COMPACT_EVERY
versions the small files are compacted and unused ones vacuumed.

Two appends of the same new key by concurrent writers (the same file ingested by two runs at the same moment)
do not conflict in Delta Lake; :meth:`Catalog.read` keeps the newer row of such a pair, as a merge would.

Older catalogs are single Parquet files, ``_catalog/files.parquet`` and ``_catalog/targets.parquet``, possibly
written before missions existed (``epic_id``/``campaign`` columns, K2 only). They are read as they are until the
first commit, which creates the Delta table with every one of their rows (in today's layout) and the commit's
own; the old files are left in place, untouched, and no longer read.
"""

from __future__ import annotations

import errno
import io
import logging
import os
import random
import time
from collections.abc import Iterable, Sequence
from typing import Any

from lightcurve_ingest.domain.catalog_records import CatalogFile, ObjectState, TargetState, TargetStatus
from lightcurve_ingest.domain.missions import get_mission
from lightcurve_ingest.errors import DiskFullError, InvalidInputError
from lightcurve_ingest.settings import (
    CATALOG_CHECKPOINT_EVERY,
    CATALOG_COMMIT_ATTEMPTS,
    CATALOG_COMPACT_EVERY,
    CATALOG_DIR,
    CATALOG_FILE_BYTES,
    CATALOG_VACUUM_RETENTION_HOURS,
    TRAINING_DIR,
)
from lightcurve_ingest.storage.backends import Storage

log = logging.getLogger(__name__)

FILES_TABLE = "files"
TARGETS_TABLE = "targets"
OBJECTS_TABLE = "objects"
KEYS = {FILES_TABLE: ["destination_uri"], TARGETS_TABLE: ["mission", "target_id"],
        OBJECTS_TABLE: ["mission", "target_id", "object"]}
# which of two rows of one key is newer
NEWEST = {FILES_TABLE: "ingested_at", TARGETS_TABLE: "updated_at", OBJECTS_TABLE: "updated_at"}
PARTITION_BY = ["mission"]
FILE_COLUMNS = [
    "destination_uri", "mission", "target_id", "target", "observing_unit", "source_key", "data_uri", "obs_id",
    "obsid", "product_filename", "mast_size", "size", "sha256", "fits_checksum_verified", "copy_method",
    "ingested_at", "run_id", "product", "cadence_s", "source", "fits_checksum",
]
TARGET_COLUMNS = ["mission", "target_id", "target", "disposition", "objects", "status", "files", "run_id",
                  "updated_at"]
OBJECT_COLUMNS = ["mission", "target_id", "object", "disposition", "period_days", "epoch", "epoch_system",
                  "duration_hours", "depth_ppm", "ephemeris_reason", "run_id", "updated_at"]
# The training set's tables (``training``): same commits, their own folder, vectors as float32 lists.
VIEWS_TABLE = "views"
SERIES_TABLE = "series"
VIEW_COLUMNS = ["mission", "target_id", "object", "disposition", "label", "split", "period_days", "epoch",
                "epoch_system", "duration_hours", "n_transits", "local_depth_ppm", "global_view", "local_view",
                "odd_view", "even_view", "secondary_view", "source_files", "inputs_sha256", "preprocessing",
                "skipped_reason", "built_at"]
SERIES_COLUMNS = ["mission", "target_id", "target", "observing_unit", "label", "split", "n_points", "flux",
                  "source_files", "inputs_sha256", "preprocessing", "skipped_reason", "built_at"]
KEYS.update({VIEWS_TABLE: ["mission", "target_id", "object"],
             SERIES_TABLE: ["mission", "target_id", "observing_unit"]})
NEWEST.update({VIEWS_TABLE: "built_at", SERIES_TABLE: "built_at"})
TABLE_DIRS = {VIEWS_TABLE: f"{TRAINING_DIR}/{VIEWS_TABLE}", SERIES_TABLE: f"{TRAINING_DIR}/{SERIES_TABLE}"}
COLUMNS = {FILES_TABLE: FILE_COLUMNS, TARGETS_TABLE: TARGET_COLUMNS, OBJECTS_TABLE: OBJECT_COLUMNS,
           VIEWS_TABLE: VIEW_COLUMNS, SERIES_TABLE: SERIES_COLUMNS}
INT_COLUMNS = {"target_id", "observing_unit", "mast_size", "size", "files", "label", "n_transits", "n_points"}
FLOAT_COLUMNS = {"period_days", "epoch", "duration_hours", "depth_ppm", "local_depth_ppm", "cadence_s"}
VECTOR_COLUMNS = {"global_view", "local_view", "odd_view", "even_view", "secondary_view", "flux"}  # float32 lists
TEXT_LIST_COLUMNS = {"source_files"}
BOOL_COLUMNS = {"fits_checksum_verified"}
TIME_COLUMNS = {"ingested_at", "updated_at", "built_at"}
# pandas dtypes that would otherwise drift with the rows of a commit (a None unit, an empty table)
DTYPES = {
    FILES_TABLE: {"target_id": "int64", "observing_unit": "Int64", "mast_size": "int64", "size": "int64",
                  "fits_checksum_verified": "bool", "cadence_s": "float64", "product": "str", "source": "str",
                  "fits_checksum": "str"},
    TARGETS_TABLE: {"target_id": "int64", "files": "int64"},
    OBJECTS_TABLE: {"target_id": "int64",
                    **dict.fromkeys(["period_days", "epoch", "duration_hours", "depth_ppm"], "float64")},
    VIEWS_TABLE: {"target_id": "int64", "label": "Int64", "n_transits": "int64",
                  **dict.fromkeys(["period_days", "epoch", "duration_hours", "local_depth_ppm"], "float64")},
    SERIES_TABLE: {"target_id": "int64", "observing_unit": "Int64", "label": "Int64", "n_points": "int64"},
}
# the stored status strings (TargetStatus is a str enum: each equals its value)
PENDING, COMPLETE, INCOMPLETE, NOT_FOUND, MIRRORED = (
    TargetStatus.PENDING, TargetStatus.COMPLETE, TargetStatus.INCOMPLETE, TargetStatus.NOT_FOUND, TargetStatus.MIRRORED)
# The first release's tables: K2 only, keyed by epic_id
LEGACY_RENAMES = {FILES_TABLE: {"epic_id": "target_id", "campaign": "observing_unit"},
                  TARGETS_TABLE: {"epic_id": "target_id", "hostname": "target"}}

Filters = list[tuple[str, str, Any]]


class ConcurrentUpdateError(RuntimeError):
    """The table changed under us too many times in a row."""


def table_dir(table: str) -> str:
    """The Delta table's folder, relative to the destination."""
    return TABLE_DIRS.get(table, f"{CATALOG_DIR}/{table}")


def legacy_key(table: str) -> str:
    """The single Parquet file of a catalog written before the Delta tables."""
    return f"{CATALOG_DIR}/{table}.parquet"


def schema(table: str) -> Any:
    """The table's Arrow schema: every column nullable, as pandas writes them."""
    import pyarrow as pa

    def field(name: str) -> Any:
        if name in INT_COLUMNS:
            return pa.field(name, pa.int64())
        if name in BOOL_COLUMNS:
            return pa.field(name, pa.bool_())
        if name in FLOAT_COLUMNS:
            return pa.field(name, pa.float64())
        if name in VECTOR_COLUMNS:
            return pa.field(name, pa.list_(pa.float32()))
        if name in TEXT_LIST_COLUMNS:
            return pa.field(name, pa.list_(pa.string()))
        if name in TIME_COLUMNS:
            return pa.field(name, pa.timestamp("us", tz="UTC"))
        return pa.field(name, pa.string())

    return pa.schema([field(name) for name in COLUMNS[table]])


def upgrade(frame: Any, table: str) -> Any:
    """A table in today's layout: a first-release table gets ``mission`` = K2 and the neutral id/unit names; a
    files table from before the products gets each file's ``product``, ``cadence_s`` and ``source`` as they were
    then (its mission's own pipeline's, from its key, the public bucket), and one from before the
    ``fits_checksum`` column its value (see ``_with_checksum_states``)."""
    if "epic_id" in frame.columns and "mission" not in frame.columns:
        frame = frame.rename(columns=LEGACY_RENAMES[table]).assign(mission="K2")
    missing = {c: "" if c in ("disposition", "objects") else None for c in COLUMNS[table] if c not in frame.columns}
    frame = frame.assign(**missing)
    if table == FILES_TABLE and len(frame) and frame["product"].isna().any():
        frame = _with_products(frame)
    if table == FILES_TABLE and len(frame) and _no_checksum_state(frame).any():
        frame = _with_checksum_states(frame)
    return _typed(frame[COLUMNS[table]], table)


def _with_product_values(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows of a files table not yet rewritten in today's layout, with the values ``upgrade`` gives."""
    for row in rows:
        if row.get("product") is None and "source_key" in row and row.get("mission"):
            mission = get_mission(row["mission"])
            row.update(product=mission.own_product, cadence_s=_old_cadence(mission, row["source_key"]),
                       source="bucket")
        if not row.get("fits_checksum") and "fits_checksum_verified" in row:
            row["fits_checksum"] = _old_checksum_state(row["fits_checksum_verified"])
    return rows


def _with_products(frame: Any) -> Any:
    """The files recorded before products were: their mission's own pipeline's, copied from the bucket."""
    frame = frame.copy()
    old = frame["product"].isna()
    missions = [get_mission(m) for m in frame.loc[old, "mission"]]
    frame.loc[old, "product"] = [m.own_product for m in missions]
    frame.loc[old, "cadence_s"] = [_old_cadence(m, k) for m, k in zip(missions, frame.loc[old, "source_key"],
                                                                       strict=True)]
    frame.loc[old, "source"] = "bucket"
    return frame


def _with_checksum_states(frame: Any) -> Any:
    """The files recorded before the ``fits_checksum`` column: "verified" where their sums matched, else "not
    read" (an older row cannot tell a file without sums from one whose sums were not read)."""
    frame = frame.copy()
    old = _no_checksum_state(frame)
    frame.loc[old, "fits_checksum"] = [_old_checksum_state(v) for v in frame.loc[old, "fits_checksum_verified"]]
    return frame


def _no_checksum_state(frame: Any) -> Any:
    """Rows without a ``fits_checksum`` value (an older row, or a record built without one)."""
    return frame["fits_checksum"].isna() | (frame["fits_checksum"] == "")


def _old_checksum_state(verified: Any) -> str:
    return "verified" if verified is True or verified == 1 else "not read"


def _old_cadence(mission: Any, key: Any) -> float:
    """The cadence of a file recorded before products were: by its key's kind, or the mission's own kind's."""
    try:
        return mission.cadence_of_key(key)
    except InvalidInputError:
        return mission.products[0].cadence_s


def frame(table: str, rows: Iterable[dict[str, Any]], extra: Sequence[str] = ()) -> Any:
    """Rows (column -> value, such as records' ``row()``) as a pandas DataFrame with the table's columns, then
    ``extra``, in the dtypes :meth:`Catalog.read` gives."""
    import pandas as pd

    return _typed(pd.DataFrame(list(rows), columns=[*COLUMNS[table], *extra]), table)


def newest_per_key(frame: Any, table: str) -> Any:
    """One row per key: the newest where two concurrent appends left two."""
    frame = frame.sort_values(NEWEST[table], kind="stable").drop_duplicates(subset=KEYS[table], keep="last")
    return frame.sort_values(KEYS[table], kind="stable").reset_index(drop=True)


def _typed(frame: Any, table: str) -> Any:
    return frame.astype(DTYPES[table])


def _arrow(frame: Any, table: str) -> Any:
    import pyarrow as pa

    return pa.Table.from_pandas(frame.reindex(columns=COLUMNS[table]), schema=schema(table), preserve_index=False,
                                safe=False)


def _expression(filters: Filters | None) -> Any:
    import pyarrow.parquet as pq

    return pq.filters_to_expression(filters) if filters else None


class Catalog:
    """Read and upsert the catalog tables of one destination."""

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def uri(self, table: str = FILES_TABLE) -> str:
        return self.storage.uri(table_dir(table))

    # records ---------------------------------------------------------------------------------------------------

    def files(self, mission: str | None = None, *, target_ids: Iterable[int] | None = None,
              run_ids: Iterable[str] | None = None) -> list[CatalogFile]:
        """The files recorded, of ``mission``, of the targets ``target_ids``, written by the runs ``run_ids``
        (None: any); only the partitions and Parquet files that can hold them are read."""
        filters = _filters(mission=mission, target_id=target_ids, run_id=run_ids)
        return [CatalogFile.from_row(row) for row in self._rows(FILES_TABLE, filters)]

    def target_states(self, mission: str | None = None, target_ids: Iterable[int] | None = None
                      ) -> list[TargetState]:
        """The states of the targets ``target_ids`` of ``mission`` (None: every one) that the catalog knows."""
        filters = _filters(mission=mission, target_id=target_ids)
        return [TargetState.from_row(row) for row in self._rows(TARGETS_TABLE, filters)]

    def objects(self, mission: str | None = None, target_ids: Iterable[int] | None = None) -> list[ObjectState]:
        """The planets, KOIs and TOIs of these targets of ``mission`` (None: every one), with their ephemerides."""
        filters = _filters(mission=mission, target_id=target_ids)
        return [ObjectState.from_row(row) for row in self._rows(OBJECTS_TABLE, filters)]

    def rows(self, table: str, mission: str | None = None, target_ids: Iterable[int] | None = None,
             columns: list[str] | None = None) -> list[dict[str, Any]]:
        """Rows of any table as column values (the training set's records read them), one per key; ``columns``:
        only these besides the keys (None: all)."""
        return self._rows(table, _filters(mission=mission, target_id=target_ids), columns)

    def snapshot(self, table: str) -> tuple[int, list[dict[str, Any]]]:
        """One version of a table and its rows, one per key (version -1 and no rows before the first commit)."""
        delta = self._delta(table)
        if delta is None:
            return -1, []
        found = delta.to_pyarrow_dataset().to_table()
        rows = found.to_pylist()
        return delta.version(), _newest_rows(rows, table) if _has_duplicate_keys(found, table) else rows

    def recorded_sizes(self, mission: str, target_ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """For each of these targets with files in the catalog: its files' destination URIs and recorded sizes.
        Reads only the few columns that takes."""
        filters = _filters(mission=mission, target_id=target_ids)
        sizes: dict[int, dict[str, int]] = {}
        for row in self._rows(FILES_TABLE, filters, columns=["size"]):
            sizes.setdefault(int(row["target_id"]), {})[str(row["destination_uri"])] = int(row["size"] or 0)
        return sizes

    def record(self, files: Sequence[CatalogFile] = (), states: Sequence[TargetState] = (),
               objects: Sequence[ObjectState] = ()) -> int:
        """Commit a batch's outcome: its files, then its targets' states, so that a state never counts a file the
        files table does not hold yet, then their objects. Each table's commit is atomic. Returns how many files
        are new to the catalog."""
        new_files = self.upsert(FILES_TABLE, [f.row() for f in files])
        self.upsert(TARGETS_TABLE, [s.row() for s in states])
        self.upsert(OBJECTS_TABLE, [o.row() for o in objects])
        return new_files

    # tables ----------------------------------------------------------------------------------------------------

    def read(self, table: str, filters: Filters | None = None) -> Any:
        """The table as a pandas DataFrame, in today's layout, one row per key (empty when there is none yet).

        ``filters``: pyarrow-style ``(column, op, value)`` tuples, all of which a row must meet, for example
        ``[("mission", "=", "K2"), ("observing_unit", "in", [5, 102])]``; pushed down to the Parquet files, so
        only the partitions and files that can hold such rows are read.
        """
        delta = self._delta(table)
        if delta is None:
            frame = self._read_legacy(table)
            if filters:
                frame = _arrow(frame, table).filter(_expression(filters)).to_pandas()
            return newest_per_key(upgrade(frame, table), table)
        found = _scan(delta, _expression(filters), prune=_expression(_ranges(filters)))
        frame = upgrade(found.to_pandas(), table)
        return newest_per_key(frame, table) if _has_duplicate_keys(found, table) else frame

    def upsert(self, table: str, rows: list[dict]) -> int:
        """Commit rows (column -> value) to the table, the newer row winning by key; returns how many keys are new
        to it."""
        import pandas as pd
        from deltalake.exceptions import CommitFailedError, DeltaError

        if not rows:
            return 0
        frame = upgrade(pd.DataFrame(rows), table).drop_duplicates(subset=KEYS[table], keep="last")
        batch = _arrow(frame, table)

        for attempt in range(CATALOG_COMMIT_ATTEMPTS):
            try:
                return self._commit(table, batch)
            except (CommitFailedError, _LostRace) as err:
                log.info("Catalog %s changed while committing (attempt %d: %s); trying again", table, attempt + 1,
                         str(err).splitlines()[0] if str(err) else type(err).__name__)
                time.sleep(random.uniform(0.05, 0.5) * min(attempt + 1, 4))
            except (DeltaError, OSError) as err:  # a full local disk shows as either, by its errno's text
                if _disk_full(err):
                    raise DiskFullError(str(self.storage.destination), table_dir(table),
                                        OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))) from err
                raise
        raise ConcurrentUpdateError(f"catalog {table} kept changing; gave up after {CATALOG_COMMIT_ATTEMPTS} attempts")

    # internals -------------------------------------------------------------------------------------------------

    def _rows(self, table: str, filters: Filters | None, columns: list[str] | None = None) -> list[dict[str, Any]]:
        """The rows that meet ``filters``, one per key, as dicts of column values (None where a value is
        missing); ``columns``: only these besides the keys and the filters' columns (None: all). No table is read
        for a filter no row can meet."""
        if _asks_for_nothing(filters):
            return []
        if columns is not None:
            columns = list(dict.fromkeys([*KEYS[table], NEWEST[table], *(f[0] for f in filters or ()), *columns]))
        delta = self._delta(table)
        if delta is None:
            found = _arrow(self._read_legacy(table), table)
            found = found.filter(_expression(filters)) if filters else found
            found = found.select(columns) if columns else found
        else:
            found = _scan(delta, _expression(filters), columns, prune=_expression(_ranges(filters)))
        rows = found.to_pylist()
        rows = _newest_rows(rows, table) if _has_duplicate_keys(found, table) else rows
        return _with_product_values(rows) if table == FILES_TABLE else rows

    def _delta(self, table: str) -> Any:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.storage.table_uri(table_dir(table)), storage_options=self.storage.table_options())
        except TableNotFoundError:
            return None

    def _read_legacy(self, table: str) -> Any:
        import pandas as pd

        data = self.storage.read_versioned(legacy_key(table)).data
        if data is None:
            return _typed(pd.DataFrame(columns=COLUMNS[table]), table)
        return upgrade(pd.read_parquet(io.BytesIO(data), engine="pyarrow"), table)

    def _commit(self, table: str, batch: Any) -> int:
        delta = self._delta(table)
        if delta is None:
            return self._create(table, batch)
        if set(COLUMNS[table]) - set(delta.schema().to_arrow().names):
            delta = self._upgrade_layout(delta, table)
        existing = self._existing_keys(delta, table, batch)
        if existing == 0:
            self._write(delta, batch, "append")
        else:
            self._merge(delta, table, batch)
        self._upkeep(delta, table)
        return batch.num_rows - existing

    def _create(self, table: str, batch: Any) -> int:
        """The table's first version: the old Parquet table's rows (if any) and the batch's, the batch winning."""
        import pandas as pd
        from deltalake.exceptions import DeltaError

        legacy = self._read_legacy(table)
        merged = newest_per_key(pd.concat([legacy, batch.to_pandas()], ignore_index=True), table) \
            if len(legacy) else batch.to_pandas()
        if len(legacy):
            log.info("Catalog %s: moving %d rows of %s into the Delta table", table, len(legacy), legacy_key(table))
        try:
            self._write(self.storage.table_uri(table_dir(table)), _arrow(_typed(merged, table), table), "error")
        except DeltaError as err:
            if self._delta(table) is None:
                raise
            raise _LostRace(f"another writer created the table first ({err})") from err
        return len(merged) - len(legacy)

    def _upgrade_layout(self, delta: Any, table: str) -> Any:
        """Rewrite a table of an older layout in today's, every row kept and given the new columns' values (see
        ``upgrade``): one new version. A writer that committed meanwhile makes it fail, and the commit is tried
        again."""
        rows = delta.to_pyarrow_dataset().to_table().to_pandas()
        log.info("Catalog %s: rewriting its %d rows with the columns %s", table, len(rows),
                 sorted(set(COLUMNS[table]) - set(rows.columns)))
        from deltalake import write_deltalake

        write_deltalake(delta, _arrow(upgrade(rows, table), table), mode="overwrite", schema_mode="overwrite",
                        partition_by=PARTITION_BY)
        return self._delta(table)

    def _existing_keys(self, delta: Any, table: str, batch: Any) -> int:
        """How many of the batch's keys the table holds already (reading only the key columns of the files whose
        partition and statistics may hold them)."""
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        keys = KEYS[table]
        columns = list(dict.fromkeys(["mission", "target_id", *keys]))
        condition = None
        for column in columns:  # mission: the partition; target_id: each batch's file spans few targets
            test = ds.field(column).isin(pc.unique(batch[column]))
            condition = test if condition is None else condition & test
        found = _scan(delta, condition, columns, _within(batch))
        if len(keys) == 1:
            return len(pc.unique(found[keys[0]]))
        return len(found.group_by(keys).aggregate([]))

    def _write(self, delta_or_uri: Any, batch: Any, mode: str) -> None:
        from deltalake import write_deltalake

        creating = mode == "error"
        write_deltalake(delta_or_uri, batch, mode=mode, partition_by=PARTITION_BY,
                        storage_options=None if hasattr(delta_or_uri, "version") else self.storage.table_options(),
                        configuration={"delta.checkpointInterval": str(CATALOG_CHECKPOINT_EVERY)} if creating else None)

    def _merge(self, delta: Any, table: str, batch: Any) -> None:
        import pyarrow.compute as pc

        missions = ", ".join(f"'{m}'" for m in pc.unique(batch["mission"]).to_pylist())
        low, high = (v.as_py() for v in pc.min_max(batch["target_id"]).values())
        # literals let delta-rs skip the partitions and files (by their target_id statistics) that cannot match
        on = " AND ".join([f"t.mission IN ({missions})", f"t.target_id BETWEEN {low} AND {high}",
                           *(f"t.{k} = s.{k}" for k in KEYS[table])])
        (delta.merge(batch, predicate=on, source_alias="s", target_alias="t")
         .when_matched_update_all().when_not_matched_insert_all().execute())

    def _upkeep(self, delta: Any, table: str) -> None:
        """Every CATALOG_COMPACT_EVERY versions: compact small files, then delete files no recent version uses.
        Upkeep that loses a race to a commit is left to a later one."""
        from deltalake.exceptions import CommitFailedError

        if delta.version() % CATALOG_COMPACT_EVERY:
            return
        try:
            metrics = delta.optimize.compact(target_size=CATALOG_FILE_BYTES)
            delta.vacuum(retention_hours=CATALOG_VACUUM_RETENTION_HOURS, enforce_retention_duration=False,
                         dry_run=False)
            log.info("Catalog %s compacted at version %d: %s", table, delta.version(), metrics)
        except CommitFailedError as err:
            log.info("Catalog %s: compaction left to a later commit (%s)", table, err)


def _filters(**wanted: Any) -> Filters | None:
    """An equality filter for a single value, an ``in`` filter for a collection; a None value leaves its column
    unfiltered."""
    filters: Filters = []
    for column, value in wanted.items():
        if value is None:
            continue
        if isinstance(value, (str, int)):
            filters.append((column, "=", value))
        else:
            filters.append((column, "in", sorted(set(value))))
    return filters or None


def _asks_for_nothing(filters: Filters | None) -> bool:
    """An ``in`` filter with an empty list: no row can meet it."""
    return any(op == "in" and not values for _, op, values in filters or ())


def _newest_rows(rows: list[dict[str, Any]], table: str) -> list[dict[str, Any]]:
    """One row per key: the newest where two concurrent appends left two (as ``newest_per_key``)."""
    newest: dict[tuple, dict[str, Any]] = {}
    for row in sorted(rows, key=lambda r: r[NEWEST[table]]):
        newest[tuple(row[k] for k in KEYS[table])] = row
    return [newest[key] for key in sorted(newest)]


def _has_duplicate_keys(found: Any, table: str) -> bool:
    import pyarrow.compute as pc

    keys = KEYS[table]
    if len(keys) == 1:
        return pc.count_distinct(found[keys[0]]).as_py() < found.num_rows
    return found.select(keys).group_by(keys).aggregate([]).num_rows < found.num_rows


def _within(batch: Any) -> Any:
    """Rows of the batch's missions and target_id range: what file statistics can rule out."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    low, high = (v.as_py() for v in pc.min_max(batch["target_id"]).values())
    return (ds.field("mission").isin(pc.unique(batch["mission"])) & (ds.field("target_id") >= low)
            & (ds.field("target_id") <= high))


def _ranges(filters: Filters | None) -> Filters | None:
    """The filters as comparisons file statistics can rule out: pyarrow prunes by ``=``, ``<``, ``>``, never by
    ``in``, so an ``in`` list becomes its range."""
    ranges = [f for f in filters or [] if f[1] in ("=", "==", "<", "<=", ">", ">=")]
    for column, op, values in filters or []:
        if op == "in" and values:
            ranges += [(column, ">=", min(values)), (column, "<=", max(values))]
    return ranges or None


def _scan(delta: Any, condition: Any, columns: list[str] | None = None, prune: Any = None) -> Any:
    """The rows of the table's current version that meet ``condition`` (None: all), as an Arrow table; only the
    files whose partition and column statistics may meet ``prune`` (by default ``condition``) are read.

    The rows are filtered once read: files written by a merge hold ``string_view`` columns, which pyarrow 26
    cannot compare with the table's ``string`` type while scanning (ArrowNotImplementedError).
    """
    import pyarrow as pa

    dataset = delta.to_pyarrow_dataset()
    if condition is None:
        return dataset.to_table(columns=columns)
    fragments = dataset.get_fragments(filter=condition if prune is None else prune)
    read = [f.to_table(schema=dataset.schema, columns=columns) for f in fragments]
    schema = pa.schema([dataset.schema.field(c) for c in columns]) if columns else dataset.schema
    return pa.concat_tables(read).filter(condition) if read else schema.empty_table()


class _LostRace(Exception):
    """Another writer created the table between our look and our write."""


def _disk_full(err: Exception) -> bool:
    text = str(err)
    return f"os error {errno.ENOSPC}" in text or f"os error {errno.EDQUOT}" in text or "No space left" in text
