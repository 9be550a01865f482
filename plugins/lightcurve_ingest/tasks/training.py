"""The training set's steps: plan the stars whose rows changed, build them batch by batch, export a snapshot.

``plan_training`` compares each object's and each light curve's ``inputs_sha256`` with the stored rows' and keeps
the stars with anything to build; ``build_batch`` reads those stars' light curves once and commits their views and
series rows (one Delta commit per table and batch, so a run that fails half-way keeps the batches it finished);
``export_snapshot`` writes ``train``, ``validation`` and ``test`` ``.npz`` files of one version of the views table.
``wiring.training_dag`` states them as Airflow tasks.
"""

from __future__ import annotations

import io
import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from lightcurve_ingest.domain.catalog import SERIES_TABLE, VIEWS_TABLE, Catalog
from lightcurve_ingest.domain.catalog_records import CatalogFile, ObjectState
from lightcurve_ingest.domain.missions import MISSIONS, get_mission
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.settings import (
    DEFAULT_DEST_AWS_CONN_ID,
    TRAINING_DIR,
    default_destination,
)
from lightcurve_ingest.storage.backends import Storage
from lightcurve_ingest.storage.destination import parse_destination
from lightcurve_ingest.tasks.services import HookFactory, open_destination
from lightcurve_ingest.training import dataset as ds
from lightcurve_ingest.training.labels import SPLITS
from lightcurve_ingest.training.records import VIEW_VECTORS, ObjectViews
from lightcurve_ingest.training.views import GLOBAL_BINS, LOCAL_BINS, ViewSettings

log = logging.getLogger(__name__)

# QUALITY == 0: every flag the product defines drops the cadence (lightkurve's "hardest"). Not every bit: EVEREST sets
# bits of its own on good cadences (in transit, outlier), which no Kepler flag names and lightkurve keeps.
QUALITY_MASK = "hardest"
DEFAULT_STARS_PER_BATCH = 20
EXPORT_DIR = f"{TRAINING_DIR}/export"


@dataclass(frozen=True)
class TrainingParams:
    """The DAG's params, checked: each bad one is refused by name."""

    destinations: tuple[tuple[str, str], ...]  # (destination, dest_aws_conn_id)
    settings: ds.Settings
    export_npz: bool
    stars_per_batch: int

    @classmethod
    def parse(cls, params: dict[str, Any], event_destinations: Iterable[tuple[str, str]] = ()) -> TrainingParams:
        conn = str(params.get("dest_aws_conn_id") or DEFAULT_DEST_AWS_CONN_ID)
        chosen = list(event_destinations)
        if params.get("destination") is not None:
            destination = _text(params["destination"], "destination")
            parse_destination(destination)  # refused now, naming the field, rather than in a mapped task
            chosen.append((destination, conn))
        if not chosen:  # a daily run: every mission's default folder that exists
            chosen = [(d, conn) for d in (default_destination(m.slug) for m in MISSIONS.values()) if Path(d).is_dir()]
        views = ViewSettings(global_bins=_integer(params, "global_bins", GLOBAL_BINS),
                             local_bins=_integer(params, "local_bins", LOCAL_BINS))
        settings = ds.Settings(views=views, series_points=_integer(params, "series_points", ds.SERIES_POINTS))
        export = params.get("export_npz", False)
        if not isinstance(export, bool):
            raise InvalidInputError("export_npz", f"must be true or false, got {export!r}")
        per_batch = _integer(params, "stars_per_batch", DEFAULT_STARS_PER_BATCH)
        if per_batch < 1:
            raise InvalidInputError("stars_per_batch", f"must be at least 1, got {per_batch}")
        return cls(tuple(sorted(set(chosen))), settings, export, per_batch)


def _text(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInputError(field, f"must be a non-empty text, got {value!r}")
    return value.strip()


def _integer(params: dict[str, Any], field: str, default: int) -> int:
    value = params.get(field, default)
    value = default if value is None else value
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInputError(field, f"must be an integer, got {value!r}")
    return value


@dataclass(frozen=True)
class TrainingBatch:
    """Stars of one mission at one destination whose rows one mapped task builds."""

    label: str
    destination: str
    dest_aws_conn_id: str
    mission: str
    target_ids: tuple[int, ...]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "target_ids": list(self.target_ids)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainingBatch:
        return cls(label=data["label"], destination=data["destination"], dest_aws_conn_id=data["dest_aws_conn_id"],
                   mission=data["mission"], target_ids=tuple(int(i) for i in data["target_ids"]))


@dataclass(frozen=True)
class Todo:
    """What one star needs built: the objects and the observing units whose inputs changed."""

    star: ds.Star
    objects: tuple[ObjectState, ...]
    units: tuple[int | None, ...]

    @property
    def empty(self) -> bool:
        return not self.objects and not self.units


# plan ------------------------------------------------------------------------------------------------------------

def stars(catalog: Catalog, mission: str, target_ids: Iterable[int] | None = None) -> list[ds.Star]:
    """The stars of ``mission`` with files in the catalog, with their labels and objects."""
    files: dict[int, list[CatalogFile]] = {}
    for f in catalog.files(mission, target_ids=target_ids):
        files.setdefault(f.target_id, []).append(f)
    objects: dict[int, list[ObjectState]] = {}
    for o in catalog.objects(mission, files.keys()):
        objects.setdefault(o.target_id, []).append(o)
    states = {s.target_id: s for s in catalog.target_states(mission, files.keys())}
    products = get_mission(mission).product_names
    return [ds.Star(mission=mission, target_id=i, target=states[i].target if i in states else "",
                    disposition=states[i].disposition if i in states else "",
                    files=ds.preferred_files(sorted(fs, key=lambda f: f.destination_uri), products),
                    objects=tuple(sorted(objects.get(i, ()), key=lambda o: o.object)))
            for i, fs in sorted(files.items())]


def todo(catalog: Catalog, mission: str, settings: ds.Settings, target_ids: Iterable[int] | None = None
         ) -> list[Todo]:
    """Each star's objects and units whose stored row is missing or was built from other inputs."""
    built_views = _stored_inputs(catalog, VIEWS_TABLE, mission, target_ids, "object")
    built_series = _stored_inputs(catalog, SERIES_TABLE, mission, target_ids, "observing_unit")
    found = []
    for star in stars(catalog, mission, target_ids):
        objects = tuple(o for o in star.objects if built_views.get((star.target_id, o.object))
                        != ds.views_inputs(star, o, settings))
        units = tuple(u for u, files in star.units().items() if built_series.get((star.target_id, u))
                      != ds.series_inputs(star, files, settings))
        found.append(Todo(star, objects, units))
    return [t for t in found if not t.empty]


def _stored_inputs(catalog: Catalog, table: str, mission: str, target_ids: Iterable[int] | None, key: str
                   ) -> dict[tuple[int, Any], str]:
    rows = catalog.rows(table, mission, target_ids, columns=["inputs_sha256"])
    return {(int(r["target_id"]), r[key]): r["inputs_sha256"] for r in rows}


def plan_training(params: TrainingParams, hook_factory: HookFactory) -> list[TrainingBatch]:
    """The batches of stars with rows to build, at every destination of the run."""
    batches = []
    for destination, conn in params.destinations:
        catalog = Catalog(open_destination(destination, conn, hook_factory))
        for mission in MISSIONS.values():
            ids = [t.star.target_id for t in todo(catalog, mission.name, params.settings)]
            log.info("%s %s: %d stars with rows to build", destination, mission.name, len(ids))
            for start in range(0, len(ids), params.stars_per_batch):
                chunk = tuple(ids[start:start + params.stars_per_batch])
                label = f"{mission.name} {mission.format_id(chunk[0])}" + (
                    f" +{len(chunk) - 1} more" if len(chunk) > 1 else "")
                batches.append(TrainingBatch(label, destination, conn, mission.name, chunk))
    return batches


# build -----------------------------------------------------------------------------------------------------------

def build_batch(batch: TrainingBatch, params: TrainingParams, hook_factory: HookFactory) -> dict[str, Any]:
    """Build and commit the batch's changed rows; rows already up to date (a retried task) are not rebuilt."""
    storage = open_destination(batch.destination, batch.dest_aws_conn_id, hook_factory)
    catalog = Catalog(storage)
    views, series, unreadable = [], [], []
    for item in todo(catalog, batch.mission, params.settings, batch.target_ids):
        curves, bad = read_curves(storage, item.star)
        unreadable += bad
        at = datetime.now(UTC)
        views += [ds.object_views(item.star, o, curves, bad, params.settings, at) for o in item.objects]
        units = item.star.units()
        for unit in item.units:
            own = [c for c in curves if c.file.observing_unit == unit]
            own_bad = [u for u in bad if u in {f.destination_uri for f in units[unit]}]
            series.append(ds.light_curve_series(item.star, unit, units[unit], own, own_bad, params.settings, at))
    catalog.upsert(VIEWS_TABLE, [v.row() for v in views])
    catalog.upsert(SERIES_TABLE, [s.row() for s in series])
    outcome = {"label": batch.label, "views": len(views), "views_without": sum(not v.local_view.size for v in views),
               "series": len(series), "unreadable": unreadable[:20]}
    log.info("Batch %s: %d object rows (%d without views), %d series rows, %d unreadable files", batch.label,
             outcome["views"], outcome["views_without"], outcome["series"], len(unreadable))
    return outcome


def read_curves(storage: Storage, star: ds.Star) -> tuple[list[ds.Curve], list[str]]:
    """The star's light curves (good cadences only), and the destination URIs of those that cannot be read, each
    logged as an ERROR with why."""
    from lightcurve_ingest.quicklook.lightcurve import BadLightCurveError, read_light_curve

    mission = get_mission(star.mission)
    curves, bad = [], []
    for f in star.files:
        try:
            if storage.size(f.source_key) is None:
                raise BadLightCurveError("the catalog lists it but the destination has no such file")
            with storage.fetched(f.source_key) as path:
                curve = read_light_curve(path, mission.format_of(f.product), QUALITY_MASK)
        except BadLightCurveError as err:
            log.error("Training set: skipping %s: %s", f.destination_uri, err)
            bad.append(f.destination_uri)
            continue
        curves.append(ds.Curve(file=f, time=curve.time, flux=curve.pdcsap))
    return curves, bad


# export ----------------------------------------------------------------------------------------------------------

def export_snapshot(destination: str, dest_aws_conn_id: str, hook_factory: HookFactory) -> dict[str, Any]:
    """``_training/export/v<version>/{train,validation,test}.npz`` from one version of the views table: the rows
    with views, their five views stacked, ``label`` (-1 for candidates), ``mission``, ``target_id`` and
    ``object``."""
    storage = open_destination(destination, dest_aws_conn_id, hook_factory)
    version, rows = Catalog(storage).snapshot(VIEWS_TABLE)
    if version < 0:
        return {"destination": destination, "version": None, "files": {}}
    usable = [ObjectViews.from_row(r) for r in rows if r.get("local_view")]
    files = {}
    for split, _ in SPLITS:
        chosen = sorted((v for v in usable if v.split == split), key=lambda v: (v.mission, v.target_id, v.object))
        key = f"{EXPORT_DIR}/v{version}/{split}.npz"
        storage.put(key, lambda partial, rows=chosen: Path(partial).write_bytes(npz_bytes(rows)),
                    content_type="application/octet-stream")
        files[split] = {"uri": storage.uri(key), "objects": len(chosen)}
    log.info("Exported version %d of %s: %s", version, storage.uri(f"{TRAINING_DIR}/{VIEWS_TABLE}"), files)
    return {"destination": destination, "version": version, "files": files}


def npz_bytes(rows: list[ObjectViews]) -> bytes:
    arrays: dict[str, np.ndarray] = {
        "label": np.array([-1 if r.label is None else r.label for r in rows], dtype=np.int8),
        "mission": np.array([r.mission for r in rows], dtype=str),
        "target_id": np.array([r.target_id for r in rows], dtype=np.int64),
        "object": np.array([r.object for r in rows], dtype=str),
    }
    for name in VIEW_VECTORS:
        width = len(getattr(rows[0], name)) if rows else 0
        arrays[name] = np.stack([getattr(r, name) for r in rows]) if rows else np.zeros((0, width), np.float32)
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def summarize(batches: list[TrainingBatch], outcomes: list[dict[str, Any]], exports: list[dict[str, Any]]
              ) -> dict[str, Any]:
    done = {o["label"] for o in outcomes}
    return {
        "batches": len(batches), "failed_batches": sorted(b.label for b in batches if b.label not in done),
        "views": sum(o["views"] for o in outcomes), "views_without": sum(o["views_without"] for o in outcomes),
        "series": sum(o["series"] for o in outcomes), "unreadable": [u for o in outcomes for u in o["unreadable"]],
        "exports": exports,
    }
