"""For downstream DAGs and notebooks: read a destination's catalog, as records or as a labelled pandas table, or
the rows that triggering Asset events announced."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lightcurve_ingest import catalog as cat
from lightcurve_ingest.catalog import Catalog
from lightcurve_ingest.catalog_records import OBJECTS_SEPARATOR, CatalogFile, LabelledFile, TargetState
from lightcurve_ingest.connections import destination_storage
from lightcurve_ingest.destination import parse_destination
from lightcurve_ingest.settings import DEFAULT_DEST_AWS_CONN_ID

LABELS = ["disposition", "objects"]


def open_catalog(destination: str, dest_aws_conn_id: str = DEFAULT_DEST_AWS_CONN_ID) -> Catalog:
    """The catalog of a destination given as the ``destination`` param is (a path, file:// or s3:// URL)."""
    return Catalog(destination_storage(parse_destination(destination), dest_aws_conn_id))


def read_catalog(destination: str, dest_aws_conn_id: str = DEFAULT_DEST_AWS_CONN_ID) -> Any:
    """The files table of a destination's catalog, as a pandas DataFrame."""
    return open_catalog(destination, dest_aws_conn_id).read(cat.FILES_TABLE)


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


def labelled_files(catalog: Catalog) -> Any:
    """Every light curve of a catalog with its target's labels, as a pandas DataFrame."""
    return labelled_frame(labelled_records(catalog))


def read_labelled_files(destination: str, dest_aws_conn_id: str = DEFAULT_DEST_AWS_CONN_ID) -> Any:
    """Every light curve of a destination with its target's labels, as a pandas DataFrame: a training set's
    index."""
    return labelled_files(open_catalog(destination, dest_aws_conn_id))


def new_labelled_files(events: Iterable[Any]) -> list[LabelledFile]:
    """The files written by the runs that emitted ``events`` (their ``extra`` names the catalog), labelled; each
    destination's catalog is read once, for those runs only."""
    runs: dict[tuple[str, str], set[str]] = {}
    for event in events:
        extra = event.extra or {}
        where = (str(extra["destination"]), str(extra.get("dest_aws_conn_id") or DEFAULT_DEST_AWS_CONN_ID))
        runs.setdefault(where, set()).add(str(extra["run_id"]))
    found: dict[str, LabelledFile] = {}
    for (destination, conn_id), run_ids in runs.items():
        for labelled in labelled_records(open_catalog(destination, conn_id), run_ids):
            found.setdefault(labelled.file.destination_uri, labelled)
    return list(found.values())


def new_files_of_events(events: list[Any]) -> Any:
    """Catalog rows written by the runs that emitted ``events``, labelled, as a pandas DataFrame."""
    return labelled_frame(new_labelled_files(events))
