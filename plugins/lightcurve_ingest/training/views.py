"""Phase-folded, median-binned views of a light curve for transit classifiers.

AstroNet's global and local views (Shallue & Vanderburg 2018, section 3.3; google-research/exoplanet-ml,
``astronet/data/preprocess.py`` and ``light_curve/median_filter.py``), and ExoMiner's odd-transit, even-transit and
secondary-eclipse local views, which show an eclipsing binary's unequal eclipses.

Choices, each where AstroNet leaves one open or where this module departs from it:

- Empty bins are filled as AstroNet fills them, with the median flux of the whole light curve (the out-of-transit
  level), and counted per view in ``Views.empty_bins``.
- Normalisation: every view is shifted to median 0. The global and local views are then divided by their own depth
  (median minus minimum), as AstroNet does, so their bottom is -1. The odd, even and secondary views are divided by
  the local view's depth instead of their own: scaled each to -1 they would all look alike, and an eclipsing binary's
  unequal eclipses, or a planet's absent secondary, would no longer show. Each view's depth before scaling is kept in
  ``Views.depths`` (ExoMiner feeds such depths beside its self-normalised views).
- A depth at or below ``MIN_DEPTH`` (a flat view: no signal at all) is not divided by: that view stays shifted to
  median 0 and unscaled, so it is about 0 everywhere rather than infinite or noise blown up to -1.
- Transits are numbered from the epoch, which is transit 0: the even view holds transits 0, +-2, ..., the odd view
  +-1, +-3, ...
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from lightcurve_ingest.errors import InvalidInputError

GLOBAL_BINS = 2001
GLOBAL_BIN_WIDTH_FACTOR = 1 / 2001  # of the period
LOCAL_BINS = 201
LOCAL_BIN_WIDTH_FACTOR = 0.16  # of the transit duration
LOCAL_DURATIONS = 4.0  # the local views span +-4 transit durations around their centre
MIN_POINTS = 100  # finite points a light curve needs for views; fewer leave most of the global view's bins empty
# A depth (relative flux) this small is no signal: 1e-9 is far below any mission's photometric precision (~1e-5).
MIN_DEPTH = 1e-9
VIEW_NAMES = ("global", "local", "odd", "even", "secondary")
MAX_BLOCK_VALUES = 2_000_000  # bounds the memory of one block of binned values (16 MB of float64)


@dataclass(frozen=True)
class Ephemeris:
    """An object's transits: period, epoch (in the light curve's own time system: BKJD or BTJD) and duration."""

    period_days: float
    epoch: float
    duration_hours: float

    def __post_init__(self) -> None:
        require_positive("period_days", self.period_days)
        if isinstance(self.epoch, bool) or not isinstance(self.epoch, Real) or not math.isfinite(self.epoch):
            raise InvalidInputError("epoch", f"must be a finite time, got {self.epoch!r}")
        require_positive("duration_hours", self.duration_hours)
        if self.duration_days >= self.period_days:
            raise InvalidInputError("duration_hours", f"{self.duration_hours} h is not shorter than the period "
                                                      f"({self.period_days} d)")

    @property
    def duration_days(self) -> float:
        return self.duration_hours / 24


@dataclass(frozen=True)
class ViewSettings:
    """Bin counts and widths of the views (AstroNet's by default) and the fewest points a light curve may have."""

    global_bins: int = GLOBAL_BINS
    global_bin_width_factor: float = GLOBAL_BIN_WIDTH_FACTOR
    local_bins: int = LOCAL_BINS
    local_bin_width_factor: float = LOCAL_BIN_WIDTH_FACTOR
    local_durations: float = LOCAL_DURATIONS
    min_points: int = MIN_POINTS

    def __post_init__(self) -> None:
        for name in ("global_bins", "local_bins", "min_points"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, Integral) or value < 2:
                raise InvalidInputError(name, f"must be an integer of at least 2, got {value!r}")
        require_positive("local_durations", self.local_durations)
        require_positive("global_bin_width_factor", self.global_bin_width_factor)
        require_positive("local_bin_width_factor", self.local_bin_width_factor)
        if self.global_bin_width_factor >= 1:
            raise InvalidInputError("global_bin_width_factor", "a bin must be narrower than the period")
        if self.local_bin_width_factor >= 2 * self.local_durations:
            raise InvalidInputError("local_bin_width_factor", "a bin must be narrower than the local view")


@dataclass(frozen=True, eq=False)  # arrays have no single truth value to compare by
class Views:
    """The five views (float32, normalised), transits with data, empty bins and depth before scaling per view."""

    global_view: np.ndarray
    local_view: np.ndarray
    odd_view: np.ndarray
    even_view: np.ndarray
    secondary_view: np.ndarray
    n_transits: int
    empty_bins: dict[str, int]  # view name ("global", "local", "odd", "even", "secondary") -> bins filled
    depths: dict[str, float]  # view name -> its median minus its minimum before scaling, in the flux's units


def require_positive(field: str, value: float) -> None:
    """Refuse anything but a positive finite number, naming the field."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value <= 0:
        raise InvalidInputError(field, f"must be a positive finite number, got {value!r}")


def phase_fold(time: np.ndarray, period: float, epoch: float) -> np.ndarray:
    """Each time's phase in days, in [-period/2, period/2), with the transit at ``epoch`` (and its repeats) at 0."""
    half = period / 2
    return np.mod(time - epoch + half, period) - half


def transit_numbers(time: np.ndarray, ephemeris: Ephemeris) -> np.ndarray:
    """The number of the transit nearest each time, counted from the epoch's transit (0)."""
    half = ephemeris.period_days / 2
    return np.floor((time - ephemeris.epoch + half) / ephemeris.period_days).astype(np.int64)


def count_transits(time: np.ndarray, ephemeris: Ephemeris) -> int:
    """How many transits have at least one point inside them (within half a duration of their centre)."""
    inside = np.abs(phase_fold(time, ephemeris.period_days, ephemeris.epoch)) <= ephemeris.duration_days / 2
    return int(np.unique(transit_numbers(time[inside], ephemeris)).size)


def median_bin(x: np.ndarray, y: np.ndarray, num_bins: int, bin_width: float, x_min: float,
               x_max: float) -> tuple[np.ndarray, np.ndarray]:
    """AstroNet's median filter: ``num_bins`` bins of ``bin_width``, evenly spaced from [x_min, x_min + bin_width)
    to [x_max - bin_width, x_max) (they overlap when wider than their spacing); each bin's median y, and its count
    of points. ``x`` must be sorted. An empty bin's median is NaN.

    Vectorised: the bins' values are gathered into rows (NaN-padded, in blocks of at most MAX_BLOCK_VALUES values)
    and each row's median taken at once; a loop of ``np.median`` calls cost ~70 µs a bin."""
    if num_bins < 2:
        raise InvalidInputError("num_bins", f"must be at least 2, got {num_bins}")
    if not 0 < bin_width < x_max - x_min:
        raise InvalidInputError("bin_width", f"must be positive and below x_max - x_min ({x_max - x_min}), "
                                             f"got {bin_width}")
    spacing = (x_max - x_min - bin_width) / (num_bins - 1)
    lows = x_min + spacing * np.arange(num_bins)
    starts = np.searchsorted(x, lows, side="left")
    counts = np.searchsorted(x, lows + bin_width, side="left") - starts
    medians = np.full(num_bins, np.nan)
    width = int(counts.max(initial=0))
    if width == 0:
        return medians, counts
    filled = np.flatnonzero(counts > 0)
    block = max(1, MAX_BLOCK_VALUES // width)
    for first in range(0, filled.size, block):
        bins = filled[first:first + block]
        index = starts[bins, None] + np.arange(width)
        rows = np.where(index < (starts[bins] + counts[bins])[:, None], y[np.minimum(index, y.size - 1)], np.nan)
        medians[bins] = row_medians(rows, counts[bins])
    return medians, counts


def row_medians(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """The median of each row's first ``counts[i]`` finite values (the rest NaN padding, which sorts last)."""
    ordered = np.sort(values, axis=1)
    rows = np.arange(len(values))
    low, high = (counts - 1) // 2, counts // 2
    return 0.5 * (ordered[rows, low] + ordered[rows, high])


@dataclass(frozen=True, eq=False)
class _Binned:
    """One view before normalisation: its bins (empty ones filled) and how many were empty."""

    values: np.ndarray
    empty: int


def _binned_view(phase: np.ndarray, flux: np.ndarray, fill: float, num_bins: int, bin_width: float,
                 half_window: float) -> _Binned:
    order = np.argsort(phase, kind="stable")
    medians, counts = median_bin(phase[order], flux[order], num_bins, bin_width, -half_window, half_window)
    empty = counts == 0
    return _Binned(np.where(empty, fill, medians), int(empty.sum()))


def _depth(values: np.ndarray) -> float:
    return float(np.median(values) - np.min(values))


def _normalised(values: np.ndarray, scale: float) -> np.ndarray:
    """Median 0 and, when ``scale`` is a real depth, divided by it (see the module's notes)."""
    centred = values - np.median(values)
    return (centred / scale if scale > MIN_DEPTH else centred).astype(np.float32)


def _checked_points(time: np.ndarray, flux: np.ndarray, min_points: int) -> tuple[np.ndarray, np.ndarray]:
    """The finite (time, flux) pairs, after checking shapes and that enough remain."""
    time, flux = np.asarray(time, dtype=np.float64), np.asarray(flux, dtype=np.float64)
    if time.ndim != 1:
        raise InvalidInputError("time", f"must be one-dimensional, got shape {time.shape}")
    if flux.shape != time.shape:
        raise InvalidInputError("flux", f"has {flux.size} values but time has {time.size}")
    finite = np.isfinite(time) & np.isfinite(flux)
    if finite.sum() < min_points:
        raise InvalidInputError("time", f"{int(finite.sum())} finite points; views need at least {min_points}")
    return time[finite], flux[finite]


def build_views(time: np.ndarray, flux: np.ndarray, ephemeris: Ephemeris,
                settings: ViewSettings | None = None) -> Views:
    """The views of one object from its star's detrended, normalised light curve (time in the ephemeris's system).

    Non-finite points are dropped. Raises ``InvalidInputError`` naming the field for arrays of different lengths, too
    few points, or no transit of the ephemeris with data.
    """
    settings = settings or ViewSettings()
    time, flux = _checked_points(time, flux, settings.min_points)
    n_transits = count_transits(time, ephemeris)
    if n_transits == 0:
        raise InvalidInputError("time", f"no transit of period {ephemeris.period_days} d and epoch {ephemeris.epoch} "
                                        f"falls inside the data ({time.min():.4f} to {time.max():.4f})")
    binned = _all_binned(time, flux, ephemeris, settings)
    depths = {name: _depth(view.values) for name, view in binned.items()}
    scales = {name: depths[name if name in ("global", "local") else "local"] for name in binned}
    normalised = {name: _normalised(view.values, scales[name]) for name, view in binned.items()}
    return Views(global_view=normalised["global"], local_view=normalised["local"], odd_view=normalised["odd"],
                 even_view=normalised["even"], secondary_view=normalised["secondary"], n_transits=n_transits,
                 empty_bins={name: view.empty for name, view in binned.items()}, depths=depths)


def _all_binned(time: np.ndarray, flux: np.ndarray, ephemeris: Ephemeris,
                settings: ViewSettings) -> dict[str, _Binned]:
    period, duration = ephemeris.period_days, ephemeris.duration_days
    fill = float(np.median(flux))
    phase = phase_fold(time, period, ephemeris.epoch)
    even = transit_numbers(time, ephemeris) % 2 == 0
    secondary_phase = phase_fold(time, period, ephemeris.epoch + period / 2)
    half_local = min(period / 2, settings.local_durations * duration)
    local_width = settings.local_bin_width_factor * duration

    def local(phases: np.ndarray, values: np.ndarray) -> _Binned:
        return _binned_view(phases, values, fill, settings.local_bins, local_width, half_local)

    return {
        "global": _binned_view(phase, flux, fill, settings.global_bins, settings.global_bin_width_factor * period,
                               period / 2),
        "local": local(phase, flux),
        "odd": local(phase[~even], flux[~even]),
        "even": local(phase[even], flux[even]),
        "secondary": local(secondary_phase, flux),
    }
