"""The training set's rows as typed records: one object's views, one light curve's series.

Each record's fields are its table's columns, in order, under the same names (``catalog.VIEW_COLUMNS`` and
``catalog.SERIES_COLUMNS``). A vector is a float32 array of its fixed length, or empty where the row has none
(``skipped_reason`` then says why).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

import numpy as np

VIEW_VECTORS = ("global_view", "local_view", "odd_view", "even_view", "secondary_view")
EMPTY = np.zeros(0, dtype=np.float32)


@dataclass(frozen=True, eq=False)  # arrays have no single truth value to compare by
class ObjectViews:
    """One row of ``_training/views``: an object's label, split, ephemeris and five views."""

    mission: str
    target_id: int
    object: str
    disposition: str
    label: int | None  # 1 planet, 0 false positive, None candidate
    split: str  # "train", "validation" or "test", by the star
    period_days: float | None
    epoch: float | None
    epoch_system: str  # "BKJD" or "BTJD"
    duration_hours: float | None
    n_transits: int
    local_depth_ppm: float | None  # the local view's depth before it was scaled to -1 (None without views)
    global_view: np.ndarray
    local_view: np.ndarray
    odd_view: np.ndarray
    even_view: np.ndarray
    secondary_view: np.ndarray
    source_files: tuple[str, ...]  # destination URIs of the light curves the views were built from
    inputs_sha256: str
    preprocessing: str
    skipped_reason: str  # why the row has no views; "" when it has them
    built_at: datetime

    def row(self) -> dict[str, Any]:
        return {f.name: _stored(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ObjectViews:
        values = {f.name: row.get(f.name) for f in fields(cls)}
        values.update({name: _vector(row.get(name)) for name in VIEW_VECTORS})
        values["source_files"] = tuple(row.get("source_files") or ())
        values["label"] = _optional_int(row.get("label"))
        values["n_transits"] = int(row.get("n_transits") or 0)
        return cls(**values)


@dataclass(frozen=True, eq=False)
class LightCurveSeries:
    """One row of ``_training/series``: one star's light curve of one observing unit, detrended and resampled."""

    mission: str
    target_id: int
    target: str
    observing_unit: int | None
    label: int | None  # 1 hosts a confirmed planet; 0 only false positives, or unknown to the archive; None candidate
    split: str
    n_points: int
    flux: np.ndarray  # n_points float32 values, median 0 (relative flux - 1); empty when skipped
    source_files: tuple[str, ...]
    inputs_sha256: str
    preprocessing: str
    skipped_reason: str
    built_at: datetime

    def row(self) -> dict[str, Any]:
        return {f.name: _stored(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> LightCurveSeries:
        values = {f.name: row.get(f.name) for f in fields(cls)}
        values.update(flux=_vector(row.get("flux")), source_files=tuple(row.get("source_files") or ()),
                      label=_optional_int(row.get("label")), observing_unit=_optional_int(row.get("observing_unit")),
                      n_points=int(row.get("n_points") or 0))
        return cls(**values)


def _stored(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.astype(np.float32).tolist()
    if isinstance(value, tuple):
        return list(value)
    return value


def _vector(value: Any) -> np.ndarray:
    return EMPTY if value is None else np.asarray(value, dtype=np.float32)


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
