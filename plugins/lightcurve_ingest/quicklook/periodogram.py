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

TRANSIT_PERIODS = 4_000  # log-spaced: the same relative step at short and long periods
TRANSIT_REFINE_PERIODS = 500
TRANSIT_DURATIONS_DAYS = (0.04, 0.06, 0.08, 0.12, 0.16, 0.25)  # 1 to 6 hours
MIN_TRANSIT_PERIOD_DAYS = 0.3
MAX_TRANSIT_POINTS = 20_000  # a 20-second sector is averaged down to this many points first (about 2 minutes)


@dataclass(frozen=True)
class TransitSearch:
    period: np.ndarray  # days, the coarse grid (what is plotted)
    power: np.ndarray  # signal-to-noise of the best box at each period
    best_period: float  # days, refined
    duration_days: float
    depth: float  # fraction of the normalised flux
    epoch: float  # mid-transit, in the light curve's own time system


def transit_search(time: np.ndarray, flux: np.ndarray) -> TransitSearch:
    """The period of the strongest box-shaped dip that repeats at least twice (astropy's ``BoxLeastSquares``):
    periods from ``MIN_TRANSIT_PERIOD_DAYS`` to half the baseline, transits of 1 to 6 hours. A Lomb-Scargle
    periodogram finds sinusoids; a transit's strongest Lomb-Scargle peak is often a harmonic of its period."""
    from astropy.timeseries import BoxLeastSquares

    time, flux = binned(time, flux, MAX_TRANSIT_POINTS)
    longest = float(time[-1] - time[0]) / 2.0
    if longest <= MIN_TRANSIT_PERIOD_DAYS:
        raise ValueError(f"TIME: a baseline of {2 * longest:.3g} d is too short to see a transit twice")
    model = BoxLeastSquares(time, flux)
    durations = [d for d in TRANSIT_DURATIONS_DAYS if d < MIN_TRANSIT_PERIOD_DAYS]
    periods = np.exp(np.linspace(np.log(MIN_TRANSIT_PERIOD_DAYS), np.log(longest), TRANSIT_PERIODS))
    coarse = model.power(periods, durations, objective="snr")
    peak = float(periods[int(np.argmax(coarse.power))])
    step = peak * (np.exp((np.log(longest) - np.log(MIN_TRANSIT_PERIOD_DAYS)) / TRANSIT_PERIODS) - 1.0)
    fine = np.linspace(max(MIN_TRANSIT_PERIOD_DAYS, peak - 2 * step), min(longest, peak + 2 * step),
                       TRANSIT_REFINE_PERIODS)
    refined = model.power(fine, durations, objective="snr")
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
