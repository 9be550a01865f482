"""A mission DAG's params: their JSON schemas (for the trigger form) and their validation in the tasks."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from lightcurve_ingest.domain.missions import Mission
from lightcurve_ingest.domain.missions.base import ObjectSource
from lightcurve_ingest.domain.targets import check_dispositions
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.settings import (
    DEFAULT_COPY_THREADS,
    DEFAULT_DEST_AWS_CONN_ID,
    DEFAULT_TARGETS_PER_BATCH,
    default_destination,
)
from lightcurve_ingest.storage.destination import Destination, parse_destination

MAX_TARGETS_PER_BATCH = 500
SOURCES = ("auto", "bucket", "mast")  # the source param: where files come from
MAX_COPY_THREADS = 64


def param_specs(mission: Mission) -> dict[str, dict[str, Any]]:
    """Keyword arguments of ``airflow.sdk.Param`` for each param of the mission's DAG, by name."""
    tables = mission.object_sources
    # every table's words (the form checks them; the task checks them against the chosen table)
    dispositions = tuple(dict.fromkeys(d for source in tables.values() for d in source.table.dispositions))
    table_text = mission.table.name if len(tables) == 1 else f"{mission.table.name} (or object_table's)"
    specs = {
        "destination": dict(
            default=default_destination(mission.slug), type="string", minLength=1, title="Destination",
            description="Where the light curves go: a local absolute path, a file:// URL, or s3://bucket/prefix. "
                        f"Files keep their public-bucket key below it ({mission.slug}/public/...); the catalog "
                        "is in _catalog/ (one for every mission written there).",
        ),
        "dest_aws_conn_id": dict(
            default=DEFAULT_DEST_AWS_CONN_ID, type="string", minLength=1, pattern=r"^[A-Za-z0-9_.\-]+$",
            title="Destination AWS connection",
            description="Airflow connection (AWS) used to write an s3:// destination.",
        ),
        "targets": dict(
            default=None, type=["null", "array"], items={"type": "string"}, title="Targets",
            description=f"Only these {mission.name} targets: {mission.target_examples}, whatever their "
                        f"disposition. Leave empty to use the Exoplanet Archive's {table_text} table.",
        ),
        "dispositions": dict(
            default=list(mission.table.default_dispositions), type="array", minItems=1,
            items={"type": "string", "enum": list(dispositions)}, uniqueItems=True, title="Dispositions",
            description=f"Which stars of the archive's {table_text} table to take: those with an object "
                        f"of one of these dispositions ({', '.join(dispositions)}). Confirmed planets by default; "
                        "add candidates or false positives for a labelled training set." + _table_defaults(mission),
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
                        "its FITS sums (CHECKSUM, and DATASUM where present): this catches a damaged source "
                        "object; every byte then passes through the worker, about twice the run time.",
        ),
    }
    specs["products"] = dict(
        default=[mission.own_product], type="array", minItems=1, uniqueItems=True,
        items={"type": "string", "enum": list(mission.product_names)}, title="Products",
        description=f"Which light curves to copy: {_products_text(mission)}. Only the mission's own pipeline's "
                    f"({mission.own_product}) by default. See docs/products.md.",
    )
    specs["source"] = dict(
        default="auto", type="string", enum=list(SOURCES), title="Source",
        description="Where files come from: auto (the public bucket where it holds a file, MAST's download "
                    "service over HTTPS otherwise), bucket (the bucket only: files it lacks are reported, not "
                    "copied) or mast (HTTPS only, e.g. outside AWS where S3 egress is blocked).",
    )
    if len(tables) > 1:
        specs["object_table"] = dict(
            default=mission.table.name, type="string", enum=list(tables), title="Object table",
            description=f"The Exoplanet Archive table the targets, their labels and their objects' ephemerides "
                        f"come from: {', '.join(tables)} (see docs/run-modes.md). A table without date columns "
                        "gives every scheduled run all its targets (complete ones are skipped).",
        )
    if mission.unit_param:
        unit = mission.unit_name
        examples = f" (e.g. {mission.unit_examples})" if mission.unit_examples else ""
        specs[mission.unit_param] = dict(
            default=None, type=["null", "array"], items={"type": "integer"}, uniqueItems=True,
            title=f"Whole {unit}s",
            description=f"Mirror every {mission.name} light curve of these {unit}s{examples}, every star, not only "
                        "planet hosts: the files come from listing the public bucket, MAST is not asked. Stars the "
                        "archive knows get its labels. Cannot be combined with targets.",
        )
    if mission.fast_products:
        specs["include_fast_cadence"] = dict(
            default=False, type="boolean", title="Include fast cadence",
            description="Also copy the 20-second light curves (fast-lc files, about 6 times the 2-minute ones' "
                        f"size) of the {mission.unit_name}s that have them.",
        )
    return specs


@dataclass(frozen=True)
class RunParams:
    destination: Destination
    dest_aws_conn_id: str
    targets: list[str] | None
    dispositions: list[str]
    full_refresh: bool
    targets_per_batch: int
    copy_threads: int
    read_back_server_side_copies: bool
    include_fast_cadence: bool
    units: list[int] | None = None  # whole campaigns or sectors to mirror (the mission's unit_param)
    object_source: ObjectSource | None = None  # the table targets come from (object_table; None: the mission's own)
    products: tuple[str, ...] = ()  # the products to copy (MAST's provenance names); () : the mission's own
    source: str = "auto"  # where files come from: SOURCES

    def asks_own_pipeline(self, mission: Mission) -> bool:
        """Whether the run copies the mission's own pipeline's light curves (the default)."""
        return not self.products or mission.own_product in self.products

    @classmethod
    def parse(cls, params: dict[str, Any], mission: Mission) -> RunParams:
        """Validate the run's params again in the task (the form's schema is not the only way in)."""
        specs = param_specs(mission)
        unknown = set(params) - set(specs)
        if unknown:
            raise InvalidInputError(sorted(unknown)[0], f"is not a param of {mission.dag_id}")
        value = {name: params.get(name, spec["default"]) for name, spec in specs.items()}
        targets = _string_list_or_none(value["targets"], "targets")
        units = _units(mission, value.get(mission.unit_param) if mission.unit_param else None)
        if units is not None and targets is not None:
            raise InvalidInputError(mission.unit_param, f"cannot be combined with targets: give either whole "
                                                        f"{mission.unit_name}s or targets")
        source = mission.object_source(value.get("object_table", mission.table.name))
        if units is not None and source.table != mission.table:  # a mirror run labels its stars from the own table
            raise InvalidInputError("object_table", f"cannot be combined with {mission.unit_param}: whole "
                                                    f"{mission.unit_name}s take their labels from {mission.table.name}")
        products = mission.check_products(value["products"])
        if units is not None and value["source"] == "mast":
            raise InvalidInputError("source", f"a mirror run ({mission.unit_param}) lists the public bucket and "
                                              "copies from it: use source auto or bucket, or targets with source mast")
        fast = _boolean(value.get("include_fast_cadence", False), "include_fast_cadence")
        if fast and mission.own_product not in products:
            raise InvalidInputError("include_fast_cadence", f"the 20-second light curves are {mission.own_product}'s: "
                                                            f"add {mission.own_product} to products or turn it off")
        return cls(
            destination=parse_destination(value["destination"]),
            dest_aws_conn_id=_conn_id(value["dest_aws_conn_id"]),
            targets=targets,
            dispositions=_dispositions(mission, source, value["dispositions"]),
            full_refresh=_boolean(value["full_refresh"], "full_refresh"),
            targets_per_batch=_integer(value["targets_per_batch"], "targets_per_batch", 1, MAX_TARGETS_PER_BATCH),
            copy_threads=_integer(value["copy_threads"], "copy_threads", 1, MAX_COPY_THREADS),
            read_back_server_side_copies=_boolean(value["read_back_server_side_copies"],
                                                  "read_back_server_side_copies"),
            include_fast_cadence=fast,
            units=units,
            object_source=source,
            products=products,
            source=_choice(value["source"], "source", SOURCES),
        )


def _products_text(mission: Mission) -> str:
    return ", ".join([f"{mission.own_product} (the {mission.name} pipeline's)"]
                     + [f"{p.name} ({p.description})" for p in mission.hlsp_products])


def _choice(value: Any, field: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise InvalidInputError(field, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _table_defaults(mission: Mission) -> str:
    """For a mission with several tables: what the default dispositions mean with another one."""
    others = [s.table for s in mission.object_sources.values() if s.table != mission.table]
    return "".join(f" With object_table {t.name}: {', '.join(t.dispositions)}; left at the default, "
                   f"{', '.join(t.default_dispositions)}." for t in others)


def _dispositions(mission: Mission, source: ObjectSource, value: Any) -> list[str]:
    """The dispositions asked for, checked against the run's table. Left at the form's default (the mission's own
    table's), another table takes its own default: the form cannot tell "not given" from "given the default"."""
    values = _string_list_or_none(value, "dispositions") or []
    if source.table != mission.table and values == list(mission.table.default_dispositions):
        values = list(source.table.default_dispositions)
    return check_dispositions(mission, values, table=source.table)


def _units(mission: Mission, value: Any) -> list[int] | None:
    """The whole units to mirror, each checked by the mission, in the order given, once each."""
    if value is None:
        return None
    field = mission.unit_param
    if not isinstance(value, list) or not value:
        raise InvalidInputError(field, f"must be a non-empty list of {mission.unit_name} numbers, got {value!r}")
    return list(dict.fromkeys(mission.check_unit(unit, field) for unit in value))


def _conn_id(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_.\-]{1,250}", value):
        raise InvalidInputError("dest_aws_conn_id", f"{value!r} is not a connection id")
    return value


def _string_list_or_none(value: Any, field: str) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise InvalidInputError(field, f"must be a list of strings, got {type(value).__name__}")
    return value


def _boolean(value: Any, field: str) -> bool:
    if not isinstance(value, bool):
        raise InvalidInputError(field, f"must be true or false, got {value!r}")
    return value


def _integer(value: Any, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInputError(field, f"must be an integer from {low} to {high}, got {value!r}")
    return value
