"""An object's transit ephemeris from a row of its mission's archive table, in the light curves' own time.

Each mission names the columns of its table (``Mission.ephemeris_columns``) and their units: the period in days,
the epoch in BJD (or already in the mission's time, as the KOI table's ``koi_time0bk`` is in BKJD), the duration
in hours and the depth in ppm or in percent. An ephemeris the table cannot give (a missing or unusable value, an
epoch in another time system) is still returned, with the reason, so that the object's row can say why it has no
views. The targets step reads these columns with each object's row and records the result in the catalog's
``objects`` table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from lightcurve_ingest.domain.formats import TimeSystem

BJD_SYSTEMS = frozenset({"BJD", "BJD_TDB", "BJD-TDB", "BJDTDB"})  # what a time-system column may say of a BJD


@dataclass(frozen=True)
class EphemerisColumns:
    """Where a mission's archive table keeps an object's ephemeris, and in which units."""

    object: str  # the column naming the object: "kepoi_name", "toi", "pl_name"
    period_days: str
    epoch: str
    duration_hours: str
    depth: str | None  # None: the table has no depth
    depth_to_ppm: float = 1.0  # 1e4 for a depth in percent
    epoch_is_bjd: bool = True  # False: the column is already in the mission's time (koi_time0bk, BKJD)
    time_system: str | None = None  # a column saying which time the epoch is in ("BJD_TDB"), where there is one
    default_flag: str | None = None  # where an object has several solutions: the column marking the default one

    def names(self) -> tuple[str, ...]:
        """The columns to read of each row (the object's name is read with the table's own columns)."""
        wanted = (self.period_days, self.epoch, self.duration_hours, self.depth, self.time_system, self.default_flag)
        return tuple(c for c in wanted if c)


@dataclass(frozen=True)
class ObjectEphemeris:
    """One object's ephemeris in the light curves' time system; ``reason`` says why it is unusable ("" if it is
    usable)."""

    object: str
    period_days: float | None
    epoch: float | None
    epoch_system: str  # "BKJD" or "BTJD"
    duration_hours: float | None
    depth_ppm: float | None
    reason: str = ""

    @property
    def usable(self) -> bool:
        return not self.reason

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ObjectEphemeris:
        return cls(**data)


def ephemeris_of(row: Mapping[str, Any], columns: EphemerisColumns, system: TimeSystem) -> ObjectEphemeris:
    """The ephemeris one row of the archive table gives, with the epoch in ``system`` (BKJD or BTJD)."""
    name = str(row.get(columns.object) or "").strip()
    period, duration = _number(row, columns.period_days), _number(row, columns.duration_hours)
    epoch = _number(row, columns.epoch)
    depth = _number(row, columns.depth) if columns.depth else None
    if epoch is not None and columns.epoch_is_bjd:
        epoch = float(system.from_bjd(epoch))
    result = ObjectEphemeris(object=name, period_days=period, epoch=epoch, epoch_system=system.name,
                             duration_hours=duration, depth_ppm=None if depth is None else depth * columns.depth_to_ppm)
    reason = _unusable(row, columns, result)
    return replace(result, reason=reason) if reason else result


def preferred_solution(rows: list[Mapping[str, Any]], columns: EphemerisColumns,
                       system: TimeSystem) -> ObjectEphemeris:
    """One object's ephemeris from its rows (several where the table keeps several solutions): the default
    solution if it is usable, else the first usable one, else the default's, with its reason."""
    if columns.default_flag:
        rows = sorted(rows, key=lambda r: str(r.get(columns.default_flag) or "").strip() not in ("1", "True"))
    solutions = [ephemeris_of(row, columns, system) for row in rows]
    return next((s for s in solutions if s.usable), solutions[0])


def _unusable(row: Mapping[str, Any], columns: EphemerisColumns, ephemeris: ObjectEphemeris) -> str:
    """Why the ephemeris cannot place transits ("" when it can)."""
    for column, value in ((columns.period_days, ephemeris.period_days), (columns.epoch, ephemeris.epoch),
                          (columns.duration_hours, ephemeris.duration_hours)):
        if value is None:
            return f"no {column} in the archive's row"
    if ephemeris.period_days <= 0 or ephemeris.duration_hours <= 0:
        return f"{columns.period_days} {ephemeris.period_days} and {columns.duration_hours} " \
               f"{ephemeris.duration_hours} must both be positive"
    if ephemeris.duration_hours / 24.0 >= ephemeris.period_days:
        return f"a transit of {ephemeris.duration_hours} h does not fit in a period of {ephemeris.period_days} d"
    if columns.time_system:
        written = str(row.get(columns.time_system) or "").strip().upper()
        if written and written not in BJD_SYSTEMS:
            return f"{columns.epoch} is in {written}, not BJD"
    return ""


def _number(row: Mapping[str, Any], column: str) -> float | None:
    """A finite number from the row, or None (an empty cell, a masked value, text that is not a number)."""
    value = row.get(column)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None
