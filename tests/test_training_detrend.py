"""The training set's stitched, detrended light curves (issue 21): planted transits keep their depth under
strong variability and a segment offset; gaps split segments; bad cadences are dropped; bad input names its field.
numpy only, no servers."""

from __future__ import annotations

import numpy as np
import pytest

from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.training import detrend as dt

CADENCE = 0.0204336  # Kepler long cadence, days
PERIOD, EPOCH, DURATION_HOURS, DEPTH = 3.7, 1.3, 4.0, 1500e-6


def _trapezoid(time: np.ndarray, depth: float) -> np.ndarray:
    duration, ingress = DURATION_HOURS / 24, 0.1 * DURATION_HOURS / 24
    offset = np.abs((time - EPOCH + 0.5 * PERIOD) % PERIOD - 0.5 * PERIOD)
    return 1 - depth * np.clip((0.5 * duration - offset) / ingress, 0, 1)


def _two_quarters(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two 20-d segments 1.5 d apart: the second 3 % brighter with a decaying ramp at its start, both under a
    sinusoid of 4 x the depth (period 2.3 d) and a slow drift, with 100 ppm white noise."""
    first = np.arange(0.0, 20.0, CADENCE)
    second = np.arange(21.5, 41.5, CADENCE)
    time = np.concatenate((first, second))
    level = np.where(time < 21, 1.0, 1.03)
    ramp = np.where(time > 21, 8 * DEPTH * np.exp(-(time - 21.5) / 0.4), 0.0)
    variability = 4 * DEPTH * np.sin(2 * np.pi * time / 2.3) + 1e-3 * (time / 41.5) ** 2
    flux = 5e4 * level * (1 + variability + ramp) * _trapezoid(time, DEPTH)
    flux *= 1 + 100e-6 * rng.normal(size=time.size)
    return time, flux, np.zeros(time.size, dtype=np.int32)


def _depth(result: dt.Detrended) -> float:
    offset = np.abs((result.time - EPOCH + 0.5 * PERIOD) % PERIOD - 0.5 * PERIOD)
    bottom = offset < 0.4 * DURATION_HOURS / 24
    outside = offset > 1.5 * DURATION_HOURS / 24
    return 1 - np.mean(result.flux[bottom]) / np.median(result.flux[outside])


def test_planted_transit_keeps_its_depth_under_variability_and_a_segment_offset() -> None:
    time, flux, quality = _two_quarters(np.random.default_rng(21))
    result = dt.detrend(time, flux, quality, period_days=PERIOD, epoch=EPOCH, duration_hours=DURATION_HOURS)

    assert abs(_depth(result) - DEPTH) / DEPTH < 0.05
    # The variability (4 x the depth) and the ramp are gone: what is left out of transit is the white noise.
    outside = ~result.in_transit
    assert 1.4826 * np.median(np.abs(result.flux[outside] - 1)) < 150e-6
    # The segments' 3 % offset is gone too.
    assert abs(np.median(result.flux[result.segment == 0]) - np.median(result.flux[result.segment == 1])) < 1e-4


def test_a_transit_cut_by_a_segment_edge_is_left_out() -> None:
    # The first segment ends at 20.0 d, inside the mask of the transit centred at 19.8 d (EPOCH + 5 PERIOD): the
    # trend under it could only be extrapolated.
    time, flux, quality = _two_quarters(np.random.default_rng(21))
    result = dt.detrend(time, flux, quality, period_days=PERIOD, epoch=EPOCH, duration_hours=DURATION_HOURS)
    cut = (time > EPOCH + 5 * PERIOD - 1.5 * DURATION_HOURS / 24) & (time < 21)
    assert result.dropped_at_edges == cut.sum() > 0
    assert not np.isin(result.time, time[cut]).any()
    assert result.time.size == time.size - cut.sum()


def test_without_detrending_the_same_light_curve_loses_its_depth() -> None:
    # The check above is not trivially met: dividing by the segment medians alone leaves the depth far off.
    time, flux, quality = _two_quarters(np.random.default_rng(21))
    stitched = dt.stitch(time, flux, quality)
    flat = dt.Detrended(stitched.time, stitched.flux, np.ones_like(stitched.flux), stitched.segment,
                        np.zeros(stitched.time.size, dtype=bool), 0)
    assert abs(_depth(flat) - DEPTH) / DEPTH > 0.05


def test_gaps_longer_than_three_quarters_of_a_day_split_segments() -> None:
    time = np.array([0.0, 0.02, 0.04, 0.74, 1.50, 1.52, 2.30, 2.31])
    # gaps: 0.70 (kept), 0.76 (split), 0.78 (split)
    assert dt.split_segments(time).tolist() == [0, 0, 0, 0, 1, 1, 2, 2]
    stitched = dt.stitch(time, np.array([1.0, 3.0, 2.0, 2.0, 10.0, 30.0, 5.0, 5.0]), np.zeros(8, dtype=int))
    assert stitched.segment.tolist() == [0, 0, 0, 0, 1, 1, 2, 2]
    assert np.allclose(stitched.flux, [0.5, 1.5, 1.0, 1.0, 0.5, 1.5, 1.0, 1.0])  # each segment / its median


def test_bad_quality_and_non_finite_values_are_dropped() -> None:
    time = np.array([0.0, 0.02, 0.04, np.nan, 0.08, 0.10, 0.12])
    flux = np.array([1.0, np.nan, 1.0, 1.0, np.inf, 1.0, 1.0])
    quality = np.array([0, 0, 0, 0, 0, 128, 0])
    stitched = dt.stitch(time, flux, quality)
    assert stitched.time.tolist() == [0.0, 0.04, 0.12]
    assert np.all(np.isfinite(stitched.flux))


def test_transit_mask_covers_the_given_number_of_durations() -> None:
    time = np.arange(0.0, 10.0, 0.01)
    mask = dt.transit_mask(time, period_days=5.0, epoch=2.0, duration_hours=2.4, mask_factor=1.5)
    # 1.5 durations of 0.1 d either side of the centres at 2 and 7
    assert np.array_equal(mask, (np.abs(time - 2.0) < 0.15) | (np.abs(time - 7.0) < 0.15))


@pytest.mark.parametrize(
    ("time", "flux", "quality", "field"),
    [
        ([0.0, 1.0, 2.0], [1.0, 1.0], [0, 0, 0], "flux"),
        ([0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [0, 0], "quality"),
        ([], [], [], "time"),
        ([0.0, 1.0], [np.nan, np.nan], [0, 0], "flux"),
        ([[0.0, 1.0]], [[1.0, 1.0]], [[0, 0]], "time"),
    ],
)
def test_bad_input_names_the_field(time: list, flux: list, quality: list, field: str) -> None:
    with pytest.raises(InvalidInputError) as raised:
        dt.detrend(time, flux, quality, period_days=PERIOD, epoch=EPOCH, duration_hours=DURATION_HOURS)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


@pytest.mark.parametrize(("name", "value"), [("period_days", 0.0), ("duration_hours", -1.0), ("epoch", np.nan),
                                           ("window_factor", 0.0), ("gap_days", np.inf), ("mask_factor", -1.0)])
def test_bad_ephemeris_or_setting_names_the_field(name: str, value: float) -> None:
    arguments = {"period_days": PERIOD, "epoch": EPOCH, "duration_hours": DURATION_HOURS, name: value}
    with pytest.raises(InvalidInputError) as raised:
        dt.detrend([0.0, 0.1, 0.2], [1.0, 1.0, 1.0], [0, 0, 0], **arguments)
    assert raised.value.field == name
