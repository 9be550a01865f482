"""Stitched, detrended light curves for the training set (issue 21), numpy only.

``stitch`` keeps QUALITY == 0 and finite values, splits the light curve into segments at gaps longer than
``gap_days`` and divides each segment by its median. ``detrend`` then fits a trend with the object's own transits
masked and returns flux / trend.

The trend is a time-windowed Tukey biweight (Hippke et al. 2019, as ``wotan``'s ``biweight``), chosen by
measurement against AstroNet's robust spline, ExoMiner's Savitzky-Golay filter and ``wotan`` itself
(benchmarks/detrend_choice.py, benchmarks/README.md "Detrending for the training set (issue 21)").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.training.views import phase_fold, require_positive, row_medians

GAP_DAYS = 0.75
MASK_FACTOR = 1.5  # mask points within this many transit durations of each transit centre
WINDOW_FACTOR = 2.0  # the biweight's window, in transit durations (measured: 2 beat wotan's usual 3)
BIWEIGHT_CUTOFF = 5.0  # Tukey's c, in median absolute deviations (wotan's default)
BIWEIGHT_ITERATIONS = 10
GRID_STEP_FRACTION = 0.1  # the trend is evaluated every window * this and interpolated in between
MAX_BLOCK_VALUES = 2_000_000  # bounds the memory of one vectorised block of windows


@dataclass(frozen=True)
class Stitched:
    time: np.ndarray
    flux: np.ndarray  # each segment divided by its median
    segment: np.ndarray  # segment number of each point, 0, 1, ...


@dataclass(frozen=True)
class Detrended:
    time: np.ndarray
    flux: np.ndarray  # stitched flux / trend
    trend: np.ndarray
    segment: np.ndarray
    in_transit: np.ndarray  # the points masked while fitting the trend
    dropped_at_edges: int  # points of transits cut by a segment's edge, left out


def _as_1d(name: str, values: object) -> np.ndarray:
    array = np.asarray(values)
    if array.ndim != 1:
        raise InvalidInputError(name, f"must be one-dimensional, got shape {array.shape}")
    if array.size == 0:
        raise InvalidInputError(name, "is empty")
    return array


def _checked(time: object, flux: object, quality: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    time_a, flux_a, quality_a = _as_1d("time", time), _as_1d("flux", flux), _as_1d("quality", quality)
    for name, array in (("flux", flux_a), ("quality", quality_a)):
        if array.size != time_a.size:
            raise InvalidInputError(name, f"has {array.size} values but time has {time_a.size}")
    return time_a.astype(float), flux_a.astype(float), quality_a


def split_segments(time: np.ndarray, *, gap_days: float = GAP_DAYS) -> np.ndarray:
    """Segment number of each point of a sorted time array: a new segment after every gap longer than gap_days."""
    return np.concatenate(([0], np.cumsum(np.diff(time) > gap_days))).astype(int)


def stitch(time: object, flux: object, quality: object, *, gap_days: float = GAP_DAYS) -> Stitched:
    """Concatenated segments (quarters, campaigns, sectors) cleaned, split at gaps and normalised."""
    time_a, flux_a, quality_a = _checked(time, flux, quality)
    keep = (quality_a == 0) & np.isfinite(time_a) & np.isfinite(flux_a)
    if not keep.any():
        raise InvalidInputError("flux", "has no finite value with QUALITY == 0")
    order = np.argsort(time_a[keep], kind="stable")
    time_k, flux_k = time_a[keep][order], flux_a[keep][order]
    segment = split_segments(time_k, gap_days=gap_days)
    normalised = np.empty_like(flux_k)
    for number in range(segment[-1] + 1):
        part = segment == number
        normalised[part] = flux_k[part] / np.median(flux_k[part])
    return Stitched(time=time_k, flux=normalised, segment=segment)


def transit_mask(time: np.ndarray, *, period_days: float, epoch: float, duration_hours: float,
                 mask_factor: float = MASK_FACTOR) -> np.ndarray:
    """True for points within mask_factor transit durations of a transit centre."""
    require_positive("period_days", period_days)
    require_positive("duration_hours", duration_hours)
    if not np.isfinite(epoch):
        raise InvalidInputError("epoch", f"must be a finite time, got {epoch}")
    offset = np.abs(phase_fold(time, period_days, epoch))
    return offset < mask_factor * duration_hours / 24.0


def _biweight_block(windows: np.ndarray, counts: np.ndarray, *, cutoff: float, iterations: int) -> np.ndarray:
    location = row_medians(windows, counts)
    spread = row_medians(np.abs(windows - location[:, None]), counts)
    spread = np.where(spread > 0, spread, np.finfo(float).tiny)
    for _ in range(iterations):
        u = (windows - location[:, None]) / (cutoff * spread[:, None])
        weight = np.where(np.abs(u) < 1, (1 - u * u) ** 2, 0.0)
        weight = np.nan_to_num(weight)
        total = weight.sum(axis=1)
        updated = np.where(total > 0, (weight * np.nan_to_num(windows)).sum(axis=1) / np.where(total > 0, total, 1),
                           location)
        converged = np.nanmax(np.abs(updated - location)) < 1e-7 if updated.size else True
        location = updated
        if converged:
            break
    return location


def biweight_location(time: np.ndarray, flux: np.ndarray, centres: np.ndarray, *, window_days: float,
                      cutoff: float = BIWEIGHT_CUTOFF, iterations: int = BIWEIGHT_ITERATIONS) -> np.ndarray:
    """Tukey's biweight location of the flux within window_days around each centre (NaN for an empty window)."""
    low = np.searchsorted(time, centres - 0.5 * window_days, side="left")
    high = np.searchsorted(time, centres + 0.5 * window_days, side="right")
    counts = high - low
    result = np.full(centres.size, np.nan)
    width = int(counts.max(initial=0))
    if width == 0:
        return result
    block = max(1, MAX_BLOCK_VALUES // width)
    for start in range(0, centres.size, block):
        rows = slice(start, start + block)
        index = low[rows, None] + np.arange(width)
        inside = index < high[rows, None]
        windows = np.where(inside, flux[np.minimum(index, flux.size - 1)], np.nan)
        filled = counts[rows] > 0
        if filled.any():
            positions = np.arange(centres.size)[rows][filled]
            result[positions] = _biweight_block(windows[filled], counts[positions], cutoff=cutoff,
                                                iterations=iterations)
    return result


def _grid(time: np.ndarray, step: float) -> np.ndarray:
    if time[-1] - time[0] >= step * time.size:
        return time  # no fewer cadences than grid points: evaluate at the cadences themselves
    return np.append(np.arange(time[0], time[-1], step), time[-1])


def biweight_trend(time: np.ndarray, flux: np.ndarray, fit: np.ndarray, *, window_days: float,
                   cutoff: float = BIWEIGHT_CUTOFF, iterations: int = BIWEIGHT_ITERATIONS,
                   grid_step_fraction: float = GRID_STEP_FRACTION) -> np.ndarray:
    """The biweight trend of one segment, fitted on the points where ``fit`` is True, at every time."""
    if not fit.any():
        return np.full(time.size, np.median(flux))
    centres = _grid(time, window_days * grid_step_fraction)
    values = biweight_location(time[fit], flux[fit], centres, window_days=window_days, cutoff=cutoff,
                               iterations=iterations)
    known = np.isfinite(values)
    if not known.any():
        return np.full(time.size, np.median(flux[fit]))
    return np.interp(time, centres[known], values[known])


def masked_runs(fit: np.ndarray) -> list[tuple[int, int]]:
    """(first, last + 1) of each run of consecutive points where fit is False."""
    edges = np.diff(np.concatenate(([0], (~fit).astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def edge_transits(fit: np.ndarray) -> np.ndarray:
    """True for the masked points of a transit cut by the segment's start or end: with data on one side only,
    the trend under them can only be extrapolated."""
    cut = np.zeros(fit.size, dtype=bool)
    for first, stop in masked_runs(fit):
        if first == 0 or stop == fit.size:
            cut[first:stop] = True
    return cut


def detrend(time: object, flux: object, quality: object, *, period_days: float, epoch: float,
            duration_hours: float, mask_factor: float = MASK_FACTOR, window_factor: float = WINDOW_FACTOR,
            gap_days: float = GAP_DAYS, cutoff: float = BIWEIGHT_CUTOFF, iterations: int = BIWEIGHT_ITERATIONS,
            grid_step_fraction: float = GRID_STEP_FRACTION) -> Detrended:
    """Stitch the segments, fit a biweight trend per segment with the object's transits masked (interpolated
    across them), divide it out. The points of a transit cut by a segment's start or end are left out
    (``dropped_at_edges``): their trend could only be extrapolated.

    ``epoch`` is in the light curve's own time system (BKJD or BTJD)."""
    for name, value in (("window_factor", window_factor), ("gap_days", gap_days), ("cutoff", cutoff)):
        require_positive(name, value)
    if not mask_factor >= 0:
        raise InvalidInputError("mask_factor", f"must be zero or more, got {mask_factor}")
    stitched = stitch(time, flux, quality, gap_days=gap_days)
    in_transit = transit_mask(stitched.time, period_days=period_days, epoch=epoch, duration_hours=duration_hours,
                              mask_factor=mask_factor)
    window_days = window_factor * duration_hours / 24.0
    trend = np.empty_like(stitched.flux)
    at_edge = np.zeros(trend.size, dtype=bool)
    for number in range(stitched.segment[-1] + 1):
        part = stitched.segment == number
        fit = ~in_transit[part]
        trend[part] = biweight_trend(stitched.time[part], stitched.flux[part], fit, window_days=window_days,
                                     cutoff=cutoff, iterations=iterations, grid_step_fraction=grid_step_fraction)
        at_edge[part] = edge_transits(fit)
    keep = ~at_edge
    return Detrended(time=stitched.time[keep], flux=stitched.flux[keep] / trend[keep], trend=trend[keep],
                     segment=stitched.segment[keep], in_transit=in_transit[keep],
                     dropped_at_edges=int(at_edge.sum()))
