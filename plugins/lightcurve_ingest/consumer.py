"""For downstream DAGs and notebooks: read a destination's catalog, as a labelled table, or the rows that
triggering Asset events announced."""

from __future__ import annotations

from typing import Any

from lightcurve_ingest import catalog as cat
from lightcurve_ingest.catalog import Catalog
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


def labelled(files: Any, targets: Any) -> Any:
    """Each file with its target's labels (the archive's disposition and object names)."""
    return files.merge(targets[["mission", "target_id", *LABELS]], on=["mission", "target_id"], how="left")


def labelled_files(catalog: Catalog) -> Any:
    """Every light curve of a catalog with its target's labels."""
    return labelled(catalog.read(cat.FILES_TABLE), catalog.read(cat.TARGETS_TABLE))


def read_labelled_files(destination: str, dest_aws_conn_id: str = DEFAULT_DEST_AWS_CONN_ID) -> Any:
    """Every light curve of a destination with its target's labels: a training set's index."""
    return labelled_files(open_catalog(destination, dest_aws_conn_id))


def new_files_of_events(events: list[Any]) -> Any:
    """Catalog rows written by the runs that emitted ``events`` (their ``extra`` names the catalog), labelled."""
    import pandas as pd

    frames = []
    for event in events:
        extra = event.extra or {}
        files = read_labelled_files(extra["destination"], extra.get("dest_aws_conn_id", DEFAULT_DEST_AWS_CONN_ID))
        frames.append(files[files["run_id"] == extra["run_id"]])
    if not frames:
        return pd.DataFrame(columns=[*cat.FILE_COLUMNS, *LABELS])
    return pd.concat(frames, ignore_index=True).drop_duplicates("destination_uri")
