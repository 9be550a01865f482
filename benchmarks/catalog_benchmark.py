"""Catalog commits against catalog size: the Delta Lake tables (the package's ``Catalog``) and the whole-table
Parquet rewrite they replaced (its code kept here, below, for the comparison).

For each size N (rows in the files table) and each design, on a local folder and on the S3 stand-in (moto, on
127.0.0.1): build a catalog of N rows of one mission, then time (median of ``--repeat``) a commit of a batch of
new rows, a commit that updates rows already there, a read of the whole table into pandas and the read a batch
commit makes (its targets' rows only). Then ``--writers`` processes commit batches of new rows to one table at
once: commits a second, attempts a commit took, rows lost.

    .venv/bin/python -m benchmarks.catalog_benchmark                     # 1k 10k 100k 1M local, S3 to 100k
    .venv/bin/python -m benchmarks.catalog_benchmark --sizes 1000 10000 --s3-sizes 1000
"""

from __future__ import annotations

import argparse
import io
import logging
import multiprocessing
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from benchmarks._paths import add_repo_paths

add_repo_paths()

log = logging.getLogger("lightcurve_ingest.domain.catalog")  # the package's retry messages, and the rewrite's here
BATCH_ROWS = 300  # a batch of 100 targets, three light curves each
CAS_ATTEMPTS = 20
BUILD_CHUNK = 50_000


def file_rows(start: int, count: int, run_id: str, mission: str = "K2") -> list[dict[str, Any]]:
    """Catalog rows of ``count`` files, three per target, numbered from ``start``: real K2 key shapes."""
    now = datetime.now(UTC)
    rows = []
    for i in range(start, start + count):
        epic, unit = 201000000 + i // 3, 1 + (i // 3) % 19
        key = f"k2/lightcurves/c{unit}/{epic // 100000 * 100000}/{epic % 100000 // 1000 * 1000:05d}/" \
              f"ktwo{epic}-c{unit:02d}_llc-{i % 3}.fits"
        rows.append({
            "destination_uri": f"s3://bench/{key}", "mission": mission, "target_id": epic, "target": f"K2-{epic}",
            "observing_unit": unit, "source_key": key, "data_uri": f"mast:K2/url/missions/{key}",
            "obs_id": f"ktwo{epic}-c{unit:02d}_lc", "obsid": str(9_000_000_000 + i),
            "product_filename": key.rsplit("/", 1)[1], "mast_size": 512_640, "size": 512_640,
            "sha256": f"{random.getrandbits(256):064x}", "fits_checksum_verified": True, "copy_method": "server-side",
            "ingested_at": now - timedelta(seconds=i), "run_id": run_id})
    return rows


# today's design, as it was: one Parquet file rewritten whole by compare-and-swap -------------------------------

class RewriteCatalog:
    """The single-file catalog before the Delta tables (catalog.py at 6a0fbec), kept for the comparison."""

    def __init__(self, storage: Any) -> None:
        self.storage = storage
        self.key = "_catalog/files.parquet"

    def read(self, table: str = "files", filters: Any = None) -> Any:
        frame = _from_parquet(self.storage.read_versioned(self.key).data)
        if filters:  # the old catalog had no filters: a batch read everything, then kept what it needed
            for column, _, value in filters:
                frame = frame[frame[column].isin(value if isinstance(value, list) else [value])]
        return frame

    def upsert(self, table: str, rows: list[dict]) -> int:
        for _ in range(CAS_ATTEMPTS):
            current = self.storage.read_versioned(self.key)
            existing = _from_parquet(current.data)
            merged = _merge_rows(existing, rows)
            buffer = io.BytesIO()
            merged.to_parquet(buffer, index=False, engine="pyarrow")
            if self.storage.write_if_unchanged(self.key, buffer.getvalue(), current.version):
                return len(merged) - len(existing)
            log.info("files changed while committing; trying again")
            time.sleep(random.uniform(0.05, 0.5))
        raise RuntimeError("gave up")


def _from_parquet(data: bytes | None) -> Any:
    import pandas as pd

    from lightcurve_ingest.domain import catalog as cat

    if data is None:
        return cat._typed(pd.DataFrame(columns=cat.FILE_COLUMNS), "files")
    return cat._typed(pd.read_parquet(io.BytesIO(data), engine="pyarrow"), "files")


def _merge_rows(existing: Any, rows: list[dict]) -> Any:
    import pandas as pd

    from lightcurve_ingest.domain import catalog as cat

    new = cat._typed(pd.DataFrame(rows, columns=cat.FILE_COLUMNS), "files")
    merged = new if existing.empty else pd.concat([existing, new], ignore_index=True)
    merged = merged.drop_duplicates(subset=["destination_uri"], keep="last")
    return merged.sort_values(["destination_uri"], kind="stable").reset_index(drop=True)


# the measurements -----------------------------------------------------------------------------------------------

def open_catalog(design: str, destination: str) -> Any:
    from lightcurve_ingest.domain.catalog import Catalog
    from lightcurve_ingest.wiring.connections import open_destination_storage

    storage = open_destination_storage(destination, "aws_default")
    return Catalog(storage) if design == "delta" else RewriteCatalog(storage)


def timed(work: Callable[[], Any], repeat: int) -> float:
    """Median milliseconds of ``repeat`` runs."""
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def build(design: str, destination: str, size: int) -> None:
    """A catalog of ``size`` rows: the rewrite's one file; the Delta table as many 300-row batches leave it after
    compaction (files of about CATALOG_FILE_BYTES: BUILD_CHUNK rows)."""
    from lightcurve_ingest.domain import catalog as cat

    catalog = open_catalog(design, destination)
    if design == "rewrite":
        catalog.upsert("files", file_rows(0, size, "build"))
        return
    import pandas as pd
    from deltalake import write_deltalake

    for start in range(0, size, BUILD_CHUNK):
        frame = cat._typed(pd.DataFrame(file_rows(start, min(BUILD_CHUNK, size - start), "build")), "files")
        write_deltalake(catalog.storage.table_uri(cat.table_dir("files")), cat._arrow(frame, "files"),
                        mode="append", partition_by=cat.PARTITION_BY, storage_options=catalog.storage.table_options())


def measure(design: str, destination: str, size: int, repeat: int) -> dict[str, float]:
    build(design, destination, size)
    catalog = open_catalog(design, destination)
    counter = iter(range(size, 10**9, BATCH_ROWS))
    new = timed(lambda: catalog.upsert("files", file_rows(next(counter), BATCH_ROWS, "new")), repeat)
    update = timed(lambda: catalog.upsert("files", file_rows(size // 2, BATCH_ROWS, "update")), repeat)
    targets = sorted({r["target_id"] for r in file_rows(size // 3, BATCH_ROWS, "x")})
    read_all = timed(lambda: catalog.read("files"), repeat)
    read_batch = timed(lambda: catalog.read("files", filters=[("mission", "=", "K2"), ("target_id", "in", targets)]),
                       repeat)
    rows = len(catalog.read("files"))
    assert rows == size + repeat * BATCH_ROWS, (rows, size)
    return {"commit_new_ms": new, "commit_update_ms": update, "read_all_ms": read_all, "read_batch_ms": read_batch}


def _writer(args: tuple[str, str, int, int]) -> tuple[int, float]:
    design, destination, writer, batches = args
    attempts = _AttemptCounter()
    logging.getLogger("lightcurve_ingest.domain.catalog").addHandler(attempts)
    logging.getLogger("lightcurve_ingest.domain.catalog").setLevel(logging.INFO)
    logging.getLogger("lightcurve_ingest.domain.catalog").propagate = False  # counted, not printed
    catalog = open_catalog(design, destination)
    started = time.perf_counter()
    for b in range(batches):
        catalog.upsert("files", file_rows(10**8 + (writer * batches + b) * BATCH_ROWS, BATCH_ROWS, f"w{writer}"))
    return batches + attempts.retries, time.perf_counter() - started


class _AttemptCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.retries = 0

    def emit(self, record: logging.LogRecord) -> None:
        self.retries += "trying again" in record.getMessage()


def concurrent(design: str, destination: str, size: int, writers: int, batches: int) -> dict[str, float]:
    """``writers`` processes each commit ``batches`` batches of new rows at once, into a catalog of ``size``."""
    build(design, destination, size)
    started = time.perf_counter()
    # spawned: deltalake's runtime panics in a process forked after the parent used it
    with ProcessPoolExecutor(writers, mp_context=multiprocessing.get_context("spawn")) as pool:
        results = list(pool.map(_writer, [(design, destination, w, batches) for w in range(writers)]))
    wall = time.perf_counter() - started
    rows = len(open_catalog(design, destination).read("files"))
    return {"commits_per_s": writers * batches / wall, "attempts_per_commit": sum(r[0] for r in results) / (
        writers * batches), "rows_lost": size + writers * batches * BATCH_ROWS - rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--s3-sizes", type=int, nargs="*", default=[1_000, 10_000, 100_000])
    parser.add_argument("--designs", nargs="+", default=["rewrite", "delta"], choices=["rewrite", "delta"])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--writer-batches", type=int, default=10)
    parser.add_argument("--concurrent-size", type=int, default=100_000)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    print(f"{'where':<6} {'design':<8} {'rows':>9} {'commit new':>11} {'commit upd':>11} {'read all':>9} "
          f"{'read batch':>11}  (ms, median of {args.repeat}; batches of {BATCH_ROWS} rows)", flush=True)
    for where, sizes in (("local", args.sizes), ("s3", args.s3_sizes)):
        with destinations(where) as make:
            for size in sizes:
                for design in args.designs:
                    m = measure(design, make(), size, args.repeat)
                    print(f"{where:<6} {design:<8} {size:>9,} {m['commit_new_ms']:>11.1f} "
                          f"{m['commit_update_ms']:>11.1f} {m['read_all_ms']:>9.1f} {m['read_batch_ms']:>11.1f}",
                          flush=True)
    for where in ("local", "s3"):
        with destinations(where) as make:
            for design in args.designs:
                c = concurrent(design, make(), args.concurrent_size, args.writers, args.writer_batches)
                print(f"{where}: {args.writers} writers x {args.writer_batches} batches into {args.concurrent_size:,} "
                      f"rows, {design}: {c['commits_per_s']:.1f} commits/s, {c['attempts_per_commit']:.2f} "
                      f"attempts a commit, {c['rows_lost']} rows lost", flush=True)


class destinations:  # noqa: N801 (a context manager used like a function)
    """Fresh destinations, each in its own folder (local) or bucket prefix (the S3 stand-in, started here)."""

    def __init__(self, where: str) -> None:
        self.where, self.count = where, 0

    def __enter__(self) -> Callable[[], str]:
        self.scratch = tempfile.TemporaryDirectory(prefix="catalog-bench-")
        if self.where == "s3":
            from tests.standins.s3 import S3Standin

            self.s3 = S3Standin()
            self.s3.create_bucket("bench")
            os.environ.update(_s3_env(self.s3.endpoint_url))
        return self.make

    def make(self) -> str:
        self.count += 1
        if self.where == "s3":
            return f"s3://bench/run{self.count}"
        path = Path(self.scratch.name) / f"run{self.count}"
        path.mkdir()
        return str(path)

    def __exit__(self, *exc: object) -> None:
        if self.where == "s3":
            self.s3.stop()
        self.scratch.cleanup()


def _s3_env(endpoint: str) -> dict[str, str]:
    import json

    conn = {"conn_type": "aws", "login": "testing", "password": "testing",
            "extra": {"endpoint_url": endpoint, "region_name": "us-east-1"}}
    return {"AIRFLOW_CONN_AWS_DEFAULT": json.dumps(conn)}


if __name__ == "__main__":
    sys.exit(main())
