"""What the tasks pass each other, typed. They travel as XComs, so each converts to and from plain JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from typing import Any

from lightcurve_ingest.domain.ephemerides import ObjectEphemeris


@dataclass(frozen=True, order=True)
class KnownObject:
    """One of a star's planets, KOIs or TOIs as the archive lists it: its verdict and its transits."""

    name: str  # as the targets table prints it: "K00072.01 (Kepler-10 b)", "TOI-144.01", "K2-18 b"
    disposition: str
    ephemeris: ObjectEphemeris

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "disposition": self.disposition, "ephemeris": self.ephemeris.to_dict()}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> KnownObject:
        return cls(name=data["name"], disposition=data["disposition"],
                   ephemeris=ObjectEphemeris.from_dict(data["ephemeris"]))


@dataclass(frozen=True, order=True)
class Target:
    """A star to ask MAST about: its mission id and, where the archive knows it, its labels."""

    target_id: int
    name: str = ""  # host name as the archive spells it ("K2-18", "Kepler-10", "TOI-144"); "" if it has none
    disposition: str = ""  # the archive's best verdict on the star's objects ("" when unknown)
    objects: tuple[str, ...] = ()  # its planets, KOIs or TOIs
    # the same objects with their verdicts and ephemerides, as the targets step read them (the plan records them in
    # the catalog; the batches leave them out)
    known: tuple[KnownObject, ...] = field(default=(), compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {"target_id": self.target_id, "name": self.name, "disposition": self.disposition,
                "objects": list(self.objects), "known": [k.to_dict() for k in self.known]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Target:
        return cls(target_id=int(data["target_id"]), name=str(data.get("name") or ""),
                   disposition=str(data.get("disposition") or ""), objects=tuple(data.get("objects") or ()),
                   known=tuple(KnownObject.from_dict(k) for k in data.get("known") or ()))


@dataclass(frozen=True)
class ReleaseWindow:
    """Only light curves MAST released (``t_obs_release``) in ``[start, end)``."""

    start: datetime
    end: datetime

    def to_dict(self) -> dict[str, str]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}

    @classmethod
    def from_dict(cls, data: dict[str, str] | None) -> ReleaseWindow | None:
        if not data:
            return None
        return cls(start=datetime.fromisoformat(data["start"]), end=datetime.fromisoformat(data["end"]))


@dataclass(frozen=True)
class Batch:
    """The targets one mapped task asks MAST about in one query."""

    label: str
    targets: tuple[Target, ...]
    released: ReleaseWindow | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "targets": [t.to_dict() for t in self.targets],
                "released": self.released.to_dict() if self.released else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Batch:
        return cls(label=data["label"], targets=tuple(Target.from_dict(t) for t in data["targets"]),
                   released=ReleaseWindow.from_dict(data.get("released")))


@dataclass(frozen=True)
class LightCurveFile:
    """One light curve to copy: where it is in the public bucket and what MAST says of it."""

    mission: str
    target_id: int
    target: str  # the target's label, for the catalog and the logs
    unit: int | None  # observing unit: K2 campaign, Kepler quarter, TESS sector (None if unknown)
    source_key: str
    data_uri: str
    mast_size: int
    obs_id: str
    obsid: str
    product_filename: str
    product: str = ""  # its product as MAST's provenance_name names it: "SPOC", "QLP", "K2SFF"...
    cadence_s: float = 0.0  # seconds between its cadences

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> LightCurveFile:
        return cls(**data)


@dataclass(frozen=True)
class Listing:
    """What MAST knows of one batch: the files to copy and the targets it has nothing for."""

    batch: Batch
    files: tuple[LightCurveFile, ...]
    not_found: tuple[Target, ...]
    observations: int

    def to_dict(self) -> dict[str, Any]:
        return {"batch": self.batch.to_dict(), "files": [f.to_dict() for f in self.files],
                "not_found": [t.to_dict() for t in self.not_found], "observations": self.observations}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Listing:
        return cls(batch=Batch.from_dict(data["batch"]),
                   files=tuple(LightCurveFile.from_dict(f) for f in data["files"]),
                   not_found=tuple(Target.from_dict(t) for t in data["not_found"]),
                   observations=int(data["observations"]))


@dataclass(frozen=True)
class Shard:
    """A part of one observing unit that one mapped task lists and copies: every object below ``prefix``."""

    mission: str
    unit: int
    prefix: str  # a folder of the public bucket, ending in "/"
    label: str
    product: str = ""  # the product whose files it holds ("" : the mission's own)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Shard:
        return cls(mission=str(data["mission"]), unit=int(data["unit"]), prefix=str(data["prefix"]),
                   label=str(data["label"]), product=str(data.get("product") or ""))


@dataclass(frozen=True)
class HttpsWork:
    """What a batch's copy step leaves to its HTTPS step (``download_light_curves``, in the ``mast_download``
    pool): the files to fetch from MAST's download service, and their targets, which the copy step left pending."""

    files: tuple[LightCurveFile, ...]
    targets: tuple[Target, ...]
    failed_targets: tuple[int, ...] = ()  # of those targets, the ones a file of which failed in the copy step

    def to_dict(self) -> dict[str, Any]:
        return {"files": [f.to_dict() for f in self.files], "targets": [t.to_dict() for t in self.targets],
                "failed_targets": list(self.failed_targets)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> HttpsWork:
        return cls(files=tuple(LightCurveFile.from_dict(f) for f in data["files"]),
                   targets=tuple(Target.from_dict(t) for t in data["targets"]),
                   failed_targets=tuple(int(i) for i in data.get("failed_targets") or ()))


@dataclass(frozen=True)
class PartResult:
    """What one copy-and-commit step did, for a batch of targets or a shard of a unit (counts, and the first
    few failed files: never every key, so XComs stay small); the run summary adds them up. A batch's copy step
    hands its result to its HTTPS step with the files it deferred (``https``); that step returns the batch's
    result with its own counts added."""

    label: str
    unit: int | None  # the shard's observing unit; None for a batch
    targets: int  # a batch's targets; the stars of a shard's light curves
    labelled_targets: int  # of which the archive's table knows
    not_found: list[str]  # a batch's targets MAST listed nothing for
    observations: int  # MAST observations of a batch (0 for a shard: MAST is not asked)
    listed: int  # objects listed below a shard's prefix (0 for a batch)
    other_objects: int  # listed objects that are not light curves of the run (short cadence, pixel files...)
    files_found: int
    copied: int
    adopted: int
    present: int
    failed: int
    failed_files: list[str]  # "<source key>: <error>", the first few only
    bytes_copied: int
    bytes_through_worker: int
    new_files: int
    catalog: str
    by_source: dict[str, dict[str, int]] = field(default_factory=dict)  # copied files and bytes, by source
    not_in_bucket: list[str] = field(default_factory=list)  # keys ``source: bucket`` could not get, the first few
    https: HttpsWork | None = None  # what the copy step left to the HTTPS step; None once it is done

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(replace(self, https=None)), "https": self.https.to_dict() if self.https else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PartResult:
        https = data.get("https")
        return cls(**{**data, "https": HttpsWork.from_dict(https) if https else None})


@dataclass(frozen=True)
class Plan:
    """What ``plan_targets`` decided; the batches (target runs) or shards (mirror runs) are mapped over, the rest
    goes to the summary."""

    mission: str
    mode: str
    destination: str
    targets: int
    already_complete: int
    unresolved: list[str]
    batches: tuple[Batch, ...] = field(default=())
    shards: tuple[Shard, ...] = field(default=())
    units: list[int] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {**{k: v for k, v in asdict(self).items() if k not in ("batches", "shards")},
                "batches": [b.to_dict() for b in self.batches], "shards": [s.to_dict() for s in self.shards]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Plan:
        return cls(**{**data, "batches": tuple(Batch.from_dict(b) for b in data.get("batches") or ()),
                      "shards": tuple(Shard.from_dict(s) for s in data.get("shards") or ())})


# quick-look ------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class PlotJob:
    """One light curve at a destination to draw: its key and what the plot's title names."""

    source_key: str  # the FITS file's key below the destination (as in the public bucket)
    mission: str
    target_id: int
    target: str  # the catalog's label: host name, or the mission id
    observing_unit: int | None
    disposition: str
    product: str = ""  # which product the file is, so that it is read with its format ("" : the mission's own)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlotJob:
        unit = data.get("observing_unit")
        return cls(source_key=str(data["source_key"]), mission=str(data["mission"]),
                   target_id=int(data["target_id"]), target=str(data.get("target") or ""),
                   observing_unit=None if unit is None else int(unit),
                   disposition=str(data.get("disposition") or ""), product=str(data.get("product") or ""))


@dataclass(frozen=True)
class PlotBatch:
    """The light curves one mapped render task draws, all at one destination."""

    label: str
    destination: str
    dest_aws_conn_id: str
    jobs: tuple[PlotJob, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "destination": self.destination, "dest_aws_conn_id": self.dest_aws_conn_id,
                "jobs": [j.to_dict() for j in self.jobs]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlotBatch:
        return cls(label=str(data["label"]), destination=str(data["destination"]),
                   dest_aws_conn_id=str(data["dest_aws_conn_id"]),
                   jobs=tuple(PlotJob.from_dict(j) for j in data["jobs"]))


@dataclass(frozen=True)
class PlotBatchResult:
    """What one render task did: plots drawn (with their strongest periods), already there, and files refused."""

    label: str
    destination: str
    rendered: dict[str, float]  # PNG key -> strongest period in days
    already_present: int
    unreadable: list[str]  # "<source key>: <why>"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlotBatchResult:
        return cls(**data)
