"""The folded views of a star's known objects (planets, KOIs, TOIs) in one light curve, for the quick-look.

Each object whose ephemeris is usable is folded at its archive period as the training set folds it: the light curve
detrended with that object's transits masked (``training.detrend``), then AstroNet's local view
(``training.views``: 201 median bins over +-4 transit durations, the transit at the centre, its bottom at -1). An
object without a usable ephemeris (the archive's reason, or an epoch in another time system than the light curve's)
or with no transit in this light curve gets a note saying why instead of a view; the plot never fails for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from lightcurve_ingest.domain.catalog_records import ObjectState
from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.quicklook.lightcurve import LightCurve
from lightcurve_ingest.training.detrend import detrend
from lightcurve_ingest.training.labels import label_of
from lightcurve_ingest.training.views import Ephemeris, ViewSettings, build_views, count_transits

MAX_FOLDED_VIEWS = 8  # panels a plot draws at most (Kepler-90 has 8 KOIs); the others are listed
LABEL_TEXT = {1: "label 1 (planet)", 0: "label 0 (false positive)", None: "no label"}
NO_TRANSIT = "no transit in this light curve"
SETTINGS = ViewSettings()  # the training set's: AstroNet's local view


@dataclass(frozen=True, eq=False)  # arrays have no single truth value to compare by
class FoldedObject:
    """One object in one light curve: its local view, or the note saying why it has none."""

    object: str
    disposition: str
    label: int | None  # 1 planet, 0 false positive, None candidate (or a disposition the mission does not know)
    has_ephemeris: bool  # False: listed with ``note``, no panel
    period_days: float | None
    phase_hours: np.ndarray | None  # the local view's bin centres, hours from mid-transit
    local_view: np.ndarray | None  # 201 bins, median 0, bottom -1
    transits: int  # transits with data in this light curve
    depth_ppm: float | None  # the local view's depth before it was scaled to -1
    note: str = ""  # why there is no view ("" when there is one)

    @property
    def label_text(self) -> str:
        return LABEL_TEXT[self.label]

    def summary(self) -> dict[str, Any]:
        """What the PNG's metadata says of it (JSON-ready)."""
        depth = None if self.depth_ppm is None else round(self.depth_ppm, 1)
        return {"object": self.object, "disposition": self.disposition, "label": self.label,
                "period_days": self.period_days, "transits": self.transits, "depth_ppm": depth, "note": self.note}


def object_label(mission: str, disposition: str) -> int | None:
    """The training label of a disposition; None for a candidate and for a disposition or mission with no label."""
    try:
        return label_of(mission, disposition)
    except InvalidInputError:
        return None


def fold_objects(curve: LightCurve, objects: Sequence[ObjectState]) -> tuple[FoldedObject, ...]:
    """Every object of the star, by name; the first ``MAX_FOLDED_VIEWS`` with a usable ephemeris are folded."""
    folded, views = [], 0
    for state in sorted(objects, key=lambda o: o.object):
        reason = _unusable(state, curve)
        if not reason and views >= MAX_FOLDED_VIEWS:
            reason = f"not folded: a plot draws at most {MAX_FOLDED_VIEWS} objects"
        if reason:
            folded.append(_without_view(state, reason, has_ephemeris=False))
            continue
        views += 1
        folded.append(fold_one(curve, state))
    return tuple(folded)


def fold_one(curve: LightCurve, state: ObjectState) -> FoldedObject:
    """The local view of one object with a usable ephemeris in the light curve's time system, or a note saying
    why there is none (no transit inside the light curve, too few points)."""
    try:
        ephemeris = Ephemeris(state.period_days, state.epoch, state.duration_hours)
        if count_transits(curve.time, ephemeris) == 0:  # checked first: detrending would be wasted
            return _without_view(state, NO_TRANSIT, has_ephemeris=True)
        flat = detrend(curve.time, curve.pdcsap, np.zeros(len(curve.time), dtype=np.int64),
                       period_days=ephemeris.period_days, epoch=ephemeris.epoch,
                       duration_hours=ephemeris.duration_hours)
        views = build_views(flat.time, flat.flux, ephemeris, SETTINGS)
    except InvalidInputError as err:
        return _without_view(state, f"no folded view: {err}", has_ephemeris=True)
    return FoldedObject(object=state.object, disposition=state.disposition,
                        label=object_label(state.mission, state.disposition), has_ephemeris=True,
                        period_days=ephemeris.period_days, phase_hours=local_bin_centres(ephemeris, SETTINGS) * 24,
                        local_view=views.local_view, transits=views.n_transits,
                        depth_ppm=views.depths["local"] * 1e6)


def local_bin_centres(ephemeris: Ephemeris, settings: ViewSettings) -> np.ndarray:
    """The centres of the local view's bins, in days from mid-transit (as ``training.views`` places them)."""
    half = min(ephemeris.period_days / 2, settings.local_durations * ephemeris.duration_days)
    width = settings.local_bin_width_factor * ephemeris.duration_days
    return np.linspace(-half + width / 2, half - width / 2, settings.local_bins)


def _unusable(state: ObjectState, curve: LightCurve) -> str:
    """Why this object's ephemeris cannot be folded on this light curve ("" when it can)."""
    ephemeris = state.ephemeris
    if not ephemeris.usable:
        return ephemeris.reason
    if state.epoch_system != curve.time_system.name:
        return f"its epoch is in {state.epoch_system or 'an unnamed time system'}, this light curve in " \
               f"{curve.time_system.name}"
    return ""


def _without_view(state: ObjectState, note: str, *, has_ephemeris: bool) -> FoldedObject:
    return FoldedObject(object=state.object, disposition=state.disposition,
                        label=object_label(state.mission, state.disposition), has_ephemeris=has_ephemeris,
                        period_days=state.period_days, phase_hours=None, local_view=None, transits=0,
                        depth_ppm=None, note=note)
