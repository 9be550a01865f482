"""What each task of a mission's ingest DAG does, as plain functions of typed payloads.

The flow (``wiring.dag_factory`` states it as Airflow tasks; ``run_flow`` runs it outside Airflow for the
benchmarks and tests, with the same failure semantics): ``plan_targets`` -> for each batch,
``find_light_curves`` (in the ``mast_api`` pool), ``copy_light_curves`` then ``download_light_curves`` (in the
``mast_download`` pool) -> ``summarize_run``. A mirror run (whole campaigns or sectors) has no batches:
``plan_shards`` cuts its units into shards from the bucket's folders, and for each shard ``mirror_shard`` lists
its folder of the public bucket (MAST is not asked).
A batch and a shard go through one step, ``copy_and_commit``: adopt, copy and verify the files, then commit
them and their targets' states to the catalog. A batch's files that must come from MAST's download service (the
``source`` param: ``mast``, or ``auto`` where the bucket lacks them) are left to ``download_light_curves``, which
fetches, verifies and commits them and gives their targets, left ``pending`` until then, their status.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from lightcurve_ingest.domain import mirror
from lightcurve_ingest.domain import target_status as ts
from lightcurve_ingest.domain.catalog import Catalog
from lightcurve_ingest.domain.catalog_records import TargetState, TargetStatus, object_states
from lightcurve_ingest.domain.copying import (
    ADOPTED,
    BUCKET,
    COPIED,
    DEFERRED,
    FAILED,
    MAST,
    PRESENT,
    Copier,
    CopyResult,
    count_statuses,
)
from lightcurve_ingest.domain.discovery import find_light_curves as find_in_mast
from lightcurve_ingest.domain.missions import Mission
from lightcurve_ingest.domain.payloads import (
    Batch,
    HttpsWork,
    LightCurveFile,
    Listing,
    PartResult,
    Plan,
    ReleaseWindow,
    Shard,
    Target,
)
from lightcurve_ingest.domain.targets import ArchiveTargets
from lightcurve_ingest.errors import InvalidInputError, RetryCannotHelpError
from lightcurve_ingest.settings import (
    MAST_DOWNLOAD_THREADS,
    MAX_BATCHES,
    MAX_SHARDS,
    mast_download_pool_slots,
    mast_pool_slots,
)
from lightcurve_ingest.storage.source_bucket import SourceObject
from lightcurve_ingest.tasks.params import RunParams
from lightcurve_ingest.tasks.progress import ProgressLog
from lightcurve_ingest.tasks.services import Services

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
    archive = ArchiveTargets(mission, services.tap(), run_params.object_source)
    targets, unresolved, mode = _choose_targets(mission, run_params, run, archive, states, windowed)
    # a target's status is its own pipeline's files': a run of other products asks MAST again about every target
    # (what it already holds is skipped file by file)
    recheck = run_params.full_refresh or run_params.products not in ((), (mission.own_product,))
    complete = set() if recheck else {t.target_id for t in _targets_with_status(states, {ts.COMPLETE})}
    todo = [t for t in targets if t.target_id not in complete]
    release_targets: list[Target] = []
    if windowed and mission.keeps_observing:  # every other target it holds: only what MAST released in the window
        asked = {t.target_id for t in todo}
        release_targets = [t for t in _targets_with_status(states, ts.WATCHED_FOR_RELEASES)
                           if t.target_id not in asked]
        mode += " + released in the window"
    files_so_far = {s.target_id: s.files for s in states}
    now = datetime.now(UTC)
    pending = todo + release_targets if run_params.asks_own_pipeline(mission) else []  # see _statuses
    catalog.record(states=[ts.target_state(mission, t, ts.PENDING, files_so_far.get(t.target_id, 0), run.run_id, now)
                           for t in pending],
                   objects=object_states(mission.name, targets, run.run_id, now))
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
        raise InvalidInputError("targets", f"the Exoplanet Archive's {archive.table.name} table has no "
                                           f"{mission.name} target with dispositions {dispositions}")
    mode = "full refresh" if run_params.full_refresh else f"all {mission.name} targets ({', '.join(dispositions)})"
    return targets, [], mode


def make_batches(mission: Mission, targets: list[Target], release_targets: list[Target],
                 window: ReleaseWindow | None, per_batch: int) -> list[Batch]:
    """Batches of at most ``per_batch`` targets (more if needed to stay within MAX_BATCHES); targets asked only for
    new releases go in batches of their own."""
    per_batch = max(per_batch, -(-(len(targets) + len(release_targets)) // MAX_BATCHES))
    targets = [replace(t, known=()) for t in targets]  # recorded at plan time: the batches need only the labels
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
    """A mirror run's plan: its units (``plan_shards`` lists their folders)."""
    services.storage(run_params.destination, run_params.dest_aws_conn_id)  # a missing connection is refused now
    units = ", ".join(str(u) for u in run_params.units)
    return Plan(mission=mission.name, mode=f"mirror {mission.unit_param} {units}" +
                (" (full refresh)" if run_params.full_refresh else ""),
                destination=str(run_params.destination), targets=0, already_complete=0, unresolved=[],
                units=list(run_params.units))


def plan_shards(mission: Mission, params: dict[str, Any], services: Services) -> list[Shard]:
    """A mirror run's shards, from the bucket's folders (none in a run of targets). Every unit is checked in
    the bucket before any shard is made."""
    run_params = RunParams.parse(params, mission)
    if run_params.units is None:
        return []
    shards = mirror.plan_shards(mission, run_params.units, services.source(), MAX_SHARDS, run_params.products)
    log.info("Plan (mirror): %s %s, %d shards", mission.unit_name, ", ".join(map(str, run_params.units)), len(shards))
    return shards


# find and copy: one batch ------------------------------------------------------------------------------------

def find_light_curves(mission: Mission, batch: Batch, params: dict[str, Any], services: Services) -> Listing:
    """One observation query (two with HLSPs among the products) and one product query to MAST for the whole
    batch."""
    run_params = RunParams.parse(params, mission)
    listing = find_in_mast(mission, batch, services.mast(), run_params.include_fast_cadence, run_params.products)
    log.info("MAST: %d observations, %d light curves for %d targets; not found: %s", listing.observations,
             len(listing.files), len(batch.targets), ", ".join(mission.label(t) for t in listing.not_found) or "none")
    return listing


def copy_light_curves(mission: Mission, listing: Listing, params: dict[str, Any], run: RunInfo,
                      services: Services) -> PartResult:
    """Copy a batch's files, then commit them and the batch's target states to the catalog."""
    batch = listing.batch
    part = Part(label=batch.label, unit=None, files=listing.files, targets=batch.targets,
                labelled_targets=sum(bool(t.disposition) for t in batch.targets),
                not_found=frozenset(t.target_id for t in listing.not_found), released_only=batch.released is not None,
                observations=listing.observations)
    return copy_and_commit(mission, part, RunParams.parse(params, mission), run, services)


# mirror: one shard ---------------------------------------------------------------------------------------------

def mirror_shard(mission: Mission, shard: Shard, params: dict[str, Any], run: RunInfo,
                 services: Services) -> PartResult:
    """List one shard's folder of the public bucket, copy every light curve in it not already catalogued at its
    size, and commit the files and their stars (with the archive's labels, where it knows them). Its files come
    from the bucket's own listing, so they come from the bucket (``RunParams`` refuses ``source: mast`` with
    whole units)."""
    run_params = RunParams.parse(params, mission)
    listed = list(services.source().list_objects(shard.prefix))
    labels = {t.target_id: t for t in ArchiveTargets(mission, services.tap()).all(mission.table.dispositions)}
    files, others = mirror.light_curves(mission, listed, labels, run_params.include_fast_cadence)
    stars = sorted({f.target_id for f in files})
    part = Part(label=shard.label, unit=shard.unit, files=tuple(files),
                targets=tuple(labels.get(i) or Target(target_id=i) for i in stars),
                labelled_targets=sum(i in labels for i in stars), mirror=True, listed=len(listed),
                other_objects=others, prefix=shard.prefix,
                listed_there={o.key: SourceObject(o.size, o.etag) for o in listed})
    return copy_and_commit(mission, part, run_params, run, services)


# copy and commit: a batch or a shard -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Part:
    """What one copy-and-commit step works on: a batch's files as MAST listed them, or a shard's as the bucket
    listed them, and the targets whose states it records."""

    label: str
    unit: int | None
    files: tuple[LightCurveFile, ...]
    targets: tuple[Target, ...]
    labelled_targets: int
    not_found: frozenset[int] = frozenset()  # targets MAST listed nothing for
    released_only: bool = False  # MAST was asked only for what it released in a window
    mirror: bool = False  # statuses follow ``status_after_mirror``; a full refresh re-verifies catalogued files
    observations: int = 0
    listed: int = 0
    other_objects: int = 0
    prefix: str = ""  # a shard's folder: one listing of the destination below it replaces a HEAD a file
    listed_there: dict[str, SourceObject] | None = None  # the bucket's listing replaces a HEAD a source file


FAILED_FILES_REPORTED = 20  # a part's result names at most this many failed files (XComs stay small)


def copy_and_commit(mission: Mission, part: Part, run_params: RunParams, run: RunInfo,
                    services: Services) -> PartResult:
    """Adopt, copy and verify a part's files, then commit them and its targets' states to the catalog.

    Each part commits as soon as its files are verified, so a crash later in the run loses no record; a crash
    between copying and committing is healed by the next run, which adopts the verified files. A batch's files
    to fetch over HTTPS are deferred: the result hands them to ``download_light_curves`` (``PartResult.https``),
    and their targets stay ``pending`` until it commits them. A shard's files are the bucket's own listing: never
    deferred.
    """
    storage = services.storage(run_params.destination, run_params.dest_aws_conn_id)
    catalog = Catalog(storage)
    ids = [t.target_id for t in part.targets]
    recorded = catalog.recorded_sizes(mission.name, ids)  # the part's targets' rows only: a commit's cost must
    # not grow with the catalog
    before = {s.target_id: s.status for s in catalog.target_states(mission.name, ids)} if part.mirror else {}
    mode = BUCKET if part.mirror else run_params.source
    copier = Copier(mission, storage, None if mode == MAST else services.source(),
                    read_back=run_params.read_back_server_side_copies,
                    cataloged={} if part.mirror and run_params.full_refresh else _all_sizes(recorded),
                    listed_here=storage.sizes(part.prefix.rstrip("/")) if part.prefix else None,
                    listed_there=part.listed_there, source_mode=mode)
    with ProgressLog(part.label, len(part.files)) as progress:
        results = copier.copy_all(part.files, run_params.copy_threads, on_result=lambda r: progress.add(r.size))
    now = datetime.now(UTC)
    if part.mirror:
        states = ts.mirror_states(mission, part.targets, results, recorded, before, run.run_id, now)
    else:
        states = _statuses(mission, run_params, catalog, ts.batch_states(
            mission, part.targets, results, recorded, run.run_id, now, not_found=part.not_found,
            released_only=part.released_only))
    new_files = catalog.record(ts.recorded_files(results, run.run_id, now), states,
                               object_states(mission.name, part.targets, run.run_id, now) if part.mirror else ())
    log.info("%s %s: %d light curves of %d targets (%d labelled), %s, %d new in the catalog",
             "Shard" if part.mirror else "Batch", part.label, len(results), len(part.targets),
             part.labelled_targets, count_statuses(results), new_files)
    _fail_if_disk_full(results)
    return PartResult(
        label=part.label, unit=part.unit, targets=len(part.targets), labelled_targets=part.labelled_targets,
        not_found=[mission.label(t) for t in part.targets if t.target_id in part.not_found],
        observations=part.observations, listed=part.listed, other_objects=part.other_objects,
        files_found=len(results), new_files=new_files, catalog=catalog.uri(), https=_https_work(part, results),
        **_figures(results))


# download: a batch's files from MAST's download service -----------------------------------------------------------

def download_light_curves(mission: Mission, copied: PartResult, params: dict[str, Any], run: RunInfo,
                          services: Services) -> PartResult:
    """Fetch the files a batch's copy step deferred from MAST's download service (the task is in the
    ``mast_download`` pool), verify and commit them, and give their targets their status, counting the files the
    catalog already holds. Returns the batch's result with this step's counts added (unchanged when nothing was
    deferred). A file already at the destination (a retried task) is adopted or skipped, never fetched twice."""
    work = copied.https
    if work is None or not work.files:
        return replace(copied, https=None)
    run_params = RunParams.parse(params, mission)
    storage = services.storage(run_params.destination, run_params.dest_aws_conn_id)
    catalog = Catalog(storage)
    recorded = catalog.recorded_sizes(mission.name, [t.target_id for t in work.targets])
    copier = Copier(mission, storage, None, cataloged=_all_sizes(recorded), source_mode=MAST,
                    downloads=services.mast_downloads())
    threads = min(run_params.copy_threads, MAST_DOWNLOAD_THREADS)
    with ProgressLog(f"{copied.label} (HTTPS)", len(work.files)) as progress:
        results = copier.copy_all(work.files, threads, on_result=lambda r: progress.add(r.size))
    now = datetime.now(UTC)
    states = _statuses(mission, run_params, catalog, ts.batch_states(
        mission, work.targets, results, recorded, run.run_id, now, failed_before=work.failed_targets))
    new_files = catalog.record(ts.recorded_files(results, run.run_id, now), states)
    log.info("Batch %s over HTTPS: %d light curves of %d targets, %s, %d new in the catalog", copied.label,
             len(results), len(work.targets), count_statuses(results), new_files)
    _fail_if_disk_full(results)
    return _added(copied, _figures(results), new_files)


def _statuses(mission: Mission, run_params: RunParams, catalog: Catalog, states: list[TargetState]
              ) -> list[TargetState]:
    """A target's status says whether its own pipeline's light curves are all in: a run of other products only
    (``products`` without it) leaves a target the status it had, or pending (its plan marked nothing pending)."""
    if run_params.asks_own_pipeline(mission):
        return states
    before = {s.target_id: s.status for s in catalog.target_states(mission.name, [s.target_id for s in states])}
    return ts.without_own_pipeline(states, before)


def _https_work(part: Part, results: list[CopyResult]) -> HttpsWork | None:
    """The files the copy step deferred to the HTTPS step, with their targets; None when there are none."""
    deferred = [r.file for r in results if r.status == DEFERRED]
    if not deferred:
        return None
    ids = {f.target_id for f in deferred}
    failed = {r.file.target_id for r in results if r.status == FAILED} & ids
    return HttpsWork(files=tuple(deferred), targets=tuple(t for t in part.targets if t.target_id in ids),
                     failed_targets=tuple(sorted(failed)))


SOURCE_NAMES = ("bucket", "mast")  # the sources a file comes from, as the catalog's ``source`` column names them


def _figures(results: list[CopyResult]) -> dict[str, Any]:
    """What a step's copy results count, as ``PartResult`` fields."""
    counts = count_statuses(results)
    copied = [r for r in results if r.status == COPIED]
    failed = [f"{r.file.source_key}: {r.error}" for r in results if r.status == FAILED]
    not_in_bucket = [r.file.source_key for r in results if r.not_in_bucket]
    return dict(
        copied=counts[COPIED], adopted=counts[ADOPTED], present=counts[PRESENT], failed=counts[FAILED],
        failed_files=failed[:FAILED_FILES_REPORTED], not_in_bucket=not_in_bucket[:FAILED_FILES_REPORTED],
        bytes_copied=sum(r.size for r in copied), bytes_through_worker=sum(r.bytes_through_worker for r in results),
        by_source={source: {"files": sum(r.source == source for r in copied),
                            "bytes": sum(r.size for r in copied if r.source == source)} for source in SOURCE_NAMES})


def _added(result: PartResult, figures: dict[str, Any], new_files: int) -> PartResult:
    """``result`` with a later step's figures added, its lists still capped."""
    sums = {key: getattr(result, key) + value for key, value in figures.items() if isinstance(value, int)}
    lists = {key: (getattr(result, key) + value)[:FAILED_FILES_REPORTED] for key, value in figures.items()
             if isinstance(value, list)}
    return replace(result, **sums, **lists, by_source=_sources_added([result.by_source, figures["by_source"]]),
                   new_files=result.new_files + new_files, https=None)


def _sources_added(counts: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Files and bytes by source, added up."""
    return {source: {key: sum(c.get(source, {}).get(key, 0) for c in counts) for key in ("files", "bytes")}
            for source in SOURCE_NAMES}


def _all_sizes(recorded: dict[int, dict[str, int]]) -> dict[str, int]:
    """Destination URI -> size of every file of ``Catalog.recorded_sizes``."""
    return {uri: size for sizes in recorded.values() for uri, size in sizes.items()}


def _fail_if_disk_full(results: list[CopyResult]) -> None:
    full = [r for r in results if r.disk_full]
    if full:  # the verified copies are in the catalog; the task fails, without retries, so the operator sees why
        raise RetryCannotHelpError(f"{len(full)} of {len(results)} file(s) not copied: {full[0].error}")


# summarise -----------------------------------------------------------------------------------------------------

# The run summary's totals, per run mode: summary key -> PartResult field.
SUMMED = {
    "batches": {"targets": "targets", "observations": "observations", "files_found": "files_found",
                "copied": "copied", "adopted": "adopted", "already_present": "present", "failed": "failed",
                "bytes_copied": "bytes_copied", "bytes_through_worker": "bytes_through_worker",
                "new_files": "new_files"},
    "shards": {"listed": "listed", "other_objects": "other_objects", "files_found": "files_found",
               "stars": "targets", "labelled_stars": "labelled_targets", "copied": "copied", "adopted": "adopted",
               "already_present": "present", "failed": "failed", "bytes_copied": "bytes_copied",
               "bytes_through_worker": "bytes_through_worker", "new_files": "new_files"},
}


def summarize_run(plan: Plan, results: list[PartResult]) -> dict[str, Any]:
    """Totals of the run (and of each unit, in a mirror run); a failed batch or shard is one that was planned
    but left no result."""
    kind = "shards" if plan.shards else "batches"
    parts = plan.shards or plan.batches
    done = {r.label for r in results}
    summary: dict[str, Any] = {"mission": plan.mission, "mode": plan.mode, "destination": plan.destination}
    if kind == "batches":
        summary["targets_planned"] = sum(len(b.targets) for b in plan.batches)
        summary["already_complete"] = plan.already_complete
    summary[kind] = len(parts)
    summary.update(_totals(results, SUMMED[kind]))
    summary["by_source"] = _sources_added([r.by_source for r in results])  # files and bytes copied, by source
    if plan.units:
        summary["per_unit"] = {str(unit): {
            "shards": sum(s.unit == unit for s in plan.shards),
            "failed_shards": sum(s.unit == unit and s.label not in done for s in plan.shards),
            **_totals([r for r in results if r.unit == unit], SUMMED[kind])} for unit in plan.units}
    summary[f"failed_{kind}"] = [p.label for p in parts if p.label not in done]
    summary["failed_files"] = [f for r in results for f in r.failed_files]
    summary["not_in_bucket"] = [k for r in results for k in r.not_in_bucket]  # what source "bucket" could not get
    if kind == "batches":
        summary["not_found"] = sorted({t for r in results for t in r.not_found} | set(plan.unresolved))
    return summary


def _totals(results: list[PartResult], fields: dict[str, str]) -> dict[str, int]:
    return {key: sum(getattr(r, field) for r in results) for key, field in fields.items()}


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
             slots: int | None = None, shard_slots: int | None = None, download_slots: int | None = None,
             run_task: TaskRunner | None = None) -> dict[str, Any]:
    """The DAG's flow without Airflow, with the DAG's failure semantics: a plan that fails fails the run; a
    batch or shard that fails is left out of the results (the summary names it) and the others go on.

    Each task builds its clients; at most ``slots`` batches (the ``mast_api`` pool's slots) run at once, at
    most ``download_slots`` of their HTTPS steps (default: the ``mast_download`` pool's slots), and at most
    ``shard_slots`` shards (default: ``slots``; the workers' slots, as shards are not in the pool).
    ``run_task(task_id, label, work)`` runs one task's work (the benchmark runs each in a forked process, as
    Airflow does); by default it is a plain call. Unlike the DAG, no task is retried.
    """
    call = run_task or (lambda task_id, label, work: work())
    https_slots = threading.BoundedSemaphore(download_slots or mast_download_pool_slots())

    def isolated(label: str, work: Callable[[], PartResult]) -> PartResult | None:
        try:
            return work()
        except Exception:
            log.exception("%s failed; the run goes on without it", label)
            return None

    def one_batch(batch: Batch) -> PartResult | None:
        def work() -> PartResult:
            listing = call("find_light_curves", batch.label,
                           lambda: find_light_curves(mission, batch, params, make_services()))
            copied = call("copy_light_curves", batch.label,
                          lambda: copy_light_curves(mission, listing, params, run, make_services()))
            with https_slots:
                return call("download_light_curves", batch.label,
                            lambda: download_light_curves(mission, copied, params, run, make_services()))
        return isolated(batch.label, work)

    def one_shard(shard: Shard) -> PartResult | None:
        return isolated(shard.label, lambda: call(
            "mirror_shard", shard.label, lambda: mirror_shard(mission, shard, params, run, make_services())))

    plan = call("plan_targets", "", lambda: plan_targets(mission, params, run, make_services()))
    shards = call("plan_shards", "", lambda: plan_shards(mission, params, make_services()))
    plan = replace(plan, shards=tuple(shards))
    with ThreadPoolExecutor(max_workers=slots or mast_pool_slots(), thread_name_prefix="slot") as pool:
        results = list(pool.map(one_batch, plan.batches))
    with ThreadPoolExecutor(max_workers=shard_slots or slots or mast_pool_slots(), thread_name_prefix="shard") as pool:
        results += list(pool.map(one_shard, plan.shards))
    return summarize_run(plan, [r for r in results if r is not None])
