"""Each file of a catalog with its target's labels (disposition, objects): what downstream readers ask for."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lightcurve_ingest.domain import catalog as cat
from lightcurve_ingest.domain.catalog import Catalog
from lightcurve_ingest.domain.catalog_records import OBJECTS_SEPARATOR, CatalogFile, LabelledFile, TargetState

LABELS = ["disposition", "objects"]


def labelled_records(catalog: Catalog, run_ids: Iterable[str] | None = None) -> list[LabelledFile]:
    """The light curves of a catalog written by the runs ``run_ids`` (None: every one), each with its target's
    labels; only the targets of those files are read."""
    files = catalog.files(run_ids=run_ids)
    if run_ids is None:
        states = catalog.target_states()
    else:
        states = [s for mission, ids in _targets_by_mission(files).items() for s in catalog.target_states(mission, ids)]
    labels = {(s.mission, s.target_id): s for s in states}
    return [_labelled(f, labels.get((f.mission, f.target_id))) for f in files]


def _targets_by_mission(files: list[CatalogFile]) -> dict[str, set[int]]:
    targets: dict[str, set[int]] = {}
    for f in files:
        targets.setdefault(f.mission, set()).add(f.target_id)
    return targets


def _labelled(file: CatalogFile, state: TargetState | None) -> LabelledFile:
    if state is None:  # its files were committed, its state not yet (or the run stopped in between)
        return LabelledFile(file=file, disposition="", objects=())
    return LabelledFile(file=file, disposition=state.disposition, objects=state.objects)


def labelled_frame(files: Iterable[LabelledFile]) -> Any:
    """Labelled files as a pandas DataFrame: the files table's columns, then ``disposition`` and ``objects``."""
    return cat.frame(cat.FILES_TABLE, ({**f.file.row(), "disposition": f.disposition,
                                        "objects": OBJECTS_SEPARATOR.join(f.objects)} for f in files), LABELS)
