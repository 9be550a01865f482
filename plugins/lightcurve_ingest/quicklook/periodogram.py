"""Periods of a light curve: the strongest sinusoid (Lomb-Scargle) and the strongest repeating transit (Box Least
Squares), each on a bounded grid, refined around its peak.

A grid fine enough to place a peak within 1 % everywhere would be huge for a long light curve; instead a coarse
grid (at most ``MAX_FREQUENCIES`` points) finds the peak and a small fine grid around it places it. Both use
astropy's fast method with Press & Rybicki's extirpolation (``fasper``): astropy 8's default for it, ``lra``,
takes several times the memory and the time on a 20-second TESS sector (benchmarks/README.md, "Quick-look plots
and gallery").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MAX_FREQUENCIES = 20_000
REFINE_FREQUENCIES = 2_000
SAMPLES_PER_PEAK = 5
MAX_FREQUENCY_PER_DAY = 360.0  # periods down to 4 minutes (20-second data); long cadence stops at 3 cadences
FAST = {"method": "fast", "assume_regular_frequency": True, "method_kwds": {"algorithm": "fasper"}}


@dataclass(frozen=True)
class Periodogram:
    frequency: np.ndarray  # 1/day, the coarse grid (what is plotted)
    power: np.ndarray
    best_period: float  # days, refined
    best_power: float


def strongest_period(time: np.ndarray, flux: np.ndarray) -> Periodogram:
    """Periods from about 3 cadences to half the baseline; ``time`` in days, sorted."""
    from astropy.timeseries import LombScargle

    baseline = float(time[-1] - time[0])
    cadence = float(np.median(np.diff(time)))
    if not (baseline > 0 and cadence > 0):
        raise ValueError("TIME: the light curve spans no time")
    low = 2.0 / baseline
    high = min(1.0 / (3.0 * cadence), MAX_FREQUENCY_PER_DAY)
    if high <= low:
        raise ValueError(f"TIME: a baseline of {baseline:.3g} d holds too few cadences for a periodogram")
    model = LombScargle(time, flux)
    count = int(min(MAX_FREQUENCIES, max(100, (high - low) * baseline * SAMPLES_PER_PEAK)))
    frequency = np.linspace(low, high, count)
    power = model.power(frequency, **FAST)
    peak = frequency[int(np.argmax(power))]
    step = max(frequency[1] - frequency[0], 1.0 / baseline)
    fine = np.linspace(max(low, peak - 2 * step), min(high, peak + 2 * step), REFINE_FREQUENCIES)
    fine_power = model.power(fine, **FAST)
    best = int(np.argmax(fine_power))
    return Periodogram(frequency=frequency, power=power, best_period=float(1.0 / fine[best]),
                       best_power=float(fine_power[best]))


# transits: Box Least Squares -------------------------------------------------------------------------------------

MAX_TRANSIT_PERIODS = 5_000
TRANSIT_REFINE_PERIODS = 500
TRANSIT_DURATIONS_DAYS = (0.05, 0.1, 0.2)  # boxes of 1.2, 2.4 and 4.8 hours
MIN_TRANSIT_PERIOD_DAYS = 0.3
MAX_TRANSIT_POINTS = 10_000  # longer light curves are averaged down to this many points first


@dataclass(frozen=True)
class TransitSearch:
    period: np.ndarray  # days, the coarse grid (what is plotted)
    power: np.ndarray  # the box's log likelihood at each period
    best_period: float  # days, refined
    duration_days: float
    depth: float  # fraction of the normalised flux
    epoch: float  # mid-transit, in the light curve's own time system


def transit_search(time: np.ndarray, flux: np.ndarray) -> TransitSearch:
    """The period of the strongest box-shaped dip that repeats at least twice (astropy's ``BoxLeastSquares``):
    periods from ``MIN_TRANSIT_PERIOD_DAYS`` to half the baseline, boxes of 1 to 5 hours. A Lomb-Scargle
    periodogram finds sinusoids; a transit's strongest Lomb-Scargle peak is often a harmonic of its period.

    The periods are log-spaced, so that a transit drifts by the same fraction of the shortest box over the
    baseline at every period; at most ``MAX_TRANSIT_PERIODS`` of them (a quarter, a campaign or a sector needs
    fewer), then a fine grid around the peak places it."""
    from astropy.timeseries import BoxLeastSquares

    time, flux = binned(time, flux, MAX_TRANSIT_POINTS)
    baseline = float(time[-1] - time[0])
    longest = baseline / 2.0
    if longest <= MIN_TRANSIT_PERIOD_DAYS:
        raise ValueError(f"TIME: a baseline of {baseline:.3g} d is too short to see a transit twice")
    model = BoxLeastSquares(time, flux)
    durations = list(TRANSIT_DURATIONS_DAYS)
    step = min(TRANSIT_DURATIONS_DAYS) / baseline / 2.0  # relative: the drift of half the shortest box
    count = int(min(MAX_TRANSIT_PERIODS, max(100, np.log(longest / MIN_TRANSIT_PERIOD_DAYS) / step)))
    periods = np.exp(np.linspace(np.log(MIN_TRANSIT_PERIOD_DAYS), np.log(longest), count))
    coarse = model.power(periods, durations)
    peak = int(np.argmax(coarse.power))
    low, high = periods[max(peak - 2, 0)], periods[min(peak + 2, count - 1)]
    fine = np.linspace(low, high, TRANSIT_REFINE_PERIODS)
    refined = model.power(fine, durations)
    best = int(np.argmax(refined.power))
    return TransitSearch(period=periods, power=np.asarray(coarse.power), best_period=float(fine[best]),
                         duration_days=float(refined.duration[best]), depth=float(refined.depth[best]),
                         epoch=float(refined.transit_time[best]))


def binned(time: np.ndarray, values: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_points`` points: means of consecutive runs of cadences (the arrays as they are if shorter)."""
    if len(time) <= max_points:
        return time, values
    edges = np.linspace(0, len(time), max_points + 1).astype(int)[:-1]
    counts = np.diff(np.append(edges, len(time)))
    return np.add.reduceat(time, edges) / counts, np.add.reduceat(values, edges) / counts
