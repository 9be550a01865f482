"""What each task of the ``lightcurve_quicklook`` DAG does, as plain functions of typed payloads.

``plan_plots`` (which light curves of which destinations have no PNG yet) -> for each batch, ``render_batch``
(read the batch's targets' known objects from the catalog once, then for each file: read the FITS, find the
strongest period, fold each object at its archive period, draw, write ``_quicklook/<source key>.png``) ->
``write_gallery`` (``_quicklook/index.html`` of everything drawn at a destination, with each star's objects).
Files travel through the destination's ``Storage``, as the ingest's do: a local folder or S3, written whole.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lightcurve_ingest.domain.catalog import Catalog
from lightcurve_ingest.domain.catalog_records import LabelledFile, ObjectState
from lightcurve_ingest.domain.labelled_files import labelled_records
from lightcurve_ingest.domain.missions import get_mission
from lightcurve_ingest.domain.payloads import PlotBatch, PlotBatchResult, PlotJob
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.settings import DEFAULT_DEST_AWS_CONN_ID, MAX_BATCHES, QUICKLOOK_DIR
from lightcurve_ingest.storage.backends import Storage
from lightcurve_ingest.tasks.services import HookFactory, open_destination

log = logging.getLogger(__name__)

GALLERY_KEY = f"{QUICKLOOK_DIR}/index.html"


@dataclass(frozen=True)
class PlotRequest:
    """Draw the light curves of ``destination`` that have no PNG: those of the ingest runs ``run_ids``, or, when
    it is None (a manual run), every one in its catalog."""

    destination: str
    dest_aws_conn_id: str
    run_ids: frozenset[str] | None = None


def png_key(source_key: str) -> str:
    return f"{QUICKLOOK_DIR}/{source_key}.png"


def requests_of_events(events: Iterable[Any]) -> list[PlotRequest]:
    """One request per destination the ingest runs behind these catalog Asset events wrote to."""
    runs: dict[tuple[str, str], set[str]] = {}
    for event in events:
        extra = event.extra or {}
        for name in ("destination", "run_id"):
            if not extra.get(name):
                raise InvalidInputError(f"asset event extra {name}", f"missing in {extra!r}")
        where = (str(extra["destination"]), str(extra.get("dest_aws_conn_id") or DEFAULT_DEST_AWS_CONN_ID))
        runs.setdefault(where, set()).add(str(extra["run_id"]))
    return [PlotRequest(dest, conn, frozenset(ids)) for (dest, conn), ids in sorted(runs.items())]


# plan ------------------------------------------------------------------------------------------------------------

def plan_plots(requests: list[PlotRequest], per_batch: int, hook_factory: HookFactory
               ) -> list[PlotBatch]:
    """Batches of the light curves still without a PNG (at most MAX_BATCHES batches; larger ones if needed)."""
    jobs_by_request = [(r, missing_plots(r, open_destination(r.destination, r.dest_aws_conn_id, hook_factory)))
                       for r in requests]
    total = sum(len(jobs) for _, jobs in jobs_by_request)
    size = max(per_batch, -(-total // MAX_BATCHES))
    batches = []
    for request, jobs in jobs_by_request:
        for start in range(0, len(jobs), size):
            chunk = jobs[start:start + size]
            batches.append(PlotBatch(label=_label(chunk), destination=request.destination,
                                     dest_aws_conn_id=request.dest_aws_conn_id, jobs=tuple(chunk)))
        log.info("%s: %d light curves to draw", request.destination, len(jobs))
    return batches


def missing_plots(request: PlotRequest, storage: Storage) -> list[PlotJob]:
    """The light curves of the request's runs (every one, for a manual run) that have no PNG yet."""
    files = labelled_records(Catalog(storage), request.run_ids)
    drawn = storage.keys(QUICKLOOK_DIR)
    return [_job(f) for f in files if png_key(f.file.source_key) not in drawn]


def _job(labelled: LabelledFile) -> PlotJob:
    f = labelled.file
    return PlotJob(source_key=f.source_key, mission=f.mission, target_id=f.target_id, target=f.target,
                   observing_unit=f.observing_unit, disposition=labelled.disposition, product=f.product)


def _label(jobs: list[PlotJob]) -> str:
    names = ", ".join(f"{j.target} {j.observing_unit}" for j in jobs[:2])
    return names + (f" +{len(jobs) - 2} more" if len(jobs) > 2 else "")


# render ----------------------------------------------------------------------------------------------------------

def render_batch(batch: PlotBatch, hook_factory: HookFactory) -> PlotBatchResult:
    """Draw each light curve of the batch that has no PNG yet. A file that is not a usable light curve is logged
    and left without a PNG; the batch goes on."""
    from lightcurve_ingest.quicklook.lightcurve import BadLightCurveError

    storage = open_destination(batch.destination, batch.dest_aws_conn_id, hook_factory)
    objects = objects_by_target(Catalog(storage), batch.jobs)
    rendered: dict[str, float] = {}
    present, unreadable = 0, []
    for job in batch.jobs:
        key = png_key(job.source_key)
        if storage.size(key) is not None:  # drawn by an earlier or concurrent run: never twice
            present += 1
            continue
        started = time.perf_counter()
        try:
            rendered[key] = render_one(job, storage, objects.get((job.mission, job.target_id), ()))
        except BadLightCurveError as err:
            log.error("No quick-look for %s: %s", storage.uri(job.source_key), err)
            unreadable.append(f"{job.source_key}: {err}")
            continue
        log.info("Drew %s (strongest period %.6g d) in %.0f ms", key, rendered[key],
                 1000 * (time.perf_counter() - started))
    return PlotBatchResult(label=batch.label, destination=batch.destination, rendered=rendered,
                           already_present=present, unreadable=unreadable)


def objects_by_target(catalog: Catalog, jobs: Sequence[PlotJob]) -> dict[tuple[str, int], list[ObjectState]]:
    """The known objects of the jobs' targets, by (mission, target id): one read of the catalog's objects table,
    filtered on those targets (and on their mission, when they share one)."""
    if not jobs:
        return {}
    missions = {j.mission for j in jobs}
    wanted = {(j.mission, j.target_id) for j in jobs}
    found = catalog.objects(next(iter(missions)) if len(missions) == 1 else None, {j.target_id for j in jobs})
    objects: dict[tuple[str, int], list[ObjectState]] = {}
    for state in found:
        if (state.mission, state.target_id) in wanted:
            objects.setdefault((state.mission, state.target_id), []).append(state)
    return objects


def render_one(job: PlotJob, storage: Storage, objects: Sequence[ObjectState] = ()) -> float:
    """Draw one light curve into ``_quicklook/<source key>.png``, with a folded view of each of the target's
    ``objects`` (from the catalog); returns its strongest period in days."""
    from lightcurve_ingest.quicklook.lightcurve import BadLightCurveError, read_light_curve
    from lightcurve_ingest.quicklook.periodogram import strongest_period, transit_search
    from lightcurve_ingest.quicklook.plot import render_png

    if storage.size(job.source_key) is None:
        raise BadLightCurveError("the catalog lists it but the destination has no such file")
    fmt = get_mission(job.mission).format_of(job.product)
    with storage.fetched(job.source_key) as path:
        curve = read_light_curve(path, fmt)
    try:
        periodogram = strongest_period(curve.time, curve.pdcsap)
        transits = transit_search(curve.time, curve.pdcsap)
    except ValueError as err:
        raise BadLightCurveError(str(err)) from err
    storage.put(png_key(job.source_key),
                lambda partial: render_png(curve, periodogram, plot_title(job), partial, transits, objects),
                content_type="image/png")
    return periodogram.best_period


def plot_title(job: PlotJob) -> Any:
    from lightcurve_ingest.quicklook.plot import Title

    mission = get_mission(job.mission)
    unit = f"{mission.unit_name} {job.observing_unit}" if job.observing_unit is not None else mission.unit_name
    return Title(target=job.target or mission.format_id(job.target_id), target_id=mission.format_id(job.target_id),
                 mission=mission.name, unit=unit, disposition=job.disposition)


# gallery ---------------------------------------------------------------------------------------------------------

def write_gallery(destination: str, dest_aws_conn_id: str, hook_factory: HookFactory
                  ) -> dict[str, Any]:
    """Rewrite ``_quicklook/index.html`` (whole, atomically) with every light curve of the destination that has a
    PNG; returns what it holds."""
    storage = open_destination(destination, dest_aws_conn_id, hook_factory)
    catalog = Catalog(storage)
    rows = gallery_rows(labelled_records(catalog), storage.keys(QUICKLOOK_DIR), catalog.objects())
    page = render_page(rows)
    storage.put(GALLERY_KEY, lambda partial: Path(partial).write_text(page, encoding="utf-8"),
                content_type="text/html; charset=utf-8")
    plots = sum(len(r.plots) for r in rows)
    log.info("Gallery %s: %d targets, %d plots, %d bytes", storage.uri(GALLERY_KEY), len(rows), plots, len(page))
    return {"gallery": storage.uri(GALLERY_KEY), "targets": len(rows), "plots": plots, "bytes": len(page.encode())}


def render_page(rows: list[Any]) -> str:
    from lightcurve_ingest.quicklook.gallery import render_gallery

    return render_gallery(rows, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def gallery_rows(files: list[LabelledFile], drawn: set[str], objects: Sequence[ObjectState] = ()) -> list[Any]:
    """One row per target with at least one PNG, with its known ``objects``; links relative to
    ``_quicklook/index.html``."""
    from lightcurve_ingest.quicklook.folded import object_label
    from lightcurve_ingest.quicklook.gallery import GalleryObject, GalleryPlot, GalleryRow

    plots: dict[tuple[str, int], list[GalleryPlot]] = {}
    first: dict[tuple[str, int], LabelledFile] = {}
    for labelled in files:
        f = labelled.file
        if png_key(f.source_key) not in drawn:
            continue
        target = (f.mission, f.target_id)
        first.setdefault(target, labelled)
        plots.setdefault(target, []).append(GalleryPlot(unit=f.observing_unit, png_href=f"{f.source_key}.png",
                                                        fits_href=f"../{f.source_key}"))
    known: dict[tuple[str, int], list[GalleryObject]] = {}
    for state in sorted(objects, key=lambda o: o.object):
        known.setdefault((state.mission, state.target_id), []).append(
            GalleryObject(name=state.object, disposition=state.disposition,
                          label=object_label(state.mission, state.disposition), reason=state.ephemeris.reason))
    rows = []
    for (mission_name, target_id), labelled in first.items():
        mission = get_mission(mission_name)
        label = mission.format_id(target_id)
        host = "" if labelled.file.target == label else labelled.file.target
        rows.append(GalleryRow(mission=mission.name, target_id=target_id, target_label=label, host=host,
                               disposition=labelled.disposition, unit_name=mission.unit_name,
                               plots=tuple(plots[(mission_name, target_id)]),
                               objects=tuple(known.get((mission_name, target_id), ()))))
    return rows


def summarize(batches: list[PlotBatch], results: list[PlotBatchResult], galleries: list[dict[str, Any]]
              ) -> dict[str, Any]:
    done = {(r.destination, r.label) for r in results}
    return {
        "batches": len(batches),
        "rendered": sum(len(r.rendered) for r in results),
        "already_present": sum(r.already_present for r in results),
        "unreadable": [u for r in results for u in r.unreadable],
        "failed_batches": [b.label for b in batches if (b.destination, b.label) not in done],
        "galleries": galleries,
    }
