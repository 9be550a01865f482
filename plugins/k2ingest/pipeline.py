"""The work of each task, as plain functions: plan, find, copy (and commit to the catalog), summarize.

The DAG calls these with what Airflow gives it; the benchmark and tests call them directly.
Everything passed between them is small JSON-able dicts (they travel as XComs).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from k2ingest import catalog as cat
from k2ingest.archive import ArchiveClient
from k2ingest.catalog import Catalog
from k2ingest.copying import (
    ADOPTED,
    COPIED,
    FAILED,
    PRESENT,
    CopyResult,
    LocalWriter,
    S3Writer,
    SourceBucket,
    copy_files,
)
from k2ingest.errors import InvalidInputError
from k2ingest.mast import LightCurveFile, MastClient
from k2ingest.params import RunParams
from k2ingest.targets import Target, split_user_targets

log = logging.getLogger(__name__)

MAX_BATCHES = 256  # far below Airflow's max_map_length (1024): wide maps slow the scheduler and the UI


@dataclass(frozen=True)
class RunInfo:
    """What the pipeline needs to know of the DAG run."""

    run_id: str
    interval_start: datetime | None = None
    interval_end: datetime | None = None

    @property
    def has_window(self) -> bool:
        return (self.interval_start is not None and self.interval_end is not None
                and self.interval_end > self.interval_start)


@dataclass
class Services:
    """The clients a run uses; built from Airflow connections by the DAG, directly by tests/benchmarks."""

    mast_url: str
    archive_url: str
    source_hook: Any
    dest_hook_factory: Any  # conn_id -> S3Hook

    def catalog(self, params: RunParams) -> Catalog:
        hook = None if params.destination.is_local else self.dest_hook_factory(params.dest_aws_conn_id)
        return Catalog(params.destination, hook)

    def writer(self, params: RunParams) -> LocalWriter | S3Writer:
        source = SourceBucket(self.source_hook)
        if params.destination.is_local:
            return LocalWriter(params.destination, source)
        return S3Writer(params.destination, source, self.dest_hook_factory(params.dest_aws_conn_id),
                        read_back=params.read_back_server_side_copies)


# plan ------------------------------------------------------------------------------------------

def plan(params: dict, run: RunInfo, services: Services) -> dict:
    """Choose this run's targets, mark them pending in the catalog, and cut them into batches."""
    run_params = RunParams.parse(params)
    archive = ArchiveClient(services.archive_url)
    catalog = services.catalog(run_params)
    states = catalog.read(cat.TARGETS_TABLE)
    unresolved: list[str] = []
    if run_params.targets is not None:
        targets, unresolved = resolve_user_targets(run_params.targets, archive)
        mode = "targets"
    elif run.has_window and not run_params.full_refresh:
        targets = archive.confirmed_k2_hosts(run.interval_start, run.interval_end)
        targets = sorted(set(targets) | set(_unfinished(states)))
        mode = f"window {run.interval_start.isoformat()} to {run.interval_end.isoformat()} + unfinished"
    else:
        targets = archive.confirmed_k2_hosts()
        if not targets:
            raise InvalidInputError("targets", "the Exoplanet Archive returned no confirmed K2 hosts")
        mode = "full refresh" if run_params.full_refresh else "all confirmed K2 hosts"
    complete = set() if run_params.full_refresh else _complete(states)
    todo = [t for t in targets if t.epic_id not in complete]
    catalog.upsert(cat.TARGETS_TABLE, [_state_row(t, cat.PENDING, 0, run.run_id) for t in todo])
    batches = make_batches(todo, run_params.targets_per_batch)
    log.info("Plan (%s): %d targets, %d already complete, %d batches", mode, len(targets),
             len(targets) - len(todo), len(batches))
    return {
        "batches": batches,
        "mode": mode,
        "targets": len(targets),
        "already_complete": len(targets) - len(todo),
        "unresolved": unresolved,
        "destination": str(run_params.destination),
    }


def resolve_user_targets(values: list[str], archive: ArchiveClient) -> tuple[list[Target], list[str]]:
    """EPIC ids are taken as they are; host names are looked up in the archive (never a name resolver)."""
    epic_ids, names = split_user_targets(values)
    targets = {e: Target(epic_id=e) for e in epic_ids}
    found = archive.hosts_named(names)
    for target in found:
        targets[target.epic_id] = target
    known = {t.hostname.lower() for t in found}
    unresolved = [n for n in names if n.lower() not in known]
    return sorted(targets.values()), unresolved


def make_batches(targets: list[Target], per_batch: int) -> list[dict]:
    per_batch = max(per_batch, -(-len(targets) // MAX_BATCHES))
    chunks = [targets[i:i + per_batch] for i in range(0, len(targets), per_batch)]
    return [{"label": batch_label(chunk), "targets": [t.to_dict() for t in chunk]} for chunk in chunks]


def batch_label(targets: list[Target]) -> str:
    names = ", ".join(t.label for t in targets[:3])
    return names + (f" +{len(targets) - 3} more" if len(targets) > 3 else "")


def _unfinished(states: Any) -> list[Target]:
    rows = states[states["status"].isin([cat.PENDING, cat.INCOMPLETE])]
    return [Target(epic_id=int(r.epic_id), hostname=str(r.hostname or "")) for r in rows.itertuples()]


def _complete(states: Any) -> set[int]:
    return {int(e) for e in states.loc[states["status"] == cat.COMPLETE, "epic_id"]}


def _state_row(target: Target, status: str, files: int, run_id: str) -> dict:
    return {"epic_id": target.epic_id, "hostname": target.hostname, "status": status, "files": files,
            "run_id": run_id, "updated_at": datetime.now(UTC)}


# find and copy: one batch ------------------------------------------------------------------------

def find(batch: dict, services: Services) -> dict:
    targets = [Target.from_dict(t) for t in batch["targets"]]
    listing = MastClient(services.mast_url).find_light_curves(targets)
    log.info("MAST: %d observations, %d LLC files for %d targets; not found: %s", listing.observations,
             len(listing.files), len(targets), ", ".join(t.label for t in listing.not_found) or "none")
    return {"label": batch["label"], "targets": batch["targets"], **listing.to_dict()}


def copy(listing: dict, params: dict, run: RunInfo, services: Services) -> dict:
    """Copy a batch's files, then commit them and the batch's target states to the catalog.

    Each batch commits as soon as its files are verified, so a crash later in the run loses no record;
    a crash between copying and committing is healed by the next run, which adopts the verified files.
    """
    run_params = RunParams.parse(params)
    files = [LightCurveFile.from_dict(f) for f in listing["files"]]
    catalog = services.catalog(run_params)
    known = catalog.read(cat.FILES_TABLE)
    cataloged = dict(zip(known["destination_uri"], known["size"].astype(int), strict=True))
    results = copy_files(files, services.writer(run_params), cataloged, run_params.copy_threads)
    now = datetime.now(UTC)
    new_files = catalog.upsert(cat.FILES_TABLE, [_file_row(r, now, run.run_id) for r in results
                                                 if r.status in (COPIED, ADOPTED)])
    catalog.upsert(cat.TARGETS_TABLE, _target_states(listing, results, run.run_id))
    counts = count_statuses(results)
    log.info("Batch %s: %s, %d new in the catalog", listing["label"], counts, new_files)
    return {
        "label": listing["label"],
        "targets": len(listing["targets"]),
        "not_found": [Target.from_dict(t).label for t in listing["not_found"]],
        "observations": listing["observations"],
        "files_found": len(results),
        **counts,
        "failed_files": [f"{r.file.source_key}: {r.error}" for r in results if r.status == FAILED],
        "bytes_copied": sum(r.size for r in results if r.status == COPIED),
        "bytes_through_worker": sum(r.bytes_through_worker for r in results),
        "new_files": new_files,
        "catalog": catalog.uri(),
    }


def count_statuses(results: list[CopyResult]) -> dict[str, int]:
    counts = {COPIED: 0, ADOPTED: 0, PRESENT: 0, FAILED: 0}
    for result in results:
        counts[result.status] += 1
    return counts


def _file_row(result: CopyResult, now: datetime, run_id: str) -> dict:
    f = result.file
    return {
        "destination_uri": result.destination_uri, "target": f.hostname, "epic_id": f.epic_id,
        "campaign": f.campaign, "source_key": f.source_key, "data_uri": f.data_uri, "obs_id": f.obs_id,
        "obsid": f.obsid, "product_filename": f.product_filename, "mast_size": f.mast_size,
        "size": result.size, "sha256": result.sha256, "fits_checksum_verified": result.fits_checksum,
        "copy_method": result.method, "ingested_at": now, "run_id": run_id,
    }


def _target_states(listing: dict, results: list[CopyResult], run_id: str) -> list[dict]:
    not_found = {t["epic_id"] for t in listing["not_found"]}
    rows = []
    for target in (Target.from_dict(t) for t in listing["targets"]):
        mine = [r for r in results if r.file.epic_id == target.epic_id]
        if target.epic_id in not_found:
            status = cat.NOT_FOUND
        elif any(r.status == FAILED for r in mine):
            status = cat.INCOMPLETE
        else:
            status = cat.COMPLETE
        rows.append(_state_row(target, status, len(mine), run_id))
    return rows


# summarise ---------------------------------------------------------------------------------------

SUMMED = ("targets", "observations", "files_found", COPIED, ADOPTED, PRESENT, FAILED, "bytes_copied",
          "bytes_through_worker", "new_files")


def summarize(planned: dict, batch_results: list[dict]) -> dict:
    """Totals of the run; a failed batch is one that was planned but left no result."""
    done = {b["label"] for b in batch_results}
    totals = {key: sum(b[key] for b in batch_results) for key in SUMMED}
    return {
        "mode": planned["mode"],
        "destination": planned["destination"],
        "targets_planned": sum(len(b["targets"]) for b in planned["batches"]),
        "already_complete": planned["already_complete"],
        "batches": len(planned["batches"]),
        **{("already_present" if k == PRESENT else k): v for k, v in totals.items()},
        "failed_batches": [b["label"] for b in planned["batches"] if b["label"] not in done],
        "failed_files": [f for b in batch_results for f in b["failed_files"]],
        "not_found": sorted({t for b in batch_results for t in b["not_found"]} | set(planned["unresolved"])),
    }


def format_summary(summary: dict) -> str:
    lines = [f"{key:>22}: {value}" for key, value in summary.items() if not isinstance(value, list)]
    for key in ("failed_batches", "not_found", "failed_files"):
        lines.append(f"{key:>22}: {len(summary[key])}" + "".join(f"\n{'':>24}{v}" for v in summary[key]))
    return "\n".join(lines)
