"""The catalog's rows as typed records: a file, a target's state, the statuses a target can have, an object.

Each record's fields are its table's columns, in order, under the same names (``catalog.FILE_COLUMNS``,
``catalog.TARGET_COLUMNS`` and ``catalog.OBJECT_COLUMNS``). An optional value is ``None``; a text the table leaves
empty reads as ``""``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from lightcurve_ingest.domain.ephemerides import ObjectEphemeris
from lightcurve_ingest.domain.payloads import KnownObject, Target

OBJECTS_SEPARATOR = ", "  # the targets table's objects column: "K00072.01 (Kepler-10 b), K00072.02 (Kepler-10 c)"


class TargetStatus(StrEnum):
    """A target's status, stored as its value."""

    PENDING = "pending"  # planned by a run that has not finished it
    COMPLETE = "complete"  # every file MAST lists for it is in the catalog
    INCOMPLETE = "incomplete"  # a file of it failed
    NOT_FOUND = "not_found"  # MAST has no light curve of it (or none in the release window asked)
    MIRRORED = "mirrored"  # known only from whole-unit mirror runs: the daily runs do not follow it


@dataclass(frozen=True)
class CatalogFile:
    """One row of the files table: a light curve at the destination, verified."""

    destination_uri: str
    mission: str
    target_id: int
    target: str  # the target's label: host name, or the mission id
    observing_unit: int | None  # K2 campaign, Kepler quarter, TESS sector; None if unknown
    source_key: str
    data_uri: str
    obs_id: str
    obsid: str
    product_filename: str
    mast_size: int
    size: int
    sha256: str
    fits_checksum_verified: bool
    copy_method: str
    ingested_at: datetime
    run_id: str
    product: str  # MAST's provenance name: "SPOC", "QLP", "K2SFF"...
    cadence_s: float
    source: str  # where the bytes came from: "bucket" (the public bucket) or "mast" (MAST's download service)
    # its FITS sums: "verified" (they matched), "absent" (it carries none: astropy checked its structure) or
    # "not read" (a server-side copy, checked by its size and ETag); "" only in a record built without it
    fits_checksum: str = ""

    def row(self) -> dict[str, Any]:
        """The record as the table stores it."""
        return dict(vars(self))

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> CatalogFile:
        unit = row.get("observing_unit")
        return cls(
            destination_uri=_text(row, "destination_uri"), mission=_text(row, "mission"),
            target_id=int(row["target_id"]), target=_text(row, "target"),
            observing_unit=None if unit is None else int(unit), source_key=_text(row, "source_key"),
            data_uri=_text(row, "data_uri"), obs_id=_text(row, "obs_id"), obsid=_text(row, "obsid"),
            product_filename=_text(row, "product_filename"), mast_size=int(row.get("mast_size") or 0),
            size=int(row.get("size") or 0), sha256=_text(row, "sha256"),
            fits_checksum_verified=bool(row.get("fits_checksum_verified")), copy_method=_text(row, "copy_method"),
            ingested_at=row["ingested_at"], run_id=_text(row, "run_id"), product=_text(row, "product"),
            cadence_s=_number(row, "cadence_s") or 0.0, source=_text(row, "source"),
            fits_checksum=_text(row, "fits_checksum"))


@dataclass(frozen=True)
class TargetState:
    """One row of the targets table: what the catalog knows of a target, with the archive's labels."""

    mission: str
    target_id: int
    target: str  # the target's label: host name, or the mission id
    disposition: str  # the archive's best verdict on its objects; "" if none
    objects: tuple[str, ...]  # its planets, KOIs or TOIs
    status: TargetStatus
    files: int  # its files in the catalog
    run_id: str
    updated_at: datetime

    def row(self) -> dict[str, Any]:
        """The record as the table stores it (``objects`` joined into one text, ``status`` as its value)."""
        return {**vars(self), "objects": OBJECTS_SEPARATOR.join(self.objects), "status": self.status.value}

    def as_target(self) -> Target:
        """The target to ask MAST about again, with the labels the catalog holds."""
        return Target(target_id=self.target_id, name=self.target, disposition=self.disposition, objects=self.objects)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> TargetState:
        status = _text(row, "status")
        try:
            parsed = TargetStatus(status)
        except ValueError:
            raise ValueError(f"targets table: status {status!r} of {row.get('mission')} {row.get('target_id')} "
                             f"is not one of {', '.join(s.value for s in TargetStatus)}") from None
        return cls(
            mission=_text(row, "mission"), target_id=int(row["target_id"]), target=_text(row, "target"),
            disposition=_text(row, "disposition"),
            objects=tuple(o for o in _text(row, "objects").split(OBJECTS_SEPARATOR) if o), status=parsed,
            files=int(row.get("files") or 0), run_id=_text(row, "run_id"), updated_at=row["updated_at"])


@dataclass(frozen=True)
class ObjectState:
    """One row of the objects table: a planet, KOI or TOI of a target, its verdict and its ephemeris as the archive
    last gave them (the epoch in the light curves' own time, ``epoch_system``)."""

    mission: str
    target_id: int
    object: str
    disposition: str
    period_days: float | None
    epoch: float | None
    epoch_system: str  # "BKJD" or "BTJD"
    duration_hours: float | None
    depth_ppm: float | None
    ephemeris_reason: str  # why the ephemeris cannot place transits; "" when it can
    run_id: str
    updated_at: datetime

    def row(self) -> dict[str, Any]:
        return dict(vars(self))

    @property
    def ephemeris(self) -> ObjectEphemeris:
        return ObjectEphemeris(object=self.object, period_days=self.period_days, epoch=self.epoch,
                               epoch_system=self.epoch_system, duration_hours=self.duration_hours,
                               depth_ppm=self.depth_ppm, reason=self.ephemeris_reason)

    @classmethod
    def of(cls, mission: str, target_id: int, known: KnownObject, run_id: str, at: datetime) -> ObjectState:
        e = known.ephemeris
        return cls(mission=mission, target_id=target_id, object=known.name, disposition=known.disposition,
                   period_days=e.period_days, epoch=e.epoch, epoch_system=e.epoch_system,
                   duration_hours=e.duration_hours, depth_ppm=e.depth_ppm, ephemeris_reason=e.reason, run_id=run_id,
                   updated_at=at)

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ObjectState:
        return cls(mission=_text(row, "mission"), target_id=int(row["target_id"]), object=_text(row, "object"),
                   disposition=_text(row, "disposition"), period_days=_number(row, "period_days"),
                   epoch=_number(row, "epoch"), epoch_system=_text(row, "epoch_system"),
                   duration_hours=_number(row, "duration_hours"), depth_ppm=_number(row, "depth_ppm"),
                   ephemeris_reason=_text(row, "ephemeris_reason"), run_id=_text(row, "run_id"),
                   updated_at=row["updated_at"])


def object_states(mission: str, targets: Iterable[Target], run_id: str, at: datetime) -> list[ObjectState]:
    """The objects table's rows for these targets' known objects."""
    return [ObjectState.of(mission, t.target_id, known, run_id, at) for t in targets for known in t.known]


@dataclass(frozen=True)
class LabelledFile:
    """A file with its target's labels from the archive (``""`` and ``()`` when the catalog has no state for it)."""

    file: CatalogFile
    disposition: str
    objects: tuple[str, ...]


def _number(row: Mapping[str, Any], column: str) -> float | None:
    value = row.get(column)
    return None if value is None or value != value else float(value)  # a NaN read from pandas is a missing value


def _text(row: Mapping[str, Any], column: str) -> str:
    value = row.get(column)
    return "" if value is None else str(value)
