"""Benchmark: which detrending keeps planted transit depths under stellar variability and segment offsets (issue 21).

    python -m benchmarks.detrend_choice --cases 300 --seed 21

Synthetic Kepler-like light curves (30-min cadence, three ~27-d segments with 1-3 d gaps between them) carry a
planted trapezoid transit (depth 100-5000 ppm, duration 1-12 h, period 1-50 d) on top of a sinusoid (period
0.5-10 d, amplitude 0.5-5 x the depth), a red-noise random walk (0.5-3 x the depth), a jump between segments (up
to 2 %), an exponential ramp at each segment start (1-10 x the depth, 0.1-1 d) and white noise (20-200 ppm).
Every method fits its trend per segment with the object's transits masked (1.5 durations either side of each
centre), on the same stitched, median-normalised input (``lightcurve_ingest.training.detrend.stitch``).

For each method it prints the median and 90th-percentile absolute depth error, relative to the planted depth and
relative to the depth measured after dividing by the true trend (the "oracle": what is left is the detrending's
own error, not the white noise's), the residual variability (robust std of the detrended flux out of transit,
over the white noise's own std), and the CPU time per 10,000 cadences; numba's JIT compilation (wotan) is timed
once, separately.

Only numpy is needed; methods that need scipy (Savitzky-Golay) or wotan run where those are installed and are
otherwise listed as skipped. The figures in benchmarks/README.md were made in a separate venv with both:

    python3.11 -m venv /tmp/detrend-venv
    /tmp/detrend-venv/bin/pip install numpy==2.4.6 scipy==1.17.1 wotan==1.10 numba==0.68.1
    /tmp/detrend-venv/bin/python -m benchmarks.detrend_choice --cases 300 --seed 21
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import os
import time as clock
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from benchmarks._paths import add_repo_paths

add_repo_paths()

from lightcurve_ingest.training import detrend as dt  # noqa: E402  (numpy and the package's errors only)

CADENCE_DAYS = 0.0204336  # Kepler long cadence
SEGMENT_DAYS = 27.0
SEGMENTS = 3
SPLINE_KNOT_DAYS = 1.5
SAVGOL_WINDOW_DAYS = 1.0
BRIDGE_FACTOR = 1.5  # the bridge's quadratic is fitted this many durations either side of a masked transit


@dataclass(frozen=True)
class Case:
    time: np.ndarray
    flux: np.ndarray
    true_trend: np.ndarray  # the multiplicative trend planted, divided by each segment's median
    period_days: float
    epoch: float
    duration_hours: float
    ingress_fraction: float
    depth: float
    noise: float


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _trapezoid(time: np.ndarray, period: float, epoch: float, duration: float, ingress: float,
               depth: float) -> np.ndarray:
    offset = np.abs((time - epoch + 0.5 * period) % period - 0.5 * period)
    edge = np.clip((0.5 * duration - offset) / ingress, 0.0, 1.0)
    return 1.0 - depth * edge


def _random_walk(rng: np.random.Generator, size: int, amplitude: float) -> np.ndarray:
    walk = np.cumsum(rng.normal(size=size))
    walk -= walk.mean()
    return amplitude * walk / walk.std()


def make_case(rng: np.random.Generator, walk_scale: float = 1.0) -> Case:
    depth = _log_uniform(rng, 100e-6, 5000e-6)
    period = _log_uniform(rng, 1.0, 50.0)
    duration_hours = min(_log_uniform(rng, 1.0, 12.0), 0.1 * period * 24)
    duration = duration_hours / 24
    ingress_fraction = rng.uniform(0.05, 0.25)
    noise = _log_uniform(rng, 20e-6, 200e-6)
    times, trends = [], []
    start = 0.0
    for _ in range(SEGMENTS):
        t = np.arange(start, start + SEGMENT_DAYS, CADENCE_DAYS)
        sine = _log_uniform(rng, 0.5, 5) * depth * np.sin(2 * np.pi * t / _log_uniform(rng, 0.5, 10)
                                                         + rng.uniform(0, 2 * np.pi))
        walk = _random_walk(rng, t.size, walk_scale * _log_uniform(rng, 0.5, 3) * depth)
        ramp = rng.choice((-1, 1)) * _log_uniform(rng, 1, 10) * depth * np.exp(-(t - start)
                                                                               / _log_uniform(rng, 0.1, 1.0))
        level = 1 + rng.uniform(-0.02, 0.02)  # the jump between segments
        times.append(t)
        trends.append(level * (1 + sine + walk + ramp))
        start = t[-1] + rng.uniform(1.0, 3.0)
    time = np.concatenate(times)
    segment = dt.split_segments(time)
    while True:  # an epoch with at least 3 flat-bottom points in transits not cut by a segment's edge
        epoch = rng.uniform(0, period)
        bottom = _trapezoid(time, period, epoch, duration * (1 - 2 * ingress_fraction), 1e-9, 1.0) < 0.5
        fit = ~dt.transit_mask(time, period_days=period, epoch=epoch, duration_hours=duration_hours)
        cut = np.concatenate([dt.edge_transits(fit[segment == n]) for n in range(segment[-1] + 1)])
        if (bottom & ~cut).sum() >= 3:
            break
    trend = np.concatenate(trends)
    flux = trend * _trapezoid(time, period, epoch, duration, ingress_fraction * duration, depth)
    flux = flux + noise * rng.normal(size=time.size)
    true_trend = trend.copy()
    for number in range(segment[-1] + 1):
        part = segment == number
        true_trend[part] /= np.median(flux[part])
    return Case(time, flux, true_trend, period, epoch, duration_hours, ingress_fraction, depth, noise)


Method = Callable[[np.ndarray, np.ndarray, np.ndarray, float], np.ndarray]


# ---- the candidates: each returns the trend of one segment, fitted where ``fit`` is True -----------------------

def _robust_keep(residual: np.ndarray, cut: float) -> np.ndarray:
    """AstroNet's robust_mean mask: within cut sigma of the median, sigma from the MAD then refined twice."""
    absdev = np.abs(residual - np.median(residual))
    sigma = 1.4826 * np.median(absdev)
    if sigma < 1e-24:
        sigma = 1.253 * np.mean(absdev)
    correction = -0.15405 + 0.90723 * cut - 0.23584 * cut**2 + 0.020142 * cut**3
    keep = absdev <= cut * sigma
    for _ in range(2):
        sigma = np.std(residual[keep]) / correction
        keep = absdev <= cut * sigma
    return keep


def _bspline_basis(x: np.ndarray, knots: np.ndarray, degree: int = 3) -> np.ndarray:
    """Cox-de Boor B-spline basis on a clamped knot vector (columns: len(knots) - degree - 1 functions)."""
    basis = ((knots[:-1] <= x[:, None]) & (x[:, None] < knots[1:])).astype(float)
    basis[x >= knots[-1], np.searchsorted(knots, knots[-1], side="left") - 1] = 1.0
    for k in range(1, degree + 1):
        left_den = knots[k:-1] - knots[:-k - 1]
        right_den = knots[k + 1:] - knots[1:-k]
        with np.errstate(divide="ignore", invalid="ignore"):
            left = np.where(left_den > 0, (x[:, None] - knots[:-k - 1]) / left_den, 0.0)
            right = np.where(right_den > 0, (knots[k + 1:] - x[:, None]) / right_den, 0.0)
        basis = left * basis[:, :-1] + right * basis[:, 1:]
    return basis


def spline_trend(time: np.ndarray, flux: np.ndarray, fit: np.ndarray, duration_days: float) -> np.ndarray:
    """AstroNet's robust spline (kepler_spline.py): least-squares cubic B-spline, knots every 1.5 d, refitted
    without the points outside 3 sigma (robust_mean) up to 5 times. numpy only."""
    t0, t1 = time[0], time[-1]
    inner = np.arange(t0, t1, SPLINE_KNOT_DAYS)[1:]
    knots = np.concatenate(([t0] * 4, inner, [t1 + 1e-9] * 4))
    design = _bspline_basis(time, knots)
    keep = fit.copy()
    spline = np.full(time.size, np.median(flux[fit]) if fit.any() else 1.0)
    for _ in range(5):
        if keep.sum() < 4:
            break
        coefficients = np.linalg.lstsq(design[keep], flux[keep], rcond=None)[0]
        spline = design @ coefficients
        new_keep = fit.copy()
        new_keep[fit] = _robust_keep(flux[fit] - spline[fit], 3.0)
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return spline


def savgol_trend(time: np.ndarray, flux: np.ndarray, fit: np.ndarray, duration_days: float,
                 window_days: float = SAVGOL_WINDOW_DAYS) -> np.ndarray:
    """ExoMiner-style (lightkurve ``flatten``): Savitzky-Golay over the unmasked cadences, order 2, 3 passes
    that replace points outside 3 sigma by the trend; interpolated across the masked transits."""
    from scipy.signal import savgol_filter

    t_fit, f_fit = time[fit], flux[fit]
    length = int(window_days / CADENCE_DAYS) // 2 * 2 + 1
    if t_fit.size <= length:
        return np.full(time.size, np.median(f_fit) if f_fit.size else 1.0)
    work = f_fit.copy()
    for _ in range(3):
        trend = savgol_filter(work, length, 2, mode="interp")
        residual = f_fit - trend
        outlier = np.abs(residual) > 3 * 1.4826 * np.median(np.abs(residual - np.median(residual)))
        work = np.where(outlier, trend, f_fit)
    return np.interp(time, t_fit, trend)


def savgol_3dur_trend(time: np.ndarray, flux: np.ndarray, fit: np.ndarray, duration_days: float) -> np.ndarray:
    return savgol_trend(time, flux, fit, duration_days, window_days=max(3 * duration_days, 5 * CADENCE_DAYS))


def wotan_trend(time: np.ndarray, flux: np.ndarray, fit: np.ndarray, duration_days: float) -> np.ndarray:
    """wotan's time-windowed biweight (window 3 x duration) on the unmasked points, interpolated across transits."""
    from wotan import flatten

    trend = flatten(time[fit], flux[fit], window_length=3 * duration_days, method="biweight",
                    break_tolerance=1e9, return_trend=True)[1]
    known = np.isfinite(trend)
    return np.interp(time, time[fit][known], trend[known])


def numpy_biweight_trend(time: np.ndarray, flux: np.ndarray, fit: np.ndarray, duration_days: float,
                         window_factor: float = 3.0) -> np.ndarray:
    return dt.biweight_trend(time, flux, fit, window_days=window_factor * duration_days)


def numpy_biweight_variants(window_factors: list[float]) -> list[tuple[str, Method, str | None]]:
    """The project's biweight at other windows than wotan's 3 x the duration."""
    return [(f"biweight, {factor:g} x dur (numpy, grid{': the project' if factor == dt.WINDOW_FACTOR else ''})",
             functools.partial(numpy_biweight_trend, window_factor=factor), None) for factor in window_factors]


def numpy_biweight_exact_trend(time: np.ndarray, flux: np.ndarray, fit: np.ndarray,
                               duration_days: float) -> np.ndarray:
    """The same biweight evaluated at every cadence (no grid), to show what the grid costs in accuracy."""
    return dt.biweight_trend(time, flux, fit, window_days=3 * duration_days, grid_step_fraction=1e-9)


def _robust_polyfit(x: np.ndarray, y: np.ndarray, degree: int) -> np.ndarray:
    coefficients = np.polyfit(x, y, degree)
    residual = y - np.polyval(coefficients, x)
    keep = np.abs(residual - np.median(residual)) <= 3 * 1.4826 * np.median(np.abs(residual - np.median(residual)))
    if degree < keep.sum() < y.size:
        coefficients = np.polyfit(x[keep], y[keep], degree)
    return coefficients


def bridge_transits(time: np.ndarray, flux: np.ndarray, fit: np.ndarray, trend: np.ndarray, *, side_days: float,
                    degree: int = 2) -> np.ndarray:
    """The trend across each masked stretch replaced by a polynomial fitted to the unmasked flux within side_days
    of it on both sides: a sliding filter can only interpolate straight across a masked transit, a quadratic
    through both shoulders follows the variability's curvature (tried; not better overall, see the README)."""
    bridged = trend.copy()
    for first, stop in dt.masked_runs(fit):
        start_time, end_time = time[first], time[stop - 1]
        before = fit & (time >= start_time - side_days) & (time < start_time)
        after = fit & (time > end_time) & (time <= end_time + side_days)
        if before.sum() <= degree or after.sum() <= degree:
            continue  # a transit at a segment's edge: keep the interpolated trend
        shoulders = before | after
        centre = 0.5 * (start_time + end_time)
        coefficients = _robust_polyfit(time[shoulders] - centre, flux[shoulders], degree)
        bridged[first:stop] = np.polyval(coefficients, time[first:stop] - centre)
    return bridged


def bridged(method: Method) -> Method:
    """The method's trend, with each masked transit bridged by a quadratic through its shoulders."""
    def trend(time: np.ndarray, flux: np.ndarray, fit: np.ndarray, duration_days: float) -> np.ndarray:
        return bridge_transits(time, flux, fit, method(time, flux, fit, duration_days),
                               side_days=BRIDGE_FACTOR * duration_days)
    return trend


def no_trend(time: np.ndarray, flux: np.ndarray, fit: np.ndarray, duration_days: float) -> np.ndarray:
    return np.ones(time.size)


METHODS: tuple[tuple[str, Method, str | None], ...] = (  # name, function, the module it needs beyond numpy
    ("segment median only (no trend)", no_trend, None),
    ("robust spline, knots 1.5 d (AstroNet; numpy)", spline_trend, None),
    ("robust spline + bridge", bridged(spline_trend), None),
    ("Savitzky-Golay, 1 d, order 2 (ExoMiner; scipy)", savgol_trend, "scipy"),
    ("Savitzky-Golay, 3 x dur, order 2 (scipy)", savgol_3dur_trend, "scipy"),
    ("Savitzky-Golay, 3 x dur + bridge", bridged(savgol_3dur_trend), "scipy"),
    ("biweight, 3 x dur (wotan)", wotan_trend, "wotan"),
    ("biweight, 3 x dur (wotan) + bridge", bridged(wotan_trend), "wotan"),
    ("biweight, 3 x dur (numpy, grid)", numpy_biweight_trend, None),
    ("biweight, 3 x dur (numpy, every cadence)", numpy_biweight_exact_trend, None),
)


# ---- measurement ---------------------------------------------------------------------------------------------

def measured_depth(case: Case, detrended: np.ndarray, usable: np.ndarray) -> float:
    """Depth from the flat bottom against the median out of the mask, on the usable points only."""
    offset = np.abs((case.time - case.epoch + 0.5 * case.period_days) % case.period_days - 0.5 * case.period_days)
    duration = case.duration_hours / 24
    bottom = usable & (offset < 0.5 * duration * (1 - 2 * case.ingress_fraction))
    outside = usable & (offset > dt.MASK_FACTOR * duration)
    return 1.0 - np.mean(detrended[bottom]) / np.median(detrended[outside])


def robust_std(values: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def run_method(case: Case, stitched: dt.Stitched, in_transit: np.ndarray, method: Method) -> tuple[np.ndarray, float]:
    trend = np.empty_like(stitched.flux)
    started = clock.process_time()
    for number in range(stitched.segment[-1] + 1):
        part = stitched.segment == number
        trend[part] = method(stitched.time[part], stitched.flux[part], ~in_transit[part], case.duration_hours / 24)
    return stitched.flux / trend, clock.process_time() - started


def available(module: str | None) -> bool:
    return module is None or importlib.util.find_spec(module) is not None


def jit_seconds() -> float:
    """wotan's first call compiles its numba kernels: time it once on a small light curve."""
    from wotan import flatten

    t = np.arange(0, 2, CADENCE_DAYS)
    started = clock.process_time()
    flatten(t, 1 + 1e-4 * np.sin(t), window_length=0.5, method="biweight", return_trend=True)
    return clock.process_time() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--walk-scale", type=float, default=1.0, help="scales the red-noise walk (0: none)")
    parser.add_argument("--windows", type=float, nargs="*", default=[1.5, 2.0, 2.5, 4.0],
                        help="more windows for the numpy biweight, in transit durations")
    args = parser.parse_args()

    candidates = [*METHODS, *numpy_biweight_variants(args.windows),
                  (f"biweight, {dt.WINDOW_FACTOR:g} x dur (numpy) + bridge", bridged(functools.partial(
                      numpy_biweight_trend, window_factor=dt.WINDOW_FACTOR)), None)]
    methods = [(name, fn) for name, fn, needs in candidates if available(needs)]
    skipped = [(name, needs) for name, _, needs in candidates if not available(needs)]
    jit = jit_seconds() if available("wotan") else None

    rng = np.random.default_rng(args.seed)
    cases = [make_case(rng, args.walk_scale) for _ in range(args.cases)]
    cadences = sum(case.time.size for case in cases)
    planted_err: dict[str, list[float]] = {name: [] for name, _ in methods}
    oracle_err: dict[str, list[float]] = {name: [] for name, _ in methods}
    scatter: dict[str, list[float]] = {name: [] for name, _ in methods}
    cpu = dict.fromkeys(planted_err, 0.0)
    oracle_scatter, oracle_planted_err = [], []
    for case in cases:
        stitched = dt.stitch(case.time, case.flux, np.zeros(case.time.size, dtype=int))
        in_transit = dt.transit_mask(stitched.time, period_days=case.period_days, epoch=case.epoch,
                                     duration_hours=case.duration_hours)
        usable = np.ones(stitched.time.size, dtype=bool)  # transits cut by a segment's edge are left out
        for number in range(stitched.segment[-1] + 1):
            part = stitched.segment == number
            usable[part] = ~dt.edge_transits(~in_transit[part])
        oracle_flux = stitched.flux / case.true_trend
        oracle_depth = measured_depth(case, oracle_flux, usable)
        oracle_scatter.append(robust_std(oracle_flux[~in_transit]) / case.noise)
        oracle_planted_err.append(abs(oracle_depth - case.depth) / case.depth)
        for name, method in methods:
            detrended, seconds = run_method(case, stitched, in_transit, method)
            depth = measured_depth(case, detrended, usable)
            planted_err[name].append(abs(depth - case.depth) / case.depth)
            oracle_err[name].append(abs(depth - oracle_depth) / case.depth)
            scatter[name].append(robust_std(detrended[~in_transit]) / case.noise)
            cpu[name] += seconds

    print(f"{args.cases} cases, seed {args.seed}, walk scale {args.walk_scale:g}, {cadences:,} cadences; "
          f"load {os.getloadavg()[0]:.2f}")
    print(f"oracle (true trend divided out): depth error vs planted, median {np.median(oracle_planted_err):.1%} / "
          f"p90 {np.percentile(oracle_planted_err, 90):.1%} (white noise and the walk's share under the transit); "
          f"residual std / white noise, median {np.median(oracle_scatter):.2f}")
    print("| method | depth error vs planted, median / p90 | vs oracle, median / p90 | cases within 5 % of planted "
          "| residual std / white noise, median / p90 | CPU ms per 10,000 cadences |")
    print("|---|---|---|---|---|---|")
    for name, _ in methods:
        within = np.mean(np.asarray(planted_err[name]) <= 0.05)
        print(f"| {name} | {np.median(planted_err[name]):.1%} / {np.percentile(planted_err[name], 90):.1%} "
              f"| {np.median(oracle_err[name]):.1%} / {np.percentile(oracle_err[name], 90):.1%} | {within:.0%} "
              f"| {np.median(scatter[name]):.2f} / {np.percentile(scatter[name], 90):.2f} "
              f"| {1000 * cpu[name] / cadences * 10_000:.1f} |")
    if jit is not None:
        print(f"wotan's numba JIT, once per process: {1000 * jit:.0f} ms CPU")
    for name, needs in skipped:
        print(f"skipped (no {needs} here): {name}")


if __name__ == "__main__":
    main()
