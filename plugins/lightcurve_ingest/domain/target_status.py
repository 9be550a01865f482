"""What a batch's outcome means for the catalog: each target's new status, and the records to commit.

Pure functions of a batch's copy results and of what the catalog held before it; ``Catalog.record`` stores what
they return.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from lightcurve_ingest.domain.catalog_records import CatalogFile, TargetState, TargetStatus
from lightcurve_ingest.domain.copying import ADOPTED, COPIED, DEFERRED, FAILED, CopyResult
from lightcurve_ingest.domain.missions import Mission
from lightcurve_ingest.domain.payloads import Target

PENDING, COMPLETE, INCOMPLETE, NOT_FOUND, MIRRORED = (
    TargetStatus.PENDING, TargetStatus.COMPLETE, TargetStatus.INCOMPLETE, TargetStatus.NOT_FOUND, TargetStatus.MIRRORED)
UNFINISHED = frozenset({PENDING, INCOMPLETE})  # a windowed run takes these targets again
WATCHED_FOR_RELEASES = frozenset({COMPLETE, NOT_FOUND})  # a windowed run asks MAST what it released of these


def status_after_batch(*, found: bool, files: int, failed: bool, released_only: bool = False) -> TargetStatus:
    """A target's status once its batch is copied.

    ``found``: MAST listed light curves of it; ``files``: its files in the catalog after the batch; ``failed``: a
    file of it failed; ``released_only``: the batch asked MAST only for what it released in a window, so a target
    with no file at all is still not found.
    """
    if not found or (released_only and files == 0):
        return NOT_FOUND
    return INCOMPLETE if failed else COMPLETE


def status_after_mirror(copied: TargetStatus, before: TargetStatus | None) -> TargetStatus:
    """A star's status once a mirror shard copied its files; ``copied`` is its status by ``status_after_batch``,
    ``before`` the one the catalog held (None: new to it).

    A star new to the catalog, or known only from mirror runs, is ``mirrored`` (the daily runs do not ask MAST
    about it: another mirror run follows its units). A target of the other modes keeps its status, except that
    ``not_found`` becomes ``complete``. A failed file makes either ``incomplete``.
    """
    if copied != COMPLETE:
        return copied
    if before in (PENDING, INCOMPLETE):
        return before
    return COMPLETE if before in (COMPLETE, NOT_FOUND) else MIRRORED


def target_state(mission: Mission, target: Target, status: TargetStatus, files: int, run_id: str,
                 at: datetime) -> TargetState:
    return TargetState(mission=mission.name, target_id=target.target_id, target=mission.label(target),
                       disposition=target.disposition, objects=target.objects, status=status, files=files,
                       run_id=run_id, updated_at=at)


def recorded_files(results: Iterable[CopyResult], run_id: str, at: datetime) -> list[CatalogFile]:
    """The files a batch adds to the catalog: those copied or adopted (a file found present is in it already)."""
    return [_file_record(r, run_id, at) for r in results if r.status in (COPIED, ADOPTED)]


def _file_record(result: CopyResult, run_id: str, at: datetime) -> CatalogFile:
    f = result.file
    return CatalogFile(
        destination_uri=result.destination_uri, mission=f.mission, target_id=f.target_id, target=f.target,
        observing_unit=f.unit, source_key=f.source_key, data_uri=f.data_uri, obs_id=f.obs_id, obsid=f.obsid,
        product_filename=f.product_filename, mast_size=f.mast_size, size=result.size, sha256=result.sha256,
        fits_checksum_verified=result.fits_checksum, copy_method=result.method, ingested_at=at, run_id=run_id,
        product=f.product, cadence_s=f.cadence_s, source=result.source, fits_checksum=result.fits_checksum_state)


def batch_states(mission: Mission, targets: Iterable[Target], results: Iterable[CopyResult],
                 recorded: Mapping[int, Collection[str]], run_id: str, at: datetime, *,
                 not_found: Collection[int] = (), released_only: bool = False,
                 failed_before: Collection[int] = ()) -> list[TargetState]:
    """Each target of a batch with its new status and the number of its files in the catalog: those recorded
    before (``recorded``: target id -> destination URIs) and the batch's own that did not fail.
    ``not_found``: the ids MAST listed nothing for. A target with a file deferred to the HTTPS step stays
    ``pending``: that step gives it its status, knowing from ``failed_before`` which targets a file of failed in
    the copy step."""
    files = {target_id: set(uris) for target_id, uris in recorded.items()}
    failed, deferred = set(failed_before), set()
    for r in results:
        if r.status == FAILED:
            failed.add(r.file.target_id)
        elif r.status == DEFERRED:
            deferred.add(r.file.target_id)
        else:
            files.setdefault(r.file.target_id, set()).add(r.destination_uri)
    states = []
    for target in targets:
        count = len(files.get(target.target_id, ()))
        status = PENDING if target.target_id in deferred else status_after_batch(
            found=target.target_id not in not_found, files=count, failed=target.target_id in failed,
            released_only=released_only)
        states.append(target_state(mission, target, status, count, run_id, at))
    return states


def without_own_pipeline(states: Iterable[TargetState], before: Mapping[int, TargetStatus]) -> list[TargetState]:
    """States after a run of other products than the mission's own pipeline's (``products``): such a run cannot
    make a target complete, as its pipeline's light curves were not looked for; a target keeps the status it had
    (``before``), or stays pending, so that the next run of the pipeline's own takes it."""
    return [s if s.status != COMPLETE else _with_status(s, before.get(s.target_id, PENDING)) for s in states]


def mirror_states(mission: Mission, stars: Iterable[Target], results: Iterable[CopyResult],
                  recorded: Mapping[int, Collection[str]], before: Mapping[int, TargetStatus], run_id: str,
                  at: datetime) -> list[TargetState]:
    """A mirror shard's stars, with their files and labels; ``before``: the statuses the catalog held."""
    states = batch_states(mission, stars, results, recorded, run_id, at)
    return [_with_status(s, status_after_mirror(s.status, before.get(s.target_id))) for s in states]


def _with_status(state: TargetState, status: TargetStatus) -> TargetState:
    return state if state.status == status else replace(state, status=status)
