"""What each task of a mission's ingest DAG does, as plain functions of typed payloads.

The flow, stated once (``dag_factory`` renders it as Airflow tasks; ``run_flow`` runs it outside Airflow for
the benchmark and tests): ``plan_targets`` -> for each batch, ``find_light_curves`` (in the ``mast_api`` pool)
then ``copy_light_curves`` (which commits the batch to the catalog) -> ``summarize_run``. A mirror run (whole
campaigns or sectors) plans shards instead of batches: for each shard, ``mirror_shard`` lists its folder of the
public bucket and copies every light curve in it (MAST is not asked), then commits them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lightcurve_ingest import target_status as ts
from lightcurve_ingest.catalog import Catalog
from lightcurve_ingest.catalog_records import TargetState, TargetStatus
from lightcurve_ingest.connections import Services
from lightcurve_ingest.copying import ADOPTED, COPIED, FAILED, PRESENT, Copier, CopyResult, count_statuses
from lightcurve_ingest.discovery import find_light_curves as find_in_mast
from lightcurve_ingest.errors import InvalidInputError, RetryCannotHelpError
from lightcurve_ingest.mirror import light_curves, plan_shards
from lightcurve_ingest.missions import Mission
from lightcurve_ingest.params import RunParams
from lightcurve_ingest.payloads import (
    Batch,
    BatchResult,
    Listing,
    Plan,
    ReleaseWindow,
    Shard,
    ShardResult,
    Target,
)
from lightcurve_ingest.progress import ProgressLog
from lightcurve_ingest.settings import MAX_BATCHES, MAX_SHARDS, mast_pool_slots
from lightcurve_ingest.source_bucket import SourceObject
from lightcurve_ingest.targets import ArchiveTargets

log = logging.getLogger(__name__)

TaskRunner = Callable[[str, str, Callable[[], Any]], Any]


@dataclass(frozen=True)
class RunInfo:
    """What the tasks need to know of the DAG run."""

    run_id: str
    interval_start: datetime | None = None
    interval_end: datetime | None = None

    @property
    def has_window(self) -> bool:
        return (self.interval_start is not None and self.interval_end is not None
                and self.interval_end > self.interval_start)


# plan ----------------------------------------------------------------------------------------------------------

def plan_targets(mission: Mission, params: dict[str, Any], run: RunInfo, services: Services) -> Plan:
    """Choose this run's targets, mark them pending in the catalog, and cut them into batches (a mirror run:
    check its units and cut them into shards)."""
    run_params = RunParams.parse(params, mission)
    if run_params.units is not None:
        return plan_mirror(mission, run_params, services)
    catalog = Catalog(services.storage(run_params.destination, run_params.dest_aws_conn_id))
    states = catalog.target_states(mission.name)
    windowed = run_params.targets is None and run.has_window and not run_params.full_refresh
    targets, unresolved, mode = _choose_targets(mission, run_params, run, ArchiveTargets(mission, services.tap()),
                                                states, windowed)
    complete = set() if run_params.full_refresh else {
        t.target_id for t in _targets_with_status(states, {ts.COMPLETE})}
    todo = [t for t in targets if t.target_id not in complete]
    release_targets: list[Target] = []
    if windowed and mission.keeps_observing:  # every other target it holds: only what MAST released in the window
        asked = {t.target_id for t in todo}
        release_targets = [t for t in _targets_with_status(states, ts.WATCHED_FOR_RELEASES)
                           if t.target_id not in asked]
        mode += " + released in the window"
    files_so_far = {s.target_id: s.files for s in states}
    now = datetime.now(UTC)
    catalog.record(states=[ts.target_state(mission, t, ts.PENDING, files_so_far.get(t.target_id, 0), run.run_id, now)
                           for t in todo + release_targets])
    window = ReleaseWindow(run.interval_start, run.interval_end) if release_targets else None
    batches = make_batches(mission, todo, release_targets, window, run_params.targets_per_batch)
    log.info("Plan (%s): %d targets, %d already complete, %d asked for new releases, %d batches", mode, len(targets),
             len(targets) - len(todo), len(release_targets), len(batches))
    return Plan(mission=mission.name, mode=mode, destination=str(run_params.destination), targets=len(targets),
                already_complete=len(targets) - len(todo), unresolved=unresolved, batches=tuple(batches))


def _choose_targets(mission: Mission, run_params: RunParams, run: RunInfo, archive: ArchiveTargets,
                    states: list[TargetState], windowed: bool) -> tuple[list[Target], list[str], str]:
    """The run's targets with their labels, the names the archive does not know, and the run mode's name."""
    if run_params.targets is not None:
        targets, unresolved = archive.resolve(run_params.targets)
        return targets, unresolved, "targets"
    dispositions = run_params.dispositions
    if windowed:
        changed = archive.changed_in(run.interval_start, run.interval_end, dispositions)
        unfinished = _targets_with_status(states, ts.UNFINISHED)
        window = f"{run.interval_start.isoformat()} to {run.interval_end.isoformat()}"
        return _union(unfinished, changed), [], f"window {window} + unfinished"
    targets = archive.all(dispositions)
    if not targets:
        raise InvalidInputError("targets", f"the Exoplanet Archive's {mission.table.name} table has no "
                                           f"{mission.name} target with dispositions {dispositions}")
    mode = "full refresh" if run_params.full_refresh else f"all {mission.name} targets ({', '.join(dispositions)})"
    return targets, [], mode


def make_batches(mission: Mission, targets: list[Target], release_targets: list[Target],
                 window: ReleaseWindow | None, per_batch: int) -> list[Batch]:
    """Batches of at most ``per_batch`` targets (more if needed to stay within MAX_BATCHES); targets asked only for
    new releases go in batches of their own."""
    per_batch = max(per_batch, -(-(len(targets) + len(release_targets)) // MAX_BATCHES))
    batches = [Batch(label=batch_label(mission, chunk), targets=tuple(chunk)) for chunk in _chunks(targets, per_batch)]
    batches += [Batch(label="released: " + batch_label(mission, chunk), targets=tuple(chunk), released=window)
                for chunk in _chunks(release_targets, per_batch)]
    return batches


def batch_label(mission: Mission, targets: list[Target]) -> str:
    names = ", ".join(mission.label(t) for t in targets[:3])
    return names + (f" +{len(targets) - 3} more" if len(targets) > 3 else "")


def _chunks(items: list[Target], size: int) -> list[list[Target]]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _union(earlier: list[Target], newer: list[Target]) -> list[Target]:
    """Targets of both lists, once each; the newer list's labels win."""
    return sorted({t.target_id: t for t in [*earlier, *newer]}.values())


def _targets_with_status(states: list[TargetState], statuses: Collection[TargetStatus]) -> list[Target]:
    return sorted(s.as_target() for s in states if s.status in statuses)


def plan_mirror(mission: Mission, run_params: RunParams, services: Services) -> Plan:
    """A mirror run's shards: every unit is checked in the bucket before any shard is made."""
    services.storage(run_params.destination, run_params.dest_aws_conn_id)  # a missing connection is refused now
    shards = plan_shards(mission, run_params.units, services.source(), MAX_SHARDS)
    units = ", ".join(str(u) for u in run_params.units)
    log.info("Plan (mirror): %s %s, %d shards", mission.unit_name, units, len(shards))
    return Plan(mission=mission.name, mode=f"mirror {mission.unit_param} {units}" +
                (" (full refresh)" if run_params.full_refresh else ""),
                destination=str(run_params.destination), targets=0, already_complete=0, unresolved=[],
                shards=tuple(shards), units=list(run_params.units))


# find and copy: one batch ------------------------------------------------------------------------------------

def find_light_curves(mission: Mission, batch: Batch, params: dict[str, Any], services: Services) -> Listing:
    """One observation query and one product query to MAST for the whole batch."""
    run_params = RunParams.parse(params, mission)
    listing = find_in_mast(mission, batch, services.mast(), run_params.include_fast_cadence)
    log.info("MAST: %d observations, %d light curves for %d targets; not found: %s", listing.observations,
             len(listing.files), len(batch.targets), ", ".join(mission.label(t) for t in listing.not_found) or "none")
    return listing


def copy_light_curves(mission: Mission, listing: Listing, params: dict[str, Any], run: RunInfo,
                      services: Services) -> BatchResult:
    """Copy a batch's files, then commit them and the batch's target states to the catalog.

    Each batch commits as soon as its files are verified, so a crash later in the run loses no record;
    a crash between copying and committing is healed by the next run, which adopts the verified files.
    """
    run_params = RunParams.parse(params, mission)
    storage = services.storage(run_params.destination, run_params.dest_aws_conn_id)
    catalog = Catalog(storage)
    # only the batch's targets' rows: a commit's cost must not grow with the catalog
    recorded = catalog.recorded_sizes(mission.name, [t.target_id for t in listing.batch.targets])
    copier = Copier(mission, storage, services.source(), read_back=run_params.read_back_server_side_copies,
                    cataloged=_all_sizes(recorded))
    results = copier.copy_all(listing.files, run_params.copy_threads)
    now = datetime.now(UTC)
    new_files = catalog.record(ts.recorded_files(results, run.run_id, now), ts.batch_states(
        mission, listing.batch.targets, results, recorded, run.run_id, now,
        not_found={t.target_id for t in listing.not_found}, released_only=listing.batch.released is not None))
    counts = count_statuses(results)
    log.info("Batch %s: %s, %d new in the catalog", listing.batch.label, counts, new_files)
    _fail_if_disk_full(results)
    return BatchResult(
        label=listing.batch.label, targets=len(listing.batch.targets),
        not_found=[mission.label(t) for t in listing.not_found], observations=listing.observations,
        files_found=len(results), copied=counts[COPIED], adopted=counts[ADOPTED], present=counts[PRESENT],
        failed=counts[FAILED], failed_files=[f"{r.file.source_key}: {r.error}" for r in results if r.status == FAILED],
        bytes_copied=sum(r.size for r in results if r.status == COPIED),
        bytes_through_worker=sum(r.bytes_through_worker for r in results), new_files=new_files,
        catalog=catalog.uri())


def _all_sizes(recorded: dict[int, dict[str, int]]) -> dict[str, int]:
    """Destination URI -> size of every file of ``Catalog.recorded_sizes``."""
    return {uri: size for sizes in recorded.values() for uri, size in sizes.items()}


# mirror: one shard ---------------------------------------------------------------------------------------------

FAILED_FILES_REPORTED = 20  # a shard's result names at most this many failed files (XComs stay small)


def mirror_shard(mission: Mission, shard: Shard, params: dict[str, Any], run: RunInfo,
                 services: Services) -> ShardResult:
    """List one shard's folder of the public bucket, copy every light curve in it not already catalogued at its
    size, and commit the files and their stars (with the archive's labels, where it knows them)."""
    run_params = RunParams.parse(params, mission)
    storage = services.storage(run_params.destination, run_params.dest_aws_conn_id)
    catalog = Catalog(storage)
    source = services.source()
    listed = list(source.list_objects(shard.prefix))
    labels = {t.target_id: t for t in ArchiveTargets(mission, services.tap()).all(mission.table.dispositions)}
    files, others = light_curves(mission, listed, labels, run_params.include_fast_cadence)
    stars = sorted({f.target_id for f in files})
    recorded = catalog.recorded_sizes(mission.name, stars)
    before = {s.target_id: s.status for s in catalog.target_states(mission.name, stars)}
    cataloged = {} if run_params.full_refresh else _all_sizes(recorded)
    copier = Copier(mission, storage, source, cataloged=cataloged, read_back=run_params.read_back_server_side_copies,
                    listed_here=storage.sizes(shard.prefix.rstrip("/")),
                    listed_there={o.key: SourceObject(o.size, o.etag) for o in listed})
    with ProgressLog(shard.label, len(files)) as progress:
        results = copier.copy_all(files, run_params.copy_threads, on_result=lambda r: progress.add(r.size))
    now = datetime.now(UTC)
    targets = [labels.get(i) or Target(target_id=i) for i in stars]
    new_files = catalog.record(ts.recorded_files(results, run.run_id, now), ts.mirror_states(
        mission, targets, results, recorded, before, run.run_id, now))
    counts = count_statuses(results)
    log.info("Shard %s: %d listed, %d light curves of %d stars (%d labelled), %s, %d new in the catalog",
             shard.label, len(listed), len(files), len(stars), sum(i in labels for i in stars), counts, new_files)
    _fail_if_disk_full(results)
    failed = [f"{r.file.source_key}: {r.error}" for r in results if r.status == FAILED]
    return ShardResult(
        label=shard.label, unit=shard.unit, listed=len(listed), other_objects=others, files_found=len(files),
        stars=len(stars), labelled_stars=sum(i in labels for i in stars), copied=counts[COPIED],
        adopted=counts[ADOPTED], present=counts[PRESENT], failed=counts[FAILED],
        failed_files=failed[:FAILED_FILES_REPORTED], bytes_copied=sum(r.size for r in results if r.status == COPIED),
        bytes_through_worker=sum(r.bytes_through_worker for r in results), new_files=new_files,
        catalog=catalog.uri())


def _fail_if_disk_full(results: list[CopyResult]) -> None:
    full = [r for r in results if r.disk_full]
    if full:  # the verified copies are in the catalog; the task fails, without retries, so the operator sees why
        raise RetryCannotHelpError(f"{len(full)} of {len(results)} file(s) not copied: {full[0].error}")


# summarise -----------------------------------------------------------------------------------------------------

SUMMED = ("targets", "observations", "files_found", "copied", "adopted", "present", "failed", "bytes_copied",
          "bytes_through_worker", "new_files")


MIRROR_SUMMED = ("listed", "other_objects", "files_found", "stars", "labelled_stars", "copied", "adopted", "present",
                 "failed", "bytes_copied", "bytes_through_worker", "new_files")


def summarize_run(plan: Plan, results: list[BatchResult], shard_results: list[ShardResult] = ()) -> dict[str, Any]:
    """Totals of the run; a failed batch (or shard) is one that was planned but left no result."""
    if plan.shards:
        return summarize_mirror(plan, list(shard_results))
    done = {r.label for r in results}
    totals = {key: sum(getattr(r, key) for r in results) for key in SUMMED}
    return {
        "mission": plan.mission,
        "mode": plan.mode,
        "destination": plan.destination,
        "targets_planned": sum(len(b.targets) for b in plan.batches),
        "already_complete": plan.already_complete,
        "batches": len(plan.batches),
        **{("already_present" if k == "present" else k): v for k, v in totals.items()},
        "failed_batches": [b.label for b in plan.batches if b.label not in done],
        "failed_files": [f for r in results for f in r.failed_files],
        "not_found": sorted({t for r in results for t in r.not_found} | set(plan.unresolved)),
    }


def summarize_mirror(plan: Plan, results: list[ShardResult]) -> dict[str, Any]:
    """A mirror run's totals, for the run and for each unit (campaign or sector)."""
    done = {r.label for r in results}

    def totals(rows: list[ShardResult]) -> dict[str, int]:
        sums = {key: sum(getattr(r, key) for r in rows) for key in MIRROR_SUMMED}
        return {("already_present" if k == "present" else k): v for k, v in sums.items()}

    per_unit = {}
    for unit in plan.units:
        shards = [s for s in plan.shards if s.unit == unit]
        per_unit[str(unit)] = {"shards": len(shards), "failed_shards": sum(s.label not in done for s in shards),
                               **totals([r for r in results if r.unit == unit])}
    return {
        "mission": plan.mission, "mode": plan.mode, "destination": plan.destination, "shards": len(plan.shards),
        **totals(results), "per_unit": per_unit,
        "failed_shards": [s.label for s in plan.shards if s.label not in done],
        "failed_files": [f for r in results for f in r.failed_files],
    }


def run_failed(summary: dict[str, Any]) -> bool:
    return bool(summary.get("failed_batches") or summary.get("failed_shards") or summary["failed"])


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{key:>22}: {value}" for key, value in summary.items() if not isinstance(value, (list, dict))]
    for key, units in summary.items():
        if isinstance(units, dict):
            lines += [f"{key:>22}: {unit}: {', '.join(f'{k} {v}' for k, v in totals.items())}"
                      for unit, totals in units.items()]
    for key, values in summary.items():
        if isinstance(values, list):
            lines.append(f"{key:>22}: {len(values)}" + "".join(f"\n{'':>24}{v}" for v in values))
    return "\n".join(lines)


# the flow outside Airflow ---------------------------------------------------------------------------------------

def run_flow(mission: Mission, params: dict[str, Any], run: RunInfo, make_services: Callable[[], Services], *,
             slots: int | None = None, shard_slots: int | None = None,
             run_task: TaskRunner | None = None) -> dict[str, Any]:
    """The DAG's flow without Airflow: each task builds its clients, and at most ``slots`` batches (the
    ``mast_api`` pool's slots) run at once, and at most ``shard_slots`` shards (default: ``slots``; the workers'
    slots, as shards are not in the pool). ``run_task(task_id, label, work)`` runs one task's work (the benchmark
    runs each in a forked process, as Airflow does); by default it is a plain call."""
    call = run_task or (lambda task_id, label, work: work())

    def one_batch(batch: Batch) -> BatchResult:
        listing = call("find_light_curves", batch.label,
                       lambda: find_light_curves(mission, batch, params, make_services()))
        return call("copy_light_curves", batch.label,
                    lambda: copy_light_curves(mission, listing, params, run, make_services()))

    def one_shard(shard: Shard) -> ShardResult:
        return call("mirror_shard", shard.label, lambda: mirror_shard(mission, shard, params, run, make_services()))

    plan = call("plan_targets", "", lambda: plan_targets(mission, params, run, make_services()))
    with ThreadPoolExecutor(max_workers=slots or mast_pool_slots(), thread_name_prefix="slot") as pool:
        results = list(pool.map(one_batch, plan.batches))
    with ThreadPoolExecutor(max_workers=shard_slots or slots or mast_pool_slots(), thread_name_prefix="shard") as pool:
        shard_results = list(pool.map(one_shard, plan.shards))
    return summarize_run(plan, results, shard_results)
