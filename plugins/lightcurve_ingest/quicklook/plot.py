"""One quick-look PNG: the normalised light curve above its Lomb-Scargle periodogram and, beside it, its Box
Least Squares transit search; below them, for a star with known objects, each object's folded local view at its
archive period (``quicklook.folded``), four to a row, and a line for each object that has none and why.

Drawn on a bare ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot: no global figure registry to leak
from, no display needed). Light curves longer than ``MAX_PLOT_POINTS`` are binned in time before drawing, so the
figure's size and the memory it takes stay the same however long the light curve is. The flux axis is set by the
PDCSAP points drawn: from the lowest one (a transit is never cut off) to the 99.9th percentile (a few upward outliers
do not squash the rest); SAP flux outside that range is left out of view.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lightcurve_ingest.domain.catalog_records import ObjectState
from lightcurve_ingest.quicklook import periodogram as periods
from lightcurve_ingest.quicklook.folded import FoldedObject, fold_objects
from lightcurve_ingest.quicklook.lightcurve import LightCurve
from lightcurve_ingest.quicklook.periodogram import Periodogram, TransitSearch

MAX_PLOT_POINTS = 5_000
FIGSIZE_INCHES = (10.0, 6.0)  # without folded views; each row of them adds FOLDED_ROW_INCHES
FOLDED_PER_ROW = 4
FOLDED_ROW_INCHES = 2.2
NOTE_LINE_INCHES = 0.2  # one line of the list of objects without a folded view
MAX_NOTE_CHARS = 130
NOTE_PANEL_CHARS = 30  # a note in place of a folded view, wrapped to the panel's width
DPI = 80  # 800 x 480 pixels: readable, and a small PNG
PERIOD_METADATA_KEY = "strongest_period_days"
TRANSIT_METADATA_KEY = "transit_period_days"
OBJECTS_METADATA_KEY = "objects"  # JSON list of the star's object names
FOLDED_METADATA_KEY = "folded_objects"  # JSON list of FoldedObject.summary(): label, transits, depth, or the note
UPPER_PERCENTILE = 99.9
MARGIN = 0.05  # of the flux range, above and below


@dataclass(frozen=True)
class Title:
    """What the plot's title names."""

    target: str  # host name, or the mission id when it has none
    target_id: str  # "KIC 11904151"
    mission: str
    unit: str  # "quarter 5"
    disposition: str

    def text(self) -> str:
        name = self.target if self.target != self.target_id else ""
        parts = [f"{name} ({self.target_id})" if name else self.target_id, self.mission, self.unit,
                 self.disposition or "no disposition"]
        return " · ".join(parts)


def binned(time: np.ndarray, values: np.ndarray, max_points: int = MAX_PLOT_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points: means of consecutive runs of cadences (the arrays as they are if shorter)."""
    return periods.binned(time, values, max_points)


def render_png(curve: LightCurve, periodogram: Periodogram, title: Title, path: Path,
               transits: TransitSearch | None = None, objects: Sequence[ObjectState] = ()
               ) -> tuple[FoldedObject, ...]:
    """Write the PNG to ``path`` and return the star's objects as folded in it. Its metadata holds the strongest
    period (``strongest_period_days``), the transit search's (``transit_period_days``) and, given ``objects`` (the
    target's, from the catalog), their names (``objects``) and what each panel shows or why there is none
    (``folded_objects``)."""
    folded = fold_objects(curve, objects)
    figure = quicklook_figure(curve, periodogram, title, transits, folded)
    metadata = {"Title": title.text(), PERIOD_METADATA_KEY: f"{periodogram.best_period:.8g}"}
    if transits is not None:
        metadata[TRANSIT_METADATA_KEY] = f"{transits.best_period:.8g}"
    if folded:
        metadata[OBJECTS_METADATA_KEY] = json.dumps([f.object for f in folded])
        metadata[FOLDED_METADATA_KEY] = json.dumps([f.summary() for f in folded])
    figure.savefig(path, format="png", metadata=metadata)
    figure.clear()
    return folded


def quicklook_figure(curve: LightCurve, periodogram: Periodogram, title: Title,
                     transits: TransitSearch | None = None, folded: Sequence[FoldedObject] = ()) -> Any:
    """The quick-look as a ``matplotlib.figure.Figure`` (Agg canvas): light curve above, the Lomb-Scargle
    periodogram below and, given ``transits``, the transit search beside it; then a panel per folded object and
    the list of objects without one."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    panels = [f for f in folded if f.has_ephemeris]
    listed = [f for f in folded if not f.has_ephemeris]
    mosaic, heights = _layout(len(panels), len(listed), transits is not None)
    figure = Figure(figsize=(FIGSIZE_INCHES[0], sum(heights)), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplot_mosaic(mosaic, height_ratios=heights, empty_sentinel=".")
    _draw_light_curve(axes["curve"], curve)
    _draw_periodogram(axes["sinusoids"], periodogram)
    if transits is not None:
        _draw_transit_search(axes["transits"], transits)
    for number, obj in enumerate(panels):
        _draw_folded(axes[f"object{number}"], obj)
    if listed:
        _draw_without_view(axes["listed"], listed)
    figure.suptitle(title.text(), fontsize=11)
    return figure


def _layout(panels: int, listed: int, transit_search: bool) -> tuple[list[list[str]], list[float]]:
    """The mosaic (``FOLDED_PER_ROW`` columns) and each row's height in inches: the first two rows are the
    plot without objects, in its proportions (3:2 of ``FIGSIZE_INCHES``)."""
    half = FOLDED_PER_ROW // 2
    bottom = ["sinusoids"] * half + (["transits"] if transit_search else ["sinusoids"]) * half
    mosaic = [["curve"] * FOLDED_PER_ROW, bottom]
    heights = [FIGSIZE_INCHES[1] * 3 / 5, FIGSIZE_INCHES[1] * 2 / 5]
    for first in range(0, panels, FOLDED_PER_ROW):
        names = [f"object{n}" for n in range(first, min(first + FOLDED_PER_ROW, panels))]
        mosaic.append(names + ["."] * (FOLDED_PER_ROW - len(names)))
        heights.append(FOLDED_ROW_INCHES)
    if listed:
        mosaic.append(["listed"] * FOLDED_PER_ROW)
        heights.append(NOTE_LINE_INCHES * (listed + 1))
    return mosaic, heights


def flux_limits(flux: np.ndarray) -> tuple[float, float]:
    """The flux axis's range for the PDCSAP points drawn: every dip inside, the top robust to a few outliers."""
    low, high = float(np.min(flux)), float(np.percentile(flux, UPPER_PERCENTILE))
    margin = MARGIN * (high - low) if high > low else 1e-3
    return low - margin, high + margin


def _draw_light_curve(axes: Any, curve: LightCurve) -> None:
    if np.isfinite(curve.sap).any():
        sap_ok = np.isfinite(curve.sap)
        axes.plot(*binned(curve.time[sap_ok], curve.sap[sap_ok]), ".", color="#e8a33d", markersize=1.5, alpha=0.3,
                  label="SAP", rasterized=True)
    time, pdcsap = binned(curve.time, curve.pdcsap)
    axes.plot(time, pdcsap, ".", color="#1f4e9e", markersize=2.0, label="PDCSAP", rasterized=True)
    axes.set_ylim(*flux_limits(pdcsap))
    shown = "" if len(curve.time) <= MAX_PLOT_POINTS else f", drawn as {MAX_PLOT_POINTS} bins"
    axes.set_title(f"{len(curve.time)} of {curve.cadences} cadences ({curve.quality_mask.name} quality mask){shown}",
                   loc="left", fontsize=8)
    axes.set_xlabel(curve.time_system.axis_label)
    axes.set_ylabel("normalised flux")
    axes.legend(loc="lower right", fontsize=8, markerscale=5, ncols=2, framealpha=0.85)


def _draw_periodogram(axes: Any, periodogram: Periodogram) -> None:
    period = 1.0 / periodogram.frequency
    axes.plot(period, periodogram.power, color="black", linewidth=0.7, rasterized=True)
    axes.set_xscale("log")
    axes.axvline(periodogram.best_period, color="#d1495b", linewidth=1.2, alpha=0.8)
    axes.annotate(f"strongest period {_period_text(periodogram.best_period)}", xy=(0.99, 0.92),
                  xycoords="axes fraction", ha="right", va="top", fontsize=10, color="#d1495b")
    axes.set_xlabel("period [d]")
    axes.set_ylabel("Lomb-Scargle power")


def _draw_transit_search(axes: Any, transits: TransitSearch) -> None:
    axes.plot(transits.period, transits.power, color="black", linewidth=0.7, rasterized=True)
    axes.set_xscale("log")
    axes.axvline(transits.best_period, color="#2a9d8f", linewidth=1.2, alpha=0.8)
    axes.annotate(f"transit period {_period_text(transits.best_period)}\n"
                  f"depth {transits.depth * 1e6:.0f} ppm, {transits.duration_days * 24:.1f} h",
                  xy=(0.99, 0.92), xycoords="axes fraction", ha="right", va="top", fontsize=9, color="#2a9d8f")
    axes.set_xlabel("period [d]")
    axes.set_ylabel("box least squares power")


def _period_text(days: float) -> str:
    return f"{days:.4f} d" if days >= 1 else f"{days:.4f} d ({days * 24:.2f} h)"


def _draw_folded(axes: Any, folded: FoldedObject) -> None:
    """One object's local view (its bins as points, the transit's duration shaded), or its note."""
    axes.set_title(f"{folded.object}\n{folded.disposition or 'no disposition'} · {folded.label_text}", fontsize=8)
    axes.tick_params(labelsize=7)
    if folded.local_view is None:
        axes.text(0.5, 0.5, textwrap.fill(folded.note, NOTE_PANEL_CHARS), ha="center", va="center", fontsize=8,
                  color="#777777", transform=axes.transAxes)
        axes.set_xticks([])
        axes.set_yticks([])
        return
    axes.plot(folded.phase_hours, folded.local_view, ".", color="#6a3d9a", markersize=3)
    axes.axvline(0.0, color="#999999", linewidth=0.6, linestyle=":")
    axes.annotate(f"P {folded.period_days:.4f} d\n{folded.transits} transits", xy=(0.02, 0.03),
                  xycoords="axes fraction", ha="left", va="bottom", fontsize=7)
    axes.annotate(f"depth\n{folded.depth_ppm:.0f} ppm", xy=(0.98, 0.03), xycoords="axes fraction", ha="right",
                  va="bottom", fontsize=7)
    axes.set_xlabel("hours from mid-transit", fontsize=7)


def _draw_without_view(axes: Any, listed: list[FoldedObject]) -> None:
    """The objects that have no folded view, one line each, with why."""
    axes.set_axis_off()
    lines = ["Not folded:"] + [_clipped(f"{f.object} ({f.disposition or 'no disposition'} · {f.label_text}): "
                                        f"{f.note}") for f in listed]
    axes.text(0.0, 1.0, "\n".join(lines), ha="left", va="top", fontsize=8, transform=axes.transAxes)


def _clipped(text: str) -> str:
    return text if len(text) <= MAX_NOTE_CHARS else text[:MAX_NOTE_CHARS - 1] + "…"
