"""The DAG's params: their JSON schemas (for the trigger form) and their validation in the tasks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from k2ingest.destination import Destination, parse_destination
from k2ingest.errors import InvalidInputError
from k2ingest.settings import (
    DEFAULT_COPY_THREADS,
    DEFAULT_DEST_AWS_CONN_ID,
    DEFAULT_TARGETS_PER_BATCH,
    default_destination,
)

MAX_TARGETS_PER_BATCH = 500
MAX_COPY_THREADS = 64


def param_specs() -> dict[str, dict[str, Any]]:
    """Keyword arguments of ``airflow.sdk.Param`` for each param, by name."""
    return {
        "destination": dict(
            default=default_destination(), type="string", minLength=1, title="Destination",
            description="Where the light curves go: a local absolute path, a file:// URL, or "
                        "s3://bucket/prefix. Files keep their public-bucket key below it "
                        "(k2/public/lightcurves/c<N>/...).",
        ),
        "dest_aws_conn_id": dict(
            default=DEFAULT_DEST_AWS_CONN_ID, type="string", minLength=1, pattern=r"^[A-Za-z0-9_.\-]+$",
            title="Destination AWS connection",
            description="Airflow connection (AWS) used to write an s3:// destination.",
        ),
        "targets": dict(
            default=None, type=["null", "array"], items={"type": "string"}, title="Targets",
            description="Only these K2 hosts: host names (K2-18) or EPIC ids (EPIC 201367065). "
                        "Leave empty to use the Exoplanet Archive's list of confirmed K2 hosts.",
        ),
        "full_refresh": dict(
            default=False, type="boolean", title="Full refresh",
            description="Ask MAST again about every target, even those whose files are all in the catalog, "
                        "and copy whatever is missing.",
        ),
        "targets_per_batch": dict(
            default=DEFAULT_TARGETS_PER_BATCH, type="integer", minimum=1, maximum=MAX_TARGETS_PER_BATCH,
            title="Targets per batch", description="Targets asked of MAST in one query (one mapped task each).",
        ),
        "copy_threads": dict(
            default=DEFAULT_COPY_THREADS, type="integer", minimum=1, maximum=MAX_COPY_THREADS,
            title="Copy threads", description="Files copied at once within a batch.",
        ),
        "read_back_server_side_copies": dict(
            default=False, type="boolean", title="Read back server-side copies",
            description="s3:// destinations that can read the public bucket get server-side copies: S3 checks "
                        "each copy's size and ETag against the source and computes its SHA-256, and no byte "
                        "passes through the worker. Turn this on to also read each copy back once and check "
                        "its FITS CHECKSUM/DATASUM (catches a damaged source object; every byte then passes "
                        "through the worker, about twice the run time).",
        ),
    }


@dataclass(frozen=True)
class RunParams:
    destination: Destination
    dest_aws_conn_id: str
    targets: list[str] | None
    full_refresh: bool
    targets_per_batch: int
    copy_threads: int
    read_back_server_side_copies: bool

    @classmethod
    def parse(cls, params: dict[str, Any]) -> RunParams:
        """Validate the run's params again in the task (the form's schema is not the only way in)."""
        unknown = set(params) - set(param_specs())
        if unknown:
            raise InvalidInputError(sorted(unknown)[0], "is not a param of this DAG")
        specs = param_specs()
        value = {name: params.get(name, spec["default"]) for name, spec in specs.items()}
        targets = value["targets"]
        if targets is not None and not isinstance(targets, list):
            raise InvalidInputError("targets", f"must be a list of strings, got {type(targets).__name__}")
        return cls(
            destination=parse_destination(value["destination"]),
            dest_aws_conn_id=_conn_id(value["dest_aws_conn_id"]),
            targets=targets,
            full_refresh=_boolean(value["full_refresh"], "full_refresh"),
            targets_per_batch=_integer(value["targets_per_batch"], "targets_per_batch", 1, MAX_TARGETS_PER_BATCH),
            copy_threads=_integer(value["copy_threads"], "copy_threads", 1, MAX_COPY_THREADS),
            read_back_server_side_copies=_boolean(value["read_back_server_side_copies"],
                                                  "read_back_server_side_copies"),
        )


def _conn_id(value: Any) -> str:
    import re

    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,250}", value):
        raise InvalidInputError("dest_aws_conn_id", f"{value!r} is not a connection id")
    return value


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(field, f"must be true or false, got {value!r}")
    return value


def _integer(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(field, f"must be an integer from {low} to {high}, got {value!r}")
    return value
