"""One quick-look PNG: the normalised light curve above its Lomb-Scargle periodogram and, beside it, its Box
Least Squares transit search.

Drawn on a bare ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot: no global figure registry to leak
from, no display needed). Light curves longer than ``MAX_PLOT_POINTS`` are binned in time before drawing, so the
figure's size and the memory it takes stay the same however long the light curve is. The flux axis is set by the
PDCSAP points drawn: from the lowest one (a transit is never cut off) to the 99.9th percentile (a few upward outliers
do not squash the rest); SAP flux outside that range is left out of view.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lightcurve_ingest.quicklook import periodogram as periods
from lightcurve_ingest.quicklook.lightcurve import LightCurve
from lightcurve_ingest.quicklook.periodogram import Periodogram, TransitSearch

MAX_PLOT_POINTS = 5_000
FIGSIZE_INCHES = (10.0, 6.0)
DPI = 80  # 800 x 480 pixels: readable, and a small PNG
PERIOD_METADATA_KEY = "strongest_period_days"
TRANSIT_METADATA_KEY = "transit_period_days"
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
               transits: TransitSearch | None = None) -> None:
    """Write the PNG to ``path``; its metadata holds the strongest period (``strongest_period_days``) and the
    transit search's (``transit_period_days``)."""
    figure = quicklook_figure(curve, periodogram, title, transits)
    metadata = {"Title": title.text(), PERIOD_METADATA_KEY: f"{periodogram.best_period:.8g}"}
    if transits is not None:
        metadata[TRANSIT_METADATA_KEY] = f"{transits.best_period:.8g}"
    figure.savefig(path, format="png", metadata=metadata)
    figure.clear()


def quicklook_figure(curve: LightCurve, periodogram: Periodogram, title: Title,
                     transits: TransitSearch | None = None) -> Any:
    """The quick-look as a ``matplotlib.figure.Figure`` (Agg canvas): light curve above, the Lomb-Scargle
    periodogram below and, given ``transits``, the transit search beside it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=FIGSIZE_INCHES, dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    bottom = [["sinusoids", "transits"]] if transits is not None else [["sinusoids", "sinusoids"]]
    axes = figure.subplot_mosaic([["curve", "curve"], *bottom], height_ratios=[3, 2])
    _draw_light_curve(axes["curve"], curve)
    _draw_periodogram(axes["sinusoids"], periodogram)
    if transits is not None:
        _draw_transit_search(axes["transits"], transits)
    figure.suptitle(title.text(), fontsize=11)
    return figure


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
