"""What each task of a mission's ingest DAG does, as plain functions of typed payloads.

The flow, stated once (``dag_factory`` renders it as Airflow tasks; ``run_flow`` runs it outside Airflow for
the benchmark and tests): ``plan_targets`` -> for each batch, ``find_light_curves`` (in the ``mast_api`` pool)
then ``copy_light_curves`` (which commits the batch to the catalog) -> ``summarize_run``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lightcurve_ingest import catalog as cat
from lightcurve_ingest.catalog import Catalog
from lightcurve_ingest.connections import Services
from lightcurve_ingest.copying import ADOPTED, COPIED, FAILED, PRESENT, Copier, CopyResult, count_statuses
from lightcurve_ingest.discovery import find_light_curves as find_in_mast
from lightcurve_ingest.errors import InvalidInputError, RetryCannotHelpError
from lightcurve_ingest.missions import Mission
from lightcurve_ingest.params import RunParams
from lightcurve_ingest.payloads import Batch, BatchResult, Listing, Plan, ReleaseWindow, Target
from lightcurve_ingest.settings import MAX_BATCHES, mast_pool_slots
from lightcurve_ingest.targets import ArchiveTargets

log = logging.getLogger(__name__)

TaskRunner = Callable[[str, str, Callable[[], Any]], Any]
OBJECTS_SEPARATOR = ", "  # the targets table's objects column: "K00072.01 (Kepler-10 b), K00072.02 (Kepler-10 c)"


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
    """Choose this run's targets, mark them pending in the catalog, and cut them into batches."""
    run_params = RunParams.parse(params, mission)
    catalog = Catalog(services.storage(run_params.destination, run_params.dest_aws_conn_id))
    states = catalog.read(cat.TARGETS_TABLE, filters=[("mission", "=", mission.name)])
    windowed = run_params.targets is None and run.has_window and not run_params.full_refresh
    targets, unresolved, mode = _choose_targets(mission, run_params, run, ArchiveTargets(mission, services.tap()),
                                                states, windowed)
    complete = set() if run_params.full_refresh else {
        t.target_id for t in _targets_with_status(states, (cat.COMPLETE,))}
    todo = [t for t in targets if t.target_id not in complete]
    release_targets: list[Target] = []
    if windowed and mission.keeps_observing:  # every other target it holds: only what MAST released in the window
        asked = {t.target_id for t in todo}
        release_targets = [t for t in _targets_with_status(states, (cat.COMPLETE, cat.NOT_FOUND))
                           if t.target_id not in asked]
        mode += " + released in the window"
    files_so_far = dict(zip(states["target_id"], states["files"], strict=True))
    catalog.upsert(cat.TARGETS_TABLE, [
        _state_row(mission, t, cat.PENDING, files_so_far.get(t.target_id, 0), run.run_id)
        for t in todo + release_targets])
    window = ReleaseWindow(run.interval_start, run.interval_end) if release_targets else None
    batches = make_batches(mission, todo, release_targets, window, run_params.targets_per_batch)
    log.info("Plan (%s): %d targets, %d already complete, %d asked for new releases, %d batches", mode, len(targets),
             len(targets) - len(todo), len(release_targets), len(batches))
    return Plan(mission=mission.name, mode=mode, destination=str(run_params.destination), targets=len(targets),
                already_complete=len(targets) - len(todo), unresolved=unresolved, batches=tuple(batches))


def _choose_targets(mission: Mission, run_params: RunParams, run: RunInfo, archive: ArchiveTargets, states: Any,
                    windowed: bool) -> tuple[list[Target], list[str], str]:
    """The run's targets with their labels, the names the archive does not know, and the run mode's name."""
    if run_params.targets is not None:
        targets, unresolved = archive.resolve(run_params.targets)
        return targets, unresolved, "targets"
    dispositions = run_params.dispositions
    if windowed:
        changed = archive.changed_in(run.interval_start, run.interval_end, dispositions)
        unfinished = _targets_with_status(states, (cat.PENDING, cat.INCOMPLETE))
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


def _targets_with_status(states: Any, statuses: tuple[str, ...]) -> list[Target]:
    rows = states[states["status"].isin(statuses)]
    return sorted(Target(target_id=int(r.target_id), name=str(r.target or ""), disposition=str(r.disposition or ""),
                         objects=tuple(o for o in str(r.objects or "").split(OBJECTS_SEPARATOR) if o))
                  for r in rows.itertuples())


def _state_row(mission: Mission, target: Target, status: str, files: int, run_id: str) -> dict[str, Any]:
    return {"mission": mission.name, "target_id": target.target_id, "target": mission.label(target),
            "disposition": target.disposition, "objects": OBJECTS_SEPARATOR.join(target.objects), "status": status,
            "files": int(files), "run_id": run_id, "updated_at": datetime.now(UTC)}


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
    known = catalog.read(cat.FILES_TABLE, filters=[
        ("mission", "=", mission.name), ("target_id", "in", [t.target_id for t in listing.batch.targets])])
    copier = Copier(mission, storage, services.source(), read_back=run_params.read_back_server_side_copies,
                    cataloged=dict(zip(known["destination_uri"], known["size"].astype(int), strict=True)))
    results = copier.copy_all(listing.files, run_params.copy_threads)
    now = datetime.now(UTC)
    new_files = catalog.upsert(cat.FILES_TABLE, [_file_row(r, now, run.run_id) for r in results
                                                 if r.status in (COPIED, ADOPTED)])
    catalog.upsert(cat.TARGETS_TABLE, _target_states(mission, listing, results, known, run.run_id))
    counts = count_statuses(results)
    log.info("Batch %s: %s, %d new in the catalog", listing.batch.label, counts, new_files)
    full = [r for r in results if r.disk_full]
    if full:  # the verified copies are in the catalog; the task fails, without retries, so the operator sees why
        raise RetryCannotHelpError(f"{len(full)} of {len(results)} file(s) not copied: {full[0].error}")
    return BatchResult(
        label=listing.batch.label, targets=len(listing.batch.targets),
        not_found=[mission.label(t) for t in listing.not_found], observations=listing.observations,
        files_found=len(results), copied=counts[COPIED], adopted=counts[ADOPTED], present=counts[PRESENT],
        failed=counts[FAILED], failed_files=[f"{r.file.source_key}: {r.error}" for r in results if r.status == FAILED],
        bytes_copied=sum(r.size for r in results if r.status == COPIED),
        bytes_through_worker=sum(r.bytes_through_worker for r in results), new_files=new_files,
        catalog=catalog.uri())


def _file_row(result: CopyResult, now: datetime, run_id: str) -> dict[str, Any]:
    f = result.file
    return {
        "destination_uri": result.destination_uri, "mission": f.mission, "target_id": f.target_id,
        "target": f.target, "observing_unit": f.unit, "source_key": f.source_key, "data_uri": f.data_uri,
        "obs_id": f.obs_id, "obsid": f.obsid, "product_filename": f.product_filename, "mast_size": f.mast_size,
        "size": result.size, "sha256": result.sha256, "fits_checksum_verified": result.fits_checksum,
        "copy_method": result.method, "ingested_at": now, "run_id": run_id,
    }


def _target_states(mission: Mission, listing: Listing, results: list[CopyResult], known: Any,
                   run_id: str) -> list[dict[str, Any]]:
    """Each target of the batch: complete, incomplete (a file failed) or not found; with the number of its files
    in the catalog. In a release window, a target MAST released nothing new for keeps what it had."""
    not_found = {t.target_id for t in listing.not_found}
    ids = {t.target_id for t in listing.batch.targets}
    mine = known[(known["mission"] == mission.name) & known["target_id"].isin(ids)]
    files_of: dict[int, set[str]] = {int(i): set(uris) for i, uris in mine.groupby("target_id")["destination_uri"]}
    for r in results:
        if r.status != FAILED:
            files_of.setdefault(r.file.target_id, set()).add(r.destination_uri)
    failed = {r.file.target_id for r in results if r.status == FAILED}
    rows = []
    for target in listing.batch.targets:
        files = files_of.get(target.target_id, set())
        if target.target_id in not_found or (listing.batch.released and not files):
            status = cat.NOT_FOUND
        elif target.target_id in failed:
            status = cat.INCOMPLETE
        else:
            status = cat.COMPLETE
        rows.append(_state_row(mission, target, status, len(files), run_id))
    return rows


# summarise -----------------------------------------------------------------------------------------------------

SUMMED = ("targets", "observations", "files_found", "copied", "adopted", "present", "failed", "bytes_copied",
          "bytes_through_worker", "new_files")


def summarize_run(plan: Plan, results: list[BatchResult]) -> dict[str, Any]:
    """Totals of the run; a failed batch is one that was planned but left no result."""
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


def format_summary(summary: dict[str, Any]) -> str:
    lines = [f"{key:>22}: {value}" for key, value in summary.items() if not isinstance(value, list)]
    for key in ("failed_batches", "not_found", "failed_files"):
        lines.append(f"{key:>22}: {len(summary[key])}" + "".join(f"\n{'':>24}{v}" for v in summary[key]))
    return "\n".join(lines)


# the flow outside Airflow ---------------------------------------------------------------------------------------

def run_flow(mission: Mission, params: dict[str, Any], run: RunInfo, make_services: Callable[[], Services], *,
             slots: int | None = None, run_task: TaskRunner | None = None) -> dict[str, Any]:
    """The DAG's flow without Airflow: each task builds its clients, and at most ``slots`` batches (the
    ``mast_api`` pool's slots) run at once. ``run_task(task_id, label, work)`` runs one task's work (the benchmark
    runs each in a forked process, as Airflow does); by default it is a plain call."""
    call = run_task or (lambda task_id, label, work: work())

    def one_batch(batch: Batch) -> BatchResult:
        listing = call("find_light_curves", batch.label,
                       lambda: find_light_curves(mission, batch, params, make_services()))
        return call("copy_light_curves", batch.label,
                    lambda: copy_light_curves(mission, listing, params, run, make_services()))

    plan = call("plan_targets", "", lambda: plan_targets(mission, params, run, make_services()))
    with ThreadPoolExecutor(max_workers=slots or mast_pool_slots(), thread_name_prefix="slot") as pool:
        results = list(pool.map(one_batch, plan.batches))
    return summarize_run(plan, results)
