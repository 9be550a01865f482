"""For downstream DAGs and notebooks: read a destination's catalog, as records or as a labelled pandas table, or
the rows that triggering Asset events announced."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lightcurve_ingest.domain import catalog as cat
from lightcurve_ingest.domain.catalog import Catalog
from lightcurve_ingest.domain.catalog_records import LabelledFile
from lightcurve_ingest.domain.labelled_files import labelled_frame, labelled_records
from lightcurve_ingest.settings import DEFAULT_DEST_AWS_CONN_ID
from lightcurve_ingest.wiring.connections import open_destination_storage


def open_catalog(destination: str, dest_aws_conn_id: str = DEFAULT_DEST_AWS_CONN_ID) -> Catalog:
    """The catalog of a destination given as the ``destination`` param is (a path, file:// or s3:// URL)."""
    return Catalog(open_destination_storage(destination, dest_aws_conn_id))


def read_catalog(destination: str, dest_aws_conn_id: str = DEFAULT_DEST_AWS_CONN_ID) -> Any:
    """The files table of a destination's catalog, as a pandas DataFrame."""
    return open_catalog(destination, dest_aws_conn_id).read(cat.FILES_TABLE)


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
