"""Helpers for downstream DAGs: read the catalog rows that triggering asset events announced."""

from __future__ import annotations

from typing import Any

from k2ingest import catalog as cat
from k2ingest.catalog import Catalog
from k2ingest.destination import parse_destination


def read_catalog(destination: str, dest_aws_conn_id: str = "aws_default") -> Any:
    """The files table of a destination's catalog, as a pandas DataFrame."""
    dest = parse_destination(destination)
    hook = None
    if not dest.is_local:
        from k2ingest.connections import dest_s3_hook

        hook = dest_s3_hook(dest_aws_conn_id)
    return Catalog(dest, hook).read(cat.FILES_TABLE)


def new_files_of_events(events: list[Any]) -> Any:
    """Catalog rows written by the runs that emitted ``events`` (their ``extra`` names the catalog)."""
    import pandas as pd

    frames = []
    for event in events:
        extra = event.extra or {}
        files = read_catalog(extra["destination"], extra.get("dest_aws_conn_id", "aws_default"))
        frames.append(files[files["run_id"] == extra["run_id"]])
    if not frames:
        return pd.DataFrame(columns=cat.FILE_COLUMNS)
    return pd.concat(frames, ignore_index=True).drop_duplicates("destination_uri")
