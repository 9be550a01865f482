"""The strongest period of a light curve: a Lomb-Scargle periodogram on a bounded grid, refined around its peak.

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
