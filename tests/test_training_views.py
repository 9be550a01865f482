"""The views of planted transits (numpy trapezoids in noisy light curves with gaps): where the transit lands, its
depth, the eclipsing binary's odd, even and secondary views, empty bins, and errors that name the bad field."""

from __future__ import annotations

import numpy as np
import pytest

from lightcurve_ingest.errors import InvalidInputError
from lightcurve_ingest.training.views import (
    GLOBAL_BINS,
    LOCAL_BINS,
    Ephemeris,
    ViewSettings,
    build_views,
    median_bin,
    phase_fold,
)

NOISE = 200e-6  # relative flux, per point
PLANET = Ephemeris(period_days=3.5217, epoch=1.7, duration_hours=3.0)
PLANET_DEPTH = 5000e-6
SPAN_DAYS = 80.0
GAP = (20.0, 24.0)  # holds the whole transit at 1.7 + 6 * 3.5217 = 22.83


# The flat bottom of the planted trapezoids, as a fraction of the duration: a little wider than a local bin (0.16),
# so the centre bin sees the whole depth and every bin from two off the centre sees less; with a wider flat bottom
# the minimum would fall on any of the flat bins, by noise alone.
FLAT_FRACTION = 0.18


def trapezoid(phase: np.ndarray, duration_days: float, depth: float) -> np.ndarray:
    """The flux lost in a trapezoid transit centred at phase 0, flat for FLAT_FRACTION of its duration."""
    ramp = (1 - FLAT_FRACTION) / 2 * duration_days
    return depth * np.clip((duration_days / 2 - np.abs(phase)) / ramp, 0.0, 1.0)


def sampled_times(seed: int, span: float = SPAN_DAYS, per_day: int = 720) -> np.ndarray:
    """Sorted random times (about 2-minute cadence, as TESS's, incommensurate with any period), with a 4-day gap
    and 5 % of the points dropped."""
    rng = np.random.default_rng(seed)
    time = np.sort(rng.uniform(0.0, span, int(span * per_day)))
    kept = ~((time >= GAP[0]) & (time < GAP[1])) & (rng.uniform(size=time.size) > 0.05)
    return time[kept]


def noisy(time: np.ndarray, loss: np.ndarray, seed: int) -> np.ndarray:
    return 1.0 - loss + np.random.default_rng(seed).normal(0.0, NOISE, time.size)


def planet_light_curve(seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    time = sampled_times(seed)
    loss = trapezoid(phase_fold(time, PLANET.period_days, PLANET.epoch), PLANET.duration_days, PLANET_DEPTH)
    return time, noisy(time, loss, seed + 100)


EB = Ephemeris(period_days=2.0, epoch=0.6, duration_hours=4.0)
EB_EVEN_DEPTH, EB_ODD_DEPTH, EB_SECONDARY_DEPTH = 0.020, 0.012, 0.004


def eclipsing_binary_light_curve(seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Eclipses of depth 0.020 at even numbers (the epoch's is 0), 0.012 at odd ones, and 0.004 at phase 0.5."""
    time = sampled_times(seed, span=60.0)
    phase = phase_fold(time, EB.period_days, EB.epoch)
    number = np.floor((time - EB.epoch + EB.period_days / 2) / EB.period_days)
    primary_depth = np.where(number % 2 == 0, EB_EVEN_DEPTH, EB_ODD_DEPTH)
    secondary_phase = phase_fold(time, EB.period_days, EB.epoch + EB.period_days / 2)
    loss = (trapezoid(phase, EB.duration_days, 1.0) * primary_depth
            + trapezoid(secondary_phase, EB.duration_days, EB_SECONDARY_DEPTH))
    return time, noisy(time, loss, seed + 100)


def local_bin_centres(ephemeris: Ephemeris) -> np.ndarray:
    settings = ViewSettings()
    half = min(ephemeris.period_days / 2, settings.local_durations * ephemeris.duration_days)
    width = settings.local_bin_width_factor * ephemeris.duration_days
    return np.linspace(-half + width / 2, half - width / 2, settings.local_bins)


def out_of_transit_noise(view: np.ndarray, ephemeris: Ephemeris) -> float:
    """The scatter of a local view's bins more than one duration from its centre."""
    return float(np.std(view[np.abs(local_bin_centres(ephemeris)) > ephemeris.duration_days]))


@pytest.fixture(scope="module")
def planet_views():
    return build_views(*planet_light_curve(), PLANET)


@pytest.fixture(scope="module")
def eb_views():
    return build_views(*eclipsing_binary_light_curve(), EB)


def test_views_have_astronets_sizes_as_float32(planet_views):
    assert planet_views.global_view.shape == (GLOBAL_BINS,) == (2001,)
    for view in (planet_views.local_view, planet_views.odd_view, planet_views.even_view,
                 planet_views.secondary_view):
        assert view.shape == (LOCAL_BINS,) == (201,)
    for view in (planet_views.global_view, planet_views.local_view, planet_views.odd_view, planet_views.even_view,
                 planet_views.secondary_view):
        assert view.dtype == np.float32
        assert np.all(np.isfinite(view))


def test_the_transit_sits_at_the_centre_of_the_local_view(planet_views):
    local = planet_views.local_view
    assert abs(int(np.argmin(local)) - LOCAL_BINS // 2) <= 1
    assert local.min() == pytest.approx(-1.0)
    assert float(np.median(local)) == pytest.approx(0.0, abs=1e-6)


def test_the_planted_depth_is_recovered_within_5_percent(planet_views):
    assert planet_views.depths["local"] == pytest.approx(PLANET_DEPTH, rel=0.05)


def test_the_global_view_has_its_transit_at_the_centre(planet_views):
    flat_bottom_bins = FLAT_FRACTION * PLANET.duration_days / (PLANET.period_days / GLOBAL_BINS)
    assert abs(int(np.argmin(planet_views.global_view)) - GLOBAL_BINS // 2) <= flat_bottom_bins / 2 + 1
    assert planet_views.global_view.min() == pytest.approx(-1.0)


def test_transits_with_data_are_counted_and_the_one_in_the_gap_is_not(planet_views):
    in_span = np.arange(0, 100) * PLANET.period_days + PLANET.epoch
    in_span = in_span[in_span < SPAN_DAYS]
    in_gap = (in_span > GAP[0]) & (in_span < GAP[1])
    assert in_gap.sum() == 1
    assert planet_views.n_transits == in_span.size - 1


def test_a_planets_odd_and_even_views_agree_and_its_secondary_view_is_flat(planet_views):
    assert abs(planet_views.odd_view[LOCAL_BINS // 2] - planet_views.even_view[LOCAL_BINS // 2]) < 0.1
    assert np.max(np.abs(planet_views.secondary_view)) < 0.1


def test_an_eclipsing_binarys_odd_and_even_views_differ_beyond_the_noise(eb_views):
    centre = LOCAL_BINS // 2
    noise = max(out_of_transit_noise(eb_views.odd_view, EB), out_of_transit_noise(eb_views.even_view, EB))
    # the epoch's eclipse is number 0, so the even view holds the deeper eclipses
    assert eb_views.even_view[centre] < eb_views.odd_view[centre] - 10 * noise
    ratio = eb_views.depths["odd"] / eb_views.depths["even"]
    assert ratio == pytest.approx(EB_ODD_DEPTH / EB_EVEN_DEPTH, rel=0.05)


def test_an_eclipsing_binarys_secondary_view_dips_at_its_centre(eb_views):
    secondary = eb_views.secondary_view
    assert abs(int(np.argmin(secondary)) - LOCAL_BINS // 2) <= 1
    assert secondary[LOCAL_BINS // 2] < -10 * out_of_transit_noise(secondary, EB)
    assert eb_views.depths["secondary"] == pytest.approx(EB_SECONDARY_DEPTH, rel=0.1)


def test_empty_bins_are_filled_and_counted():
    time, flux = planet_light_curve(seed=3)
    phase = phase_fold(time, PLANET.period_days, PLANET.epoch)
    hole = (0.2, 0.3)  # days after mid-transit with no data in any orbit: inside the local view (+-0.5 d)
    kept = ~((phase >= hole[0]) & (phase < hole[1]))
    views = build_views(time[kept], flux[kept], PLANET)

    settings = ViewSettings()
    width = settings.local_bin_width_factor * PLANET.duration_days
    lows = local_bin_centres(PLANET) - width / 2
    empty = np.array([not np.any((phase[kept] >= lo) & (phase[kept] < lo + width)) for lo in lows])
    inside_hole = (lows >= hole[0]) & (lows + width <= hole[1])
    assert inside_hole.sum() > 5
    assert np.all(empty[inside_hole])
    assert views.empty_bins["local"] == empty.sum()
    filled = views.local_view[empty]
    assert np.all(filled == filled[0])  # all filled with the light curve's median flux
    assert abs(float(filled[0])) < 0.05  # which is the out-of-transit level, near the view's median
    assert views.empty_bins["global"] >= (hole[1] - hole[0]) / (PLANET.period_days / GLOBAL_BINS) - 2
    assert views.empty_bins["secondary"] == 0  # the hole is far from phase 0.5


def test_median_bin_follows_astronets_median_filter():
    x = np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 6.0])
    y = np.array([1.0, 3.0, 2.0, 10.0, 4.0, 5.0, 7.0])
    medians, counts = median_bin(x, y, num_bins=4, bin_width=1.0, x_min=0.0, x_max=4.0)
    # bins [0, 1), [1, 2), [2, 3), [3, 4)
    assert counts.tolist() == [2, 2, 2, 0]
    assert medians[:3].tolist() == [2.0, 6.0, 4.5]
    assert np.isnan(medians[3])


def test_a_flat_view_is_centred_not_divided_by_zero():
    time = np.linspace(0.0, 30.0, 5000)
    views = build_views(time, np.ones_like(time), PLANET)
    for view in (views.global_view, views.local_view, views.odd_view, views.even_view, views.secondary_view):
        assert np.all(view == 0.0)
    assert views.depths["local"] == 0.0


@pytest.mark.parametrize(("make", "field"), [
    (lambda: Ephemeris(0.0, 1.0, 3.0), "period_days"),
    (lambda: Ephemeris(-2.0, 1.0, 3.0), "period_days"),
    (lambda: Ephemeris(float("nan"), 1.0, 3.0), "period_days"),
    (lambda: Ephemeris(3.0, float("inf"), 3.0), "epoch"),
    (lambda: Ephemeris(3.0, 1.0, 0.0), "duration_hours"),
    (lambda: Ephemeris(3.0, 1.0, -1.0), "duration_hours"),
    (lambda: Ephemeris(1.0, 1.0, 30.0), "duration_hours"),
    (lambda: ViewSettings(global_bins=1), "global_bins"),
    (lambda: ViewSettings(local_bins=200.5), "local_bins"),
    (lambda: ViewSettings(local_bin_width_factor=0.0), "local_bin_width_factor"),
    (lambda: ViewSettings(global_bin_width_factor=1.5), "global_bin_width_factor"),
])
def test_bad_ephemerides_and_settings_name_the_field(make, field):
    with pytest.raises(InvalidInputError) as raised:
        make()
    assert isinstance(raised.value, ValueError)
    assert raised.value.field == field
    assert str(raised.value).startswith(f"{field}: ")


def test_arrays_of_different_lengths_name_the_field():
    time, flux = planet_light_curve()
    with pytest.raises(InvalidInputError, match="^flux: ") as raised:
        build_views(time, flux[:-1], PLANET)
    assert raised.value.field == "flux"


def test_too_few_points_name_the_field():
    time, flux = planet_light_curve()
    with pytest.raises(InvalidInputError, match="finite points") as raised:
        build_views(time[:50], flux[:50], PLANET)
    assert raised.value.field == "time"
    flux_with_nans = flux.copy()
    flux_with_nans[50:] = np.nan
    with pytest.raises(InvalidInputError, match="finite points"):
        build_views(time, flux_with_nans, PLANET)


def test_no_transit_inside_the_data_is_an_error_naming_the_field():
    time = np.linspace(0.0, 30.0, 5000)
    with pytest.raises(InvalidInputError, match="no transit") as raised:
        build_views(time, np.ones_like(time), Ephemeris(period_days=100.0, epoch=60.0, duration_hours=5.0))
    assert raised.value.field == "time"
