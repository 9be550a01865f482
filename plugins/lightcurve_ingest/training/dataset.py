"""One star's training rows: each object's views, and each light curve's series, from its light curves.

Pure functions: the star's catalog records and its light curves (already read) in, typed rows out. Which rows
need building is decided by ``inputs_sha256``: the hash of everything a row is made from (the light curves'
SHA-256s, the object's verdict and ephemeris, the settings and ``PREPROCESSING``), so a rerun with nothing new
builds nothing and a new sector rebuilds only its star's rows.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime

import numpy as np

from lightcurve_ingest.domain.catalog_records import CatalogFile, ObjectState
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.training import detrend as dt
from lightcurve_ingest.training.labels import label_of, split_of
from lightcurve_ingest.training.records import EMPTY, LightCurveSeries, ObjectViews
from lightcurve_ingest.training.views import Ephemeris, ViewSettings, build_views, median_bin

# Bump when the detrending, the views or the series change: every row is then rebuilt once.
PREPROCESSING = ("1: science flux, no quality flag, one product a unit, per-segment median, other objects' transits "
                 "cut, biweight 2 durations with transits masked, AstroNet views")
SERIES_POINTS = 3197  # the Kaggle "Exoplanet Hunting in Deep Space" set's flux points per star
SERIES_WINDOW_DAYS = 1.0  # the series' biweight window: a star's own transits are masked, others' are short
MIN_SERIES_POINTS = 100
OTHERS_CUT_FACTOR = 0.75  # other objects' transits are cut out this many durations either side of each centre


@dataclass(frozen=True)
class Curve:
    """One light curve as read: good cadences only (time in the mission's system, flux divided by its median)."""

    file: CatalogFile
    time: np.ndarray
    flux: np.ndarray


@dataclass(frozen=True)
class Star:
    """What the catalog holds of one star: its labels, its files and its objects."""

    mission: str
    target_id: int
    target: str
    disposition: str  # the archive's best verdict on its objects; "" when the archive does not list it
    files: tuple[CatalogFile, ...]
    objects: tuple[ObjectState, ...]

    def units(self) -> dict[int | None, tuple[CatalogFile, ...]]:
        by_unit: dict[int | None, list[CatalogFile]] = {}
        for f in self.files:
            by_unit.setdefault(f.observing_unit, []).append(f)
        return {unit: tuple(files) for unit, files in by_unit.items()}


@dataclass(frozen=True)
class Settings:
    """What the rows are built with (the DAG's params), part of every row's inputs."""

    views: ViewSettings = ViewSettings()
    series_points: int = SERIES_POINTS

    def __post_init__(self) -> None:
        if isinstance(self.series_points, bool) or not isinstance(self.series_points, int) or self.series_points < 2:
            raise InvalidInputError("series_points", f"must be an integer of at least 2, got {self.series_points!r}")


def preferred_files(files: Sequence[CatalogFile], products: Sequence[str]) -> tuple[CatalogFile, ...]:
    """One product's files of each observing unit: the first of ``products`` (the mission's, its own pipeline's
    first) that the unit has. Two products of one sector are the same photons twice: stitched together they would
    fold every transit in twice, on two different trends."""
    rank = {name: i for i, name in enumerate(products)}
    best: dict[int | None, int] = {}
    for f in files:
        best[f.observing_unit] = min(best.get(f.observing_unit, len(rank)), rank.get(f.product, len(rank)))
    return tuple(f for f in files if rank.get(f.product, len(rank)) == best[f.observing_unit])


def _sha256(payload: object) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def _file_inputs(files: Sequence[CatalogFile]) -> list[list[str]]:
    return sorted([f.destination_uri, f.sha256] for f in files)


def views_inputs(star: Star, obj: ObjectState, settings: Settings) -> str:
    """The hash of what an object's views are made from (the star's other objects: their transits are cut out)."""
    return _sha256({"preprocessing": PREPROCESSING, "views": asdict(settings.views), "files": _file_inputs(star.files),
                    "object": [obj.disposition, obj.period_days, obj.epoch, obj.duration_hours,
                               obj.ephemeris_reason], "others": _transits(_others(star, obj))})


def _others(star: Star, obj: ObjectState) -> list[ObjectState]:
    """The star's other objects that place transits."""
    return [o for o in star.objects if o.object != obj.object and o.ephemeris.usable]


def _transits(objects: Sequence[ObjectState]) -> list[list]:
    return sorted([o.object, o.period_days, o.epoch, o.duration_hours] for o in objects if o.ephemeris.usable)


def series_inputs(star: Star, files: Sequence[CatalogFile], settings: Settings) -> str:
    """The hash of what a light curve's series is made from (the star's objects place the masked transits)."""
    return _sha256({"preprocessing": PREPROCESSING, "points": settings.series_points, "files": _file_inputs(files),
                    "disposition": star.disposition, "objects": _transits(star.objects)})


def series_label(mission: str, disposition: str) -> int | None:
    """1 for a star hosting a confirmed planet, 0 for one with only false positives or one the archive does not
    list (a star of a whole-unit mirror), None for candidates."""
    return 0 if not disposition else label_of(mission, disposition)


# views -----------------------------------------------------------------------------------------------------------

def object_views(star: Star, obj: ObjectState, curves: Sequence[Curve], unreadable: Sequence[str],
                 settings: Settings, at: datetime) -> ObjectViews:
    """An object's row: its views from the star's readable light curves, or empty views and the reason."""
    reasons = [f"left out unreadable {u}" for u in unreadable]
    views, n_transits, depth, why = _views(obj, _others(star, obj), curves, settings)
    reasons += [why] if why else []
    e = obj.ephemeris
    return ObjectViews(
        mission=star.mission, target_id=star.target_id, object=obj.object, disposition=obj.disposition,
        label=label_of(star.mission, obj.disposition) if obj.disposition else None,
        split=split_of(star.mission, star.target_id), period_days=e.period_days, epoch=e.epoch,
        epoch_system=e.epoch_system, duration_hours=e.duration_hours, n_transits=n_transits,
        local_depth_ppm=depth, **views, source_files=tuple(c.file.destination_uri for c in curves),
        inputs_sha256=views_inputs(star, obj, settings), preprocessing=PREPROCESSING,
        skipped_reason="; ".join(reasons), built_at=at)


def _views(obj: ObjectState, others: Sequence[ObjectState], curves: Sequence[Curve], settings: Settings
           ) -> tuple[dict[str, np.ndarray], int, float | None, str]:
    """The five views (or empty ones), the transits with data, the local view's depth in ppm, and why there are no
    views ("" when there are). The transits of the star's ``others`` are cut out first (as ExoMiner removes other
    TCEs): folded in, a deep neighbour's dips would bias a shallow object's views and its trend."""
    empty = dict.fromkeys(("global_view", "local_view", "odd_view", "even_view", "secondary_view"), EMPTY)
    if not obj.ephemeris.usable:
        return empty, 0, None, f"no usable ephemeris: {obj.ephemeris.reason}"
    if not curves:
        return empty, 0, None, "no readable light curve of the star"
    time, flux = _without_transits(*_joined(curves), others)
    try:
        detrended = dt.detrend(time, flux, np.zeros(time.size, dtype=int), period_days=obj.period_days,
                               epoch=obj.epoch, duration_hours=obj.duration_hours)
        views = build_views(detrended.time, detrended.flux,
                            Ephemeris(obj.period_days, obj.epoch, obj.duration_hours), settings.views)
    except InvalidInputError as err:
        return empty, 0, None, str(err)
    return ({"global_view": views.global_view, "local_view": views.local_view, "odd_view": views.odd_view,
             "even_view": views.even_view, "secondary_view": views.secondary_view}, views.n_transits,
            views.depths["local"] * 1e6, "")


def _joined(curves: Sequence[Curve]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([c.time for c in curves]), np.concatenate([c.flux for c in curves])


def _without_transits(time: np.ndarray, flux: np.ndarray, objects: Sequence[ObjectState]
                      ) -> tuple[np.ndarray, np.ndarray]:
    """The points outside every transit of ``objects`` (within OTHERS_CUT_FACTOR durations of a centre)."""
    inside = np.zeros(time.size, dtype=bool)
    for o in objects:
        inside |= dt.transit_mask(time, period_days=o.period_days, epoch=o.epoch, duration_hours=o.duration_hours,
                                  mask_factor=OTHERS_CUT_FACTOR)
    return time[~inside], flux[~inside]


# series ----------------------------------------------------------------------------------------------------------

def light_curve_series(star: Star, unit: int | None, files: Sequence[CatalogFile], curves: Sequence[Curve],
                       unreadable: Sequence[str], settings: Settings, at: datetime) -> LightCurveSeries:
    """One observing unit's series: detrended (the star's transits masked), median 0, resampled onto
    ``series_points`` equal time bins, empty bins interpolated; or empty, with the reason."""
    reasons = [f"left out unreadable {u}" for u in unreadable]
    flux, why = EMPTY, ""
    if not curves:
        why = "no readable light curve"
    else:
        try:
            flux = _series_flux(*_joined(curves), star.objects, settings.series_points)
        except InvalidInputError as err:
            why = str(err)
    return LightCurveSeries(
        mission=star.mission, target_id=star.target_id, target=star.target, observing_unit=unit,
        label=series_label(star.mission, star.disposition), split=split_of(star.mission, star.target_id),
        n_points=int(flux.size), flux=flux, source_files=tuple(c.file.destination_uri for c in curves),
        inputs_sha256=series_inputs(star, files, settings), preprocessing=PREPROCESSING,
        skipped_reason="; ".join(reasons + ([why] if why else [])), built_at=at)


def _series_flux(time: np.ndarray, flux: np.ndarray, objects: Sequence[ObjectState], points: int) -> np.ndarray:
    stitched = dt.stitch(time, flux, np.zeros(time.size, dtype=int))
    if stitched.time.size < MIN_SERIES_POINTS:
        raise InvalidInputError("flux", f"{stitched.time.size} good cadences; a series needs {MIN_SERIES_POINTS}")
    masked = np.zeros(stitched.time.size, dtype=bool)
    for o in objects:
        if o.ephemeris.usable:
            masked |= dt.transit_mask(stitched.time, period_days=o.period_days, epoch=o.epoch,
                                      duration_hours=o.duration_hours)
    trend = np.empty_like(stitched.flux)
    for number in range(stitched.segment[-1] + 1):
        part = stitched.segment == number
        trend[part] = dt.biweight_trend(stitched.time[part], stitched.flux[part], ~masked[part],
                                        window_days=SERIES_WINDOW_DAYS)
    relative = stitched.flux / trend - 1.0
    start, end = float(stitched.time[0]), float(stitched.time[-1]) + 1e-9  # the last cadence inside the last bin
    width = (end - start) / points
    binned, counts = median_bin(stitched.time, relative, points, width, start, end)
    filled = counts > 0
    centres = start + width * (np.arange(points) + 0.5)
    return np.interp(centres, centres[filled], binned[filled]).astype(np.float32)
